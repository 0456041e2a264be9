"""The Python API (api/textbook_deploy_api, unit tests) without running Ansible: config checks refuse bad input before
ansible-runner is called, the error model classifies ansible-runner's job events, and secrets stay out of the
command line, the kept artifacts and every message. tests/integration/test_python_api.py runs it for real."""
import base64
import json
import os
import stat
import types

import pytest

import textbook_deploy_api as api
from textbook_deploy_api import events as ev
from textbook_deploy_api.secrets import MASK, Scrubber

from conftest import ROOT

LOCAL = {"frontend": {"hosts": {"localhost": {"ansible_connection": "local"}}},
         "backend": {"hosts": {"app1": {}, "app2": {}}}, "loadbalancer": {"hosts": {"lb1": {}}}}
TOKEN = "ghp_unitTokenValue0123456789"


@pytest.fixture
def no_run(monkeypatch):
    """ansible-runner must not be called."""
    import ansible_runner

    def refuse(**kwargs):
        raise AssertionError("ansible-runner was called")
    monkeypatch.setattr(ansible_runner, "run", refuse)


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "book"
    path.mkdir()
    (path / "package.json").write_text('{"name": "book", "version": "1.0.0"}')
    return path


@pytest.fixture
def checkout(tmp_path):
    path = tmp_path / "checkout"
    (path / ".git").mkdir(parents=True)
    return path


# --- configuration: refused before anything runs ------------------------------------------------------------

@pytest.mark.parametrize("config, key, words", [
    ("staging", None, "config must be a dict"),
    ({"inventory": LOCAL, "verbosty": 2}, "verbosty", "Valid keys"),
    ({}, "inventory", "inventories/"),
    ({"environment": "nowhere"}, "environment", "has no inventory"),
    ({"environment": "prod;uction"}, "environment", "environment name"),
    ({"inventory": "/no/such/inventory"}, "inventory", "does not exist"),
    ({"inventory": {"frontend": ["localhost"]}}, "inventory", "must be a dict"),
    ({"inventory": LOCAL, "verbosity": 9}, "verbosity", "0 to 5"),
    ({"inventory": LOCAL, "verbosity": True}, "verbosity", "0 to 5"),
    ({"inventory": LOCAL, "extra_vars": ["a=1"]}, "extra_vars", "must be a dict"),
    ({"inventory": LOCAL, "github_token": "two words"}, "github_token", "without whitespace"),
    ({"inventory": LOCAL, "vault_password": "x", "vault_password_file": __file__}, "vault_password", "both"),
    ({"inventory": LOCAL, "vault_password_file": "/no/such/file"}, "vault_password_file", "does not exist"),
    ({"inventory": LOCAL, "timeout": -1}, "timeout", "positive"),
    ({"inventory": LOCAL, "env": {"HOME": 1}}, "env", "dict of strings"),
    ({"inventory": LOCAL, "check": "yes"}, "check", "True or False"),
    ({"inventory": LOCAL, "collection_dir": "/tmp"}, "collection_dir", "not the textbook.deploy collection"),
    # staging's vault.yml is encrypted: without a vault password the run could not even read its variables
    ({"environment": "staging"}, "vault_password", "vault-encrypted"),
    ({"inventory": {"data": {"hosts": {"localhost": {}}}}}, "inventory", "group 'frontend'"),
])
def test_bad_config_is_refused_before_anything_runs(no_run, project, tmp_path, config, key, words):
    if isinstance(config, dict):
        config = dict(config, private_data_dir=str(tmp_path / "runner"))
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_frontend(str(project), config)
    assert caught.value.key == key and caught.value.stage == "api"
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "runner").exists()  # not even ansible-runner's directory


def test_repo_path_must_be_the_project_or_the_checkout(no_run, tmp_path, project):
    for call, path, words in [(api.deploy_frontend, tmp_path / "missing", "not a directory"),
                              (api.deploy_frontend, tmp_path, "no package.json"),
                              (api.setup_ci_cd, project, "not a git checkout"),
                              (api.setup_ci_cd, None, "must be the path")]:
        with pytest.raises(api.ConfigurationError) as caught:
            call(path, {"inventory": LOCAL})
        assert caught.value.key == "repo_path" and words in str(caught.value)


