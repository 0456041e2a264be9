# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git plumbing shared by the collection's modules.

- ``Git``: runs git against one repository (``GIT_DIR``) through ``subprocess`` with a clean, non-interactive
  environment; a token is sent as HTTP Basic ``x-access-token:<token>`` in ``http.<url>.extraHeader`` passed through
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` -- never on a command line or in a URL -- and is
  scrubbed (with its base64 forms) from every message.
- ``ls_remote``/``fetch``/``push`` with errors classified (auth, permission, missing repository, push race).
- ``CatFileBatch``: one ``git cat-file --batch`` process streaming many blobs.
- validators for remote URLs and branch names.
"""

import base64
import os
import re
import subprocess
import threading

from urllib.parse import urlsplit

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# Variables a calling git (a hook, an alias, a CI step) may have set that would point our commands elsewhere.
REPO_ENV_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                 "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX", "GIT_SHALLOW_FILE", "GIT_QUARANTINE_PATH",
                 "GIT_REPLACE_REF_BASE", "GIT_GRAFT_FILE", "GIT_NO_REPLACE_OBJECTS")
SCP_LIKE_RE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!//)[^\s]+$")

# Push rejections that mean "the branch moved since we looked": fetch, recommit on top, push again.
RACE_REASONS = ("fetch first", "non-fast-forward", "stale info", "failed to update ref", "cannot lock ref",
                "incorrect old value", "reference already exists", "already exists", "failed to lock")


class GitError(Exception):
    """A git command failed; ``str()`` is git's own message with any secret removed."""

    def __init__(self, message, rc=None, stderr="", kind=None):
        super(GitError, self).__init__(message)
        self.message = message
        self.rc = rc
        self.stderr = stderr
        self.kind = kind  # auth | forbidden | not_found | missing_ref | network | None

    def __str__(self):
        return self.message


def basic_auth_value(token):
    """The HTTP Basic credentials GitHub takes for a token over git smart HTTP."""
    return base64.b64encode(("x-access-token:%s" % token).encode("utf-8")).decode("ascii")


def secret_forms(token):
    """Every form of the token that could end up in a message: raw, Basic value, plain base64."""
    if not token:
        return []
    forms = [token, basic_auth_value(token), base64.b64encode(token.encode("utf-8")).decode("ascii")]
    return [form for form in forms if form]


def scrub(text, secrets):
    """Remove every secret (and its base64 forms) from text."""
    if not text:
        return text
    for secret in secrets or ():
        for form in secret_forms(secret):
            text = text.replace(form, "********")
    return text


def url_scope(url):
    """The URL prefix an ``http.<url>.*`` setting is limited to: scheme://host[:port]/ of an http(s) remote."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.hostname + (":%d" % parts.port if parts.port else "")
    return "%s://%s/" % (parts.scheme, netloc)


def validate_remote(url):
    """None when ``url`` is a remote git can push to, else a sentence saying what is wrong.

    Accepted: http(s)://host/path, file:///abs/path, an absolute path, ssh://host/path and user@host:path.
    """
    if not isinstance(url, str) or not url or url != url.strip() or any(ch.isspace() for ch in url):
        return "it is empty or contains spaces"
    if url.startswith("/"):
        return None
    if "://" in url:
        try:
            parts = urlsplit(url)
            if parts.port == 0:  # reading .port raises on a malformed one
                return "it has port 0"
        except ValueError as exc:
            return "it is not a valid URL (%s)" % exc
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname:
                return "it has no host"
            if parts.password is not None:
                return "it contains a password; pass the token in the token option instead"
            if not parts.path.strip("/"):
                return "it names no repository (no path after the host)"
            return None
        if scheme == "file":
            if parts.netloc or not parts.path.startswith("/"):
                return "file:// URLs must be absolute (file:///path/to/repo.git)"
            return None
        if scheme in ("ssh", "git+ssh", "ssh+git"):
            if not parts.hostname or not parts.path.strip("/"):
                return "it has no host or no repository path"
            return None
        return "the scheme %s:// is not supported (use https://, http://, ssh://, file:// or an absolute path)" % scheme
    if SCP_LIKE_RE.match(url):
        return None
    return "it is neither a URL (https://, http://, ssh://, file://) nor an absolute path to a repository"


def config_env(pairs, base=None):
    """GIT_CONFIG_COUNT/KEY/VALUE variables for ``pairs`` appended to those already in ``base`` (os.environ)."""
    base = os.environ if base is None else base
    try:
        start = int(base.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        start = 0
    env = {}
    for offset, (key, value) in enumerate(pairs):
        env["GIT_CONFIG_KEY_%d" % (start + offset)] = key
        env["GIT_CONFIG_VALUE_%d" % (start + offset)] = value
    env["GIT_CONFIG_COUNT"] = str(start + len(pairs))
    return env


def clean_process_environment():
    """Drop variables that would make git work on some other repository than the one we name."""
    for name in REPO_ENV_VARS:
        os.environ.pop(name, None)


def classify_remote_error(stderr):
    """auth | forbidden | not_found | missing_ref | network | None, from git's message about a remote."""
    text = (stderr or "").lower()
    if "couldn't find remote ref" in text:
        return "missing_ref"
    if ("authentication failed" in text or "could not read username" in text or "could not read password" in text
            or "returned error: 401" in text or "invalid username or" in text or "terminal prompts disabled" in text):
        return "auth"
    if "returned error: 403" in text or ("permission to" in text and "denied" in text):
        return "forbidden"
    if ("not found" in text or "does not appear to be a git repository" in text or "returned error: 404" in text
            or ("no such file or directory" in text and "fatal" in text)):
        return "not_found"
    if ("could not resolve host" in text or "failed to connect" in text or "connection refused" in text
            or "timed out" in text or "unable to access" in text):
        return "network"
    return None


def _fast_import_path(path):
    """A path as ``git fast-import`` reads it: raw bytes, C-quoted when it starts with a quote or has a newline."""
    raw = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    if raw.startswith(b'"') or b"\n" in raw:
        raw = b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n") + b'"'
    return raw


def _ref_sha(out, ref):
    for line in out.splitlines():
        sha, dummy, name = line.partition("\t")
        if name.strip() == ref and SHA_RE.match(sha):
            return sha
    return None


class _Pending(object):
    """A git command running in the background; ``wait()`` returns ``parse(stdout)`` or raises GitError."""

    def __init__(self, git, proc, parse=None, fetches=False):
        self.git = git
        self.proc = proc
        self.parse = parse or (lambda out: out)
        self.fetches = fetches  # a fetch brings the commits into the repository, not only a sha

    def cancel(self):
        """Stop the command: its answer is no longer needed."""
        self.proc.kill()
        self.proc.communicate()

    def wait(self):
        out, err = self.proc.communicate()
        out = self.git.scrub(out.decode("utf-8", "replace"))
        err = self.git.scrub(err.decode("utf-8", "replace"))
        if self.proc.returncode != 0:
            raise GitError(err.strip() or "git failed with exit code %d" % self.proc.returncode,
                           rc=self.proc.returncode, stderr=err, kind=classify_remote_error(err))
        return self.parse(out)


class PushResult(object):
    """Outcome of ``git push --porcelain`` for one ref."""

    def __init__(self, ok, race=False, status="", reason="", message="", kind=None):
        self.ok = ok
        self.kind = kind
        self.race = race
        self.status = status
        self.reason = reason
        self.message = message


def parse_push_porcelain(stdout, stderr, ref):
    """PushResult for ``ref`` from ``git push --porcelain`` output (flag, from:to, summary (reason))."""
    for line in (stdout or "").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[1].endswith(":" + ref):
            continue
        flag, summary = parts[0], parts[2]
        reason = ""
        match = re.search(r"\(([^)]*)\)\s*$", summary)
        if match:
            reason = match.group(1)
        if flag in (" ", "+", "*", "="):
            return PushResult(True, status=summary)
        text = (reason + " " + summary).lower()
        race = flag == "!" and any(word in text for word in RACE_REASONS)
        return PushResult(False, race=race, status=summary, reason=reason, message=(stderr or "").strip())
    text = (stderr or "").lower()
    race = any(word in text for word in ("fetch first", "non-fast-forward", "stale info", "cannot lock ref"))
    return PushResult(False, race=race, message=(stderr or "").strip())


class Git(object):
    """git on one repository, run through ``subprocess`` with a controlled environment."""

    def __init__(self, module, git_dir, token=None, remote=None, config=(), env=None):
        self.module = module
        self.git = module.get_bin_path("git", required=True)
        self.git_dir = git_dir
        self.secrets = [token] if token else []
        pairs = list(config)
        if token and remote:
            scope = url_scope(remote)
            if scope:
                pairs.append(("http.%s.extraHeader" % scope, "Authorization: Basic %s" % basic_auth_value(token)))
                # a rejected token must fail, not fall back to a credential helper or a prompt
                pairs.append(("credential.%s.helper" % scope, ""))
        self.env = {
            "GIT_DIR": git_dir,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "GCM_INTERACTIVE": "never",
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }
        self.env.update(config_env(pairs))
        self.env.update(env or {})
        for form in [f for secret in self.secrets for f in secret_forms(secret)]:
            module.no_log_values.add(form)

    def scrub(self, text):
        return scrub(text, self.secrets)

    def run(self, args, data=None, check=True, env=None, cwd=None, binary=False):
        """(rc, stdout, stderr); raises GitError with git's (scrubbed) message when check and rc != 0.

        ``binary=True`` returns stdout as bytes (for -z output); stderr is always text. Runs git through
        ``subprocess`` rather than ``module.run_command``: a publish runs a dozen git commands, and run_command's
        fork with a pre-exec hook costs a few milliseconds more each.
        """
        environ = dict(os.environ)
        environ.update(self.env)
        environ.update(env or {})
        proc = subprocess.run([self.git] + list(args), input=data, capture_output=True, env=environ, cwd=cwd,
                              stdin=None if data is not None else subprocess.DEVNULL, check=False)
        rc, out, err = proc.returncode, proc.stdout, self.scrub(proc.stderr.decode("utf-8", "replace"))
        if not binary:
            out = self.scrub(out.decode("utf-8", "replace"))
        if check and rc != 0:
            raise GitError("git %s failed: %s" % (args[0], err.strip() or "exit code %d" % rc), rc=rc, stderr=err,
                           kind=classify_remote_error(err))
        return rc, out, err

    def out(self, args, **kwargs):
        return self.run(args, **kwargs)[1].strip()

    def has_object(self, sha, kind=None):
        if not sha:
            return False
        spec = "%s^{%s}" % (sha, kind) if kind else sha
        return self.run(["cat-file", "-e", spec], check=False)[0] == 0

    def rev_parse(self, spec):
        rc, out, dummy = self.run(["rev-parse", "--verify", "--quiet", spec], check=False)
        return out.strip() if rc == 0 and out.strip() else None

    def tree_from_entries(self, entries, inline=(), ref="refs/textbook/tree-build"):
        """Tree sha for ``entries`` [(mode, sha, path)] plus ``inline`` files [(path, bytes)], written by
        ``git fast-import`` into ONE pack.

        ``git write-tree`` writes every new tree as a loose object (a file each); for thousands of new directories
        one pack is much faster. The trees are reachable from a throw-away commit on ``ref``.
        """
        lines = [b"commit %s\nmark :1\ncommitter textbook.deploy <textbook.deploy@localhost> 0 +0000\ndata 0\n"
                 b"deleteall\n" % ref.encode("ascii")]
        for mode, sha, path in entries:
            lines.append(b"M %s %s %s\n" % (mode.encode("ascii"), sha.encode("ascii"), _fast_import_path(path)))
        for path, content in inline:
            lines.append(b"M 100644 inline %s\ndata %d\n%s\n" % (_fast_import_path(path), len(content), content))
        lines.append(b"\nls :1 \"\"\n")  # answers "040000 tree <sha>\t" for the root
        rc, out, err = self.run(["fast-import", "--quiet", "--force", "--date-format=raw"], data=b"".join(lines))
        fields = out.split()
        if len(fields) < 3 or fields[1] != "tree" or not SHA_RE.match(fields[2]):
            raise GitError("git fast-import returned no tree: %s" % (err.strip() or out.strip()))
        return fields[2]

    # --- trees, one level at a time (a site inside a directory of the branch: pages_publish's path and keep) -------

    def tree_level(self, tree):
        """[(mode, kind, sha, name)] of the entries directly in ``tree`` ([] for no tree)."""
        if not tree:
            return []
        out = self.run(["ls-tree", "-z", tree], binary=True)[1]
        entries = []
        for record in out.split(b"\0"):
            if record:
                meta, dummy, name = record.partition(b"\t")
                mode, kind, sha = meta.decode("ascii").split(" ")
                entries.append((mode, kind, sha, name.decode("utf-8", "surrogateescape")))
        return entries

    def make_tree(self, entries):
        """The sha of a tree of ``entries`` [(mode, kind, sha, name)] (git mktree sorts them)."""
        lines = [("%s %s %s\t" % (mode, kind, sha)).encode("ascii") + name.encode("utf-8", "surrogateescape") + b"\0"
                 for mode, kind, sha, name in entries]
        data = b"".join(lines)
        return self.out(["mktree", "-z"], data=data)

    def entry_at(self, tree, path):
        """(mode, kind, sha) of the file or directory at ``path`` (a/b/c) in ``tree``, or None."""
        name, dummy, rest = path.partition("/")
        for mode, kind, sha, entry in self.tree_level(tree):
            if entry == name:
                if not rest:
                    return mode, kind, sha
                return self.entry_at(sha, rest) if kind == "tree" else None
        return None

    def with_subtree(self, tree, path, subtree):
        """``tree`` (None: an empty one) with the directory at ``path`` replaced by the tree ``subtree``, or
        removed when ``subtree`` is None; missing parents are made, parents left empty are dropped. Only the trees
        on the way to ``path`` are rewritten, whatever the size of the rest."""
        name, dummy, rest = path.partition("/")
        level = self.tree_level(tree)
        entries = [entry for entry in level if entry[3] != name]
        if rest:
            current = next((entry[2] for entry in level if entry[3] == name and entry[1] == "tree"), None)
            subtree = self.with_subtree(current, rest, subtree)
        if subtree and subtree != EMPTY_TREE:
            entries.append(("040000", "tree", subtree, name))
        return self.make_tree(entries)

    def index_entries(self, env=None):
        """[(mode, sha, path)] of an index (stage 0), paths as str (surrogateescape for non-UTF-8 names)."""
        rc, out, err = self.run(["ls-files", "--stage", "-z"], env=env, binary=True)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, dummy, path = record.partition(b"\t")
            mode, sha, stage = meta.decode("ascii").split(" ")
            if stage == "0":
                entries.append((mode, sha, path.decode("utf-8", "surrogateescape")))
        return entries

    # --- remotes ------------------------------------------------------------------------------------------

    def start(self, args, **pending):
        """Start git in the background (for a network round trip that can overlap local work)."""
        env = dict(os.environ)
        env.update(self.env)
        return _Pending(self, subprocess.Popen([self.git] + list(args), stdin=subprocess.DEVNULL,
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env), **pending)

    def ls_remote_start(self, url, ref):
        """Start ``git ls-remote``; ``.wait()`` on the result gives what ``ls_remote`` returns."""
        return self.start(["ls-remote", "--", url, ref], parse=lambda out: _ref_sha(out, ref))

    def ls_remote(self, url, ref):
        """The sha ``ref`` points to on the remote, or None when the remote has no such ref."""
        return self.ls_remote_start(url, ref).wait()

    @staticmethod
    def fetch_args(url, refspecs, depth=1):
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                "--no-auto-gc", "--no-auto-maintenance"]
        if depth:
            args.append("--depth=%d" % depth)
        return args + ["--", url] + list(refspecs)

    def fetch_start(self, url, refspecs, depth=1):
        """Start ``git fetch`` in the background; ``.wait()`` raises GitError (kind missing_ref for a missing ref)."""
        return self.start(self.fetch_args(url, refspecs, depth), fetches=True)

    def fetch(self, url, refspecs, depth=1, check=True):
        rc, out, err = self.run(self.fetch_args(url, refspecs, depth), check=False)
        if rc != 0 and check:
            raise GitError(err.strip() or "git fetch failed with exit code %d" % rc, rc=rc, stderr=err,
                           kind=classify_remote_error(err))
        return rc == 0

    def push(self, url, commit, ref, lease=None):
        """Push ``commit`` to ``ref``; ``lease`` (sha or "" for "must not exist") forces with that lease."""
        args = ["push", "--porcelain", "--no-verify", "--no-follow-tags", "--no-signed", "--no-recurse-submodules"]
        if lease is not None:
            args.append("--force-with-lease=%s:%s" % (ref, lease))
        rc, out, err = self.run(args + ["--", url, "%s:%s" % (commit, ref)], check=False)
        result = parse_push_porcelain(out, err, ref)
        if rc == 0 and not result.ok and not result.status:
            result.ok = True
        if not result.ok:
            result.kind = classify_remote_error(err)
        return result


class _Reader(object):
    """Reads one object's content from a ``cat-file --batch`` stream, never past its end."""

    CHUNK = 1 << 20

    def __init__(self, stream, size):
        self.stream = stream
        self.remaining = size

    def read(self, count):
        count = min(count, self.remaining)
        if count <= 0:
            return b""
        data = self.stream.read(count)
        self.remaining -= len(data)
        return data

    def drain(self):
        while self.remaining > 0 and self.read(self.CHUNK):
            pass


class CatFileBatch(object):
    """One ``git cat-file --batch`` process: feed shas, stream back (sha, type, size, chunks) in order.

    ``check_only=True`` runs ``--batch-check`` (types and sizes, no content).
    """

    def __init__(self, git, shas, check_only=False):
        self.git = git
        self.check_only = check_only
        env = dict(os.environ)
        env.update(git.env)
        mode = "--batch-check" if check_only else "--batch"
        self.proc = subprocess.Popen([git.git, "cat-file", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.shas = list(shas)
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.feeder.start()

    def _feed(self):
        try:
            for sha in self.shas:
                self.proc.stdin.write(("%s\n" % sha).encode("ascii"))
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def objects(self):
        """Yield (sha, type, size, read) per sha; ``read(n)`` returns up to n bytes of the object (b"" at its end)."""
        stream = self.proc.stdout
        for dummy in self.shas:
            header = stream.readline().decode("ascii", "replace").split()
            if len(header) != 3:
                raise GitError("git cat-file --batch: unexpected output %r" % " ".join(header))
            sha, kind, size = header[0], header[1], int(header[2])
            reader = _Reader(stream, 0 if self.check_only else size)
            yield sha, kind, size, reader.read
            reader.drain()
            if not self.check_only:
                stream.read(1)  # the newline after the content

    def close(self):
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self.feeder.join(timeout=5)
        err = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stderr.close()
        rc = self.proc.wait()
        if rc != 0 and err.strip():
            raise GitError("git cat-file failed: %s" % self.git.scrub(err.strip()), rc=rc, stderr=err)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
        return False
