"""The github_secret module, run the way Ansible runs it, against the GitHub stand-in (which opens the sealed boxes
for real and shows the decrypted values through its admin API)."""
import base64
import json
import os
import stat
import time
import uuid
from urllib.parse import quote, urlsplit

import pytest
from nacl.public import PublicKey, SealedBox

from conftest import ROOT, run_module, run_playbook
from github_calls import admin, api, create_environment, fresh, methods, new_repo, ok, scope_path

OWNER = "octo"


class Repo:
    """A repository of the stand-in, and the module run against it with a fingerprint file of the test's own."""

    def __init__(self, github, tmp_path):
        self.github = github
        self.name, self.repo, self.path = new_repo(github, OWNER, "sec")
        self.state = str(tmp_path / "state" / "fingerprints.json")
        self.key_file = str(tmp_path / "state" / "fingerprints.key")

    def run(self, check=False, diff=False, env=None, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.repo,
                      fingerprint_file=self.state)
        params.update(args)
        return run_module("github_secret", params, check=check, diff=diff, env=env)

    def arrived(self, environment=None):
        """{NAME: decrypted value} as the stand-in's admin API shows them."""
        query = "?repo=%s" % self.repo + ("&environment=%s" % quote(environment, safe="") if environment else "")
        return dict((name, entry["value"]) for name, entry in admin(self.github, "GET", "/secrets" + query)["secrets"].items())

    def level(self, environment=None):
        return scope_path(self.path, environment)

    def set_elsewhere(self, name, value, environment=None):
        """Someone else sets the secret (through the REST API, as the GitHub UI or gh would)."""
        key = api(self.github, "GET", self.level(environment) + "/secrets/public-key")
        sealed = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt(value.encode())
        api(self.github, "PUT", "%s/secrets/%s" % (self.level(environment), name),
            {"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]})

    def stored(self):
        with open(self.state) as handle:
            return json.load(handle)["secrets"]

    def create_environment(self, name):
        create_environment(self.github, self.path, name)


@pytest.fixture
def repo(github, tmp_path):
    yield from fresh(github, lambda: Repo(github, tmp_path))


def assert_hidden(result, *texts):
    for text in texts:
        assert text not in result["_stdout"] and text not in result["_stderr"]


def wait_next_second():
    """The stand-in's (and GitHub's) timestamps have whole seconds: let the next change get a later updated_at."""
    time.sleep(1.05 - (time.time() % 1.0))


def test_create_then_rerun_is_idempotent(github, repo):
    first = ok(repo.run(name="api_token", value="s3cr3t-one"))
    assert first["changed"] is True
    assert first["created"] == ["API_TOKEN"] and first["updated"] == [] and first["deleted"] == []
    assert [item["name"] for item in first["secrets"]] == ["API_TOKEN"]
    assert repo.arrived() == {"API_TOKEN": "s3cr3t-one"}
    assert methods(github) == ["GET", "GET", "PUT", "GET"]  # list, public key, put, list (updated_at)
    assert_hidden(first, "s3cr3t-one")
    host = urlsplit(github.api_url)
    assert [json.loads(key) for key in repo.stored()] == [[host.netloc + host.path, repo.repo.lower(), None,
                                                           "API_TOKEN"]]

    github.reset_log()
    second = ok(repo.run(name="API_TOKEN", value="s3cr3t-one"))
    assert second["changed"] is False
    assert second["created"] == second["updated"] == second["deleted"] == []
    assert methods(github) == ["GET"]
    assert github.violations() == []


def test_changed_value_is_written(github, repo):
    ok(repo.run(name="API_TOKEN", value="first-value"))
    github.reset_log()
    result = ok(repo.run(name="API_TOKEN", value="second-value"))
    assert result["changed"] is True
    assert result["updated"] == ["API_TOKEN"] and result["reasons"] == {"API_TOKEN": "value changed"}
    assert repo.arrived() == {"API_TOKEN": "second-value"}
    assert methods(github) == ["GET", "GET", "PUT", "GET"]
    assert_hidden(result, "first-value", "second-value")
    assert ok(repo.run(name="API_TOKEN", value="second-value"))["changed"] is False


def test_a_change_made_elsewhere_is_detected_by_updated_at(github, repo):
    ok(repo.run(name="API_TOKEN", value="ours"))
    wait_next_second()
    repo.set_elsewhere("API_TOKEN", "theirs")
    assert repo.arrived() == {"API_TOKEN": "theirs"}
    github.reset_log()
    result = ok(repo.run(name="API_TOKEN", value="ours"))
    assert result["changed"] is True
    assert result["reasons"] == {"API_TOKEN": "changed remotely"}
    assert repo.arrived() == {"API_TOKEN": "ours"}
    assert_hidden(result, "ours", "theirs")
    assert ok(repo.run(name="API_TOKEN", value="ours"))["changed"] is False


def test_existing_secret_without_fingerprint_is_written_once(github, repo):
    repo.set_elsewhere("API_TOKEN", "unknown")
    first = ok(repo.run(name="API_TOKEN", value="known"))
    assert first["changed"] is True and first["reasons"] == {"API_TOKEN": "no fingerprint"}
    assert repo.arrived() == {"API_TOKEN": "known"}
    assert ok(repo.run(name="API_TOKEN", value="known"))["changed"] is False
    os.unlink(repo.state)  # a new controller: one more write, then quiet again
    assert ok(repo.run(name="API_TOKEN", value="known"))["reasons"] == {"API_TOKEN": "no fingerprint"}
    assert ok(repo.run(name="API_TOKEN", value="known"))["changed"] is False


def test_check_mode_writes_neither_github_nor_the_state_file(github, repo):
    preview = ok(repo.run(name="API_TOKEN", value="value-one", check=True, diff=True))
    assert preview["changed"] is True and preview["created"] == ["API_TOKEN"]
    assert preview["diff"] == {"before": {"secrets": []}, "after": {"secrets": ["API_TOKEN"]}}
    assert methods(github) == ["GET"]
    assert repo.arrived() == {}
    assert not os.path.exists(repo.state) and not os.path.exists(repo.key_file)

    ok(repo.run(name="API_TOKEN", value="value-one"))
    with open(repo.state, "rb") as handle:
        saved = handle.read()
    github.reset_log()
    update = ok(repo.run(name="API_TOKEN", value="value-two", check=True, diff=True))
    assert update["changed"] is True and update["updated"] == ["API_TOKEN"]
    assert update["diff"]["after"] == {"secrets": ["API_TOKEN (value changed)"]}
    assert methods(github) == ["GET"]
    assert repo.arrived() == {"API_TOKEN": "value-one"}
    with open(repo.state, "rb") as handle:
        assert handle.read() == saved

    github.reset_log()
    delete = ok(repo.run(name="API_TOKEN", state="absent", check=True))
    assert delete["changed"] is True and delete["deleted"] == ["API_TOKEN"]
    assert methods(github) == ["GET"] and repo.arrived() == {"API_TOKEN": "value-one"}
    assert ok(repo.run(name="API_TOKEN", value="value-one", check=True))["changed"] is False
    assert github.violations() == []


def test_diff_shows_names_never_values_nor_fingerprints(github, repo):
    repo.set_elsewhere("OLD_ONE", "old-value")
    ok(repo.run(secrets=[{"name": "KEEP", "value": "keep-value"}, {"name": "CHANGE", "value": "before-value"}]))
    result = ok(repo.run(secrets=[{"name": "KEEP", "value": "keep-value"}, {"name": "CHANGE", "value": "after-value"},
                                  {"name": "NEW_ONE", "value": "new-value"}], purge=True, diff=True))
    assert result["diff"] == {
        "before": {"secrets": ["CHANGE", "KEEP", "OLD_ONE"]},
        "after": {"secrets": ["CHANGE (value changed)", "KEEP", "NEW_ONE"]},
    }
    fingerprints = [entry["hmac"] for entry in repo.stored().values()]
    assert len(fingerprints) == 3
    assert_hidden(result, "keep-value", "before-value", "after-value", "new-value", "old-value", *fingerprints)
    with open(repo.key_file) as handle:
        assert_hidden(result, handle.read().strip())


def test_list_form_with_purge(github, repo):
    for name in ("STAYS", "GOES", "ALSO_GOES"):
        repo.set_elsewhere(name, "x-" + name)
    ok(repo.run(name="GOES", value="ours"))  # a fingerprint that the purge must drop
    github.reset_log()
    result = ok(repo.run(secrets=[{"name": "stays", "value": "v-stays"}, {"name": "NEW", "value": "v-new"}],
                         purge=True))
    assert result["created"] == ["NEW"] and result["updated"] == ["STAYS"]
    assert result["deleted"] == ["ALSO_GOES", "GOES"]
    assert repo.arrived() == {"NEW": "v-new", "STAYS": "v-stays"}
    assert sorted(json.loads(key)[3] for key in repo.stored()) == ["NEW", "STAYS"]
    assert [item["name"] for item in result["secrets"]] == ["NEW", "STAYS"]
    again = ok(repo.run(secrets=[{"name": "STAYS", "value": "v-stays"}, {"name": "NEW", "value": "v-new"}],
                        purge=True))
    assert again["changed"] is False

    github.reset_log()
    kept = ok(repo.run(secrets=[{"name": "NEW", "value": "v-new"}]))  # no purge: STAYS stays
    assert kept["changed"] is False and "STAYS" in repo.arrived()
    assert methods(github) == ["GET"]
    assert github.violations() == []


def test_state_absent(github, repo):
    ok(repo.run(secrets=[{"name": "ONE", "value": "1"}, {"name": "TWO", "value": "2"}]))
    github.reset_log()
    gone = ok(repo.run(name="one", state="absent", diff=True))
    assert gone["changed"] is True and gone["deleted"] == ["ONE"]
    assert gone["diff"] == {"before": {"secrets": ["ONE"]}, "after": {"secrets": []}}
    assert methods(github) == ["GET", "DELETE", "GET"]
    assert repo.arrived() == {"TWO": "2"}
    assert [json.loads(key)[3] for key in repo.stored()] == ["TWO"]
    again = ok(repo.run(name="ONE", state="absent"))
    assert again["changed"] is False
    both = ok(repo.run(secrets=[{"name": "ONE"}, {"name": "TWO"}], state="absent"))
    assert both["deleted"] == ["TWO"] and repo.arrived() == {}
    assert repo.stored() == {}


@pytest.mark.parametrize("environment", ["production", "eu/prod"])
def test_environment_secrets(github, repo, environment):
    repo.create_environment(environment)
    ok(repo.run(name="API_TOKEN", value="repo-level"))
    github.reset_log()
    result = ok(repo.run(environment=environment, secrets=[{"name": "API_TOKEN", "value": "env-level"}]))
    assert result["created"] == ["API_TOKEN"]
    assert repo.arrived(environment) == {"API_TOKEN": "env-level"}
    assert repo.arrived() == {"API_TOKEN": "repo-level"}  # the repository's own is another secret
    encoded = quote(environment, safe="")
    assert all(entry["path"].startswith("%s/environments/%s/secrets" % (repo.path, encoded))
               for entry in github.requests())
    assert ok(repo.run(environment=environment.upper(), name="API_TOKEN", value="env-level"))["changed"] is False
    assert sorted(json.loads(key)[2] or "" for key in repo.stored()) == ["", environment]
    assert github.violations() == []


def test_missing_environment_says_so(github, repo):
    result = repo.run(environment="nowhere", name="API_TOKEN", value="nowhere-value")
    assert result["failed"] is True
    assert "environment nowhere does not exist" in result["msg"] and "github_environment" in result["msg"]
    assert result["status"] == 404


def test_unknown_repo_says_so(github, repo):
    result = repo.run(repo="%s/no-such-repo-%s" % (OWNER, uuid.uuid4().hex[:6]), name="API_TOKEN",
                      value="unknown-repo-value")
    assert result["failed"] is True
    assert "does not exist" in result["msg"] and "option repo" in result["msg"]
    assert result["status"] == 404
    assert not os.path.exists(repo.state)


@pytest.mark.parametrize("args, words", [
    (dict(name="1ABC", value="some-value"), ["name", "'1ABC'", "digit"]),
    (dict(name="GITHUB_TOKEN", value="some-value"), ["name", "GITHUB_", "reserved"]),
    (dict(name="github_thing", value="some-value"), ["name", "GITHUB_"]),
    (dict(name="with-dash", value="some-value"), ["name", "letters, digits and underscores"]),
    (dict(name="", value="some-value"), ["name"]),
    (dict(secrets=[{"name": "OK", "value": "some-value"}, {"name": "bad name", "value": "other-value"}]), ["secrets[1]", "'bad name'"]),
    (dict(secrets=[{"name": "TWICE", "value": "some-value"}, {"name": "twice", "value": "other-value"}]), ["secrets", "TWICE", "twice"]),
    (dict(secrets=[{"name": "NO_VALUE"}]), ["secrets[0]", "NO_VALUE", "value"]),
    (dict(name="EMPTY", value=""), ["EMPTY", "empty"]),
    (dict(name="BIG", value="x" * (48 * 1024 + 1)), ["BIG", "48 KB"]),
    (dict(name="A", value="some-value", purge=True), ["purge", "secrets"]),
    (dict(secrets=[{"name": "A"}], purge=True, state="absent"), ["purge", "state=present"]),
    (dict(name="A", value="some-value", repo="no-slash"), ["repo", "owner/name"]),
    (dict(name="A", value="some-value", repo="octo/site.git"), ["repo", ".git"]),
    (dict(name="A", value="some-value", environment="a,b"), ["environment", "','"]),
    (dict(name="A", value="some-value", environment=" prod"), ["environment", "space"]),
    (dict(name="A", value="some-value", environment="e" * 256), ["environment", "255"]),
    (dict(name="A", value="some-value", environment=""), ["environment", "empty"]),
    (dict(name="A", value="some-value", fingerprint_key="short"), ["fingerprint_key", "16"]),
    (dict(name="A", value="some-value", secrets=[{"name": "B", "value": "other-value"}]), ["name", "secrets"]),
])
def test_bad_input_fails_before_any_request(github, repo, args, words):
    result = repo.run(**args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert github.requests() == []
    assert not os.path.exists(repo.state)


def test_token_without_repo_scope_says_which_scope(github, repo):
    token = "ghp_NoScope%s" % uuid.uuid4().hex
    github.add_token(token, scopes=[])
    result = repo.run(token=token, name="API_TOKEN", value="hidden-value")
    assert result["failed"] is True
    assert "HTTP 403" in result["msg"] and "`repo`" in result["msg"] and "Secrets (write)" in result["msg"]
    assert_hidden(result, token, "hidden-value")
    env_result = repo.run(token=token, environment="prod", name="API_TOKEN", value="hidden-value")
    assert "Environments (write)" in env_result["msg"]


def test_missing_token_fails_before_any_request(github, repo):
    result = run_module("github_secret", dict(api_url=github.api_url, repo=repo.repo, name="A", value="some-value",
                                              fingerprint_file=repo.state), env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    assert result["failed"] is True and "GITHUB_TOKEN" in result["msg"]
    assert github.requests() == []


def test_fingerprint_key_option(github, repo):
    key = "a-vaulted-fingerprint-key-%s" % uuid.uuid4().hex
    first = ok(repo.run(name="API_TOKEN", value="keyed-value", fingerprint_key=key))
    assert first["changed"] is True
    assert not os.path.exists(repo.key_file)  # the given key is used, none is created
    assert ok(repo.run(name="API_TOKEN", value="keyed-value", fingerprint_key=key))["changed"] is False
    other = ok(repo.run(name="API_TOKEN", value="keyed-value", fingerprint_key=key + "-other"))
    assert other["reasons"] == {"API_TOKEN": "value changed"}  # another key matches no fingerprint
    assert_hidden(first, key)
    assert_hidden(other, key)


def test_default_fingerprint_file_is_private(github, repo, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    params = dict(api_url=github.api_url, token=github.token, repo=repo.repo, name="API_TOKEN", value="plain-value")
    result = ok(run_module("github_secret", params, env={"HOME": str(home)}))
    directory = home / ".cache" / "textbook-deploy"
    assert result["fingerprint_file"] == str(directory / "github-secret-fingerprints.json")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in ("github-secret-fingerprints.json", "github-secret-fingerprints.key"):
        assert stat.S_IMODE(os.stat(directory / name).st_mode) == 0o600
    assert ok(run_module("github_secret", params, env={"HOME": str(home)}))["changed"] is False


def test_a_broken_state_file_names_the_option(github, repo):
    os.makedirs(os.path.dirname(repo.state))
    with open(repo.state, "w") as handle:
        handle.write("not json")
    result = repo.run(name="API_TOKEN", value="plain-value")
    assert result["failed"] is True and "fingerprint_file" in result["msg"]
    assert github.requests() == []


def test_rotated_public_key_is_used(github, repo):
    ok(repo.run(name="API_TOKEN", value="value-one"))
    admin(github, "POST", "/public-keys/rotate", {"repo": repo.repo})
    ok(repo.run(name="API_TOKEN", value="value-two"))
    assert repo.arrived() == {"API_TOKEN": "value-two"}


def test_transient_errors_are_retried(github, repo):
    github.inject_fault("http_500", method="PUT", path="/secrets/", times=1)
    result = ok(repo.run(name="API_TOKEN", value="plain-value"))
    assert result["changed"] is True
    assert [entry["status"] for entry in github.requests()] == [200, 200, 500, 201, 200]
    assert repo.arrived() == {"API_TOKEN": "plain-value"}


def test_no_value_in_playbook_output_at_vvv(github, repo, tmp_path):
    """Values and fingerprints stay out of everything ansible-playbook prints, even at -vvv with --diff."""
    values = ["pb-value-%s" % uuid.uuid4().hex, "pb-other-%s" % uuid.uuid4().hex]
    ok(repo.run(name="CHANGED", value="pb-earlier-%s" % uuid.uuid4().hex))
    playbook = tmp_path / "secrets.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": os.path.join(str(ROOT), ".venv", "bin", "python")},
        # the API options once for the action group (meta/runtime.yml)
        "module_defaults": {"group/textbook.deploy.github": {"api_url": github.api_url, "token": github.token}},
        "tasks": [
            {"name": "Single form", "textbook.deploy.github_secret": {
                "repo": repo.repo, "name": "SINGLE", "value": values[0], "fingerprint_file": repo.state}},
            {"name": "List form", "textbook.deploy.github_secret": {
                "repo": repo.repo,
                "secrets": [{"name": "CHANGED", "value": values[1]}, {"name": "SINGLE", "value": values[0]}],
                "fingerprint_file": repo.state}},
            {"name": "A bad call fails without showing its values", "ignore_errors": True,
             "textbook.deploy.github_secret": {
                 "repo": repo.repo,
                 "secrets": [{"name": "OK", "value": values[1]}, {"name": "1BAD", "value": values[0]}],
                 "fingerprint_file": repo.state}},
        ],
    }]))
    proc = run_playbook(playbook, inventory="localhost,", verbosity=3, diff=True)
    assert proc.returncode == 0, proc.stdout
    assert "changed=2" in proc.stdout
    for text in values + [entry["hmac"] for entry in repo.stored().values()] + [github.token]:
        assert text not in proc.stdout
    assert repo.arrived() == {"CHANGED": values[1], "SINGLE": values[0]}