@pytest.mark.parametrize("services, words", [
    ("backend", "non-empty list"),
    ([], "non-empty list"),
    (["backend:!app1"], "patterns are not accepted"),
    (["chat-api"], "neither a group nor a host"),
    (["frontend"], "no host of the groups backend or loadbalancer"),
])
def test_services_must_name_backend_groups_or_hosts(no_run, services, words):
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_backend(services, {"inventory": LOCAL})
    assert caught.value.key == "services" and words in str(caught.value)


def test_a_token_given_twice_differently_is_refused_without_showing_either(no_run, project):
    config = {"inventory": LOCAL, "github_token": TOKEN, "extra_vars": {"frontend_github_token": "ghp_other123456"}}
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_frontend(str(project), config)
    assert caught.value.key == "extra_vars"
    assert TOKEN not in str(caught.value) and "ghp_other123456" not in str(caught.value)


# --- what reaches ansible-runner -----------------------------------------------------------------------------

class FakeRunner:
    """Stands in for ansible_runner.run: records its arguments and what the secret files held during the run."""

    def __init__(self, events=(), status="successful", rc=0):
        self.events, self.status, self.rc = list(events), status, rc
        self.calls = []

    def __call__(self, **kwargs):
        files = {}
        for arg in (kwargs.get("cmdline") or "").split():
            path = arg.lstrip("@")
            if os.path.isabs(path) and os.path.isfile(path):
                files[path] = (stat.S_IMODE(os.stat(path).st_mode), open(path).read())
        inventory = kwargs["inventory"]
        if os.path.isfile(inventory):
            files[inventory] = (stat.S_IMODE(os.stat(inventory).st_mode), open(inventory).read())
        artifacts = os.path.join(kwargs["private_data_dir"], "artifacts", kwargs["ident"])
        os.makedirs(artifacts)
        with open(os.path.join(artifacts, "command"), "w") as handle:
            json.dump({"command": ["ansible-playbook"], "env": dict(kwargs["envvars"], GITHUB_TOKEN=TOKEN)}, handle)
        with open(os.path.join(artifacts, "stdout"), "w") as handle:
            handle.write("a module echoed %s and %s\n" % (TOKEN, base64.b64encode(
                ("x-access-token:" + TOKEN).encode()).decode()))
        for event in self.events:
            kwargs["event_handler"](event)
        kwargs["event_handler"]({"event": "playbook_on_stats", "event_data": {
            "processed": {"localhost": 1}, "changed": {"localhost": 2}, "ok": {"localhost": 5}}})
        self.calls.append(dict(kwargs, files=files))
        return types.SimpleNamespace(status=self.status, rc=self.rc)


@pytest.fixture
def fake_runner(monkeypatch):
    import ansible_runner

    fake = FakeRunner()
    monkeypatch.setattr(ansible_runner, "run", fake)
    return fake


def test_secrets_go_through_private_files_never_the_command_line_or_the_artifacts(fake_runner, project, tmp_path):
    inventory = dict(LOCAL, all={"vars": {"backend_database_url": "postgresql://app:dbpass-4711@db/app"}})
    config = {"inventory": inventory, "github_token": TOKEN, "vault_password": "vault-pass-0815",
              "private_data_dir": str(tmp_path / "runner"), "extra_vars": {"cicd_secrets": {"K": "sshkey-value"}}}
    assert api.deploy_frontend(str(project), config) is True
    call = fake_runner.calls[0]
    cmdline, env = call["cmdline"], call["envvars"]
    for secret in (TOKEN, "vault-pass-0815", "sshkey-value", "dbpass-4711"):
        assert secret not in cmdline and secret not in json.dumps(env)
    # the extra vars, the vault password and a dict inventory were 0600 files of the run's scratch directory...
    assert len(call["files"]) == 3
    for path, (mode, text) in call["files"].items():
        assert mode == 0o600 and not path.startswith(str(tmp_path / "runner")), path
        assert not os.path.exists(path)  # ... removed after the run
    extravars = next(json.loads(text) for _mode, text in call["files"].values() if "frontend_project_dir" in text)
    assert extravars["frontend_github_token"] == TOKEN and extravars["frontend_project_dir"] == str(project)
    assert "--vault-password-file" in cmdline
    assert env["ANSIBLE_DISPLAY_ARGS_TO_STDOUT"] == "False"
    assert call["playbook"].endswith("playbooks/deploy_frontend.yml") and call["quiet"] is True
    # the kept artifacts: every secret masked, the command file's secret environment variables too
    kept = api.last_result().artifact_dir
    assert kept.startswith(str(tmp_path / "runner"))
    text = "".join(open(os.path.join(folder, name)).read() for folder, _d, names in os.walk(kept) for name in names)
    assert TOKEN not in text and "eC1hY2Nlc3MtdG9rZW46" not in text and MASK in text
    assert json.load(open(os.path.join(kept, "command")))["env"]["GITHUB_TOKEN"] == MASK


