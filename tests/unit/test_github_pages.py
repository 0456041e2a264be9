"""The github_pages module, run the way Ansible runs it, against the GitHub stand-in."""
import base64
import os
import subprocess
import urllib.request
import uuid

import pytest

from conftest import run_module
from github_calls import method_of, methods, new_repo, status_of

OWNER = "octo"
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}


class Site:
    """A repository of the stand-in with a local work tree that pushes to it with plain git."""

    def __init__(self, github, workdir, branch="gh-pages"):
        self.github = github
        self.name, self.repo, _ = new_repo(github, OWNER, "site")
        self.branch = branch
        self.workdir = str(workdir)
        self.git("init", "--quiet", "--initial-branch", branch, ".")

    def git(self, *args):
        credentials = base64.b64encode(("x-access-token:%s" % self.github.token).encode()).decode()
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
                   GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader",
                   GIT_CONFIG_VALUE_0="Authorization: Basic %s" % credentials, **GIT_IDENTITY)
        proc = subprocess.run(["git", *args], cwd=self.workdir, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, "git %s failed: %s" % (" ".join(args), proc.stderr)
        return proc.stdout.strip()

    def push(self, files, message="Publish"):
        """Commit `files` ({path: text}) on the branch, push it, and return the commit SHA."""
        for path, text in files.items():
            full = os.path.join(self.workdir, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as handle:
                handle.write(text)
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message)
        remote = self.github.git_url(OWNER, self.name)
        assert self.github.token not in remote
        self.git("push", "--quiet", remote, "HEAD:refs/heads/%s" % self.branch)
        return self.git("rev-parse", "HEAD")

    def run(self, check=False, diff=False, env=None, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.repo)
        params.update(args)
        return run_module("github_pages", params, check=check, diff=diff, env=env)


@pytest.fixture
def site(github, tmp_path):
    github.clear_faults()
    site = Site(github, tmp_path)
    site.push({"index.html": "<h1>v1</h1>\n", ".nojekyll": ""}, "First")
    github.reset_log()
    yield site
    github.clear_faults()


SOURCE = {"branch": "gh-pages", "path": "/"}


def create(site, **args):
    result = site.run(source=SOURCE, **args)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    site.github.reset_log()
    return result


def test_create_then_rerun_is_idempotent(github, site):
    first = site.run(source=SOURCE, build_type="legacy")
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True
    assert first["pages"]["source"] == SOURCE
    assert first["pages"]["build_type"] == "legacy"
    assert first["html_url"] == first["pages"]["html_url"]
    assert first["html_url"].endswith("/")
    assert [(method_of(e), status_of(e)) for e in github.requests()][:2] == [("GET", 404), ("POST", 201)]

    github.reset_log()
    second = site.run(source=SOURCE, build_type="legacy")
    assert second["changed"] is False
    assert second["pages"]["source"] == SOURCE
    assert methods(github) == ["GET"]
    assert github.violations() == []


def test_update_sends_only_what_differs_and_shows_a_diff(github, site):
    create(site)
    result = site.run(source=SOURCE, cname="Docs.Example.com", https_enforced=True, diff=True)
    assert result["changed"] is True, result.get("msg")
    assert methods(github) == ["GET", "PUT", "GET"]
    assert result["pages"]["cname"] == "docs.example.com"
    assert result["pages"]["https_enforced"] is True
    diff = result["diff"]
    assert diff["before"]["cname"] is None and diff["after"]["cname"] == "docs.example.com"
    assert diff["before"]["https_enforced"] is False and diff["after"]["https_enforced"] is True
    assert diff["before"]["source"] == diff["after"]["source"] == SOURCE

    github.reset_log()
    again = site.run(source=SOURCE, cname="docs.example.com", https_enforced=True, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    assert methods(github) == ["GET"]

    github.reset_log()
    removed = site.run(cname="")  # an empty cname removes the custom domain; other settings stay
    assert removed["changed"] is True
    assert removed["pages"]["cname"] is None
    assert removed["pages"]["https_enforced"] is True
    assert methods(github) == ["GET", "PUT", "GET"]
    assert github.violations() == []


def test_source_path_change(github, site):
    site.push({"docs/index.html": "<h1>docs</h1>\n"}, "Docs")
    create(site)
    result = site.run(source={"branch": "gh-pages", "path": "/docs"}, diff=True)
    assert result["changed"] is True, result.get("msg")
    assert result["pages"]["source"] == {"branch": "gh-pages", "path": "/docs"}
    assert result["diff"]["after"]["source"]["path"] == "/docs"
    assert github.violations() == []


def test_check_mode_sends_nothing_mutating(github, site):
    preview = site.run(source=SOURCE, cname="docs.example.com", check=True, diff=True)
    assert preview["changed"] is True, preview.get("msg")
    assert preview["diff"]["before"] == {}
    assert preview["diff"]["after"]["source"] == SOURCE
    assert preview["diff"]["after"]["cname"] == "docs.example.com"
    assert methods(github) == ["GET"]
    assert site.run(source=SOURCE, check=True)["changed"] is True  # still absent

    create(site)
    update = site.run(source=SOURCE, cname="docs.example.com", wait=True, check=True, diff=True)
    assert update["changed"] is True
    assert update["diff"]["before"]["cname"] is None and update["diff"]["after"]["cname"] == "docs.example.com"
    assert set(methods(github)) == {"GET"}
    github.reset_log()
    assert site.run()["pages"]["cname"] is None  # nothing was changed

    github.reset_log()
    delete = site.run(state="absent", check=True)
    assert delete["changed"] is True
    assert methods(github) == ["GET"]
    assert site.run()["pages"] is not None
    assert github.violations() == []


def test_wait_for_the_build_of_a_pushed_commit(github, site):
    created = site.run(source=SOURCE, wait=True, poll_interval=0.1, wait_timeout=60)
    assert created["changed"] is True, created.get("msg")
    assert created["build_status"] == "built"
    assert created["build"]["status"] == "built"

    sha = site.push({"index.html": "<h1>v2</h1>\n"}, "Second")
    result = site.run(source=SOURCE, wait=True, commit=sha, poll_interval=0.1, wait_timeout=60)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["build"]["commit"] == sha
    assert result["build_status"] == "built"
    assert result["pages"]["status"] == "built"
    with urllib.request.urlopen(result["html_url"], timeout=10) as response:  # the site serves that commit
        assert response.read().decode() == "<h1>v2</h1>\n"
    short = site.run(wait=True, commit=sha[:10].upper(), poll_interval=0.1, wait_timeout=60)  # abbreviated SHA
    assert short["build"]["commit"] == sha
    assert github.violations() == []


def test_errored_build_fails_with_its_message(github, site):
    create(site)
    sha = site.push({".pages-build-error": "Liquid syntax error in index.md line 3\n"}, "Break the build")
    result = site.run(wait=True, commit=sha, poll_interval=0.1, wait_timeout=60)
    assert result["failed"] is True
    assert "Liquid syntax error in index.md line 3" in result["msg"]
    assert sha[:12] in result["msg"]
    assert result["build_status"] == "errored"
    assert result["build"]["commit"] == sha


def test_wait_timeout_names_the_option(github, site):
    create(site)
    never = "0123456789abcdef0123456789abcdef01234567"
    result = site.run(wait=True, commit=never, poll_interval=0.2, wait_timeout=1)
    assert result["failed"] is True
    assert "wait_timeout=1" in result["msg"]
    assert never in result["msg"]


def test_state_absent(github, site):
    create(site)
    gone = site.run(state="absent", diff=True)
    assert gone["changed"] is True, gone.get("msg")
    assert gone["diff"]["before"]["source"] == SOURCE and gone["diff"]["after"] == {}
    assert methods(github) == ["GET", "DELETE"]
    github.reset_log()
    again = site.run(state="absent")
    assert again["changed"] is False
    assert again["pages"] is None
    assert methods(github) == ["GET"]
    assert github.violations() == []


def test_absent_site_without_source_says_what_to_set(github, site):
    result = site.run(wait=True)
    assert result["failed"] is True
    assert "source" in result["msg"] and "build_type" in result["msg"]
    assert methods(github) == ["GET"]


def test_transient_errors_are_retried(github, site):
    github.inject_fault("http_500", method="GET", path="/pages$", times=1)
    result = site.run(source=SOURCE)
    assert result["changed"] is True, result.get("msg")
    assert [status_of(e) for e in github.requests()][:3] == [500, 404, 201]


@pytest.mark.parametrize("args, words", [
    (dict(repo="no-slash"), ["repo", "owner/name"]),
    (dict(repo="a/b/c"), ["repo", "owner/name"]),
    (dict(repo="https://github.com/octo/site"), ["repo", "owner/name"]),
    (dict(repo="octo/site.git"), ["repo", ".git"]),
    (dict(cname="https://docs.example.com"), ["cname", "docs.example.com"]),
    (dict(cname="bad_host!.com"), ["cname", "host name"]),
    (dict(cname="localhost"), ["cname", "host name"]),
    (dict(cname="10.0.0.1"), ["cname", "IP"]),
    (dict(source={"branch": "gh-pages", "path": "/site"}), ["path", "/docs"]),
    (dict(source={"path": "/"}), ["branch"]),
    (dict(wait=True, wait_timeout=0), ["wait_timeout", "positive"]),
    (dict(commit="not-a-sha"), ["commit", "SHA"]),
    (dict(poll_interval=0), ["poll_interval"]),
    (dict(state="gone"), ["state"]),
    (dict(build_type="jekyll"), ["build_type"]),
])
def test_bad_input_fails_before_any_request(github, site, args, words):
    params = dict(source=SOURCE)
    params.update(args)
    result = site.run(**params)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert github.requests() == []


def test_missing_token_fails_before_any_request(github, site):
    result = run_module("github_pages", dict(api_url=github.api_url, repo=site.repo, source=SOURCE),
                        env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    assert result["failed"] is True
    assert "`token`" in result["msg"] and "GITHUB_TOKEN" in result["msg"]
    assert github.requests() == []


def test_token_from_environment(github, site):
    result = run_module("github_pages", dict(api_url=github.api_url, repo=site.repo, source=SOURCE),
                        env={"GITHUB_TOKEN": "", "GH_TOKEN": github.token})
    assert result["changed"] is True, result.get("msg")
    assert github.token not in result["_stdout"]


def test_wrong_token_says_how_to_fix_it_and_hides_the_token(github, site):
    token = "ghp_Wrong%s" % uuid.uuid4().hex
    result = site.run(token=token, source=SOURCE)
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"] and "Bad credentials" in result["msg"]
    assert "`token`" in result["msg"] and "GITHUB_TOKEN" in result["msg"]
    assert result["status"] == 401
    assert token not in result["_stdout"] and token not in result["_stderr"]
    assert methods(github) == ["GET"]


def test_token_without_repo_scope_says_which_scope(github, site):
    token = "ghp_NoScope%s" % uuid.uuid4().hex
    github.add_token(token, scopes=[])
    result = site.run(token=token, source=SOURCE)
    assert result["failed"] is True
    assert "HTTP 403" in result["msg"]
    assert "`repo`" in result["msg"]
    assert "Pages (write)" in result["msg"] and "Administration (write)" in result["msg"]
    assert token not in result["_stdout"] and token not in result["_stderr"]
