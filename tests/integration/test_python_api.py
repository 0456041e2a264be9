"""The Python API (textbook_deploy_api) for real, through ansible-runner: deploy_frontend and setup_ci_cd against
the GitHub stand-in (a real git server behind it), deploy_backend against sandbox hosts (BackendWorld, hosts
tbp-*, 10.84.0.0/24). What it proves: a good run returns True and a second run is still True (and changes nothing),
a bad token raises AuthenticationError with setup instructions, bad config raises ConfigurationError before
anything runs, a rolled-back deploy returns False with the reason in last_result(), an unreachable host raises
ProvisioningError, and no token or secret lands in the artifacts the API keeps.

The fixtures are the playbook tests' own (the tiny npm textbook, the CI/CD world).
"""
import base64
import json
import os
import sys
import uuid

import pytest

import textbook_deploy_api as api
from sandbox.backend_world import BackendWorld
from test_deploy_backend import versions_through_lb
from test_deploy_frontend import deploy_vars, live, remote_head, textbook, write  # noqa: F401 (fixture)
from test_setup_ci_cd import WORKFLOWS, git, world  # noqa: F401 (fixture)

PREFIX, SUBNET = "tbp", "10.84.0"  # no other test uses them
BACKEND_SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_watch_seconds": 3,
                    "backend_drain_seconds": 1, "backend_lock_timeout": 2, "backend_canary_window": 2,
                    "backend_canary_thresholds": {"slo_latency_ms": 5000}}


def kept_text(directory):
    """Everything the run left in its private data directory, as one string."""
    chunks = []
    for folder, _dirs, names in os.walk(str(directory)):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    chunks.append(handle.read())
    return "\n".join(chunks)


def assert_no_secret(directory, *secrets):
    text = kept_text(directory)
    assert text, "nothing was kept in %s" % directory
    for secret in secrets:
        for form in (secret, base64.b64encode(("x-access-token:" + secret).encode()).decode()):
            for line in form.splitlines():
                assert line not in text, "a secret is in the artifacts of %s" % directory


# --- deploy_frontend -----------------------------------------------------------------------------------------

def frontend_config(github, repo, textbook, tmp_path, **extra):  # noqa: F811 (the fixture's value)
    values = deploy_vars(github, repo, textbook, **extra)
    token = values.pop("frontend_github_token")
    values.pop("frontend_project_dir")
    return {"environment": "local", "extra_vars": values, "github_token": token,
            "private_data_dir": str(tmp_path / "runner")}


def test_deploy_frontend_returns_true_and_again_true_without_changes(github, textbook, tmp_path):  # noqa: F811
    config = frontend_config(github, "api-idem", textbook, tmp_path)
    assert api.deploy_frontend(str(textbook), config) is True
    first = api.last_result()
    assert first.ok and first.changed >= 3 and first.hosts == ["localhost"]
    assert json.loads(live(github, "api-idem"))["version"] == "1.0.0"
    # the run's job events are kept where config['private_data_dir'] says, the token masked out of them
    assert first.artifact_dir.startswith(config["private_data_dir"])
    assert os.listdir(os.path.join(first.artifact_dir, "job_events"))
    assert open(os.path.join(first.artifact_dir, "status")).read() == "successful"

    assert api.deploy_frontend(str(textbook), config) is True
    assert api.last_result().changed == 0
    assert_no_secret(tmp_path / "runner", github.token)
    assert github.violations() == []


def test_a_bad_token_raises_authentication_error_with_instructions(github, textbook, tmp_path):  # noqa: F811
    bad = "ghp_bad" + uuid.uuid4().hex[:24]
    config = dict(frontend_config(github, "api-badtoken", textbook, tmp_path), github_token=bad, verbosity=3)
    with pytest.raises(api.AuthenticationError) as caught:
        api.deploy_frontend(str(textbook), config)
    text = str(caught.value)
    assert "GitHub refused the token" in text and "authentication was refused" in text
    assert "config['github_token']" in text and "GITHUB_TOKEN" in text and "`repo`" in text
    assert caught.value.task == "Publish the build to the Pages branch" and caught.value.host == "localhost"
    assert bad not in text
    assert caught.value.result is api.last_result() and not api.last_result().ok
    assert remote_head(config["extra_vars"]["frontend_git_url"], github.token) is None  # nothing was pushed
    assert_no_secret(tmp_path / "runner", bad)


