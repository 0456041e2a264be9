"""The GitHub stand-in: git over HTTP, the Pages REST API and its contract checks, builds, the Pages host, faults,
the admin API and `python -m sandbox up/down`.

Tests on the shared `github` fixture use their own repository and leave no violation or fault behind; tests that
provoke violations or inject faults use a private stand-in (`fresh`).
"""
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from github_calls import raw_api as api, send

ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")


# --- helpers ---------------------------------------------------------------------------------------------------

def git(cwd, *args, check=True):
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=GIT_ENV, capture_output=True, text=True, timeout=60)
    if check and proc.returncode:
        raise AssertionError("git %s failed:\n%s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc


def basic(credentials):
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def with_token(url, token, user="x-access-token"):
    return url.replace("http://", "http://%s:%s@" % (user, token))


def new_repo(server):
    name = "r" + uuid.uuid4().hex[:8]
    server.create_repo("octo", name)
    return name


def work_tree(tmp_path, server, name, branch="gh-pages"):
    """A local repository whose origin is the stand-in's repository, on `branch`."""
    work = tmp_path / ("work-" + name)
    work.mkdir()
    git(work, "init", "-q", "-b", branch)
    git(work, "remote", "add", "origin", with_token(server.git_url("octo", name), server.token))
    return work


def commit(work, files, message="change"):
    """Write files ({path: text}) and commit them; returns the commit's SHA."""
    for path, text in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", message)
    return git(work, "rev-parse", "HEAD").stdout.strip()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met within %ss" % timeout)


def latest_build(server, name):
    return api(server, "GET", "/repos/octo/%s/pages/builds/latest" % name)[2]


def site(server, name, path=""):
    return send("GET", server.pages_url("octo", name) + path)


def enable_pages(server, name, branch="gh-pages", path="/"):
    status, _, page = api(server, "POST", "/repos/octo/%s/pages" % name, {"source": {"branch": branch, "path": path}})
    assert status == 201, page
    return page


def wait_built(server, name, sha):
    return wait_for(lambda: (lambda b: b["commit"] == sha and b["status"] in ("built", "errored") and b)(
        latest_build(server, name)))


@pytest.fixture
def fresh(github_fresh):  # tests/fixtures_github.py
    return github_fresh


@pytest.fixture
def clean(github_clean):  # tests/fixtures_github.py
    return github_clean


# --- git over HTTP ---------------------------------------------------------------------------------------------

def test_push_and_fetch_with_a_token(clean, tmp_path):
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name, branch="main")
    first = commit(work, {"a.txt": "1"})
    git(work, "push", "-q", "origin", "main")
    second = commit(work, {"a.txt": "2"})
    git(work, "push", "-q", "origin", "main")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth=1", with_token(clean.git_url("octo", name), clean.token, user="anyone"),
        str(clone))
    assert git(clone, "rev-parse", "HEAD").stdout.strip() == second
    assert git(clone, "cat-file", "-t", first, check=False).returncode != 0
    # GitHub serves any reachable commit by SHA (uploadpack.allowReachableSHA1InWant); protocol v0 checks that.
    git(clone, "-c", "protocol.version=0", "fetch", "-q", "origin", first)
    assert git(clone, "cat-file", "-t", first).stdout.strip() == "commit"


