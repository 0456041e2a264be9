#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pages_publish
short_description: Publish a directory as one commit on a branch of a git remote (GitHub Pages)
version_added: 1.0.0
description:
  - Publishes the files of O(src) as exactly one new commit on O(branch) of the remote O(repo), without checking
    the branch out, the way C(ghp-import) or C(docusaurus deploy) do, but incrementally.
  - Keeps a persistent bare cache repository per remote and branch under O(cache_dir), holding the objects and an
    index file whose stat data lets a republish hash only the files that changed.
  - Fetches only the head of O(branch) (C(--depth=1)). When the tree to publish equals the tree of that head,
    nothing is committed or pushed and the task reports no change.
  - Before committing, the files that differ from the published tree are checked for O(forbidden_values) and,
    with O(secret_scan=true), for known secret formats; a finding fails the task naming the file, the kind of secret
    and the line, never the secret.
  - When the branch moved while publishing (another push), fetches the new head, commits the same tree on top of
    it and pushes again, up to O(push_retries) times; it never force-pushes unless O(keep_history=false).
  - With O(rollback_to), republishes the tree of an earlier commit as a new commit on top of the branch.
  - With O(path), the site goes into that directory of the branch and the rest of the branch stays as it is (a
    pull-request preview under C(pr-preview/pr-42/) beside the main site); with O(state=absent) the directory is
    removed. O(keep) names directories a publish of the root leaves as they are (the previews). A push race
    recomposes the tree on the new head, so concurrent publishes into different directories never undo each other.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  src:
    description:
      - The directory to publish, for example a Docusaurus C(build) folder. Its content becomes the root of the
        branch; nothing is written into it.
      - Files ignored by a C(.gitignore) inside it are published too; C(.gitattributes) do not convert anything;
        C(.git) directories (also of nested repositories) are never published, the files around them are.
      - Symbolic links are published as links.
      - Required unless O(rollback_to) is given or O(state=absent); mutually exclusive with both.
    type: path
  path:
    description:
      - The directory of the branch the site goes into, for example V(pr-preview/pr-42) (leading and trailing
        slashes do not matter); empty for the root.
      - Everything outside it stays as the branch head has it. O(cname) and O(rollback_to) apply to the root only.
      - With O(path), O(nojekyll) and O(extra_files) are written into that directory, as part of the site.
    type: str
    default: ""
  keep:
    description:
      - Directories of the branch that a publish of the root (or a rollback) leaves exactly as the branch head has
        them, for example V(pr-preview). O(src) must not have them.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(absent) removes the directory O(path) from the branch (one commit; nothing when it is not there).
    type: str
    choices: [present, absent]
    default: present
  repo:
    description:
      - The remote to publish to, for example V(https://github.com/octo-org/textbook.git).
      - C(https://) and C(http://) URLs use O(token); C(file://) URLs and absolute paths name a local (bare)
        repository; C(ssh://) and C(user@host:path) use your SSH setup.
      - Must not contain a password; pass the token in O(token).
    type: str
    required: true
  branch:
    description:
      - The branch to publish to; created when it does not exist yet. Validated with C(git check-ref-format --branch).
    type: str
    default: gh-pages
  token:
    description:
      - Token for C(https://) and C(http://) remotes, sent as HTTP Basic C(x-access-token:<token>) in an
        C(http.<url>.extraHeader) passed to git through its environment (never on a command line or in a URL).
      - Needs write access to the repository contents (classic token scope C(repo) or C(public_repo);
        fine-grained token permission Contents (write)).
      - When not set, the environment variable E(GITHUB_TOKEN), then E(GH_TOKEN), is used.
    type: str
  cname:
    description:
      - Custom domain written as a C(CNAME) file at the root of the published tree, a bare host name such as
        V(docs.example.com). Replaces a C(CNAME) file of O(src).
    type: str
  nojekyll:
    description:
      - Add an empty C(.nojekyll) file so GitHub Pages serves the files as they are (folders starting with C(_)
        included) instead of running Jekyll.
    type: bool
    default: true
  extra_files:
    description:
      - Small files added to the published tree, as a mapping of relative path to content, for example
        C(build-info.json). Lists and mappings are written as JSON. Replace files of the same path in O(src).
    type: dict
    default: {}
  commit_message:
    description:
      - The commit message.
    type: str
    default: Publish site
  author_name:
    description:
      - Author and committer name of the commit.
    type: str
    default: textbook.deploy
  author_email:
    description:
      - Author and committer e-mail of the commit.
    type: str
    default: textbook-deploy@users.noreply.github.com
  keep_history:
    description:
      - V(true) makes the branch head the parent of the new commit.
      - V(false) publishes an orphan commit (the branch then has one commit).
      - Either way the push is C(--force-with-lease=<branch>:<the head the commit was made on>), so a push made in
        between is never lost; the run fetches it and commits on top of it again (O(push_retries)).
    type: bool
    default: true
  forbidden_values:
    description:
      - Values that must never be published, such as backend API keys or database passwords. When one of them
        appears (as is or JSON-escaped) in a file that is about to be published, the task fails naming the file,
        never the value.
      - Empty values are ignored.
    type: list
    elements: str
    default: []
  secret_scan:
    description:
      - Also refuse to publish files containing a known secret format, GitHub tokens (C(ghp_), C(gho_), C(ghs_),
        C(ghu_), C(ghr_), C(github_pat_)), AWS access key ids (C(AKIA...)), PEM private keys, Slack tokens (C(xox?-))
        and C(postgres://) / C(postgresql://) URIs with a password (Neon and others).
      - Obvious placeholders (C(ghp_XXXX...), C(AKIAIOSFODNN7EXAMPLE), C(postgres://user:password@host)) are not
        findings. Binary files larger than 4 MiB are only checked for O(forbidden_values).
      - Only files that differ from the published tree are scanned.
    type: bool
    default: true
  rollback_to:
    description:
      - A full commit sha (40 hex digits) of the branch history, typically the RV(previous_commit) of an earlier
        run. Its tree is published again as a new commit on top of the branch (so the history keeps both).
      - The commit is fetched by its sha when the cache does not have it.
      - O(cname), O(nojekyll) and O(extra_files) do not apply, the tree is republished as it was.
    type: str
  cache_dir:
    description:
      - Where the persistent cache repositories live, one per O(repo) and O(branch) (named by the SHA-256 of both).
        Deleting it is safe; the next run rebuilds it (and hashes every file once).
    type: path
    default: ~/.cache/textbook.deploy/pages
  push_retries:
    description:
      - How many times to fetch, recommit on top and push again when the push is rejected because the branch moved.
    type: int
    default: 3
attributes:
  check_mode:
    support: full
    description:
      - Fetches the branch head, computes the tree and the changes and runs the secret scan, but creates no commit
        and pushes nothing. The blobs of O(src) are written to the local cache (not to the remote).
  diff_mode:
    support: full
    description: Lists the files added (C(A)), removed (C(D)) and modified (C(M)), at most 200 names and the counts.
  idempotent:
    support: full
    description: A second run with the same O(src) content finds the tree already published and pushes nothing.
notes:
  - Requires git 2.29 or later on the host that runs the module.
  - Runs that publish to the same O(repo) and O(branch) with the same O(cache_dir) take turns (a lock file).
  - The cache repository is shallow and is never garbage-collected; it holds the published trees only.
seealso:
  - name: ghp-import
    description: The tool this module replaces; it rewrites every file on every run.
    link: https://github.com/c-w/ghp-import
"""

EXAMPLES = r"""
- name: Publish the Docusaurus build to gh-pages
  textbook.deploy.pages_publish:
    src: "{{ playbook_dir }}/site/build"
    repo: https://github.com/octo-org/textbook.git
    token: "{{ github_token }}"
    cname: docs.example.com
    extra_files:
      build-info.json: "{{ {'version': app_version, 'commit': source_commit} | to_nice_json }}"
    forbidden_values:
      - "{{ backend_api_key }}"
      - "{{ neon_password }}"
    commit_message: "Publish textbook {{ app_version }}"
  register: published

- name: Roll back to what was published before
  textbook.deploy.pages_publish:
    repo: https://github.com/octo-org/textbook.git
    token: "{{ github_token }}"
    rollback_to: "{{ published.previous_commit }}"
    commit_message: "Roll back to {{ published.previous_commit[:12] }}"
  when: published.previous_commit

- name: Publish the main site, leaving the pull-request previews in place
  textbook.deploy.pages_publish:
    src: "{{ playbook_dir }}/site/build"
    repo: https://github.com/octo-org/textbook.git
    keep: [pr-preview]

- name: Publish a pull request's preview beside the main site
  textbook.deploy.pages_publish:
    src: "{{ playbook_dir }}/site/build"
    repo: https://github.com/octo-org/textbook.git
    path: pr-preview/pr-42

- name: Remove the preview when the pull request is closed
  textbook.deploy.pages_publish:
    repo: https://github.com/octo-org/textbook.git
    path: pr-preview/pr-42
    state: absent

- name: Replace the branch by a single commit each time (force with lease)
  textbook.deploy.pages_publish:
    src: build
    repo: /srv/git/site.git
    branch: main
    keep_history: false
"""

RETURN = r"""
commit:
  description: The commit the branch points to after the run (the new commit, or the unchanged head). Not set in
    check mode when a commit would be created.
  returned: success
  type: str
  sample: 3b18e512dba79e4c8300dd08aeb37f8e728b8dad
tree:
  description: The tree published (or that would be published).
  returned: success
  type: str
  sample: 9bd4aa8b2e7c26ed5dbc6bcd1b0c0a0a2fb7f1a1
previous_commit:
  description: The head of the branch that the new commit replaced (after a push race, the concurrent commit); the
    unchanged head when nothing was published; null when the branch did not exist.
  returned: success
  type: str
  sample: 0e5b7f5a40e6a1b1a2f6c2b4cbd6e3a0f1b9d2c4
branch:
  description: The branch published to.
  returned: always
  type: str
  sample: gh-pages
files_added:
  description: Number of files added compared to the previous head.
  returned: success
  type: int
  sample: 2
files_removed:
  description: Number of files removed.
  returned: success
  type: int
  sample: 0
files_modified:
  description: Number of files whose content or mode changed.
  returned: success
  type: int
  sample: 1
files_changed:
  description: Sum of RV(files_added), RV(files_removed) and RV(files_modified).
  returned: success
  type: int
  sample: 3
bytes_changed:
  description: Total size in bytes of the added and modified files.
  returned: success
  type: int
  sample: 48213
pushed:
  description: Whether a commit was pushed.
  returned: success
  type: bool
  sample: true
push_attempts:
  description: Number of pushes made (more than 1 when the branch moved in between).
  returned: success
  type: int
  sample: 1
scan_skipped:
  description: Large binary files (at most 50 listed) only checked for O(forbidden_values), not for secret formats.
  returned: success
  type: list
  elements: str
  sample: [assets/video/intro.mp4]
findings:
  description: Secrets found (file, kind, line; never the secret), at most 50. Returned when the task fails because
    of them.
  returned: failure
  type: list
  elements: dict
  sample: [{"path": "assets/js/main.js", "kind": "forbidden value #1", "line": 3}]
path:
  description: The directory of the branch published into (O(path), normalised); empty for the root.
  returned: success
  type: str
  sample: pr-preview/pr-42
cache:
  description: The cache repository used.
  returned: success
  type: str
  sample: /home/deploy/.cache/textbook.deploy/pages/5d41402abc4b2a76b9719d911017c592f0e0a7f4d3c2b1a0e9f8d7c6b5a4f3e2
"""

import fcntl
import hashlib
import json
import os
import posixpath
import shutil
import stat
import struct
import tempfile

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.textbook.deploy.plugins.module_utils.git import (
    EMPTY_TREE,
    SHA_RE,
    CatFileBatch,
    Git,
    GitError,
    clean_process_environment,
    validate_remote,
)
from ansible_collections.textbook.deploy.plugins.module_utils.hostname import normalize_hostname
from ansible_collections.textbook.deploy.plugins.module_utils.secret_scan import Scanner, describe

LOCAL_REF = "refs/textbook/remote"
ROLLBACK_REF = "refs/textbook/rollback"
DIFF_LIMIT = 200
LIST_LIMIT = 50
# The cache repository's own configuration: no hooks, no ignore rules, no content conversion, no auto gc.
CACHE_CONFIG = """
[core]
\tcompression = 1
\tlooseCompression = 1
\texcludesFile = /dev/null
\tattributesFile = /dev/null
\thooksPath = /dev/null
\tautocrlf = false
\tsafecrlf = false
\tsymlinks = true
\tignoreCase = false
\tfileMode = true
\tfsmonitor = false
\tuntrackedCache = false
\tsplitIndex = false
\tsparseCheckout = false
\tpreloadIndex = true
[gc]
\tauto = 0
[maintenance]
\tauto = false
[advice]
\taddEmbeddedRepo = false
\taddIgnoredFile = false
[push]
\tgpgSign = false
\trecurseSubmodules = no
[fetch]
\twriteCommitGraph = false
\trecurseSubmodules = false
\tshowForcedUpdates = false
[index]
\tversion = 4
"""
# Worktree .gitattributes must not convert line endings, run filters (LFS ...) or expand keywords.
CACHE_ATTRIBUTES = "* -text -eol -filter -ident -working-tree-encoding\n"
GITLINK = "160000"
# Formats that are compressed already: deflating them again costs CPU and saves nothing.
STORED_EXTENSIONS = frozenset((
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "woff", "woff2", "mp3", "mp4", "m4a", "m4v", "webm", "ogg",
    "ogv", "opus", "zip", "gz", "tgz", "bz2", "xz", "zst", "br", "7z", "jar", "whl", "apk", "pdf",
))


def branch_path(value):
    """(the directory ``value`` names inside the branch, normalised: "" for the root; a problem or None)."""
    text = str(value or "").strip()
    clean = posixpath.normpath(text.strip("/")) if text.strip("/") else ""
    parts = clean.split("/")
    if ".." in parts or any(part.lower() == ".git" for part in parts) or any(
            char in clean for char in "\0\n\\"):
        return clean, "%r is not a directory inside the branch: give a path such as pr-preview/pr-42 (no .., no .git)" \
                      % text
    return ("" if clean == "." else clean), None


class PublishError(Exception):
    def __init__(self, msg, **result):
        super(PublishError, self).__init__(msg)
        self.msg = msg
        self.result = result


class Publisher(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.params = params
        self.repo = params["repo"]
        self.branch = params["branch"]
        self.ref = "refs/heads/%s" % self.branch
        self.token = params["token"] or None
        self.src = os.path.abspath(params["src"]) if params["src"] else None
        key = hashlib.sha256(("%s\n%s" % (self.repo.rstrip("/"), self.branch)).encode("utf-8")).hexdigest()
        self.cache = os.path.join(params["cache_dir"], key)
        # one index per directory published into: a preview's files never evict the main site's stat data
        self.path, self.path_problem = branch_path(params["path"])
        self.index = os.path.join(self.cache, "textbook-index" + (
            "-" + hashlib.sha256(self.path.encode("utf-8")).hexdigest()[:16] if self.path else ""))
        self.git = Git(module, self.cache, token=self.token, remote=self.repo)
        self.head = None

    # --- validation (before anything touches the remote) --------------------------------------------------

    def validate(self):
        params = self.params
        problem = validate_remote(self.repo)
        if problem:
            shown = "" if "password" in problem else " %r" % self.repo
            raise PublishError("repo%s is not a git remote URL: %s. Use for example "
                               "https://github.com/OWNER/REPO.git, file:///path/to/repo.git or an absolute path."
                               % (shown, problem))
        if self.repo.startswith("/") and not os.path.isdir(self.repo):
            raise PublishError("repo %r does not exist: an absolute path must name an existing (bare) git repository"
                               % self.repo)
        self.validate_branch()
        self.validate_placement()
        if params["cname"] is not None:
            cname = normalize_hostname(params["cname"])
            if cname is None:
                raise PublishError("cname %r is not a host name: give a bare domain such as docs.example.com "
                                   "(no scheme, path, port or spaces)" % params["cname"])
            self.cname = cname
        else:
            self.cname = None
        self.extras = self.extra_entries()
        if params["rollback_to"] is not None:
            sha = params["rollback_to"].strip().lower()
            if not SHA_RE.match(sha):
                raise PublishError("rollback_to %r is not a commit sha: give the full 40-character sha, for example the "
                                   "previous_commit returned by an earlier run" % params["rollback_to"])
            self.rollback = sha
        else:
            self.rollback = None
            if params["state"] == "present":
                self.validate_src()
        if params["push_retries"] < 0:
            raise PublishError("push_retries must be 0 or more")
        if not params["commit_message"].strip():
            raise PublishError("commit_message must not be empty")
        for name in ("author_name", "author_email"):
            if not params[name].strip() or any(ch in params[name] for ch in "<>\n"):
                raise PublishError("%s %r is not usable in a commit: it must be non-empty and without <, > or newlines"
                                   % (name, params[name]))

    def validate_branch(self):
        branch = self.branch
        # --branch checks refs/heads/<branch>; it also expands @{-N}, which is why "@{" is refused first
        problem = not branch or branch.startswith("-") or "@{" in branch
        if not problem:
            rc = self.git.run(["check-ref-format", "--branch", branch], check=False, cwd="/",
                              env={"GIT_DIR": "/nonexistent"})[0]
            problem = rc != 0
        if problem:
            raise PublishError("branch %r is not a valid branch name (git check-ref-format --branch rejects it): use "
                               "letters, digits, '-', '_', '.' and '/', for example gh-pages" % branch)

    def validate_placement(self):
        """path, keep and state: where in the branch the site goes, and what a publish leaves alone."""
        params = self.params
        if self.path_problem:
            raise PublishError("path " + self.path_problem)
        self.keep = []
        for entry in params["keep"]:
            clean, problem = branch_path(entry)
            if problem or not clean:
                raise PublishError("keep entry " + (problem or "%r names the root: name directories such as "
                                                    "pr-preview" % entry))
            self.keep.append(clean)
        if params["state"] == "absent" and (not self.path or params["src"] or params["rollback_to"]):
            raise PublishError("state=absent removes the directory path from the branch: give path (not the root) "
                               "and neither src nor rollback_to")
        if self.path and (params["cname"] is not None or params["rollback_to"] or self.keep):
            raise PublishError("cname, rollback_to and keep apply to a publish of the root: drop them when path is "
                               "given (path %r)" % self.path)

    def validate_src(self):
        src = self.src
        if not os.path.isdir(src):
            what = "is not a directory" if os.path.exists(src) else "does not exist"
            raise PublishError("src %r %s: point src at the built site (for example the build/ folder of "
                               "`npm run build`)" % (src, what))
        try:
            entries = [entry for entry in os.listdir(src) if entry != ".git"]
        except OSError as exc:
            raise PublishError("src %r cannot be read: %s" % (src, exc))
        if not entries:
            raise PublishError("src %r is empty: build the site first; refusing to publish an empty branch" % src)

    def extra_entries(self):
        """[(path, bytes)] for CNAME, .nojekyll and extra_files, sorted by path."""
        entries = {}
        if self.params["rollback_to"] is None:
            if self.params["nojekyll"]:
                entries[".nojekyll"] = b""
            if self.cname:
                entries["CNAME"] = (self.cname + "\n").encode("utf-8")
            for path, content in (self.params["extra_files"] or {}).items():
                clean = posixpath.normpath(str(path).strip())
                parts = clean.split("/")
                if (not str(path).strip() or clean.startswith("/") or clean in (".", "") or ".." in parts
                        or any(part.lower() == ".git" for part in parts) or "\0" in clean or "\n" in clean):
                    raise PublishError("extra_files path %r is not a relative file path inside the site (no leading /, "
                                       "no .., no .git)" % path)
                if isinstance(content, (dict, list)):
                    data = json.dumps(content, indent=2, sort_keys=True) + "\n"
                elif content is None:
                    data = ""
                else:
                    data = content if isinstance(content, str) else str(content)
                entries[clean] = data.encode("utf-8") if isinstance(data, str) else data
        return sorted(entries.items())

    # --- the cache repository -----------------------------------------------------------------------------

    def open_cache(self):
        parent = self.params["cache_dir"]
        try:
            os.makedirs(parent, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise PublishError("cache_dir %r cannot be created: %s" % (parent, exc))
        self.lock = open(self.cache + ".lock", "a")
        fcntl.flock(self.lock.fileno(), fcntl.LOCK_EX)
        if not all(os.path.exists(os.path.join(self.cache, name)) for name in ("HEAD", "config", "objects", "refs")):
            self.init_cache()
        stale = self.index + ".lock"
        if os.path.exists(stale):  # we hold the lock: an index.lock is left over from a killed run
            os.unlink(stale)

    def init_cache(self):
        shutil.rmtree(self.cache, ignore_errors=True)
        tmp = tempfile.mkdtemp(prefix=".init-", dir=self.params["cache_dir"])
        try:
            # --template= copies no sample hooks: the cache runs none, and the copy is most of init's time
            self.git.run(["init", "--quiet", "--bare", "--template=", tmp], env={"GIT_DIR": tmp})
            with open(os.path.join(tmp, "config"), "a") as handle:
                handle.write(CACHE_CONFIG)
            os.makedirs(os.path.join(tmp, "info"), exist_ok=True)
            with open(os.path.join(tmp, "info", "attributes"), "w") as handle:
                handle.write(CACHE_ATTRIBUTES)
            with open(os.path.join(tmp, "info", "exclude"), "w") as handle:
                handle.write("")
            os.rename(tmp, self.cache)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    # --- remote -------------------------------------------------------------------------------------------

    def remote_error(self, err, doing):
        kind = err.kind
        if kind == "auth":
            return PublishError("%s repo %s failed: authentication was refused. Check the token option (or the "
                                "GITHUB_TOKEN / GH_TOKEN environment variable): it is missing, invalid or expired. "
                                "git said: %s" % (doing, self.repo, err.message))
        if kind == "forbidden":
            return PublishError("%s repo %s failed: the token is not allowed to do this. The token needs write access "
                                "to the repository contents (scope repo, or Contents: write). git said: %s"
                                % (doing, self.repo, err.message))
        if kind == "not_found":
            return PublishError("%s repo %s failed: the repository does not exist%s. Check the repo option. git said: %s"
                                % (doing, self.repo, " or the token cannot see it" if self.token else "", err.message))
        return PublishError("%s repo %s failed: %s" % (doing, self.repo, err.message))

    def start_reading_head(self):
        """Start reading the remote head in the background. A cache without a copy of the branch fetches it
        straight away (one round trip); otherwise only its sha is asked for (ls-remote) and fetched if it moved.
        A rollback fetches its own commit meanwhile, and two shallow fetches into one repository cannot overlap."""
        if self.local_ref() is None and not self.rollback:
            return self.git.fetch_start(self.repo, ["+%s:%s" % (self.ref, LOCAL_REF)])
        return self.git.ls_remote_start(self.repo, self.ref)

    def read_head(self, pending=None):
        """The remote head (fetched into the cache when it is not there yet), or None for a missing branch.

        ``pending``: from ``start_reading_head``, whose round trip overlapped local work.
        """
        pending = pending or self.git.ls_remote_start(self.repo, self.ref)
        fetched = pending.fetches
        try:
            head = pending.wait()
        except GitError as exc:
            if exc.kind != "missing_ref":
                raise self.remote_error(exc, "Reading")
            head = fetched = None
        if fetched:
            return self.local_ref() or self.git.rev_parse(LOCAL_REF)
        local = self.local_ref()
        if head is None:
            if local is not None:
                self.git.run(["update-ref", "-d", LOCAL_REF], check=False)
            return None
        if head == local:  # written after a push or fetch into this cache: the commit is here
            return head
        if not self.git.has_object(head, "commit"):
            try:
                self.git.fetch(self.repo, ["+%s:%s" % (self.ref, LOCAL_REF)], depth=1)
            except GitError as exc:
                raise self.remote_error(exc, "Fetching branch %s of" % self.branch)
            fetched = self.git.rev_parse(LOCAL_REF)
            return fetched or head
        self.git.run(["update-ref", LOCAL_REF, head])
        return head

    def settle_head(self, pending):
        """The head to publish on. A warm cache publishing a changed tree takes the head its last push or fetch
        left and lets the push's lease check that the branch is still there (one round trip less; a branch that
        moved is handled as a push race). Otherwise, and in check mode, it waits for the remote's answer."""
        local = self.local_ref()
        if local and not self.rollback and not self.module.check_mode and self.compose(local) != self.tree_of(local):
            pending.cancel()
            return local
        return self.read_head(pending)

    def local_ref(self):
        try:
            with open(os.path.join(self.cache, LOCAL_REF)) as handle:
                return handle.read().strip()
        except (IOError, OSError):
            return None

    def tree_of(self, commit):
        return self.git.out(["rev-parse", "--verify", "%s^{tree}" % commit]) if commit else None

    # --- the tree to publish ------------------------------------------------------------------------------

    def build_tree(self, bulk):
        if self.rollback:
            return self.rollback_tree()
        add_env = {"GIT_WORK_TREE": self.src, "GIT_INDEX_FILE": self.index}
        if bulk:
            # First publish of a new cache: stream the blobs into packs (one file each) rather than thousands of
            # loose objects, and store already-compressed formats (images, fonts, archives) without deflating
            # them again. Later runs write the few changed blobs as loose objects and only hash unchanged ones.
            stored = self.stored_pathspecs()
            if stored:
                self.git_add(["-c", "core.bigFileThreshold=1", "-c", "pack.compression=0"], stored, add_env)
            self.git_add(["-c", "core.bigFileThreshold=1"], ["."], add_env)
        else:
            self.git_add([], ["."], add_env)
        return self.index_tree(bulk=bulk)

    def git_add(self, config, pathspecs, add_env):
        for attempt in (1, 2):
            rc, dummy, err = self.git.run(config + ["add", "--all", "--force", "--"] + pathspecs, env=add_env,
                                          cwd=self.src, check=False)
            if rc == 0:
                return
            if attempt == 1 and "index" in err.lower() and any(word in err.lower() for word in (
                    "corrupt", "signature", "smaller than expected", "bad index", "unknown index entry")):
                os.unlink(self.index)
                continue
            raise PublishError("Reading src %s failed: %s" % (self.src, err.strip()))

    def stored_pathspecs(self):
        """Pathspecs (":(icase)*.png" ...) for the already-compressed file types present in src."""
        found = set()
        for dummy, dirs, names in os.walk(self.src):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in names:
                ext = name.rpartition(".")[2].lower()
                if ext in STORED_EXTENSIONS:
                    found.add(ext)
        return [":(icase)*.%s" % ext for ext in sorted(found)]

    def index_tree(self, bulk=False):
        """The tree of the cache index plus CNAME/.nojekyll/extra_files (never written into src)."""
        index_env = {"GIT_INDEX_FILE": self.index}
        empty = PublishError("src %r has no files (only empty directories): build the site first; refusing to publish "
                             "an empty branch" % self.src)
        if bulk:
            # every tree is new too: build them in one pack instead of one loose file per directory
            listed = self.git.index_entries(env=index_env)
            links = [path for mode, dummy, path in listed if mode == GITLINK]
            if links:
                self.expand_gitlinks(links)
                listed = self.git.index_entries(env=index_env)
            entries = dict((path, (mode, sha)) for mode, sha, path in listed)
            if not entries:
                raise empty
            for path, dummy in self.extras:
                parents = ["/".join(path.split("/")[:depth]) for depth in range(1, path.count("/") + 1)]
                if any(parent in entries for parent in parents) or any(name.startswith(path + "/") for name in entries):
                    raise PublishError("extra_files/cname/nojekyll could not be added: %s clashes with a file or "
                                       "directory of src" % path)
                entries.pop(path, None)  # the extra file replaces src's file of that name
            return self.git.tree_from_entries([(mode, sha, path) for path, (mode, sha) in sorted(entries.items())],
                                              inline=self.extras)
        if self.index_entry_count() == 0:
            raise empty
        if self.extras:
            extra_shas = self.hash_contents([content for dummy, content in self.extras])
            args = ["update-index", "--add"]
            for (path, dummy), sha in zip(self.extras, extra_shas):
                args += ["--cacheinfo", "100644,%s,%s" % (sha, path)]  # refuses file/directory clashes
            rc, dummy, err = self.git.run(args, env=index_env, check=False)
            if rc != 0:
                raise PublishError("extra_files/cname/nojekyll could not be added: a path clashes with a file or "
                                   "directory of src (%s)" % err.strip().splitlines()[0])
        return self.git.out(["write-tree"], env=index_env)

    def index_entry_count(self):
        """Entries in the cache index (its header: DIRC, version, count); after ``add --all`` that is src's files."""
        try:
            with open(self.index, "rb") as handle:
                header = handle.read(12)
        except (IOError, OSError):
            return 0
        if len(header) < 12 or header[:4] != b"DIRC":
            return None
        return struct.unpack(">I", header[8:12])[0]

    def hash_contents(self, contents):
        """Blob shas for byte strings, writing the blobs the cache does not have yet (one git process at most)."""
        shas = [hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest() for content in contents]
        missing = [number for number, sha in enumerate(shas)
                   if not os.path.exists(os.path.join(self.cache, "objects", sha[:2], sha[2:]))]
        if not missing:
            return shas
        tmp = tempfile.mkdtemp(prefix=".extra-", dir=self.cache)
        try:
            paths = []
            for number in missing:
                path = os.path.join(tmp, str(number))
                with open(path, "wb") as handle:
                    handle.write(contents[number])
                paths.append(path)
            written = self.git.out(["hash-object", "-w", "--no-filters", "--stdin-paths"],
                                   data=("\n".join(paths) + "\n").encode("utf-8")).split()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for number, sha in zip(missing, written):
            shas[number] = sha
        return shas

    def expand_gitlinks(self, paths):
        """Replace nested repositories (added by git as gitlinks) by their files, .git excluded."""
        records, files = [], []
        for rel in paths:
            records.append("0 %s\t%s\0" % ("0" * 40, rel))
            base = os.path.join(self.src, rel)
            for root, dirs, names in os.walk(base):
                dirs[:] = sorted(d for d in dirs if d != ".git" and not os.path.islink(os.path.join(root, d)))
                for name in sorted(names):
                    if name == ".git":
                        continue
                    full = os.path.join(root, name)
                    files.append((os.path.relpath(full, self.src).replace(os.sep, "/"), full))
        blobs = []
        for rel, full in files:
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                blobs.append((rel, "120000", os.readlink(full).encode("utf-8", "surrogateescape")))
            elif stat.S_ISREG(info.st_mode):
                with open(full, "rb") as handle:
                    blobs.append((rel, "100755" if info.st_mode & 0o111 else "100644", handle.read()))
        shas = self.hash_contents([content for dummy, dummy2, content in blobs]) if blobs else []
        records += ["%s %s\t%s\0" % (mode, sha, rel) for (rel, mode, dummy), sha in zip(blobs, shas)]
        self.git.run(["update-index", "--add", "--remove", "-z", "--index-info"],
                     data="".join(records).encode("utf-8", "surrogateescape"), env={"GIT_INDEX_FILE": self.index})

    def compose(self, head):
        """The branch's tree to publish on top of ``head``: the site at the root with the head's O(keep)
        directories, or the head's tree with the site at O(path) (without it for state=absent)."""
        base = self.tree_of(head)
        if self.path:
            return self.git.with_subtree(base, self.path, self.site)
        tree = self.site
        for kept in self.keep:  # as the head has it: also absent when a rolled-back tree still had it
            entry = self.git.entry_at(base, kept)
            tree = self.git.with_subtree(tree, kept, entry[2] if entry and entry[1] == "tree" else None)
        return tree

    def check_keep(self):
        """A root publish must not bring its own copy of a kept directory (it would be dropped silently)."""
        if self.rollback:
            return
        for kept in self.keep:
            if self.git.entry_at(self.site, kept):
                raise PublishError("src %r has %s, which keep leaves as the branch has it: remove it from the site or "
                                   "from keep" % (self.src, kept))

    def rollback_tree(self):
        sha = self.rollback
        if not self.git.has_object(sha, "commit"):
            rc, dummy, err = self.git.run(self.git.fetch_args(self.repo, ["%s:%s" % (sha, ROLLBACK_REF)]), check=False)
            if rc != 0 or not self.git.has_object(sha, "commit"):
                raise PublishError("rollback_to %s cannot be fetched from repo %s: it is not a commit there (or the "
                                   "server does not allow fetching by sha). git said: %s" % (sha, self.repo, err.strip()))
        return self.tree_of(sha)

    # --- changes and the secret scan ----------------------------------------------------------------------

    def diff(self, old, new_tree):
        """[(status, old_mode, new_mode, new_sha, path)] of every file that differs; ``old``: a commit or tree."""
        rc, out, err = self.git.run(["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old or EMPTY_TREE,
                                     new_tree], binary=True)
        fields = out.split(b"\0")
        changes = []
        index = 0
        while index + 1 < len(fields):
            meta = fields[index].decode("ascii")
            if not meta.startswith(":"):
                index += 1
                continue
            old_mode, new_mode, dummy, new_sha, status = meta[1:].split(" ")
            path = fields[index + 1].decode("utf-8", "surrogateescape")
            changes.append((status[0], old_mode, new_mode, new_sha, path))
            index += 2
        return changes

    def scan(self, changes):
        """(bytes_changed, scan_skipped) of the new blobs; fails with findings when a secret is found."""
        wanted = {}
        for status, dummy, new_mode, sha, path in changes:
            if status != "D" and new_mode != GITLINK:
                wanted.setdefault(sha, []).append(path)
        if not wanted:
            return 0, []
        params = self.params
        scanner = Scanner(params["forbidden_values"], patterns=params["secret_scan"])
        total, findings = 0, []
        shas = sorted(wanted, key=lambda sha: wanted[sha][0])
        if scanner.active:
            with CatFileBatch(self.git, shas) as batch:
                for sha, dummy, size, read in batch.objects():
                    total += size * len(wanted[sha])
                    found = scanner.scan_stream(wanted[sha][0], read, size)
                    for finding in found:
                        findings.append(finding)
                        for other in wanted[sha][1:]:
                            findings.append(type(finding)(other, finding.kind, finding.line))
        else:
            with CatFileBatch(self.git, shas, check_only=True) as batch:
                for sha, dummy, size, dummy2 in batch.objects():
                    total += size * len(wanted[sha])
        if findings:
            findings.sort(key=lambda item: (item.path, item.line))
            raise PublishError(
                "Refusing to publish: %d file(s) contain a forbidden value or a secret: %s. Remove them from the site "
                "(the value itself is not shown)%s." % (
                    len(set(item.path for item in findings)), describe(findings),
                    "; if a secret pattern is a false positive, set secret_scan=false" if any(
                        not item.kind.startswith("forbidden value") for item in findings) else ""),
                findings=[item.as_dict() for item in findings[:LIST_LIMIT]])
        skipped = list(scanner.skipped)
        return total, skipped

    # --- commit and push ----------------------------------------------------------------------------------

    def commit(self, tree, parent):
        params = self.params
        env = {"GIT_AUTHOR_NAME": params["author_name"], "GIT_AUTHOR_EMAIL": params["author_email"],
               "GIT_COMMITTER_NAME": params["author_name"], "GIT_COMMITTER_EMAIL": params["author_email"]}
        args = ["commit-tree", tree]
        if parent and params["keep_history"]:
            args += ["-p", parent]
        message = params["commit_message"]
        if not message.endswith("\n"):
            message += "\n"
        return self.git.out(args, data=message.encode("utf-8"), env=env)

    def publish(self, tree):
        """Commit ``tree`` on the head and push; on a race fetch, recompose the tree on the new head (the other
        run's change outside O(path) or in O(keep) stays), commit on top, push again.

        Returns (commit, parent head it replaced, attempts, pushed).
        """
        attempts = 0
        head = self.head
        while True:
            commit = self.commit(tree, head)
            attempts += 1
            # the lease makes the push fail as a race unless the branch is still exactly at head
            result = self.git.push(self.repo, commit, self.ref, lease=head or "")
            if result.ok:
                self.git.run(["update-ref", LOCAL_REF, commit])
                return commit, head, attempts, True
            if result.kind in ("auth", "forbidden", "not_found"):
                raise self.remote_error(GitError(result.message, kind=result.kind), "Pushing to")
            if not result.race:
                raise PublishError("Pushing to repo %s was rejected: %s%s" % (
                    self.repo, result.status or "push failed", (" -- git said: %s" % result.message)
                    if result.message else ""), push_attempts=attempts)
            if attempts > self.params["push_retries"]:
                raise PublishError("Pushing to repo %s failed %d times because branch %s kept moving (%s); nothing "
                                   "was forced. Try again later or raise push_retries."
                                   % (self.repo, attempts, self.branch, result.reason or result.status),
                                   push_attempts=attempts)
            head = self.read_head()
            tree = self.compose(head)
            if head and self.tree_of(head) == tree:
                return head, head, attempts, False  # someone published this very tree meanwhile

    def run(self):
        module = self.module
        self.validate()
        self.open_cache()
        pending = self.start_reading_head()
        # src is hashed while the remote is read. A cold cache (no index yet: a first publish, a
        # fresh CI runner) hashes every file, so it writes them in bulk whether or not the branch exists.
        self.site = None if module.params["state"] == "absent" else self.build_tree(bulk=not os.path.exists(self.index))
        self.check_keep()
        self.head = self.settle_head(pending)
        tree = self.compose(self.head)
        result = dict(changed=False, tree=tree, previous_commit=self.head, branch=self.branch, commit=self.head,
                      files_added=0, files_removed=0, files_modified=0, files_changed=0, bytes_changed=0,
                      pushed=False, push_attempts=0, scan_skipped=[], cache=self.cache, path=self.path)
        changes = self.diff(self.head, tree)  # empty when the branch already has this tree
        links = [path for dummy, dummy2, new_mode, dummy3, path in changes if new_mode == GITLINK]
        if links and not self.rollback:
            self.expand_gitlinks(links)
            self.site = self.index_tree()
            tree = result["tree"] = self.compose(self.head)
            changes = self.diff(self.head, tree)
        if not changes:
            if module._diff:
                result["diff"] = {"prepared": "No changes: branch %s already has tree %s.\n" % (self.branch, tree)}
            return result
        counts = {"A": 0, "D": 0, "M": 0}
        for change in changes:
            counts["A" if change[0] == "A" else "D" if change[0] == "D" else "M"] += 1
        result.update(changed=True, files_added=counts["A"], files_removed=counts["D"], files_modified=counts["M"],
                      files_changed=len(changes))
        if module._diff:
            result["diff"] = {"prepared": self.prepared_diff(changes, counts)}
        result["bytes_changed"], skipped = self.scan(changes)
        result["scan_skipped"] = skipped[:LIST_LIMIT]
        if module.check_mode:
            result["commit"] = None
            return result
        commit, replaced, attempts, pushed = self.publish(tree)
        result.update(commit=commit, previous_commit=replaced, push_attempts=attempts, pushed=pushed, changed=pushed)
        return result

    def prepared_diff(self, changes, counts):
        lines = ["%s branch %s%s of %s: %d added, %d removed, %d modified" % (
            "Would publish to" if self.module.check_mode else "Publishing to", self.branch,
            " (directory %s)" % self.path if self.path else "", self.repo,
            counts["A"], counts["D"], counts["M"])]
        for change in changes[:DIFF_LIMIT]:
            status = change[0] if change[0] in ("A", "D") else "M"
            lines.append("%s %s" % (status, change[4]))
        if len(changes) > DIFF_LIMIT:
            lines.append("... and %d more" % (len(changes) - DIFF_LIMIT))
        return "\n".join(lines) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            repo=dict(type="str", required=True),
            branch=dict(type="str", default="gh-pages"),
            token=dict(type="str", no_log=True, fallback=(env_fallback, ["GITHUB_TOKEN", "GH_TOKEN"])),
            cname=dict(type="str"),
            nojekyll=dict(type="bool", default=True),
            extra_files=dict(type="dict", default={}),
            commit_message=dict(type="str", default="Publish site"),
            author_name=dict(type="str", default="textbook.deploy"),
            author_email=dict(type="str", default="textbook-deploy@users.noreply.github.com"),
            keep_history=dict(type="bool", default=True),
            forbidden_values=dict(type="list", elements="str", no_log=True, default=[]),
            secret_scan=dict(type="bool", default=True),
            rollback_to=dict(type="str"),
            cache_dir=dict(type="path", default="~/.cache/textbook.deploy/pages"),
            push_retries=dict(type="int", default=3),
            path=dict(type="str", default=""),
            keep=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("src", "rollback_to"), True), ("state", "absent", ("path",))],
        mutually_exclusive=[("src", "rollback_to")],
        supports_check_mode=True,
    )
    clean_process_environment()
    publisher = Publisher(module)
    try:
        result = publisher.run()
    except PublishError as exc:
        module.fail_json(msg=publisher.git.scrub(exc.msg), branch=module.params["branch"], **exc.result)
    except GitError as exc:
        module.fail_json(msg=publisher.git.scrub(str(exc)), branch=module.params["branch"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
