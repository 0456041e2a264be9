"""deploy_backend.yml and rollback_backend.yml against three sandbox hosts (a load balancer and two app hosts),
verified from the load balancer.

The service's database is a Neon stand-in project and its collection lives in the Qdrant stand-in, both listening
on the hosts' bridge. Releases are the example service as it is (1.1.0) and copies of it: an upgrade (1.2.0), and
bad releases built from it (sandbox/backend_world.py): /readyz never succeeds (1.3.0), crashes 6 s after it starts
(1.4.0), POST /api/chat answers 500 (1.5.0), 30 % of the questions fail (1.6.0), the questions take 0.8 s longer
(1.7.0). The tests run in order and share the hosts: each starts from the state the one before left.
"""
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, ansible_env, run_adhoc, run_playbook
from sandbox.backend_world import (BackendWorld, chat_fails, chat_fails_sometimes, chat_slow, crashes_after_start,
                                   never_ready)
from sandbox.load import Load

PREFIX, SUBNET = "tbd", "10.79.0"  # neither the demo's hosts nor tests/sandbox/test_hosts.py's
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
ROLLBACK = ROOT / "playbooks" / "rollback_backend.yml"
SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_canary_window": 3,
            "backend_watch_seconds": 4, "backend_drain_seconds": 1, "backend_lock_timeout": 2,
            # the sandbox's hosts share two cores with the other tests: answers are slow now and then, and an SLO
            # is not what these tests judge (the release against the stable one is)
            "backend_canary_thresholds": {"slo_latency_ms": 5000}}
BAD = {"1.3.0": never_ready, "1.4.0": crashes_after_start, "1.5.0": chat_fails, "1.6.0": chat_fails_sometimes,
       "1.7.0": chat_slow}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The hosts, the stand-ins on their bridge, the releases' sources and an inventory."""
    with BackendWorld(tmp_path_factory.mktemp("backend"), PREFIX, SUBNET, SETTINGS) as world:
        world.sources = {"1.2.0": world.release("1.2.0")}
        world.sources.update((version, world.release(version, patch)) for version, patch in BAD.items())
        yield world


def deploy(world, version=None, extra=None, verbosity=0, playbook=DEPLOY):
    extra_vars = dict(extra or {})
    if version:
        extra_vars.update(backend_source=str(world.sources[version]))
    return run_playbook(playbook, inventory=world.inventory, extra_vars=extra_vars, verbosity=verbosity)


def recap(proc):
    """{host: {ok: n, changed: n, failed: n, ...}} from the PLAY RECAP."""
    totals = {}
    for name, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        totals[name] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return totals


def through_lb(world, path="/version", requests=6):
    """What the load balancer answers for `path`, asked from the load balancer host itself."""
    script = ("import json, urllib.request\n"
              "for _ in range(%d):\n"
              "    with urllib.request.urlopen('http://127.0.0.1%s', timeout=5) as r: print(r.read().decode())\n"
              % (requests, path))
    out = world.ssh(world.lb, "python3 -c %s" % shell_quote(script)).stdout
    return [json.loads(line) for line in out.splitlines()]


def versions_through_lb(world):
    return {answer["version"] for answer in through_lb(world)}


def on_app(world, index, command):
    return world.ssh(world.apps[index], command, check=False).stdout.strip()


def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def live_color(world, index):
    return on_app(world, index, "readlink /opt/chat-api/live")


def color_version(world, index, color):
    """The release a color answers /version with on its own port ('' when it does not answer)."""
    port = {"blue": 8001, "green": 8002}[color]
    script = ("import json, urllib.request\n"
              "print(json.load(urllib.request.urlopen('http://127.0.0.1:%d/version', timeout=5))['version'])" % port)
    return on_app(world, index, "python3 -c %s 2>/dev/null" % shell_quote(script))