def test_gzipped_request_bodies(clean, tmp_path):
    """git gzips larger fetch negotiations (protocol v0 with many refs); http-backend must be told so."""
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name, branch="main")
    stream = "".join("commit refs/heads/b%02d\ncommitter t <t@example.invalid> 0 +0000\ndata %d\n%s\n"
                     % (i, len(str(i)), i) for i in range(60))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=str(work), input=stream, text=True, env=GIT_ENV, check=True)
    git(work, "push", "-q", "origin", "--all")
    trace = tmp_path / "curl-trace"
    proc = subprocess.run(["git", "-c", "protocol.version=0", "clone", "-q", "--mirror",
                           with_token(clean.git_url("octo", name), clean.token), str(tmp_path / "mirror")],
                          env=dict(GIT_ENV, GIT_TRACE_CURL=str(trace), GIT_TRACE_CURL_NO_DATA="1"),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Content-Encoding: gzip" in trace.read_text()
    assert len(git(tmp_path / "mirror", "branch", "--list").stdout.splitlines()) == 60


@pytest.mark.parametrize("credentials", [None, "x-access-token:wrong"])
def test_git_without_valid_token_is_401(clean, tmp_path, credentials):
    name = new_repo(clean)
    url = clean.git_url("octo", name) + "/info/refs?service=git-upload-pack"
    status, response_headers, body = send("GET", url, headers=basic(credentials) if credentials else {})
    assert status == 401
    assert response_headers["www-authenticate"] == 'Basic realm="GitHub"'
    url = clean.git_url("octo", name)
    proc = git(tmp_path, "ls-remote", url.replace("//", "//%s@" % credentials) if credentials else url, check=False)
    # git asks for credentials after a 401 (prompts are off here), or gives up when the ones it sent are refused
    assert proc.returncode != 0
    assert ("Authentication failed" if credentials else "could not read Username") in proc.stderr


def test_push_needs_repo_scope(fresh, tmp_path):
    name = new_repo(fresh)
    fresh.add_token("ghp_readonly", ["read:org"])
    work = work_tree(tmp_path, fresh, name, branch="main")
    commit(work, {"a.txt": "1"})
    git(work, "remote", "set-url", "origin", with_token(fresh.git_url("octo", name), "ghp_readonly"))
    git(work, "ls-remote", "origin")  # reading is allowed
    proc = git(work, "push", "origin", "main", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    fresh.add_token("ghp_public", ["public_repo"])
    git(work, "remote", "set-url", "origin", with_token(fresh.git_url("octo", name), "ghp_public"))
    git(work, "push", "-q", "origin", "main")


def test_unknown_repository_is_404_for_git(clean):
    status, _, body = send("GET", clean.git_url("octo", "missing") + "/info/refs?service=git-upload-pack",
                           headers=basic("x:" + clean.token))
    assert status == 404 and b"Repository not found" in body


# --- REST: auth and headers ------------------------------------------------------------------------------------

def test_rest_auth_errors_and_rate_limit_headers(fresh):
    name = new_repo(fresh)
    status, headers, data = api(fresh, "GET", "/repos/octo/%s/pages" % name, token="nope")
    assert status == 401 and data["message"] == "Bad credentials" and "documentation_url" in data

    fresh.add_token("ghp_noscope", ["read:user"])
    status, headers, data = api(fresh, "GET", "/repos/octo/%s/pages" % name, token="ghp_noscope")
    assert status == 403 and data["message"] == "Resource not accessible by personal access token"
    assert headers["x-accepted-oauth-scopes"] == "repo" and headers["x-oauth-scopes"] == "read:user"

    status, headers, data = api(fresh, "GET", "/repos/octo/" + name, scheme="token")
    assert status == 200 and data["full_name"] == "octo/" + name and data["default_branch"] == "main"
    assert int(headers["x-ratelimit-limit"]) == int(headers["x-ratelimit-remaining"]) + int(headers["x-ratelimit-used"])
    assert int(headers["x-ratelimit-reset"]) > time.time()
    assert fresh.violations() == []


# --- REST: Pages -----------------------------------------------------------------------------------------------

def test_pages_lifecycle(clean, tmp_path):
    name = new_repo(clean)
    path = "/repos/octo/%s/pages" % name
    assert api(clean, "GET", path)[0] == 404

    work = work_tree(tmp_path, clean, name)
    sha = commit(work, {"index.html": "v1", ".nojekyll": ""})
    git(work, "push", "-q", "origin", "gh-pages")

    page = enable_pages(clean, name)
    assert page["html_url"] == clean.pages_url("octo", name)
    assert page["build_type"] == "legacy" and page["source"] == {"branch": "gh-pages", "path": "/"}
    assert page["status"] in ("building", "built") and page["cname"] is None
    assert api(clean, "POST", path, {"source": {"branch": "gh-pages"}})[0] == 409

    status, _, data = api(clean, "PUT", path, {"cname": "docs.example.com", "https_enforced": True})
    assert (status, data) == (204, None)
    page = api(clean, "GET", path)[2]
    assert page["cname"] == "docs.example.com" and page["https_enforced"] is True
    assert page["html_url"] == "http://docs.example.com:%d/" % clean.pages_port

    wait_built(clean, name, sha)
    status, _, body = send("GET", clean.pages_base, headers={"Host": "docs.example.com:%d" % clean.pages_port})
    assert (status, body) == (200, b"v1")
    status, headers, _ = site(clean, name)  # the project address sends visitors on to the custom domain
    assert status == 301 and headers["location"] == page["html_url"]

    assert api(clean, "PUT", path, {"cname": None, "source": "gh-pages"})[0] == 204
    assert api(clean, "GET", path)[2]["html_url"] == clean.pages_url("octo", name)
    assert api(clean, "DELETE", path)[0] == 204
    assert api(clean, "GET", path)[0] == 404
    assert api(clean, "DELETE", path)[0] == 404
    assert site(clean, name)[0] == 404
    assert api(clean, "GET", "/repos/octo/%s" % name)[2]["has_pages"] is False


def test_pages_on_missing_branch_is_422(clean):
    name = new_repo(clean)
    status, _, data = api(clean, "POST", "/repos/octo/%s/pages" % name, {"source": {"branch": "gh-pages"}})
    assert status == 422 and data["errors"][0]["field"] == "source"


def test_workflow_site_has_no_source(clean):
    name = new_repo(clean)
    status, _, page = api(clean, "POST", "/repos/octo/%s/pages" % name, {"build_type": "workflow"})
    assert status == 201 and page["build_type"] == "workflow" and page["status"] is None and "source" not in page


# --- builds and the Pages host ---------------------------------------------------------------------------------

def test_push_builds_and_site_switches_only_when_built(fresh, tmp_path):
    name = new_repo(fresh)
    work = work_tree(tmp_path, fresh, name)
    first = commit(work, {"index.html": "v1", ".nojekyll": ""})
    git(work, "push", "-q", "origin", "gh-pages")
    enable_pages(fresh, name)
    wait_built(fresh, name, first)
    assert site(fresh, name)[2] == b"v1"

    fresh.build_delay = 1.0  # slow enough to look at the site while the next build runs
    second = commit(work, {"index.html": "v2"})
    git(work, "push", "-q", "origin", "gh-pages")
    build = latest_build(fresh, name)  # queued before `git push` returned
    assert (build["commit"], build["status"]) == (second, "queued")
    assert site(fresh, name)[2] == b"v1"
    wait_for(lambda: latest_build(fresh, name)["status"] == "building")
    assert api(fresh, "GET", "/repos/octo/%s/pages" % name)[2]["status"] == "building"
    assert site(fresh, name)[2] == b"v1"
    build = wait_built(fresh, name, second)
    assert build["status"] == "built" and build["duration"] > 0 and build["error"] == {"message": None}
    assert site(fresh, name)[2] == b"v2"

    builds = api(fresh, "GET", "/repos/octo/%s/pages/builds" % name)[2]
    assert [b["commit"] for b in builds] == [second, first]  # newest first
    assert api(fresh, "GET", urlsplit(builds[1]["url"]).path[len("/api/v3"):])[2]["commit"] == first
    assert fresh.violations() == []


def test_site_is_served_like_github(clean, tmp_path):
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name)
    sha = commit(work, {"index.html": "<h1>home</h1>", "docs/intro/index.html": "intro", "about.html": "about",
                        "assets/app.js": "js()", "assets/style.css": "css", "404.html": "custom 404",
                        "_next/chunk.js": "underscore"})
    git(work, "push", "-q", "origin", "gh-pages")
    enable_pages(clean, name)
    wait_built(clean, name, sha)

    status, headers, body = site(clean, name)
    assert (status, body) == (200, b"<h1>home</h1>") and headers["content-type"] == "text/html; charset=utf-8"
    assert site(clean, name, "docs/intro/")[2] == b"intro"
    status, headers, _ = site(clean, name, "docs/intro")
    assert status == 301 and headers["location"] == "/octo/%s/docs/intro/" % name
    assert site(clean, name, "about")[2] == b"about"
    status, headers, _ = site(clean, name, "assets/app.js")
    assert status == 200 and headers["content-type"].startswith("application/javascript")
    assert site(clean, name, "assets/style.css")[1]["content-type"] == "text/css; charset=utf-8"
    assert site(clean, name, "nope")[:3:2] == (404, b"custom 404")
    assert site(clean, name, "_next/chunk.js")[0] == 404  # Jekyll leaves it out: no .nojekyll
    assert api(clean, "GET", "/repos/octo/%s/pages" % name)[2]["custom_404"] is True

    sha = commit(work, {".nojekyll": ""})
    git(work, "push", "-q", "origin", "gh-pages")
    wait_built(clean, name, sha)
    assert site(clean, name, "_next/chunk.js")[:3:2] == (200, b"underscore")


def test_docs_source_path(clean, tmp_path):
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name, branch="main")
    sha = commit(work, {"index.html": "root", "docs/index.html": "from docs"})
    git(work, "push", "-q", "origin", "main")
    enable_pages(clean, name, branch="main", path="/docs")
    wait_built(clean, name, sha)
    assert site(clean, name)[2] == b"from docs"


