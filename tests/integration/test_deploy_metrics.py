"""The deploy_metrics callback: real ansible-playbook runs of throwaway playbooks with the callback enabled.

Checks the Prometheus textfile (parsed with prometheus_client's parser, and `promtool check metrics` when make's
prometheus-tools put promtool in .cache), the JSON audit log, a push to a real Pushgateway (Debian's 1.5 binary,
fetched by `make pushgateway`) and the Grafana annotation against the Grafana stand-in (sandbox/grafana: every request
and response checked against Grafana's OpenAPI description). Everything talks to loopback only.
"""
import json
import os
import signal
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, ansible_env, run_playbook
from sandbox.common.net import free_port

TOOLS = ROOT / ".cache" / "prometheus-tools" / "bin"
PUSHGATEWAY = TOOLS / "pushgateway"
PROMTOOL = TOOLS / "promtool"
PYTHON = ROOT / ".venv" / "bin" / "python"
TOKEN = "glsa_deployMetricsTestToken_0123456789abcdef"


def callback_env(tmp_path, **options):
    env = {
        "ANSIBLE_CALLBACKS_ENABLED": "textbook.deploy.deploy_metrics",
        "TEXTBOOK_DEPLOY_METRICS_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "TEXTBOOK_DEPLOY_METRICS_AUDIT_LOG": str(tmp_path / "audit" / "deploys.jsonl"),
    }
    for name, value in options.items():
        key = "TEXTBOOK_DEPLOY_METRICS_" + name.upper()
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def write_playbook(tmp_path, name, tasks, play_vars=None, hosts="localhost"):
    play = {"name": "Throwaway deploy", "hosts": hosts, "connection": "local", "gather_facts": False,
            "vars": play_vars or {}, "tasks": tasks}
    path = tmp_path / f"{name}.yml"
    path.write_text(json.dumps([play], indent=1))  # JSON is YAML
    return path


CHANGED = {"name": "Change something", "ansible.builtin.command": "true"}
OK = {"name": "Say hello", "ansible.builtin.debug": {"msg": "hello"}}
FAIL = {"name": "Fail", "ansible.builtin.fail": {"msg": "broken on purpose"}}


def textfile(tmp_path):
    return tmp_path / "textfile" / "textbook_deploy.prom"