def assert_standby(world, index, color, version):
    """The color runs `version` out of traffic: the warm standby a rollback to it needs not start."""
    assert on_app(world, index, "systemctl is-active chat-api@%s" % color) == "active"
    assert on_app(world, index, "readlink /opt/chat-api/%s" % color) == "releases/" + version
    assert color_version(world, index, color) == version


def audit(world, index):
    out = on_app(world, index, "cat /var/log/chat-api/deploy.log")
    return [json.loads(line) for line in out.splitlines()]


def pinned(name):
    """The version examples/chat_api/constraints.txt pins `name` to."""
    text = (ROOT / "examples" / "chat_api" / "constraints.txt").read_text()
    return re.search(r"(?m)^%s==(\S+)$" % re.escape(name), text).group(1)


def test_first_deploy_serves_the_release_through_the_load_balancer(world):
    proc = deploy(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.1.0"}
    assert through_lb(world, "/readyz", 2)[0]["status"] == "ready"
    for index in (0, 1):
        assert live_color(world, index) == "blue"
        assert on_app(world, index, "readlink /opt/chat-api/blue") == "releases/1.1.0"
        assert on_app(world, index, "systemctl is-active chat-api@blue chat-api@green").split() == ["active",
                                                                                                   "inactive"]
        assert on_app(world, index, "systemctl is-enabled chat-api@blue") == "enabled"
        # the service runs unprivileged and hardened; its secrets are readable by root only
        shown = on_app(world, index, "systemctl show chat-api@blue -p User -p NoNewPrivileges -p ProtectSystem "
                                     "-p PrivateTmp")
        assert set(shown.splitlines()) == {"User=chat-api", "NoNewPrivileges=yes", "ProtectSystem=strict",
                                           "PrivateTmp=yes"}
        assert on_app(world, index, "ps -o user= -C uvicorn | sort -u") == "chat-api"
        assert on_app(world, index, "stat -c '%a %U' /etc/chat-api/chat-api.env") == "600 root"
        # installed from the wheelhouse alone, into a venv without pip (nothing there could ask an index), with the
        # dependency versions the service is tested with (its constraints.txt), and marked complete
        release = "/opt/chat-api/releases/1.1.0"
        assert on_app(world, index, f"ls {release}/wheels | grep -c '^fastapi-%s-'" % pinned("fastapi")) == "1"
        assert on_app(world, index, f"ls {release}/venv/lib/python3*/site-packages | grep -c '^fastapi-%s.dist-info$'"
                      % pinned("fastapi")) == "1"
        assert on_app(world, index, f"ls {release}/venv/bin | grep -c '^pip'; true") == "0"
        assert on_app(world, index, f"test -e {release}/venv/.complete && echo complete") == "complete"
        entry = audit(world, index)[-1]
        assert (entry["action"], entry["version"], entry["result"]) == ("deploy", "1.1.0", "succeeded")
    assert (world.wheelhouses / "textbook-chat-api-1.1.0.wheelhouse.tar").exists()


def test_rerun_changes_nothing(world):
    before = audit(world, 0)
    proc = deploy(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert {host: counts["changed"] for host, counts in recap(proc).items()} == {
        host: 0 for host in recap(proc)}, proc.stdout[-6000:]
    assert len(recap(proc)) == 3  # the load balancer and the app hosts
    assert audit(world, 0) == before  # nothing deployed, nothing recorded


def test_upgrade_switches_every_host_to_the_new_color(world):
    proc = deploy(world, "1.2.0")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert steps_taken(proc) == [10, 50, 100]
    assert versions_through_lb(world) == {"1.2.0"}
    for index in (0, 1):
        assert live_color(world, index) == "green"
        assert on_app(world, index, "readlink /opt/chat-api/green") == "releases/1.2.0"
        # the old color stays up out of traffic, the warm standby for a rollback
        assert_standby(world, index, "blue", "1.1.0")
        # the new color serves alone again, and no rollout is left in progress
        assert nginx_upstream(world, index) == [("8002", " weight=1 max_fails=1 fail_timeout=10s")]
        assert on_app(world, index, "test -e /var/lib/chat-api/rollout.json && echo left") == ""


def run_module_on(world, host, module, args):
    """One of our modules run ad hoc on a sandbox host; returns its result."""
    return run_adhoc(host["name"], world.inventory, "textbook.deploy." + module, args)[host["name"]]


def test_blue_green_info_reads_the_hosts_colors_in_one_step(world):
    result = run_module_on(world, world.apps[0], "blue_green_info",
                           {"root": "/opt/chat-api", "unit": "chat-api@{color}.service",
                            "ports": {"blue": 8001, "green": 8002}})
    assert (result["live"], result["releases"], result["running"]) == (
        "green", {"blue": "1.1.0", "green": "1.2.0"}, ["blue", "green"]), result
    assert result["ready"] == {"blue": "1.1.0", "green": "1.2.0"}  # the standby is warm
    assert result["installed"] == ["1.2.0", "1.1.0"] and result["changed"] is False


def test_nginx_site_puts_back_a_site_nginx_rejects(world):
    site = "/etc/nginx/conf.d/chat-api.conf"
    before = on_app(world, 0, "sha256sum %s" % site)
    result = run_module_on(world, world.apps[0], "nginx_site",
                           {"path": site, "content": "server { listen 80; no_such_directive on; }\n"})
    assert result.get("failed") and "no_such_directive" in result["msg"] and "put back" in result["msg"], result
    assert on_app(world, 0, "sha256sum %s" % site) == before
    assert on_app(world, 0, "ls -A /etc/nginx/conf.d") == "chat-api.conf"  # no temporary file left
    assert versions_through_lb(world) == {"1.2.0"}  # nginx was not reloaded with it


def nginx_upstream(world, index):
    """The app host's nginx upstream servers, as written."""
    return re.findall(r"(?m)^\s*server 127\.0\.0\.1:(\d+)([^;]*);", on_app(world, index, "cat /etc/nginx/conf.d/chat-api.conf"))


def steps_taken(proc):
    """The traffic shares (%) the new color was given on some host, in order."""
    return [int(share) for share in re.findall(
        r"share of the requests \(checked with nginx -t, reloaded gracefully\), (\d+) %\] \*+\n(?:changed|ok): ",
        proc.stdout)]


def assert_old_release_serves_alone(world, version="1.2.0", color="green", standby="1.1.0"):
    """Only `version` answers, from `color`; the other color is back to the warm standby running `standby`."""
    assert versions_through_lb(world) == {version}
    other = "blue" if color == "green" else "green"
    for index in (0, 1):
        assert live_color(world, index) == color
        assert on_app(world, index, "systemctl is-active chat-api@%s" % color) == "active"
        assert_standby(world, index, other, standby)
        assert [port for port, _options in nginx_upstream(world, index)] == [
            {"blue": "8001", "green": "8002"}[color]]
        assert on_app(world, index, "test -e /var/lib/chat-api/rollout.json && echo left") == ""


def test_a_release_failing_its_gate_leaves_the_old_one_serving(world):
    proc = deploy(world, "1.3.0")
    assert proc.returncode != 0
    assert "failed before getting any traffic (its health gate or smoke test)" in proc.stdout, proc.stdout[-6000:]
    assert "Health gate failed" in proc.stdout
    assert "starting textbook-chat-api 1.3.0" in proc.stdout  # the service's last log lines come with the failure
    assert_old_release_serves_alone(world)
    for index in (0, 1):
        assert on_app(world, index, "readlink /opt/chat-api/blue") == "releases/1.1.0"  # still there to roll back to
        assert audit(world, index)[-1]["result"] == "failed"


def test_a_release_whose_main_endpoint_fails_never_gets_traffic(world):
    """/readyz is fine, POST /api/chat answers 500: the smoke test on the new color's own port stops it."""
    proc = deploy(world, "1.5.0")
    assert proc.returncode != 0
    assert "failed before getting any traffic" in proc.stdout, proc.stdout[-6000:]
    assert re.search(r"question '[^']+': answered HTTP 500", proc.stdout), proc.stdout[-6000:]
    assert steps_taken(proc) == []  # no step began
    assert_old_release_serves_alone(world)
    for index in (0, 1):
        assert audit(world, index)[-1]["result"] == "failed"


@pytest.mark.parametrize("version, metric", [("1.6.0", "error-ratio"), ("1.7.0", "latency-p95")])
def test_a_release_worse_than_the_stable_is_aborted_at_its_first_step(world, version, metric):
    """30 % of its questions fail, or each takes 0.8 s longer: it passes the smoke test, and the first step's analysis
    of both colors' traffic takes it out of every host."""
    proc = deploy(world, version)
    assert proc.returncode != 0
    assert "failed its rollout" in proc.stdout and "Canary analysis failed on %s" % metric in proc.stdout, \
        proc.stdout[-6000:]
    assert steps_taken(proc) == [10]
    assert_old_release_serves_alone(world)
    for index in (0, 1):
        assert audit(world, index)[-1]["result"] == "rolled_back"


def test_a_release_crashing_during_its_rollout_costs_almost_no_request(world):
    """It dies 6 s after it starts, in one of its steps: the old color takes the requests it refuses (the app host's
    nginx retries them there, POSTs too), the analysis aborts, every host switches back."""
    load = Load(world.lb["address"], rate=20, threads=4).start()
    try:
        started = time.monotonic()
        proc = deploy(world, "1.4.0")
        time.sleep(2)
    finally:
        load.stop()
    assert proc.returncode != 0
    assert "failed its rollout" in proc.stdout and "switched back" in proc.stdout, proc.stdout[-6000:]
    assert_old_release_serves_alone(world)
    for index in (0, 1):
        assert audit(world, index)[-1]["result"] == "rolled_back"
    sent, failed = load.window(started), load.failed(started)
    assert len(sent) > 100
    # at most the requests in flight in the crashed process (a POST sent to it is not retried)
    assert len(failed) <= 3, failed


def test_rollback_goes_back_to_the_last_release_healthy_on_every_host(world):
    """Not to the idle color's release: here it holds 1.6.0, a release that failed its rollout."""
    for index in (0, 1):
        world.ssh(world.apps[index], "ln -sfn releases/1.6.0 /opt/chat-api/blue")
    started = time.monotonic()
    proc = deploy(world, playbook=ROLLBACK)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.1.0"}
    for index in (0, 1):
        assert live_color(world, index) == "blue"
        assert on_app(world, index, "readlink /opt/chat-api/blue") == "releases/1.1.0"
        assert on_app(world, index, "systemctl is-active chat-api@blue") == "active"
        assert_standby(world, index, "green", "1.2.0")
        entry = audit(world, index)[-1]
        assert (entry["action"], entry["version"], entry["result"]) == ("rollback", "1.1.0", "succeeded")
    assert "Judge the step" not in proc.stdout  # straight back to a release known healthy: no rollout
    assert seconds < 60, seconds  # the benchmark measures it properly; this only catches a rebuild


def test_a_rollback_to_the_warm_standby_starts_nothing(world):
    """Back to 1.2.0, which the standby runs, and then forth again to 1.1.0: neither color is started."""
    for version, live, standby in (("1.2.0", "green", "1.1.0"), ("1.1.0", "blue", "1.2.0")):
        proc = deploy(world, playbook=ROLLBACK, extra={"backend_rollback_to": version})
        assert proc.returncode == 0, proc.stdout[-6000:]
        # the start, the gate and the separate smoke test (the switch asks the standby itself) are one skipped task
        started = re.search(r"Start the idle color, wait until it is ready and smoke-test it\] \*+\n((?:\S+: \[.*\n)+)",
                            proc.stdout)
        assert started and set(re.findall(r"^(\w+):", started.group(1), re.M)) == {"skipping"}, proc.stdout[-6000:]
        assert "Start the idle color]" not in proc.stdout
        assert versions_through_lb(world) == {version}
        for index in (0, 1):
            assert live_color(world, index) == live
            assert_standby(world, index, "blue" if live == "green" else "green", standby)


def test_a_rollback_whose_standby_fails_its_smoke_test_on_one_host_switches_every_host_back(world):
    """The switch asks the warm standby first (blue_green_switch's smoke); the second host's answers are over a 1 ms
    budget, so it never switches, and the first host, which had, is switched back: live and standby as before."""
    budget = "{{ 1 if inventory_hostname == '%s' else 20000 }}" % world.apps[1]["name"]
    proc = deploy(world, playbook=ROLLBACK, extra={"backend_rollback_to": "1.2.0",
                                                    "backend_smoke_latency_budget_ms": budget})
    assert proc.returncode != 0
    assert "The smoke test of green" in proc.stdout and "every host was switched back" in proc.stdout, \
        proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.1.0"}
    for index in (0, 1):
        assert live_color(world, index) == "blue"
        assert_standby(world, index, "green", "1.2.0")  # still running, as before the rollback
        entry = audit(world, index)[-1]
        assert (entry["action"], entry["version"], entry["result"]) == ("rollback", "1.2.0", "rolled_back")


def test_a_deploy_waits_for_the_lock_and_fails_naming_its_holder(world):
    """A live run's lock (its heartbeat is fresh) is waited for, never taken over."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = {"run_id": "other-" + uuid.uuid4().hex[:6], "owner": "alice@laptop", "version": "9.9.9",
              "action": "deploy", "acquired_at": "2026-11-27T06:00:00Z", "heartbeat": now}
    world.ssh(world.apps[1], "echo %s > /var/lib/chat-api/deploy.lock" % shell_quote(json.dumps(record)))
    try:
        proc = deploy(world, "1.2.0")
        assert proc.returncode != 0
        assert "alice@laptop" in proc.stdout and "9.9.9" in proc.stdout, proc.stdout[-6000:]
        assert "backend_lock_force=true" in proc.stdout  # the variable to set, not the module's option
        assert versions_through_lb(world) == {"1.1.0"}  # nothing switched, on either host
        assert live_color(world, 0) == "blue"
        assert json.loads(on_app(world, 1, "cat /var/lib/chat-api/deploy.lock"))["owner"] == "alice@laptop"
        assert on_app(world, 0, "test -e /var/lib/chat-api/deploy.lock && echo held") == ""  # ours was released
    finally:
        world.ssh(world.apps[1], "rm -f /var/lib/chat-api/deploy.lock")


@pytest.mark.parametrize("extra, message", [
    ({"backend_rollback_to": "0.0.1"}, "Release 0.0.1 is not installed"),
    ({"backend_database_url": "mysql://chat:pw@db/chat"}, "backend_database_url is not a postgresql:// URI"),
    # none given and no data host to look it up: the lookup says what failed and what to set
    ({"backend_database_url": ""}, "Could not read the connection URI of database chat"),
    ({"backend_canary_steps": [50, 10, 100]}, "backend_canary_steps must rise step by step"),
    ({"backend_canary_thresholds": {"max_error_ratio": -1}}, "backend_canary_thresholds.max_error_ratio must be"),
])
def test_bad_input_fails_before_anything_changes(world, extra, message):
    playbook = ROLLBACK if "backend_rollback_to" in extra else DEPLOY
    proc = deploy(world, extra=extra, playbook=playbook)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.1.0"}
    assert recap(proc)[world.apps[0]["name"]]["changed"] == 0


def test_a_taken_port_is_refused(world):
    # SO_REUSEADDR: the old color's connections may still be in TIME_WAIT on that port
    squatter = ("import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                "s.bind(('127.0.0.1', 8002)); s.listen(); time.sleep(600)")
    # another program took the port of the idle color, whose warm standby had stopped
    world.ssh(world.apps[0], "systemctl stop chat-api@green && systemd-run --unit squatter python3 -c %s"
              % shell_quote(squatter))
    try:
        listening = on_app(world, 0, "for i in $(seq 50); do ss -Hltnp 'sport = :8002' | grep . && break; sleep 0.2; done")
        assert "python3" in listening, on_app(world, 0, "journalctl -u squatter --no-pager | tail")
        proc = deploy(world, "1.2.0")
        assert proc.returncode != 0
        assert "Port 8002 (backend_ports.green) is taken" in proc.stdout, proc.stdout[-6000:]
        assert versions_through_lb(world) == {"1.1.0"}
    finally:
        world.ssh(world.apps[0], "systemctl stop squatter; systemctl start chat-api@green", check=False)


def test_an_unreachable_host_stops_the_deploy_before_any_change(world, tmp_path):
    path = world.write_inventory(tmp_path / "inventory.json", extra_app_hosts=[("tbd-gone", SUBNET + ".99")])
    proc = run_playbook(DEPLOY, inventory=path, extra_vars={"backend_source": str(world.sources["1.2.0"])})
    assert proc.returncode != 0
    assert "UNREACHABLE" in proc.stdout
    assert versions_through_lb(world) == {"1.1.0"}
    for index in (0, 1):
        assert live_color(world, index) == "blue"


def test_no_secret_in_the_output_at_vvv(world):
    proc = deploy(world, verbosity=3)
    assert proc.returncode == 0, proc.stdout[-6000:]
    password = re.search(r"://[^:]+:([^@]+)@", world.secrets["backend_database_url"]).group(1)
    for secret in (password, world.secrets["backend_qdrant_api_key"]):
        assert secret not in proc.stdout


def test_a_run_killed_mid_rollout_is_recovered_from_by_the_next_one(world):
    """SIGKILL of ansible-playbook while the new color takes a share of the traffic: its lock and its rollout stay
    behind. The next run sees the lock's heartbeat is stale, takes it over (recorded as abandoned), switches the
    interrupted rollout back, and then deploys through every step again, analysis included."""
    command = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(world.inventory), "-e",
               json.dumps({"backend_source": str(world.sources["1.2.0"]), "backend_canary_window": 20}), str(DEPLOY)]
    killed = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=ansible_env(),
                              cwd=str(ROOT), start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # (the rollout's record is written before the new color starts; its first step gives it a share)
        while len(nginx_upstream(world, 0)) != 2:
            assert killed.poll() is None and time.monotonic() < deadline, "the rollout never took its first step"
            time.sleep(0.5)
        time.sleep(2)  # in the first step's window: both colors serve
        assert on_app(world, 0, "test -e /var/lib/chat-api/rollout.json && echo recorded") == "recorded"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    dead_run = json.loads(on_app(world, 0, "cat /var/lib/chat-api/deploy.lock"))["run_id"]
    assert on_app(world, 0, "systemctl is-active chat-api@blue chat-api@green").split() == ["active", "active"]
    assert len(nginx_upstream(world, 0)) == 2  # the new color has its share

    proc = deploy(world, "1.2.0", extra={"backend_lock_stale_seconds": 3, "backend_lock_timeout": 30})
    assert proc.returncode == 0, proc.stdout[-6000:]
    stopped = re.search(r"Stop the new color of the unfinished rollout\] \*+\nincluded: .*\n+"
                        r"TASK \[[^]]*Stop the color and keep it from starting at boot\] \*+\nchanged: ", proc.stdout)
    assert stopped, proc.stdout[-6000:]
    assert steps_taken(proc) == [10, 50, 100]
    assert_old_release_serves_alone(world, "1.2.0", "green")
    for index in (0, 1):
        entries = audit(world, index)
        abandoned = [entry for entry in entries if entry.get("event") == "abandoned"]
        assert abandoned and abandoned[-1]["run_id"] == dead_run, entries[-3:]
        assert (entries[-1]["version"], entries[-1]["result"]) == ("1.2.0", "succeeded")
        assert entries[-1]["recovered"]["run_id"] == dead_run