def test_build_error_hook_keeps_the_old_site(clean, tmp_path):
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name)
    good = commit(work, {"index.html": "good"})
    git(work, "push", "-q", "origin", "gh-pages")
    enable_pages(clean, name)
    wait_built(clean, name, good)

    bad = commit(work, {"index.html": "bad", ".pages-build-error": "Liquid syntax error on line 3\n"})
    git(work, "push", "-q", "origin", "gh-pages")
    build = wait_built(clean, name, bad)
    assert build["status"] == "errored" and build["error"]["message"] == "Liquid syntax error on line 3"
    assert api(clean, "GET", "/repos/octo/%s/pages" % name)[2]["status"] == "errored"
    assert site(clean, name)[2] == b"good"


def test_requested_build_rebuilds_the_head(clean, tmp_path):
    name = new_repo(clean)
    work = work_tree(tmp_path, clean, name)
    sha = commit(work, {"index.html": "x"})
    git(work, "push", "-q", "origin", "gh-pages")
    enable_pages(clean, name)
    wait_built(clean, name, sha)
    status, _, data = api(clean, "POST", "/repos/octo/%s/pages/builds" % name)
    assert status == 201 and data["status"] == "queued"
    builds = api(clean, "GET", "/repos/octo/%s/pages/builds?per_page=1" % name)
    assert len(builds[2]) == 1 and 'rel="next"' in builds[1]["link"]
    wait_for(lambda: len(api(clean, "GET", "/repos/octo/%s/pages/builds" % name)[2]) == 2)
    assert wait_built(clean, name, sha)["status"] == "built"