def samples(text):
    """{(sample name, frozenset of labels): value} of an exposition text; also checks its HELP and TYPE lines."""
    result = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("textbook_deploy"):
            assert family.documentation, family.name
            counters = ("textbook_deploy_runs", "textbook_deploy_canary_verdicts")
            assert family.type == ("counter" if family.name in counters else "gauge"), family
        for sample in family.samples:
            result[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return result


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def series(metrics, **labels):
    """Names of the samples whose labels include labels."""
    wanted = set(labels.items())
    return {name for (name, key) in metrics if wanted <= set(key)}


def read_metrics(tmp_path):
    text = textfile(tmp_path).read_text()
    if PROMTOOL.exists():  # installed by make prometheus-tools; the parser above is the check we rely on
        proc = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return samples(text)


def audit_lines(tmp_path):
    return [json.loads(line) for line in (tmp_path / "audit" / "deploys.jsonl").read_text().splitlines()]


def run(tmp_path, playbook, env=None, inventory=None, **kwargs):
    if inventory is None:  # an explicit localhost: no "implicit localhost" warnings to tell apart from ours
        inventory = tmp_path / "localhost.ini"
        inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={PYTHON}\n")
    return run_playbook(playbook, env=dict(callback_env(tmp_path), **(env or {})), inventory=inventory, **kwargs)


def test_succeeded_run_writes_the_textfile(tmp_path):
    playbook = write_playbook(tmp_path, "deploy_frontend", [CHANGED, OK, CHANGED],
                              {"deploy_environment": "staging", "deploy_version": "2.0.1"})
    before = time.time()
    proc = run(tmp_path, playbook)
    after = time.time()
    assert proc.returncode == 0, proc.stdout
    assert "WARNING" not in proc.stdout, proc.stdout
    path = textfile(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")] == ["textbook_deploy.prom"]
    text = path.read_text()
    assert "# TYPE textbook_deploy_runs_total counter" in text
    assert "# TYPE textbook_deploy_info gauge" in text
    metrics = read_metrics(tmp_path)
    mine = {"environment": "staging", "playbook": "deploy_frontend"}
    assert value(metrics, "textbook_deploy_runs_total", result="succeeded", **mine) == 1
    assert value(metrics, "textbook_deploy_runs_total", result="failed", **mine) is None
    assert value(metrics, "textbook_deploy_in_progress", **mine) == 0
    assert value(metrics, "textbook_deploy_last_changed", **mine) == 2
    assert value(metrics, "textbook_deploy_last_failed", **mine) == 0
    assert value(metrics, "textbook_deploy_info", version="2.0.1", **mine) == 1
    started = value(metrics, "textbook_deploy_started_timestamp_seconds", **mine)
    success = value(metrics, "textbook_deploy_last_success_timestamp_seconds", **mine)
    duration = value(metrics, "textbook_deploy_last_duration_seconds", **mine)
    assert before <= started <= success <= after
    assert 0 < duration <= after - before
    assert abs((success - started) - duration) < 0.01
    # exactly the eight metric names, and nothing but this run's series
    assert {name for name, _ in metrics} == {
        "textbook_deploy_runs_total", "textbook_deploy_in_progress", "textbook_deploy_started_timestamp_seconds",
        "textbook_deploy_last_duration_seconds", "textbook_deploy_last_success_timestamp_seconds",
        "textbook_deploy_last_changed", "textbook_deploy_last_failed", "textbook_deploy_info"}
    assert len(metrics) == 8


def test_second_run_increments_runs_total(tmp_path):
    playbook = write_playbook(tmp_path, "deploy_backend", [OK], {"deploy_environment": "staging"})
    mine = {"environment": "staging", "playbook": "deploy_backend"}
    assert run(tmp_path, playbook).returncode == 0
    first = read_metrics(tmp_path)
    assert run(tmp_path, playbook).returncode == 0
    second = read_metrics(tmp_path)
    assert value(first, "textbook_deploy_runs_total", result="succeeded", **mine) == 1
    assert value(second, "textbook_deploy_runs_total", result="succeeded", **mine) == 2
    assert (value(second, "textbook_deploy_started_timestamp_seconds", **mine)
            > value(first, "textbook_deploy_last_success_timestamp_seconds", **mine))
    assert value(second, "textbook_deploy_last_changed", **mine) == 0


def test_failed_run_is_counted_as_failed(tmp_path):
    good = write_playbook(tmp_path, "deploy_backend", [OK], {"deploy_environment": "production"})
    assert run(tmp_path, good).returncode == 0
    succeeded_at = value(read_metrics(tmp_path), "textbook_deploy_last_success_timestamp_seconds",
                         environment="production", playbook="deploy_backend")
    bad = write_playbook(tmp_path, "deploy_backend", [CHANGED, FAIL, OK], {"deploy_environment": "production"})
    proc = run(tmp_path, bad)
    assert proc.returncode != 0
    metrics = read_metrics(tmp_path)
    mine = {"environment": "production", "playbook": "deploy_backend"}
    assert value(metrics, "textbook_deploy_runs_total", result="succeeded", **mine) == 1
    assert value(metrics, "textbook_deploy_runs_total", result="failed", **mine) == 1
    assert value(metrics, "textbook_deploy_last_failed", **mine) == 1
    assert value(metrics, "textbook_deploy_last_changed", **mine) == 1
    assert value(metrics, "textbook_deploy_in_progress", **mine) == 0
    # the last success stays the earlier run's
    assert value(metrics, "textbook_deploy_last_success_timestamp_seconds", **mine) == succeeded_at
    assert audit_lines(tmp_path)[-1]["result"] == "failed"


def test_unreachable_host_fails_the_run(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"ghost ansible_host=127.0.0.1 ansible_port={free_port()} ansible_connection=ssh "
                         "ansible_ssh_common_args='-o ConnectTimeout=3'\n[all:vars]\ndeploy_environment=qa\n")
    ping = {"name": "Connect", "ansible.builtin.ping": {}}
    play = [{"name": "Unreachable", "hosts": "ghost", "gather_facts": False, "tasks": [ping]}]
    playbook = tmp_path / "deploy_ghost.yaml"
    playbook.write_text(json.dumps(play))
    proc = run(tmp_path, playbook, inventory=inventory)
    assert "UNREACHABLE" in proc.stdout, proc.stdout
    metrics = read_metrics(tmp_path)
    mine = {"environment": "qa", "playbook": "deploy_ghost"}
    assert value(metrics, "textbook_deploy_runs_total", result="failed", **mine) == 1
    assert value(metrics, "textbook_deploy_last_failed", **mine) == 0
    line = audit_lines(tmp_path)[-1]
    assert line["counts"]["unreachable"] == 1 and line["result"] == "failed" and line["hosts"] == ["ghost"]


def test_in_progress_is_1_during_the_run_and_0_after(tmp_path):
    during = tmp_path / "during.prom"
    copy = {"name": "Copy the textfile while the run is in progress",
            "ansible.builtin.copy": {"src": str(textfile(tmp_path)), "dest": str(during), "remote_src": True,
                                     "mode": "0644"}}
    playbook = write_playbook(tmp_path, "deploy_frontend", [copy], {"deploy_environment": "staging"})
    proc = run(tmp_path, playbook)
    assert proc.returncode == 0, proc.stdout
    mine = {"environment": "staging", "playbook": "deploy_frontend"}
    while_running = samples(during.read_text())
    assert value(while_running, "textbook_deploy_in_progress", **mine) == 1
    assert value(while_running, "textbook_deploy_started_timestamp_seconds", **mine) > 0
    assert value(while_running, "textbook_deploy_runs_total", result="succeeded", **mine) is None
    after = read_metrics(tmp_path)
    assert value(after, "textbook_deploy_in_progress", **mine) == 0
    assert (value(after, "textbook_deploy_started_timestamp_seconds", **mine)
            == value(while_running, "textbook_deploy_started_timestamp_seconds", **mine))


def inventory_dir(tmp_path, environment):
    path = tmp_path / "inventories" / environment
    (path / "group_vars" / "all").mkdir(parents=True)
    (path / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                                            "ansible_python_interpreter": str(PYTHON)}}}}))
    (path / "group_vars" / "all" / "main.yml").write_text(json.dumps({"deploy_environment": environment}))
    return path


