"""What the tests ask the GitHub stand-in themselves, beside the module or playbook under test: REST calls made by
"someone else" (as the GitHub UI or gh would), calls to its admin API, and readings of its request log.

Tests import it like conftest (tests/ is on sys.path): ``from github_calls import api, methods``.
"""
import http.client
import json
import urllib.request
import uuid
from urllib.parse import quote, urlsplit


def send(method, url, body=None, headers=None):
    """One raw HTTP exchange (no redirects followed, no status raised): (status, headers with lower-case names,
    body bytes). The stand-in's own tests use it to see exactly what it answers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def raw_api(server, method, path, body=None, token=None, scheme="Bearer"):
    """A REST call through send(): (status, headers, decoded JSON or None); a body given as bytes is sent as is."""
    headers = {"Accept": "application/vnd.github+json", "Authorization": "%s %s" % (scheme, token or server.token)}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    status, headers, raw = send(method, server.api_url + path, data, headers)
    return status, headers, json.loads(raw) if raw else None


def call(url, method, body=None, headers=None):
    """One HTTP request with an optional JSON body; the decoded JSON answer, or None when it has no body.

    An error status raises urllib.error.HTTPError (its ``code`` is the status).
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def api(github, method, path, body=None, token=None):
    """A REST call made by "someone else" (not the module), with the stand-in's token unless `token` is given."""
    return call(github.api_url + path, method, body, {
        "Authorization": "Bearer %s" % (token or github.token), "Accept": "application/vnd.github+json",
        "Content-Type": "application/json"})


def admin(github, method, path, body=None):
    """A call to the stand-in's admin API (users, teams, decrypted secrets, faults...)."""
    return call(github.admin_url + path, method, body)


def new_repo(github, owner, prefix):
    """A repository of the stand-in with a name of its own (`prefix`-random); (name, "owner/name", REST path)."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    github.create_repo(owner, name)
    full_name = "%s/%s" % (owner, name)
    return name, full_name, "/repos/%s" % full_name


def environment_path(repo_path, environment):
    """/repos/{owner}/{repo}/environments/{environment_name}, the name URL-encoded."""
    return "%s/environments/%s" % (repo_path, quote(environment, safe=""))


def scope_path(repo_path, environment=None):
    """Where the Actions secrets and variables live: under /repos/{owner}/{repo}/actions for the repository's own,
    under the environment's path for those of one deployment environment."""
    return environment_path(repo_path, environment) if environment else repo_path + "/actions"


def create_environment(github, repo_path, name):
    """Someone else creates the deployment environment `name` (with no protection rules)."""
    api(github, "PUT", environment_path(repo_path, name), {})


def method_of(entry):
    """The HTTP method of an entry of the stand-in's request log (a dict, or a (method, path, status) tuple)."""
    return entry["method"] if isinstance(entry, dict) else entry[0]


def status_of(entry):
    """The HTTP status the stand-in answered, from an entry of its request log."""
    return entry["status"] if isinstance(entry, dict) else entry[2]


def methods(github):
    """The methods of the requests the stand-in received since its log was last reset, in order."""
    return [method_of(entry) for entry in github.requests()]


def changing(github):
    """(method, path) of the requests other than GET the stand-in received since its log was last reset."""
    return [(entry["method"], entry["path"]) for entry in github.requests() if entry["method"] != "GET"]


def fresh(github, make):
    """The body of a fixture: ``yield from fresh(github, lambda: Repo(github))``.

    Makes the object (a repository of the stand-in...) with no fault pending, yields it with the request log
    emptied (so that the log holds the test's requests only), and clears the faults the test left.
    """
    github.clear_faults()
    made = make()
    github.reset_log()
    yield made
    github.clear_faults()


def ok(result):
    """The result of a module run, after asserting that it did not fail (its message shown when it did)."""
    assert result.get("failed") is not True, result.get("msg")
    return result


def push_branches(github, full_name, branches, work_dir):
    """Push one commit per branch to the stand-in's repository `full_name` (branches: names, the first is the
    default branch and the others start from it); returns {branch: commit SHA}. Git runs in `work_dir`."""
    import os
    import subprocess

    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    owner, name = full_name.split("/")
    url = github.git_url(owner, name).replace("http://", "http://x-access-token:%s@" % github.token)

    def git(*args):
        return subprocess.run(["git", *args], cwd=str(work_dir), env=env, check=True, capture_output=True,
                              text=True, timeout=60).stdout.strip()

    git("init", "-q", "-b", branches[0])
    shas = {}
    for branch in branches:
        if branch != branches[0]:
            git("checkout", "-q", "-B", branch, branches[0])
        git("commit", "-q", "--allow-empty", "-m", "commit on %s" % branch)
        git("push", "-q", "--force", url, "HEAD:refs/heads/%s" % branch)
        shas[branch] = git("rev-parse", "HEAD")
    return shas


def open_pull(github, full_name, head, base="main", **fields):
    """Open a pull request through the stand-in's admin API (as a person would on github.com); its number."""
    return admin(github, "POST", "/pulls", dict(fields, repo=full_name, head=head, base=base))["number"]


def change_pull(github, full_name, number, action):
    """close, merge or reopen a pull request through the admin API."""
    return admin(github, "PATCH", "/pulls", {"repo": full_name, "number": number, "action": action})


def push_tree(github, full_name, branch, files, work_dir):
    """One commit holding `files` ({path: text}; a text starting with '->' makes a symlink to the rest) on `branch`
    of the stand-in's repository `full_name`, made in `work_dir` (created)."""
    import os
    import subprocess

    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    work_dir.mkdir()
    for path, text in files.items():
        target = work_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], str(target))
        else:
            target.write_text(text)
    url = github.git_url(*full_name.split("/")).replace("http://", "http://x-access-token:%s@" % github.token)
    for args in (["init", "-q", "-b", branch], ["add", "-A"], ["commit", "-q", "-m", "site"],
                 ["push", "-q", url, "HEAD:refs/heads/%s" % branch]):
        subprocess.run(["git", *args], cwd=str(work_dir), env=env, check=True, capture_output=True, timeout=60)