# --- contract validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, body, field", [
    ("POST", {"build_type": "foo"}, "build_type"),
    ("POST", {"source": {"branch": "gh-pages", "path": "/site"}}, "source/path"),
    ("POST", {"source": {"branch": "gh-pages"}, "sorce": 1}, ""),
    ("PUT", {"https_enforced": "yes"}, "https_enforced"),
    ("PUT", {"source": {"branch": "gh-pages", "path": "/site"}}, "source/path"),
    ("PUT", {}, ""),
])
def test_invalid_requests_are_422_and_recorded(fresh, method, body, field):
    name = new_repo(fresh)
    status, _, data = api(fresh, method, "/repos/octo/%s/pages" % name, body)
    assert status == 422, data
    assert data["message"].startswith("Invalid request.") and data["documentation_url"]
    assert data["errors"][0]["code"] == "invalid" and data["errors"][0]["field"] == field
    [violation] = fresh.violations()
    assert (violation["kind"], violation["method"], violation["status"]) == ("request", method, 422)


def test_unparsable_json_and_unknown_endpoints_are_recorded(fresh):
    name = new_repo(fresh)
    assert api(fresh, "POST", "/repos/octo/%s/pages" % name, b"{nope")[0] == 400
    assert api(fresh, "PATCH", "/repos/octo/%s/pages" % name, {})[0] == 404
    assert api(fresh, "GET", "/repos/octo/%s/pages/builds?per_page=lots" % name)[0] == 422
    assert [v["status"] for v in fresh.violations()] == [400, 404, 422]