def test_an_environments_vaulted_inventory_runs_with_its_vault_password(fake_runner, project):
    # inventories/staging: hosts.yml is read to check the groups, the encrypted group_vars are left to the run
    assert api.deploy_frontend(str(project), {"environment": "staging", "vault_password": "placeholder-vault-password"})
    call = fake_runner.calls[0]
    assert call["inventory"] == str(ROOT / "inventories" / "staging")
    vault_file = call["cmdline"].split("--vault-password-file ")[1].split()[0]
    assert call["files"][vault_file] == (0o600, "placeholder-vault-password")


def test_deploy_backend_limits_the_run_to_the_services(fake_runner):
    config = {"inventory": LOCAL, "environment": "staging", "extra_vars": {"backend_source": "/src"}}
    assert api.deploy_backend(["backend", "lb1"], config) is True
    call = fake_runner.calls[0]
    assert call["limit"] == "backend:lb1" and call["playbook"].endswith("playbooks/deploy_backend.yml")
    extravars = next(json.loads(text) for _mode, text in call["files"].values() if "backend_source" in text)
    assert extravars == {"backend_source": "/src", "deploy_environment": "staging"}
    assert api.last_result().ok and api.last_result().changed == 2


def test_setup_ci_cd_passes_the_checkout_and_the_token(fake_runner, checkout):
    assert api.setup_ci_cd(str(checkout), {"inventory": LOCAL, "github_token": TOKEN, "check": True}) is True
    call = fake_runner.calls[0]
    extravars = next(json.loads(text) for _mode, text in call["files"].values() if "cicd_repo_path" in text)
    assert extravars == {"cicd_repo_path": str(checkout), "cicd_github_token": TOKEN}
    assert "--check" in call["cmdline"].split()


# --- the error model, from job events ------------------------------------------------------------------------

def failed(task, res, action="ansible.builtin.assert", role="frontend", path="roles/frontend/tasks/main.yml",
           host="localhost", event="runner_on_failed"):
    return {"event": event, "event_data": {"task": task, "resolved_action": action, "role": role, "host": host,
                                           "task_path": "/c/%s:3" % path, "res": res}}


def ok(task, res, action="ansible.builtin.set_fact"):
    return {"event": "runner_on_ok", "event_data": {"task": task, "resolved_action": action, "res": res,
                                                    "host": "localhost"}}


def classify(events, api_name="deploy_frontend", status="failed", rc=2, token_given=False, errors=()):
    log = ev.EventLog()
    for event in events:
        log(event)
    log.errors.extend(errors)
    log({"event": "playbook_on_stats", "event_data": {"processed": {"localhost": 1}}})
    scrubber = Scrubber()
    scrubber.add(TOKEN)
    return ev.classify(api_name, status, rc, log, scrubber, api_name + ".yml", environment="staging",
                       token_given=token_given)


@pytest.mark.parametrize("event, status", [
    (failed("Configure GitHub Pages", {"msg": "GET /repos/o/r/pages failed: HTTP 401: Bad credentials. The token "
                                              "is missing, invalid or expired", "status": 401},
            action="textbook.deploy.github_pages"), 401),
    (failed("Set the environment's variables", {"msg": "HTTP 403: Resource not accessible by integration",
                                                "status": 403}, action="textbook.deploy.github_variable",
            role="cicd"), 403),
    (failed("Publish the build to the Pages branch", {"msg": "Reading repo http://h/o/r.git failed: authentication "
                                                             "was refused. git said: %s" % TOKEN},
            action="textbook.deploy.pages_publish"), None),
    (failed("Require a GitHub token that is not the inventory placeholder",
            {"msg": "frontend_github_token is empty or still the placeholder"},
            path="roles/frontend/tasks/preflight.yml"), None),
])
def test_github_refusing_the_token_is_an_authentication_error_with_instructions(event, status):
    result = classify([event])
    error = result.error
    assert isinstance(error, api.AuthenticationError) and error.status == status
    assert error.task == event["event_data"]["task"] and error.result is result
    text = str(error)
    assert "config['github_token']" in text and "GITHUB_TOKEN" in text and "`repo`" in text
    assert "vault_github_token in inventories/staging/group_vars/all/vault.yml" in text
    assert TOKEN not in text