def test_bad_config_raises_before_anything_runs(github, textbook, tmp_path):  # noqa: F811
    config = dict(frontend_config(github, "api-badconfig", textbook, tmp_path), verbosity="loud")
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_frontend(str(textbook), config)
    assert caught.value.key == "verbosity" and caught.value.stage == "api"
    assert not (tmp_path / "runner").exists()  # ansible-runner never started
    assert remote_head(config["extra_vars"]["frontend_git_url"], github.token) is None
    assert not (textbook / "build").exists()


def test_a_value_the_role_refuses_is_a_configuration_error_of_its_preflight(github, textbook, tmp_path):  # noqa: F811
    config = frontend_config(github, "api-preflight", textbook, tmp_path, frontend_base_url="no-slashes")
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_frontend(str(textbook), config)
    assert (caught.value.key, caught.value.stage) == ("frontend_base_url", "preflight")
    assert "must start and end with '/'" in str(caught.value)
    assert not (textbook / "build").exists()


def test_a_deploy_that_was_rolled_back_returns_false_and_says_why(github, textbook, tmp_path):  # noqa: F811
    config = frontend_config(github, "api-rollback", textbook, tmp_path)
    assert api.deploy_frontend(str(textbook), config) is True
    good = json.loads(live(github, "api-rollback"))
    # the stand-in errors the Pages build of a tree holding .pages-build-error
    write(textbook / "src" / "index.html", "<h1>Chapter 1, second edition</h1>")
    write(textbook / "src" / ".pages-build-error", "Liquid syntax error in index.html")
    assert api.deploy_frontend(str(textbook), config) is False
    result = api.last_result()
    assert result.rolled_back and result.outcome == "rolled_back" and result.error is None
    assert "Rolled back" in result.message and "Liquid syntax error" in result.message
    assert any("Liquid syntax error" in failure.msg for failure in result.failures)
    assert json.loads(live(github, "api-rollback")) == good


# --- setup_ci_cd ---------------------------------------------------------------------------------------------

def cicd_config(world, tmp_path, **extra):  # noqa: F811
    values = dict(world["vars"], **extra)
    token = values.pop("cicd_github_token")
    values.pop("cicd_repo_path")
    world["home"].mkdir(exist_ok=True)
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}}
    # the secrets' fingerprints live under the controller's home: one per test, like one controller
    return {"inventory": inventory, "extra_vars": values, "github_token": token,
            "env": {"HOME": str(world["home"])}, "private_data_dir": str(tmp_path / "runner")}


def test_setup_ci_cd_returns_true_and_again_true_without_changes(github, world, tmp_path):  # noqa: F811
    config = dict(cicd_config(world, tmp_path), verbosity=3)
    assert api.setup_ci_cd(str(world["checkout"]), config) is True
    assert sorted(p.name for p in (world["checkout"] / ".github" / "workflows").iterdir()) == sorted(WORKFLOWS)
    arrived = github.secret_values("textbook", world["repo"], "production")
    assert {name: secret["value"] for name, secret in arrived.items()} == world["secrets"]

    assert api.setup_ci_cd(str(world["checkout"]), config) is True
    assert api.last_result().changed == 0
    assert len(git(world["checkout"], "log", "--format=%H").split()) == 3
    # -vvv, and still no token and no secret in what the API kept
    assert_no_secret(tmp_path / "runner", github.token, *world["secrets"].values())


def test_setup_ci_cd_with_a_token_lacking_its_scope(github, world, tmp_path):  # noqa: F811
    token = "ghp_noscope" + uuid.uuid4().hex[:20]
    github.add_token(token, [])
    with pytest.raises(api.AuthenticationError) as caught:
        api.setup_ci_cd(str(world["checkout"]), dict(cicd_config(world, tmp_path), github_token=token))
    text = str(caught.value)
    assert caught.value.status == 403 and "permissions" in text
    assert "cicd_github_token" in text and "`repo`" in text and "Environments (write)" in text
    assert token not in text
    assert not (world["checkout"] / ".github").exists()
    assert_no_secret(tmp_path / "runner", token)