def test_two_environments_keep_each_others_series(tmp_path):
    """deploy_environment from inventory group_vars (as in inventories/*), two environments and two playbooks."""
    frontend = write_playbook(tmp_path, "deploy_frontend", [OK], {"frontend_version": "1.0.0"})
    backend = write_playbook(tmp_path, "deploy_backend", [OK], {"backend_version": "0.9.0"})
    staging, production = inventory_dir(tmp_path, "staging"), inventory_dir(tmp_path, "production")
    for playbook, inventory in ((frontend, staging), (frontend, production), (backend, staging),
                                (frontend, staging)):
        proc = run(tmp_path, playbook, inventory=inventory)
        assert proc.returncode == 0, proc.stdout
    metrics = read_metrics(tmp_path)
    runs = "textbook_deploy_runs_total"
    assert value(metrics, runs, environment="staging", playbook="deploy_frontend", result="succeeded") == 2
    assert value(metrics, runs, environment="production", playbook="deploy_frontend", result="succeeded") == 1
    assert value(metrics, runs, environment="staging", playbook="deploy_backend", result="succeeded") == 1
    for environment, playbook, version in (("staging", "deploy_frontend", "1.0.0"),
                                           ("production", "deploy_frontend", "1.0.0"),
                                           ("staging", "deploy_backend", "0.9.0")):
        assert len(series(metrics, environment=environment, playbook=playbook)) == 8, (environment, playbook)
        assert value(metrics, "textbook_deploy_info", environment=environment, playbook=playbook,
                     version=version) == 1
    assert not series(metrics, environment="unknown")


