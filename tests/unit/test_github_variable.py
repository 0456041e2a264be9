"""The github_variable module, run the way Ansible runs it, against the GitHub stand-in."""
import uuid
from urllib.parse import quote

import pytest

from conftest import run_module
from github_calls import api, create_environment, fresh, methods, new_repo, ok, scope_path

OWNER = "octo"


class Repo:
    def __init__(self, github):
        self.github = github
        self.name, self.repo, self.path = new_repo(github, OWNER, "var")

    def run(self, check=False, diff=False, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.repo)
        params.update(args)
        return run_module("github_variable", params, check=check, diff=diff)

    def level(self, environment=None):
        return scope_path(self.path, environment)

    def remote(self, environment=None):
        """{NAME: value} of the level, read directly (every page)."""
        found, page = {}, 1
        while True:
            data = api(self.github, "GET", "%s/variables?per_page=30&page=%d" % (self.level(environment), page))
            found.update((item["name"], item["value"]) for item in data["variables"])
            if len(found) >= data["total_count"]:
                return found
            page += 1

    def set_elsewhere(self, name, value, environment=None):
        api(self.github, "POST", self.level(environment) + "/variables", {"name": name, "value": value})

    def create_environment(self, name):
        create_environment(self.github, self.path, name)


@pytest.fixture
def repo(github):
    yield from fresh(github, lambda: Repo(github))


def test_create_then_rerun_is_idempotent(github, repo):
    first = ok(repo.run(name="site_url", value="https://docs.example.com/"))
    assert first["changed"] is True and first["created"] == ["SITE_URL"]
    assert [(item["name"], item["value"]) for item in first["variables"]] == [("SITE_URL", "https://docs.example.com/")]
    assert methods(github) == ["GET", "POST", "GET"]
    assert repo.remote() == {"SITE_URL": "https://docs.example.com/"}

    github.reset_log()
    second = ok(repo.run(name="SITE_URL", value="https://docs.example.com/"))
    assert second["changed"] is False
    assert second["created"] == second["updated"] == second["deleted"] == []
    assert methods(github) == ["GET"]
    assert github.violations() == []


def test_update_shows_values_in_the_diff(github, repo):
    ok(repo.run(name="SITE_URL", value="https://old.example.com/"))
    github.reset_log()
    result = ok(repo.run(name="site_url", value="https://new.example.com/", diff=True))
    assert result["changed"] is True and result["updated"] == ["SITE_URL"]
    assert result["diff"] == {"before": {"SITE_URL": "https://old.example.com/"},
                              "after": {"SITE_URL": "https://new.example.com/"}}
    assert methods(github) == ["GET", "PATCH", "GET"]
    assert repo.remote() == {"SITE_URL": "https://new.example.com/"}
    again = ok(repo.run(name="SITE_URL", value="https://new.example.com/", diff=True))
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]


def test_check_mode_changes_nothing(github, repo):
    preview = ok(repo.run(name="NEW_ONE", value="1", check=True, diff=True))
    assert preview["changed"] is True and preview["created"] == ["NEW_ONE"]
    assert preview["diff"] == {"before": {}, "after": {"NEW_ONE": "1"}}
    assert methods(github) == ["GET"] and repo.remote() == {}

    repo.set_elsewhere("KEEP", "a")
    repo.set_elsewhere("DROP", "b")
    github.reset_log()
    purge = ok(repo.run(variables=[{"name": "KEEP", "value": "changed"}], purge=True, check=True, diff=True))
    assert purge["updated"] == ["KEEP"] and purge["deleted"] == ["DROP"]
    assert purge["diff"] == {"before": {"KEEP": "a", "DROP": "b"}, "after": {"KEEP": "changed"}}
    assert methods(github) == ["GET"] and repo.remote() == {"KEEP": "a", "DROP": "b"}
    absent = ok(repo.run(name="KEEP", state="absent", check=True))
    assert absent["changed"] is True and repo.remote() == {"KEEP": "a", "DROP": "b"}
    assert github.violations() == []


def test_list_form_with_purge(github, repo):
    repo.set_elsewhere("STAYS", "old")
    repo.set_elsewhere("GOES", "x")
    github.reset_log()
    result = ok(repo.run(variables=[{"name": "stays", "value": "new"}, {"name": "ADDED", "value": ""}], purge=True,
                         diff=True))
    assert result["created"] == ["ADDED"] and result["updated"] == ["STAYS"] and result["deleted"] == ["GOES"]
    assert methods(github) == ["GET", "POST", "PATCH", "DELETE", "GET"]
    assert repo.remote() == {"ADDED": "", "STAYS": "new"}
    assert result["diff"]["after"] == {"ADDED": "", "STAYS": "new"}
    again = ok(repo.run(variables=[{"name": "STAYS", "value": "new"}, {"name": "ADDED", "value": ""}], purge=True))
    assert again["changed"] is False

    repo.set_elsewhere("OTHER", "o")
    kept = ok(repo.run(variables=[{"name": "STAYS", "value": "new"}]))  # without purge the others stay
    assert kept["changed"] is False and "OTHER" in repo.remote()
    assert github.violations() == []


