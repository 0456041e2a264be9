"""The github_environment module, run the way Ansible runs it, against the GitHub stand-in."""
import base64
import urllib.error
import uuid

import pytest
from nacl.public import PublicKey, SealedBox

from conftest import run_module
from github_calls import admin, api, changing, environment_path, fresh, methods, new_repo, ok

OWNER = "octo"


class Repo:
    def __init__(self, github):
        self.github = github
        self.name, self.repo, self.path = new_repo(github, OWNER, "env")
        suffix = uuid.uuid4().hex[:6]
        self.user = admin(github, "POST", "/users", {"login": "reviewer-%s" % suffix})
        self.other_user = admin(github, "POST", "/users", {"login": "other-%s" % suffix})
        self.team = admin(github, "POST", "/teams", {"org": OWNER, "slug": "release-%s" % suffix})
        self.team_name = "%s/%s" % (OWNER, self.team["slug"])

    def run(self, environment="production", check=False, diff=False, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.repo, environment=environment)
        params.update(args)
        return run_module("github_environment", params, check=check, diff=diff)

    def env_path(self, environment):
        return environment_path(self.path, environment)

    def remote(self, environment="production"):
        """The environment as GitHub returns it (None when there is none)."""
        try:
            return api(self.github, "GET", self.env_path(environment))
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def patterns(self, environment="production"):
        data = api(self.github, "GET", self.env_path(environment) + "/deployment-branch-policies")
        return sorted((item["name"], item["type"]) for item in data["branch_policies"])


def rules(env):
    return dict((rule["type"], rule) for rule in env["protection_rules"])


@pytest.fixture
def repo(github):
    yield from fresh(github, lambda: Repo(github))


def full(repo):
    return dict(wait_timer=30, prevent_self_review=True,
                reviewers=[{"name": repo.user["login"]}, {"type": "Team", "name": repo.team_name}],
                deployment_branch_policy="custom", branch_patterns=["main", "release/*"])


def test_create_then_rerun_is_idempotent(github, repo):
    first = ok(repo.run(**full(repo)))
    assert first["changed"] is True
    env = repo.remote()
    found = rules(env)
    assert found["wait_timer"]["wait_timer"] == 30
    assert found["required_reviewers"]["prevent_self_review"] is True
    assert sorted((item["type"], item["reviewer"]["id"]) for item in found["required_reviewers"]["reviewers"]) == \
        sorted([("User", repo.user["id"]), ("Team", repo.team["id"])])
    assert env["deployment_branch_policy"] == {"protected_branches": False, "custom_branch_policies": True}
    assert repo.patterns() == [("main", "branch"), ("release/*", "branch")]
    assert first["environment"]["name"] == "production"
    assert sorted(item["name"] for item in first["branch_policies"]) == ["main", "release/*"]
    assert first["settings"]["reviewers"] == sorted([{"type": "User", "name": repo.user["login"]},
                                                     {"type": "Team", "name": repo.team_name}],
                                                    key=lambda item: (item["type"], item["name"]))

    github.reset_log()
    second = ok(repo.run(diff=True, **full(repo)))
    assert second["changed"] is False
    assert second["diff"]["before"] == second["diff"]["after"]
    assert set(methods(github)) == {"GET"}
    assert github.violations() == []


def test_update_sends_what_differs_and_shows_a_diff(github, repo):
    ok(repo.run(**full(repo)))
    github.reset_log()
    args = dict(full(repo), wait_timer=0, reviewers=[{"name": repo.other_user["login"]}],
                branch_patterns=["main", "hotfix/*"])
    result = ok(repo.run(diff=True, **args))
    assert result["changed"] is True
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["wait_timer"] == 30 and after["wait_timer"] == 0
    assert before["branch_patterns"] == ["main", "release/*"] and after["branch_patterns"] == ["hotfix/*", "main"]
    assert after["reviewers"] == [{"type": "User", "name": repo.other_user["login"]}]
    assert after["prevent_self_review"] is True
    paths = changing(github)
    env_path = repo.env_path("production")
    assert paths[0] == ("PUT", env_path)
    assert ("POST", env_path + "/deployment-branch-policies") in paths
    assert sum(1 for method, _ in paths if method == "DELETE") == 1  # release/* only
    assert repo.patterns() == [("hotfix/*", "branch"), ("main", "branch")]
    assert "wait_timer" not in rules(repo.remote())
    assert ok(repo.run(**args))["changed"] is False
    assert github.violations() == []