def test_version_precedence_and_set_fact(tmp_path):
    """deploy_version > backend_version > frontend_version; a version set during the run with set_fact counts,
    templates are rendered, and without any of them the version (and the environment) is "unknown"."""
    set_version = {"name": "Version known only at run time",
                   "ansible.builtin.set_fact": {"frontend_version": "{{ '3.' ~ (2 + 2) }}"}}
    playbook = write_playbook(tmp_path, "deploy_site", [set_version], {"deploy_environment": "local"})
    mine = {"environment": "local", "playbook": "deploy_site"}
    assert run(tmp_path, playbook).returncode == 0
    assert value(read_metrics(tmp_path), "textbook_deploy_info", version="3.4", **mine) == 1
    playbook = write_playbook(tmp_path, "deploy_site", [set_version],
                              {"deploy_environment": "local", "backend_version": "{{ '0.' ~ 7 }}"})
    assert run(tmp_path, playbook).returncode == 0
    metrics = read_metrics(tmp_path)
    assert value(metrics, "textbook_deploy_info", version="0.7", **mine) == 1
    assert value(metrics, "textbook_deploy_info", version="3.4", **mine) is None  # one info series per pair
    assert run(tmp_path, playbook, extra_vars={"deploy_version": "9.9.9"}).returncode == 0
    assert value(read_metrics(tmp_path), "textbook_deploy_info", version="9.9.9", **mine) == 1
    bare = write_playbook(tmp_path, "bare", [OK])
    assert run(tmp_path, bare).returncode == 0
    assert value(read_metrics(tmp_path), "textbook_deploy_info", environment="unknown", playbook="bare",
                 version="unknown") == 1
    assert [line["version"] for line in audit_lines(tmp_path)] == ["3.4", "0.7", "9.9.9", "unknown"]


def test_label_values_are_escaped(tmp_path):
    odd = 'qa "blue"\\green\nline'
    playbook = write_playbook(tmp_path, "deploy_odd", [OK], {"deploy_environment": odd})
    assert run(tmp_path, playbook).returncode == 0
    metrics = read_metrics(tmp_path)
    assert value(metrics, "textbook_deploy_runs_total", environment=odd, playbook="deploy_odd",
                 result="succeeded") == 1
    assert run(tmp_path, playbook).returncode == 0  # read back and added to
    assert value(read_metrics(tmp_path), "textbook_deploy_runs_total", environment=odd, playbook="deploy_odd",
                 result="succeeded") == 2


def test_audit_log_line(tmp_path):
    playbook = write_playbook(tmp_path, "deploy_backend", [CHANGED, OK],
                              {"deploy_environment": "staging", "backend_version": "1.4.0"})
    before = time.time()
    assert run(tmp_path, playbook, env={"USER": "deployer-alice"}).returncode == 0
    assert run(tmp_path, playbook, env={"USER": "deployer-bob"}, check=True).returncode == 0
    path = tmp_path / "audit" / "deploys.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    first, second = audit_lines(tmp_path)
    assert set(first) == {"time", "started", "environment", "playbook", "result", "duration_seconds", "counts",
                          "version", "user", "hosts", "interrupted", "check_mode"}
    assert first["environment"] == "staging" and first["playbook"] == "deploy_backend"
    assert first["result"] == "succeeded" and first["version"] == "1.4.0"
    assert first["counts"] == {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0}
    assert first["user"] == "deployer-alice" and second["user"] == "deployer-bob"
    assert first["hosts"] == ["localhost"]
    assert first["interrupted"] is False and first["check_mode"] is False and second["check_mode"] is True
    from datetime import datetime
    started, ended = (datetime.fromisoformat(first[key]).timestamp() for key in ("started", "time"))
    assert before <= started <= ended
    assert abs((ended - started) - first["duration_seconds"]) < 0.01