def test_many_variables_across_pages(github, repo):
    wanted = [{"name": "VAR_%02d" % number, "value": "value %d" % number} for number in range(35)]
    first = ok(repo.run(variables=wanted, purge=True))
    assert len(first["created"]) == 35 and len(first["variables"]) == 35
    github.reset_log()
    second = ok(repo.run(variables=wanted, purge=True))
    assert second["changed"] is False
    assert methods(github) == ["GET", "GET"]  # two pages of at most 30
    assert github.violations() == []


def test_state_absent(github, repo):
    ok(repo.run(variables=[{"name": "ONE", "value": "1"}, {"name": "TWO", "value": "2"}]))
    github.reset_log()
    gone = ok(repo.run(name="one", state="absent", diff=True))
    assert gone["changed"] is True and gone["deleted"] == ["ONE"]
    assert gone["diff"] == {"before": {"ONE": "1"}, "after": {}}
    assert methods(github) == ["GET", "DELETE", "GET"]
    assert repo.remote() == {"TWO": "2"}
    assert ok(repo.run(name="ONE", state="absent"))["changed"] is False
    both = ok(repo.run(variables=[{"name": "ONE"}, {"name": "TWO"}], state="absent"))
    assert both["deleted"] == ["TWO"] and repo.remote() == {}


@pytest.mark.parametrize("environment", ["staging", "eu/staging"])
def test_environment_variables(github, repo, environment):
    repo.create_environment(environment)
    ok(repo.run(name="API_URL", value="https://api.example.com"))
    github.reset_log()
    result = ok(repo.run(environment=environment, name="API_URL", value="https://api.staging.example.com"))
    assert result["created"] == ["API_URL"]
    encoded = quote(environment, safe="")
    assert all(entry["path"].startswith("%s/environments/%s/variables" % (repo.path, encoded))
               for entry in github.requests())
    assert repo.remote(environment) == {"API_URL": "https://api.staging.example.com"}
    assert repo.remote() == {"API_URL": "https://api.example.com"}
    again = ok(repo.run(environment=environment.upper(), name="API_URL", value="https://api.staging.example.com"))
    assert again["changed"] is False
    assert github.violations() == []


def test_missing_environment_says_so(github, repo):
    result = repo.run(environment="nowhere", name="A", value="1")
    assert result["failed"] is True
    assert "environment nowhere does not exist" in result["msg"] and result["status"] == 404


def test_unknown_repo_says_so(github, repo):
    result = repo.run(repo="%s/no-such-repo-%s" % (OWNER, uuid.uuid4().hex[:6]), name="A", value="1")
    assert result["failed"] is True
    assert "does not exist" in result["msg"] and "option repo" in result["msg"]


@pytest.mark.parametrize("args, words", [
    (dict(name="9LIVES", value="1"), ["name", "'9LIVES'", "digit"]),
    (dict(name="GITHUB_SHA", value="1"), ["name", "GITHUB_", "reserved"]),
    (dict(name="has space", value="1"), ["name", "letters, digits and underscores"]),
    (dict(variables=[{"name": "A", "value": "1"}, {"name": "a", "value": "2"}]), ["variables", "twice"]),
    (dict(variables=[{"name": "A", "value": "1"}, {"name": "B-C", "value": "2"}]), ["variables[1]", "'B-C'"]),
    (dict(variables=[{"name": "A"}]), ["variables[0]", "value"]),
    (dict(name="A"), ["name", "value"]),
    (dict(name="BIG", value="x" * (48 * 1024 + 1)), ["BIG", "48 KB"]),
    (dict(name="A", value="1", purge=True), ["purge", "variables"]),
    (dict(name="A", value="1", repo="octo"), ["repo", "owner/name"]),
    (dict(name="A", value="1", environment="bad;name"), ["environment", "';'"]),
    (dict(name="A", value="1", environment="trailing "), ["environment", "space"]),
])
def test_bad_input_fails_before_any_request(github, repo, args, words):
    result = repo.run(**args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert github.requests() == []


def test_token_without_repo_scope_says_which_scope(github, repo):
    token = "ghp_NoScope%s" % uuid.uuid4().hex
    github.add_token(token, scopes=[])
    result = repo.run(token=token, name="A", value="1")
    assert result["failed"] is True
    assert "HTTP 403" in result["msg"] and "`repo`" in result["msg"] and "Variables (write)" in result["msg"]
    assert token not in result["_stdout"]
    env_result = repo.run(token=token, environment="prod", name="A", value="1")
    assert "Environments (write)" in env_result["msg"]