def test_only_the_patterns_differ(github, repo):
    ok(repo.run(**full(repo)))
    github.reset_log()
    result = ok(repo.run(**dict(full(repo), branch_patterns=["main", "release/*", "next"])))
    assert result["changed"] is True
    assert changing(github) == [("POST", repo.env_path("production") + "/deployment-branch-policies")]


def test_unset_options_keep_their_value(github, repo):
    ok(repo.run(**full(repo)))
    result = ok(repo.run(wait_timer=10))
    assert result["changed"] is True
    env = repo.remote()
    assert rules(env)["wait_timer"]["wait_timer"] == 10
    assert len(rules(env)["required_reviewers"]["reviewers"]) == 2
    assert rules(env)["required_reviewers"]["prevent_self_review"] is True
    assert repo.patterns() == [("main", "branch"), ("release/*", "branch")]
    assert ok(repo.run())["changed"] is False  # nothing given: nothing to change


def test_branch_policy_switches(github, repo):
    ok(repo.run(**full(repo)))
    protected = ok(repo.run(deployment_branch_policy="protected_branches", diff=True))
    assert protected["changed"] is True
    assert repo.remote()["deployment_branch_policy"] == {"protected_branches": True, "custom_branch_policies": False}
    assert "branch_patterns" not in protected["diff"]["after"]
    assert protected["branch_policies"] == []
    assert ok(repo.run(deployment_branch_policy="protected_branches"))["changed"] is False
    anything = ok(repo.run(deployment_branch_policy="none"))
    assert anything["changed"] is True and repo.remote()["deployment_branch_policy"] is None
    assert ok(repo.run(deployment_branch_policy="none"))["changed"] is False
    back = ok(repo.run(deployment_branch_policy="custom", branch_patterns=["main"]))
    assert back["changed"] is True and repo.patterns() == [("main", "branch")]
    assert github.violations() == []


def test_reviewers_removed_with_an_empty_list(github, repo):
    ok(repo.run(**full(repo)))
    result = ok(repo.run(reviewers=[], prevent_self_review=False, diff=True))
    assert result["changed"] is True
    assert "required_reviewers" not in rules(repo.remote())
    assert result["diff"]["after"]["reviewers"] == [] and result["diff"]["after"]["prevent_self_review"] is False
    assert ok(repo.run(reviewers=[]))["changed"] is False


def test_check_mode_changes_nothing(github, repo):
    preview = ok(repo.run(check=True, diff=True, **full(repo)))
    assert preview["changed"] is True
    assert preview["diff"]["before"] == {}
    assert preview["diff"]["after"]["wait_timer"] == 30
    assert preview["diff"]["after"]["branch_patterns"] == ["main", "release/*"]
    assert set(methods(github)) == {"GET"}
    assert repo.remote() is None

    ok(repo.run(**full(repo)))
    github.reset_log()
    update = ok(repo.run(check=True, diff=True, **dict(full(repo), wait_timer=60, branch_patterns=["main"])))
    assert update["changed"] is True
    assert update["diff"]["after"]["wait_timer"] == 60 and update["diff"]["after"]["branch_patterns"] == ["main"]
    assert set(methods(github)) == {"GET"}
    assert rules(repo.remote())["wait_timer"]["wait_timer"] == 30
    assert repo.patterns() == [("main", "branch"), ("release/*", "branch")]

    github.reset_log()
    delete = ok(repo.run(state="absent", check=True))
    assert delete["changed"] is True and set(methods(github)) == {"GET"}
    assert repo.remote() is not None
    assert github.violations() == []