def test_interrupted_run_is_failed(tmp_path):
    marker = tmp_path / "sleeping"
    sleep = {"name": "Take long", "ansible.builtin.shell": f"touch {marker} && sleep 60"}
    playbook = write_playbook(tmp_path, "deploy_backend", [sleep], {"deploy_environment": "staging"})
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook)]
    proc = subprocess.Popen(cmd, env=ansible_env(callback_env(tmp_path)), cwd=str(ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the playbook never reached its long task"
        mine = {"environment": "staging", "playbook": "deploy_backend"}
        assert value(read_metrics(tmp_path), "textbook_deploy_in_progress", **mine) == 1
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, output
    metrics = read_metrics(tmp_path)
    assert value(metrics, "textbook_deploy_runs_total", result="failed", **mine) == 1, output
    assert value(metrics, "textbook_deploy_in_progress", **mine) == 0
    assert value(metrics, "textbook_deploy_last_success_timestamp_seconds", **mine) is None
    line = audit_lines(tmp_path)[-1]
    assert line["interrupted"] is True and line["result"] == "failed"


# --- Pushgateway ----------------------------------------------------------------------------------------------------

@pytest.fixture
def pushgateway(tmp_path):
    assert PUSHGATEWAY.exists(), f"{PUSHGATEWAY} is missing: run `make pushgateway`"
    port = free_port()
    log = open(tmp_path / "pushgateway.log", "w")
    proc = subprocess.Popen([str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}"], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "pushgateway.log").read_text())
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def gateway_metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return samples(response.read().decode())


def test_pushgateway_receives_the_runs_metrics(tmp_path, pushgateway):
    env = {"TEXTBOOK_DEPLOY_METRICS_PUSHGATEWAY_URL": pushgateway}
    for tasks, play_vars in (([CHANGED], {"deploy_environment": "staging", "deploy_version": "5.1.0"}),
                             ([CHANGED], {"deploy_environment": "staging", "deploy_version": "5.1.0"}),
                             ([OK], {"deploy_environment": "production"})):
        proc = run(tmp_path, write_playbook(tmp_path, "deploy_backend", tasks, play_vars), env=env)
        assert proc.returncode == 0 and "WARNING" not in proc.stdout, proc.stdout
    metrics = gateway_metrics(pushgateway)
    group = {"job": "textbook_deploy", "instance": "", "playbook": "deploy_backend"}
    assert value(metrics, "textbook_deploy_runs_total", environment="staging", result="succeeded", **group) == 2
    assert value(metrics, "textbook_deploy_runs_total", environment="production", result="succeeded",
                 **group) == 1
    assert value(metrics, "textbook_deploy_in_progress", environment="staging", **group) == 0
    assert value(metrics, "textbook_deploy_last_changed", environment="staging", **group) == 1
    assert value(metrics, "textbook_deploy_info", environment="staging", version="5.1.0", **group) == 1
    assert value(metrics, "textbook_deploy_info", environment="production", version="unknown", **group) == 1
    # the pushed values are the textfile's
    local = read_metrics(tmp_path)
    for name, key in local:
        labels = dict(key)
        assert value(metrics, name, job="textbook_deploy", instance="", **labels) == local[(name, key)], name
    # the pushgateway saw a successful push for each group
    assert value(metrics, "push_failure_time_seconds", environment="staging", **group) == 0
    assert value(metrics, "push_time_seconds", environment="production", **group) > 0


def test_pushgateway_without_textfile(tmp_path, pushgateway):
    env = {"TEXTBOOK_DEPLOY_METRICS_PUSHGATEWAY_URL": pushgateway, "TEXTBOOK_DEPLOY_METRICS_TEXTFILE_DIR": ""}
    before = set(os.listdir(ROOT))
    playbook = write_playbook(tmp_path, "deploy_frontend", [FAIL], {"deploy_environment": "staging"})
    proc = run(tmp_path, playbook, env=env)
    assert proc.returncode != 0 and "WARNING" not in proc.stdout, proc.stdout
    assert not textfile(tmp_path).exists()
    assert set(os.listdir(ROOT)) - before == set()  # an empty textfile_dir is no textfile, not the current directory
    metrics = gateway_metrics(pushgateway)
    group = {"job": "textbook_deploy", "instance": "", "environment": "staging", "playbook": "deploy_frontend"}
    assert value(metrics, "textbook_deploy_runs_total", result="failed", **group) == 1
    assert value(metrics, "textbook_deploy_last_failed", **group) == 1


# --- Grafana --------------------------------------------------------------------------------------------------------

def test_grafana_annotation_with_the_token_never_shown(tmp_path, grafana):
    token = grafana.token
    env = {"TEXTBOOK_DEPLOY_METRICS_GRAFANA_URL": grafana.url + "/", "TEXTBOOK_DEPLOY_METRICS_GRAFANA_TOKEN": token}
    good = write_playbook(tmp_path, "deploy_frontend", [CHANGED],
                          {"deploy_environment": "staging", "frontend_version": "1.2.3"})
    before = int(time.time() * 1000)
    proc = run(tmp_path, good, env=env, verbosity=3)
    after = int(time.time() * 1000)
    assert proc.returncode == 0, proc.stdout
    bad = write_playbook(tmp_path, "deploy_frontend", [FAIL], {"deploy_environment": "staging"})
    failed = run(tmp_path, bad, env=env, verbosity=4)
    assert failed.returncode != 0
    assert grafana.violations() == []
    assert [r["path"] for r in grafana.requests()] == ["/annotations"] * 2
    assert len(grafana.annotations()) == 2, proc.stdout
    first, second = grafana.annotations()
    assert first["tags"] == ["deploy", "staging", "deploy_frontend", "succeeded"]
    assert second["tags"] == ["deploy", "staging", "deploy_frontend", "failed"]
    assert before <= first["time"] <= first["timeEnd"] <= after
    assert "1.2.3" in first["text"] and "changed=1" in first["text"]
    for output in (proc.stdout, failed.stdout):
        assert token not in output
        assert token[5:20] not in output
        assert "WARNING" not in output
    for path in (tmp_path / "audit" / "deploys.jsonl", textfile(tmp_path)):
        assert token not in path.read_text()


def test_grafana_rejecting_the_token_only_warns(tmp_path, grafana):
    env = {"TEXTBOOK_DEPLOY_METRICS_GRAFANA_URL": grafana.url, "TEXTBOOK_DEPLOY_METRICS_GRAFANA_TOKEN": "wrong-token"}
    playbook = write_playbook(tmp_path, "deploy_frontend", [OK], {"deploy_environment": "staging"})
    proc = run(tmp_path, playbook, env=env)
    assert proc.returncode == 0, proc.stdout
    assert grafana.annotations() == [] and grafana.violations() == []
    assert grafana.requests() == [{"method": "POST", "path": "/annotations", "status": 401}]
    assert "Grafana annotation" in proc.stdout and "401" in proc.stdout, proc.stdout
    assert "wrong-token" not in proc.stdout


def test_unreachable_pushgateway_and_grafana_only_warn(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    env = {"TEXTBOOK_DEPLOY_METRICS_PUSHGATEWAY_URL": closed, "TEXTBOOK_DEPLOY_METRICS_GRAFANA_URL": closed,
           "TEXTBOOK_DEPLOY_METRICS_GRAFANA_TOKEN": TOKEN, "TEXTBOOK_DEPLOY_METRICS_TIMEOUT": "2"}
    playbook = write_playbook(tmp_path, "deploy_backend", [OK], {"deploy_environment": "staging"})
    started = time.time()
    proc = run(tmp_path, playbook, env=env, verbosity=3)
    assert proc.returncode == 0, proc.stdout
    assert time.time() - started < 60
    warnings = [line for line in proc.stdout.splitlines() if "[WARNING]" in line and "deploy_metrics" in line]
    assert any("Pushgateway" in line for line in warnings), proc.stdout
    assert any("Grafana" in line for line in warnings), proc.stdout
    assert TOKEN not in proc.stdout
    # the local records are still written
    assert value(read_metrics(tmp_path), "textbook_deploy_runs_total", environment="staging",
                 playbook="deploy_backend", result="succeeded") == 1
    assert audit_lines(tmp_path)[-1]["result"] == "succeeded"


def test_a_rollout_step_is_counted_and_annotated_as_it_ends(tmp_path, grafana):
    """A canary step's verdict: the textbook_deploy_canary_verdicts_total counter and one Grafana annotation per
    step, besides the run's own."""
    env = {"TEXTBOOK_DEPLOY_METRICS_GRAFANA_URL": grafana.url, "TEXTBOOK_DEPLOY_METRICS_GRAFANA_TOKEN": grafana.token}
    log = tmp_path / "upstream.log"
    log.touch()
    # nothing listens on the canary's port: its synthetic questions are refused, so the step fails on errors
    step = {"name": "Judge the step", "textbook.deploy.canary_analysis": {
        "log": str(log), "canary_port": free_port(), "window": 2, "percent": 10, "questions": ["What is a node?"],
        "thresholds": {"min_requests": 5}}, "ignore_errors": True}
    playbook = write_playbook(tmp_path, "deploy_backend", [step], {"deploy_environment": "staging"})
    proc = run(tmp_path, playbook, env=env)
    assert proc.returncode == 0, proc.stdout
    metrics = read_metrics(tmp_path)
    assert value(metrics, "textbook_deploy_canary_verdicts_total", environment="staging", playbook="deploy_backend",
                 outcome="failed", metric="error-ratio") == 1
    assert grafana.violations() == []
    step_notes = [note for note in grafana.annotations() if "canary" in note["tags"]]
    assert len(step_notes) == 1 and len(grafana.annotations()) == 2
    note = step_notes[0]
    assert note["tags"] == ["deploy", "canary", "staging", "failed"]
    assert note["text"].startswith("localhost: 10 % step failed: error ratio 100.00 %"), note
    assert note["time"] < note["timeEnd"]  # it spans the step's window
