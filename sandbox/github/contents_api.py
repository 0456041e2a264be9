"""GET /repos/{owner}/{repo}/contents/{path}: a file or a directory of a branch, tag or commit, read from the bare
repository's tree with git's plumbing (repos/get-content).

Modelled, as GitHub's description and docs say:
- `ref` is a branch, a tag or a commit SHA; without it, the default branch. An unknown ref is a 404 with GitHub's
  message "No commit found for the ref <ref>"; a path that is not in the tree is a 404 "Not Found".
- A directory answers the array of its entries (content-directory): type `dir`, `file`, `symlink`, and `file` for
  a submodule (GitHub keeps that for backwards compatibility, as its description says), each with name, path, sha
  (the tree's or blob's object id), size (0 for a directory), and the url, git_url, html_url, download_url and
  _links GitHub gives. A file answers its content, base64 in lines of 60 characters as GitHub sends it
  (content-file); a symlink its target (content-symlink).
- The path may hold slashes (the description's `x-multi-segment`); a trailing slash is ignored. Scope `repo`.
Not modelled: the custom media types (raw, html, object), GitHub's limit of 1,000 entries per directory, files over
1 MB (sent whole here), symlinks resolved to their target's content, submodules given as a path of their own, the
root directory (GET .../contents without a path), and If-None-Match/304.
"""
import base64
from urllib.parse import quote

from sandbox.common.routes import Route

from . import git
from .errors import DOCS, error, not_found

CONTENTS_DOCS = DOCS + "/repos/contents#get-repository-content"
# {path} spans several segments (x-multi-segment): the router sees its slashes percent-encoded (contract.py)
ROUTES = [Route("GET", "/repos/{owner}/{repo}/contents/{path}", "get_content")]
NEEDS_REPO_SCOPE = ("/contents/",)
TYPES = {"040000": "dir", "100644": "file", "100755": "file", "120000": "symlink", "160000": "file"}


def _commit(repo, ref):
    """The commit SHA a ref names (branch, tag or commit), or None."""
    for spec in ("refs/heads/%s" % ref, "refs/tags/%s" % ref, ref):
        try:
            return git.git(repo.git_dir, "rev-parse", "--verify", "--quiet", spec + "^{commit}").strip()
        except RuntimeError:
            continue
    return None


class ContentsApi:
    def __init__(self, app):
        self.app = app

    def _item(self, repo, ref, kind, sha, size, path):
        api = "%s/repos/%s" % (self.app.api_url, repo.full_name)
        html = "%s/%s/%s/%s/%s" % (self.app.base_url, repo.full_name, "tree" if kind == "dir" else "blob",
                                   quote(ref, safe=""), quote(path))
        url = "%s/contents/%s?ref=%s" % (api, quote(path), quote(ref, safe=""))
        git_url = "%s/git/%s/%s" % (api, "trees" if kind == "dir" else "blobs", sha)
        download = None
        if kind == "file":
            download = "%s/%s/raw/%s/%s" % (self.app.base_url, repo.full_name, quote(ref, safe=""), quote(path))
        return {"type": kind, "size": size, "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "url": url,
                "git_url": git_url, "html_url": html, "download_url": download,
                "_links": {"self": url, "git": git_url, "html": html}}

    def get_content(self, repo, params, query, **_):
        ref = query.get("ref") or repo.default_branch
        path = params["path"].strip("/")
        if not path or any(part in (".", "..", "") for part in path.split("/")):
            return not_found(CONTENTS_DOCS)
        commit = _commit(repo, ref)
        if commit is None:
            return error(404, "No commit found for the ref %s" % ref, CONTENTS_DOCS)
        found = git.lookup(repo.git_dir, ["%s:%s" % (commit, path)])[0]
        if found is None:
            return not_found(CONTENTS_DOCS)
        kind, sha, size = found
        if kind == "tree":
            out = git.git(repo.git_dir, "ls-tree", "-l", "-z", "%s:%s" % (commit, path))
            entries = []
            for line in filter(None, out.split("\0")):
                meta, name = line.split("\t", 1)
                mode, _, object_id, object_size = meta.split()
                entry_kind = TYPES.get(mode, "file")
                entries.append(self._item(repo, ref, entry_kind, object_id,
                                          int(object_size) if object_size.isdigit() else 0, path + "/" + name))
            return 200, entries, []
        mode = git.git(repo.git_dir, "ls-tree", "-z", commit, "--", path).split(" ", 1)[0]
        data = git.read_blob(repo.git_dir, sha)
        if mode == "120000":
            return 200, dict(self._item(repo, ref, "symlink", sha, size, path), target=data.decode()), []
        encoded = base64.b64encode(data).decode()
        content = "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60))
        return 200, dict(self._item(repo, ref, "file", sha, size, path), content=content, encoding="base64"), []