def test_state_absent_deletes_it_with_its_secrets(github, repo):
    ok(repo.run(wait_timer=5))
    key = api(github, "GET", repo.env_path("production") + "/secrets/public-key")
    sealed = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt(b"env secret")
    api(github, "PUT", repo.env_path("production") + "/secrets/TOKEN",
        {"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]})
    github.reset_log()
    gone = ok(repo.run(state="absent", diff=True))
    assert gone["changed"] is True
    assert gone["diff"]["before"]["wait_timer"] == 5 and gone["diff"]["after"] == {}
    assert methods(github) == ["GET", "DELETE"]  # absent: no look-up of the repository either
    assert repo.remote() is None
    assert ok(repo.run(state="absent"))["changed"] is False
    recreated = ok(repo.run())
    assert recreated["changed"] is True
    assert admin(github, "GET", "/secrets?repo=%s&environment=production" % repo.repo)["secrets"] == {}


def test_environment_name_with_a_slash_is_url_encoded(github, repo):
    result = ok(repo.run(environment="eu/production", wait_timer=1))
    assert result["changed"] is True and result["environment"]["name"] == "eu/production"
    assert all(entry["path"].startswith(repo.path + "/environments/eu%2Fproduction")
               for entry in github.requests() if entry["path"] != repo.path)  # the repository is read when absent
    assert ok(repo.run(environment="EU/Production", wait_timer=1))["changed"] is False  # names are case-insensitive


def test_unknown_reviewer_fails_before_any_change(github, repo):
    result = repo.run(reviewers=[{"name": repo.user["login"]}, {"name": "nobody-%s" % uuid.uuid4().hex[:6]}])
    assert result["failed"] is True
    assert "reviewers[1]" in result["msg"] and "does not exist" in result["msg"]
    team = repo.run(reviewers=[{"type": "Team", "name": "%s/no-team" % OWNER}])
    assert team["failed"] is True and "reviewers[0]" in team["msg"] and "read:org" in team["msg"]
    assert set(methods(github)) == {"GET"} and repo.remote() is None


@pytest.mark.parametrize("args, words", [
    (dict(environment="a,b"), ["environment", "','"]),
    (dict(environment="quote'd"), ["environment"]),
    (dict(environment="back\\slash"), ["environment"]),
    (dict(environment="tab\there"), ["environment", "control"]),
    (dict(environment=" leading"), ["environment", "space"]),
    (dict(environment="x" * 256), ["environment", "255"]),
    (dict(environment=""), ["environment", "empty"]),
    (dict(repo="octo/a/b"), ["repo", "owner/name"]),
    (dict(wait_timer=43201), ["wait_timer", "43200"]),
    (dict(wait_timer=-1), ["wait_timer"]),
    (dict(reviewers=[{"name": "u%d" % number} for number in range(7)]), ["reviewers", "6"]),
    (dict(reviewers=[{"name": "not a login"}]), ["reviewers[0]", "login"]),
    (dict(reviewers=[{"type": "Team", "name": "no-slash"}]), ["reviewers[0]", "org/team-slug"]),
    (dict(reviewers=[{"name": "same"}, {"name": "SAME"}]), ["reviewers[1]", "twice"]),
    (dict(deployment_branch_policy="custom"), ["branch_patterns"]),
    (dict(branch_patterns=["main"]), ["branch_patterns", "custom"]),
    (dict(deployment_branch_policy="custom", branch_patterns=["main", "main"]), ["branch_patterns", "twice"]),
    (dict(deployment_branch_policy="custom", branch_patterns=[" main"]), ["branch_patterns[0]"]),
    (dict(deployment_branch_policy="everything"), ["deployment_branch_policy"]),
])
def test_bad_input_fails_before_any_request(github, repo, args, words):
    result = repo.run(**args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert github.requests() == []


def test_prevent_self_review_needs_a_reviewer(github, repo):
    result = repo.run(prevent_self_review=True)
    assert result["failed"] is True and "reviewer" in result["msg"]
    assert set(methods(github)) == {"GET"} and repo.remote() is None


@pytest.mark.parametrize("check", [False, True])
def test_unknown_repo_says_so(github, repo, check):
    result = repo.run(repo="%s/no-such-repo-%s" % (OWNER, uuid.uuid4().hex[:6]), wait_timer=1, check=check)
    assert result["failed"] is True
    assert "does not exist" in result["msg"] and "option repo" in result["msg"]
    assert set(methods(github)) == {"GET"}


def test_token_without_repo_scope_says_which_scope(github, repo):
    token = "ghp_NoScope%s" % uuid.uuid4().hex
    github.add_token(token, scopes=[])
    result = repo.run(token=token, wait_timer=1)
    assert result["failed"] is True
    assert "HTTP 403" in result["msg"] and "`repo`" in result["msg"] and "Administration (write)" in result["msg"]
    assert token not in result["_stdout"]
