"""What the runner asks the GitHub stand-in: its REST API (variables, Pages deployments), its admin API
(decrypted secrets, artifacts) and its git server (a mirror for refs and changed files; clones for checkout)."""
import base64
import json
import subprocess
import urllib.error
import urllib.request
from urllib.parse import quote

from .workflow import BadInput

PER_PAGE = 30


class StandIn:
    """One GitHub stand-in, by its base URL (REST under /api/v3, admin under /_sandbox, git at /owner/name.git)."""

    def __init__(self, base_url, token):
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v3"
        self.admin_url = self.base_url + "/_sandbox"
        self.token = token

    @classmethod
    def from_state(cls, state_dir):
        """The sandbox that `python -m sandbox up` started (its sandbox.json)."""
        path = "%s/sandbox.json" % state_dir
        try:
            with open(path) as handle:
                github = json.load(handle)["github"]
        except (OSError, ValueError, KeyError):
            raise BadInput("no running sandbox found (%s): start one with `python -m sandbox up`, or give --github "
                           "URL --token TOKEN" % path)
        return cls(github["git_base"], github["token"])

    # --- HTTP --------------------------------------------------------------------------------------------------

    def request(self, url, method="GET", body=None, headers=None):
        """(status, decoded JSON or None); a stand-in that does not answer is BadInput."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        except OSError as err:
            raise BadInput("the GitHub stand-in at %s does not answer: %s" % (self.base_url, err))
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, {"message": raw.decode("utf-8", "replace")[:200]}

    def api(self, method, path, body=None):
        return self.request(self.api_url + path, method, body, {
            "Authorization": "Bearer " + self.token, "Accept": "application/vnd.github+json"})

    def admin(self, method, path, body=None):
        return self.request(self.admin_url + path, method, body)

    # --- what the run needs ------------------------------------------------------------------------------------

    def repository(self, repo):
        status, data = self.api("GET", "/repos/" + repo)
        if status != 200:
            raise BadInput("repository %s: the stand-in answers %s %s" % (repo, status, (data or {}).get("message")))
        return data

    def variables(self, repo, environment=None):
        """{NAME: value} of a repository's or an environment's variables; None when the environment does not
        exist."""
        level = "/repos/%s%s/variables" % (repo, "/environments/" + quote(environment, safe="") if environment
                                           else "/actions")
        found, page = {}, 1
        while True:
            status, data = self.api("GET", "%s?per_page=%d&page=%d" % (level, PER_PAGE, page))
            if status == 404 and environment:
                return None
            if status != 200:
                raise BadInput("variables of %s: the stand-in answers %s %s" % (level, status, data))
            found.update({item["name"]: item["value"] for item in data["variables"]})
            if page * PER_PAGE >= data["total_count"]:
                return found
            page += 1

    def secrets(self, repo, environment=None):
        """{NAME: value} of a repository's or an environment's secrets, decrypted by the stand-in's admin API;
        None when the environment does not exist."""
        query = "?repo=" + quote(repo, safe="/") + ("&environment=" + quote(environment, safe="") if environment
                                                     else "")
        status, data = self.admin("GET", "/secrets" + query)
        if status == 404 and environment:
            return None
        if status != 200:
            raise BadInput("secrets of %s: the stand-in's admin API answers %s %s" % (repo, status, data))
        return {name: entry["value"] if entry["value"] is not None else
                base64.b64decode(entry["value_base64"]).decode("utf-8", "replace")
                for name, entry in data["secrets"].items()}

    def register_artifact(self, repo, name, content):
        """Hand an artifact's bytes to the stand-in (as actions/upload-artifact uploads them); its description."""
        status, data = self.admin("POST", "/artifacts", {
            "repo": repo, "name": name, "content_base64": base64.b64encode(content).decode()})
        if status != 201:
            raise RuntimeError("the stand-in refused the artifact %s: %s %s" % (name, status, data))
        return data

    # --- git ---------------------------------------------------------------------------------------------------

    def git_url(self, repo):
        return "%s/%s.git" % (self.base_url, repo)

    def auth_header(self, token=None):
        """The header actions/checkout gives git: HTTP Basic with the token (the stand-in's by default)."""
        return "AUTHORIZATION: basic " + base64.b64encode(("x-access-token:" + (token or self.token)).encode()).decode()

    def git(self, *args, cwd=None):
        """Run git with the token; its stdout (text), or RuntimeError with git's own words."""
        proc = subprocess.run(["git", "-c", "http.extraheader=" + self.auth_header(), *args], cwd=cwd,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("git %s: %s" % (args[0], proc.stderr.strip() or proc.stdout.strip()))
        return proc.stdout


class Mirror:
    """A bare mirror of the repository in the run's directory: which commit a ref is, and what a push or a pull
    request changed (for `paths:` filters and the event payload)."""

    def __init__(self, standin, repo, path):
        self.standin, self.repo, self.path = standin, repo, str(path)
        subprocess.run(["git", "init", "-q", "--bare", self.path], check=True)
        try:
            standin.git("fetch", "-q", standin.git_url(repo), "+refs/heads/*:refs/heads/*",
                        "+refs/tags/*:refs/tags/*", cwd=self.path)
        except RuntimeError as err:
            raise BadInput("cannot fetch %s from the stand-in: %s" % (repo, err))

    def git(self, *args):
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def resolve(self, ref):
        """(full ref name, sha) of a branch, tag or full ref; BadInput if the repository has no such ref."""
        for full in (ref, "refs/heads/" + ref, "refs/tags/" + ref):
            if full.startswith("refs/"):
                sha = self.git("rev-parse", "--verify", "-q", full + "^{commit}")
                if sha:
                    return full, sha
        raise BadInput("%s has no branch or tag %r on the stand-in (push it first)" % (self.repo, ref))

    def parent(self, sha):
        return self.git("rev-parse", "--verify", "-q", sha + "^") or "0" * 40

    def changed(self, before, after):
        """The files that differ between two commits (all of `after`'s files when there is no `before`)."""
        if set(before) == {"0"}:
            listing = self.git("ls-tree", "-r", "--name-only", after)
        else:
            listing = self.git("diff", "--name-only", before, after)
        return [line for line in (listing or "").splitlines() if line]

    def merge_base(self, one, other):
        return self.git("merge-base", one, other) or "0" * 40

    def commit(self, sha):
        """The head_commit of a push payload."""
        fields = self.git("show", "-s", "--format=%H%x00%s%n%n%b%x00%an%x00%ae%x00%cI%x00%T", sha).split("\0")
        return {"id": fields[0], "tree_id": fields[5], "message": fields[1].strip(), "timestamp": fields[4],
                "author": {"name": fields[2], "email": fields[3]}, "committer": {"name": fields[2],
                                                                                "email": fields[3]}}