def test_setup_ci_cd_bad_config(github, world, tmp_path):  # noqa: F811
    with pytest.raises(api.ConfigurationError) as caught:
        api.setup_ci_cd(str(world["checkout"] / "nowhere"), cicd_config(world, tmp_path))
    assert caught.value.key == "repo_path" and not (tmp_path / "runner").exists()
    with pytest.raises(api.ConfigurationError) as caught:
        api.setup_ci_cd(str(world["checkout"]), cicd_config(world, tmp_path, cicd_repo="textbook"))
    assert (caught.value.key, caught.value.stage) == ("cicd_repo", "preflight")
    assert not (world["checkout"] / ".github").exists()


# --- deploy_backend ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    with BackendWorld(tmp_path_factory.mktemp("api-backend"), PREFIX, SUBNET, BACKEND_SETTINGS) as world:
        yield world


def test_deploy_backend_returns_true_and_serves_the_release(backend, tmp_path):
    config = {"inventory": str(backend.inventory), "private_data_dir": str(tmp_path / "runner")}
    assert api.deploy_backend(["backend", "loadbalancer"], config) is True
    result = api.last_result()
    assert result.hosts == sorted([backend.lb["name"]] + [host["name"] for host in backend.apps])
    assert versions_through_lb(backend) == {"1.1.0"}
    password = backend.secrets["backend_database_url"].split("@")[0].rsplit(":", 1)[1]
    assert_no_secret(tmp_path / "runner", password, backend.secrets["backend_qdrant_api_key"])


def test_deploy_backend_alone_reads_the_database_url_through_the_data_role(backend, tmp_path):
    """No service settings in the inventory, only the data role's: the backend looks the URI up from Neon itself,
    and finds it unchanged (the release keeps serving, no restart), printing no secret."""
    inventory = backend.write_inventory(tmp_path / "inventory.json", data_settings={})
    config = {"inventory": str(inventory), "private_data_dir": str(tmp_path / "runner")}
    assert api.deploy_backend(["backend"], config) is True
    assert api.last_result().changed == 0
    assert versions_through_lb(backend) == {"1.1.0"}
    password = backend.secrets["backend_database_url"].split("@")[0].rsplit(":", 1)[1]
    assert_no_secret(tmp_path / "runner", password, backend.neon.api_key, backend.qdrant.api_key)


def test_deploy_backend_alone_without_a_database_says_what_to_run(backend, tmp_path):
    inventory = backend.write_inventory(tmp_path / "inventory.json", data_settings={"data_neon_branch": "staging"})
    config = {"inventory": str(inventory), "private_data_dir": str(tmp_path / "runner")}
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_backend(["backend"], config)
    message = str(caught.value)
    assert (caught.value.key, caught.value.stage) == ("backend_database_url", "preflight")
    assert "branch staging" in message and "provision_data.yml" in message and "hidden" not in message
    assert_no_secret(tmp_path / "runner", backend.neon.api_key, backend.qdrant.api_key)


def test_a_bad_service_setting_is_named_without_its_value(backend, tmp_path):
    config = {"inventory": str(backend.inventory), "private_data_dir": str(tmp_path / "runner"),
              "extra_vars": {"backend_database_url": "mysql://app:s3cr3t-value@db/chat"}}
    with pytest.raises(api.ConfigurationError) as caught:
        api.deploy_backend(["backend"], config)
    assert (caught.value.key, caught.value.stage) == ("backend_database_url", "preflight")
    assert "not a postgresql:// URI" in str(caught.value) and "hidden" not in str(caught.value)
    assert_no_secret(tmp_path / "runner", "s3cr3t-value")


def test_deploy_backend_to_an_unreachable_host_raises_provisioning_error(backend, tmp_path):
    inventory = backend.write_inventory(tmp_path / "inventory.json", extra_app_hosts=[("tbp-gone", SUBNET + ".99")])
    with pytest.raises(api.ProvisioningError) as caught:
        api.deploy_backend(["backend"], {"inventory": str(inventory)})
    assert "tbp-gone" in str(caught.value) and "unreachable" in str(caught.value)
    assert [failure.host for failure in caught.value.failures if failure.unreachable] == ["tbp-gone"]
    assert versions_through_lb(backend) == {"1.1.0"}  # nothing changed on the reachable hosts
    with pytest.raises(api.ConfigurationError):
        api.deploy_backend(["tbp-nohost"], {"inventory": str(inventory)})