def test_a_response_outside_the_contract_is_a_500(fresh, monkeypatch):
    from sandbox.github import objects

    name = new_repo(fresh)
    api(fresh, "POST", "/repos/octo/%s/pages" % name, {"build_type": "workflow"})
    monkeypatch.setattr(objects, "page_json", lambda app, repo: {"url": "x", "status": "queued"})
    status, _, data = api(fresh, "GET", "/repos/octo/%s/pages" % name)
    assert status == 500 and "queued" in data["message"]
    [violation] = fresh.violations()
    assert violation["kind"] == "response" and "'public' is a required property" in violation["message"]


# --- faults ----------------------------------------------------------------------------------------------------

def test_http_500_then_normal(fresh):
    name = new_repo(fresh)
    fresh.inject_fault("http_500", method="GET", path=r"/repos/octo/[^/]+$", times=2)
    assert api(fresh, "GET", "/repos/octo/%s/pages" % name)[0] == 404  # path does not match: unaffected
    assert [api(fresh, "GET", "/repos/octo/" + name)[0] for _ in range(3)] == [500, 500, 200]
    statuses = [(r["method"], r["status"]) for r in fresh.requests()]
    assert statuses == [("GET", 404), ("GET", 500), ("GET", 500), ("GET", 200)]
    fresh.reset_log()
    assert fresh.requests() == []


def test_rate_limit_429(fresh):
    fresh.inject_fault("rate_limit_429", retry_after=7)
    status, headers, data = api(fresh, "GET", "/repos/octo/" + new_repo(fresh))
    assert status == 429 and headers["retry-after"] == "7" and headers["x-ratelimit-remaining"] == "0"
    assert "rate limit" in data["message"]


def test_secondary_rate_limit(fresh):
    fresh.inject_fault("secondary_rate_limit", method="PUT", retry_after=3)
    status, headers, data = api(fresh, "PUT", "/repos/octo/%s/pages" % new_repo(fresh), {"cname": None})
    assert status == 403 and headers["retry-after"] == "3"
    assert data["message"].startswith("You have exceeded a secondary rate limit")


def test_slow(fresh):
    name = new_repo(fresh)
    fresh.inject_fault("slow", delay=0.8)
    started = time.monotonic()
    assert api(fresh, "GET", "/repos/octo/" + name)[0] == 200
    assert time.monotonic() - started >= 0.8
    started = time.monotonic()
    api(fresh, "GET", "/repos/octo/" + name)
    assert time.monotonic() - started < 0.8  # used up


def test_clear_faults_and_bad_fault_arguments(fresh):
    fresh.inject_fault("http_500")
    fresh.clear_faults()
    assert api(fresh, "GET", "/repos/octo/" + new_repo(fresh))[0] == 200
    with pytest.raises(ValueError):
        fresh.inject_fault("meteor_strike")


def test_push_race_makes_a_plain_push_fail(fresh, tmp_path):
    name = new_repo(fresh)
    work = work_tree(tmp_path, fresh, name)
    base = commit(work, {"index.html": "1"})
    git(work, "push", "-q", "origin", "gh-pages")
    mine = commit(work, {"index.html": "2"})

    fresh.inject_fault("push_race", path=r"^/octo/%s\.git/" % name)
    proc = git(work, "push", "origin", "gh-pages", check=False)
    assert proc.returncode != 0 and "[rejected]" in proc.stderr
    remote = git(work, "ls-remote", "origin", "refs/heads/gh-pages").stdout.split()[0]
    assert remote not in (base, mine)
    git(work, "fetch", "-q", "origin")
    assert git(work, "rev-parse", remote + "^").stdout.strip() == base  # one commit on top of the old head

    git(work, "rebase", "-q", "origin/gh-pages")  # the fault is used up: the retry goes through
    git(work, "push", "-q", "origin", "gh-pages")