def test_setup_ci_cd_names_its_own_variable_and_permissions():
    result = classify([failed("Create the environment", {"msg": "HTTP 401: Bad credentials", "status": 401},
                              action="textbook.deploy.github_environment", role="cicd")], "setup_ci_cd")
    text = str(result.error)
    assert "cicd_github_token" in text and "Secrets (write)" in text and "Environments (write)" in text


def test_a_secondary_rate_limit_is_not_an_authentication_error():
    result = classify([failed("Configure GitHub Pages", {"msg": "HTTP 403: You have exceeded a secondary rate "
                                                                "limit", "status": 403},
                              action="textbook.deploy.github_pages")])
    assert not isinstance(result.error, api.AuthenticationError)


def test_cicd_token_check_under_no_log():
    event = failed("Check the token and the secrets the deploy workflow needs", {"censored": "hidden"},
                   role="cicd", path="roles/cicd/tasks/preflight.yml")
    assert isinstance(classify([event], "setup_ci_cd").error, api.AuthenticationError)
    # with a token given, it is the secrets: a configuration error of the role's preflight
    error = classify([event], "setup_ci_cd", token_given=True).error
    assert isinstance(error, api.ConfigurationError) and error.key == "cicd_secrets" and error.stage == "preflight"


def test_a_preflight_refusal_is_a_configuration_error_naming_the_variable():
    event = failed("Require a base URL that starts and ends with a slash",
                   {"msg": "frontend_base_url must start and end with '/' (got 'x')"},
                   path="roles/frontend/tasks/preflight.yml")
    error = classify([event]).error
    assert isinstance(error, api.ConfigurationError)
    assert (error.key, error.stage) == ("frontend_base_url", "preflight") and "Nothing" not in error.key


def test_unreachable_hosts_are_a_provisioning_error():
    event = failed("Check the release and runtime settings", {"msg": "Failed to connect to the host via ssh: "
                                                                     "No route to host", "unreachable": True},
                   host="app9", event="runner_on_unreachable", role="backend")
    error = classify([event], "deploy_backend", rc=4).error
    assert isinstance(error, api.ProvisioningError)
    assert "app9" in str(error) and "No route to host" in str(error) and error.failures[0].unreachable


@pytest.mark.parametrize("event", [
    failed("Create the branch", {"msg": "POST /projects/p/branches failed: HTTP 500", "status": 500},
           action="textbook.deploy.neon_branch", role="data"),
    failed("Apply the migrations", {"msg": "connection refused"}, action="community.postgresql.postgresql_script",
           role="data"),
    failed("Configure GitHub Pages", {"msg": "HTTP 503: unavailable after 6 attempts", "status": 503},
           action="textbook.deploy.github_pages"),
])
def test_data_services_and_apis_that_do_not_answer_are_provisioning_errors(event):
    result = classify([event])
    assert isinstance(result.error, api.ProvisioningError)
    assert event["event_data"]["task"] in str(result.error) and "on localhost" in str(result.error)