# --- admin API -------------------------------------------------------------------------------------------------

def test_admin_api(fresh):
    admin = fresh.admin_url
    status, _, body = send("POST", admin + "/repos", json.dumps({"owner": "team", "repo": "site"}))
    assert status == 201 and json.loads(body)["git_url"] == fresh.git_url("team", "site")
    assert send("POST", admin + "/tokens", json.dumps({"token": "ghp_admin", "scopes": ["repo"]}))[0] == 201
    assert api(fresh, "GET", "/repos/team/site", token="ghp_admin")[0] == 200

    assert send("POST", admin + "/faults", json.dumps({"kind": "http_500", "path": "/pages$"}))[0] == 201
    assert json.loads(send("GET", admin + "/faults")[2])[0]["kind"] == "http_500"
    assert api(fresh, "GET", "/repos/team/site/pages")[0] == 500
    assert json.loads(send("GET", admin + "/requests")[2])[-1] == {
        "method": "GET", "path": "/repos/team/site/pages", "status": 500}
    assert send("DELETE", admin + "/requests")[0] == 204 and fresh.requests() == []
    assert send("POST", admin + "/faults", json.dumps({"kind": "nope"}))[0] == 400
    assert send("POST", admin + "/faults", json.dumps({"kind": "slow"}))[0] == 201
    assert send("DELETE", admin + "/faults")[0] == 204 and json.loads(send("GET", admin + "/faults")[2]) == []

    api(fresh, "POST", "/repos/team/site/pages", {"build_type": "nope"})
    assert json.loads(send("GET", admin + "/violations")[2])[0]["kind"] == "request"
    info = json.loads(send("GET", admin + "/")[2])
    assert info["api_url"] == fresh.api_url and info["pid"] == os.getpid()


# --- python -m sandbox -----------------------------------------------------------------------------------------

def sandbox_cli(*args):
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=60)


def test_up_down_round_trip(tmp_path):
    state_dir = str(tmp_path / "state")
    opts = ["--state-dir", state_dir]
    try:
        up = sandbox_cli("up", *opts, "--port", "0", "--pages-port", "0", "--neon-port", "0", "--qdrant-port", "0")
        assert up.returncode == 0, up.stderr
        services = json.loads((tmp_path / "state" / "sandbox.json").read_text())
        state = services["github"]
        assert set(state) == {"api_url", "git_base", "pages_base", "token", "pid", "admin_url"}
        status, _, repo = send("GET", state["api_url"] + "/repos/textbook/textbook",
                               headers={"Authorization": "Bearer " + state["token"]})
        assert status == 200 and json.loads(repo)["default_branch"] == "main"

        assert sandbox_cli("up", *opts).returncode == 0  # already running: nothing changes
        assert json.loads((tmp_path / "state" / "sandbox.json").read_text())["github"]["pid"] == state["pid"]
        status = sandbox_cli("status", *opts)
        assert status.returncode == 0 and state["token"] not in status.stdout
        for service in ("neon", "qdrant"):
            assert services[service]["api_key"] not in status.stdout
        status, _, projects = send("GET", services["neon"]["api_url"] + "/projects",
                                   headers={"Authorization": "Bearer " + services["neon"]["api_key"]})
        assert status == 200 and json.loads(projects)["projects"] == []
        status, _, body = send("GET", services["qdrant"]["url"] + "/collections",
                               headers={"api-key": services["qdrant"]["api_key"]})
        assert status == 200 and json.loads(body)["result"]["collections"] == []
    finally:
        down = sandbox_cli("down", *opts)
    assert down.returncode == 0
    wait_for(lambda: not Path("/proc/%d" % state["pid"]).exists() or
             b"zombie" in Path("/proc/%d/status" % state["pid"]).read_bytes().lower(), timeout=5)
    assert sandbox_cli("status", *opts).returncode == 3
    assert sandbox_cli("down", *opts).returncode == 0
    leftovers = subprocess.run(["pgrep", "-f", state_dir], capture_output=True, text=True).stdout
    assert leftovers == ""  # no PostgreSQL server of the Neon stand-in outlives the sandbox