def test_a_frontend_deploy_rolled_back_returns_false_with_the_reason():
    events = [failed("Configure GitHub Pages and wait for the build of the published commit",
                     {"msg": "Pages build errored: Liquid syntax error", "status": None},
                     action="textbook.deploy.github_pages"),
              ok("Republish the previous commit", {"changed": True, "invocation": {"module_args": {
                  "rollback_to": "a" * 40, "token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}},
                 action="textbook.deploy.pages_publish"),
              failed("Fail the deploy and say what happened", {"msg": "Deploying textbook 2.0.0 failed ... Rolled "
                                                                      "back: ..."}, action="ansible.builtin.fail")]
    result = classify(events)
    assert result.error is None and not result.ok and result.rolled_back and result.outcome == "rolled_back"
    assert "Rolled back" in result.message and len(result.failures) == 2
    assert "Liquid syntax error" in result.failures[0].msg


def test_a_backend_switched_back_returns_false():
    events = [ok("Record the outcome for the audit log", {"ansible_facts": {"_backend_result": "rolled_back"}}),
              failed("Fail when a host failed after the switch (every host is back on the old release)",
                     {"msg": "Release 1.3.0 failed after the switch on app1"}, action="ansible.builtin.fail",
                     role="backend", path="roles/backend/tasks/activate.yml")]
    result = classify(events, "deploy_backend")
    assert result.error is None and result.rolled_back and "app1" in result.message


def test_a_release_failing_its_health_gate_returns_false():
    events = [failed("Wait until the idle color is ready and serves the release",
                     {"msg": "not ready after 30 s: HTTP 503", "status": 503}, action="textbook.deploy.health_gate",
                     role="backend", path="roles/backend/tasks/activate.yml"),
              failed("Fail when a host failed its gate (the old release keeps serving everywhere)",
                     {"msg": "Release 1.2.0 failed its health gate on app1"}, action="ansible.builtin.fail",
                     role="backend", path="roles/backend/tasks/activate.yml")]
    result = classify(events, "deploy_backend")
    assert result.error is None and result.outcome == "failed" and "failed its health gate" in result.message


def test_other_failures_return_false_without_a_rollback():
    events = [failed("Build the Docusaurus site", {"msg": "npm run build failed: %s" % TOKEN},
                     action="textbook.deploy.docusaurus_build")]
    result = classify(events)
    assert result.error is None and result.outcome == "failed" and not result.rolled_back
    assert TOKEN not in result.message and MASK in result.message


def test_loop_items_give_their_messages_and_status():
    event = failed("Write the workflows", {"msg": "One or more items failed", "results": [
        {"item": "ci", "failed": False}, {"item": "deploy-backend", "failed": True, "msg": "HTTP 401", "status": 401}]},
        action="textbook.deploy.github_workflow", role="cicd")
    result = classify([event], "setup_ci_cd")
    assert isinstance(result.error, api.AuthenticationError)
    assert result.failures[0].msg == "deploy-backend: HTTP 401" and result.failures[0].status == 401


def test_ignored_errors_do_not_count():
    event = failed("Probe", {"msg": "nope"})
    event["event_data"]["ignore_errors"] = True
    result = classify([event], status="successful", rc=0)
    assert result.ok and result.failures == []


def test_a_timeout_is_a_provisioning_error():
    assert isinstance(classify([], status="timeout", rc=254).error, api.ProvisioningError)


def test_a_run_that_fails_before_any_task_reports_ansibles_error():
    result = classify([], rc=1, errors=["ERROR! Attempting to decrypt but no vault secrets found"])
    assert isinstance(result.error, api.ConfigurationError)
    assert result.error.key == "vault_password" and "no vault secrets found" in str(result.error)


def test_a_successful_run_that_matched_no_host_is_not_a_success():
    log = ev.EventLog()
    log({"event": "playbook_on_stats", "event_data": {"processed": {}}})
    result = ev.classify("deploy_frontend", "successful", 0, log, Scrubber(), "deploy_frontend.yml")
    assert isinstance(result.error, api.ConfigurationError) and result.error.key == "inventory"


# --- scrubbing -----------------------------------------------------------------------------------------------

def test_scrubber_masks_every_form_of_a_secret():
    scrubber = Scrubber()
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    scrubber.add_tree({"cicd_secrets": {"DEPLOY_SSH_KEY": key}, "frontend_repo": "textbook/textbook",
                       "backend_database_url": "postgresql://app:s3cretpw@db/app", "debug": "no"})
    scrubber.add_environment({"GITHUB_TOKEN": TOKEN, "HOME": "/root", "NEON_API_KEY": "neon-key-123"})
    text = "\n".join([key, json.dumps(key), TOKEN, base64.b64encode(("x-access-token:" + TOKEN).encode()).decode(),
                      "password=s3cretpw", "neon-key-123", "textbook/textbook in /root"])
    scrubbed = scrubber.scrub(text)
    for secret in ("b3BlbnNzaC1rZXktdjEAAAAA", TOKEN, "s3cretpw", "neon-key-123", "eC1hY2Nlc3MtdG9rZW46"):
        assert secret not in scrubbed
    assert "textbook/textbook in /root" in scrubbed  # ordinary values stay


def test_the_api_is_outside_plugins_and_left_out_of_the_collection_tarball():
    import yaml

    ignored = yaml.safe_load((ROOT / "galaxy.yml").read_text())["build_ignore"]
    assert "api" in ignored
    assert api.__file__.startswith(str(ROOT / "api"))
