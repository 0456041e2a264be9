"""deploy_backend.yml and rollback_backend.yml against three sandbox hosts (a load balancer and two app hosts),
verified from the load balancer.

The service's database is a Neon stand-in project and its collection lives in the Qdrant stand-in, both listening
on the hosts' bridge. Releases are the example service as it is (1.1.0) and copies of it: an upgrade (1.2.0), a
release whose /readyz never succeeds (1.3.0) and one that crashes a few seconds after it starts (1.4.0). The tests
run in order and share the hosts: each starts from the state the one before left.
"""
import json
import re
import time
import uuid

import pytest

from conftest import ROOT, run_adhoc, run_playbook
from sandbox.backend_world import BackendWorld, crashes_after_start, never_ready

PREFIX, SUBNET = "tbd", "10.79.0"  # neither the demo's hosts nor tests/sandbox/test_hosts.py's
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
ROLLBACK = ROOT / "playbooks" / "rollback_backend.yml"
SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_watch_seconds": 8,
            "backend_drain_seconds": 1, "backend_lock_timeout": 2}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The hosts, the stand-ins on their bridge, the releases' sources and an inventory."""
    with BackendWorld(tmp_path_factory.mktemp("backend"), PREFIX, SUBNET, SETTINGS) as world:
        world.sources = {"1.2.0": world.release("1.2.0"), "1.3.0": world.release("1.3.0", never_ready),
                         "1.4.0": world.release("1.4.0", crashes_after_start)}
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
        # installed from the wheelhouse alone: pip had no index to ask
        assert on_app(world, index, "ls /opt/chat-api/releases/1.1.0/wheelhouse | grep -c whl") != "0"
        # with the dependency versions the service is tested with (its constraints.txt)
        assert on_app(world, index, "ls /opt/chat-api/releases/1.1.0/wheelhouse | grep -c '^fastapi-%s-'"
                      % pinned("fastapi")) == "1"
        entry = audit(world, index)[-1]
        assert (entry["action"], entry["version"], entry["result"]) == ("deploy", "1.1.0", "succeeded")
    assert (world.wheelhouses / "textbook-chat-api-1.1.0.tar").exists()


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
    assert versions_through_lb(world) == {"1.2.0"}
    for index in (0, 1):
        assert live_color(world, index) == "green"
        assert on_app(world, index, "readlink /opt/chat-api/green") == "releases/1.2.0"
        # the old color is stopped after the drain, and kept for a rollback
        assert on_app(world, index, "systemctl is-active chat-api@blue") == "inactive"
        assert on_app(world, index, "readlink /opt/chat-api/blue") == "releases/1.1.0"


def run_module_on(world, host, module, args):
    """One of our modules run ad hoc on a sandbox host; returns its result."""
    return run_adhoc(host["name"], world.inventory, "textbook.deploy." + module, args)[host["name"]]


def test_blue_green_info_reads_the_hosts_colors_in_one_step(world):
    result = run_module_on(world, world.apps[0], "blue_green_info",
                           {"root": "/opt/chat-api", "unit": "chat-api@{color}.service"})
    assert (result["live"], result["releases"], result["running"]) == (
        "green", {"blue": "1.1.0", "green": "1.2.0"}, ["green"]), result
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


def test_a_release_failing_its_gate_leaves_the_old_one_serving(world):
    proc = deploy(world, "1.3.0")
    assert proc.returncode != 0
    assert "failed its health gate" in proc.stdout, proc.stdout[-6000:]
    assert "starting textbook-chat-api 1.3.0" in proc.stdout  # the service's last log lines come with the failure
    assert versions_through_lb(world) == {"1.2.0"}
    for index in (0, 1):
        assert live_color(world, index) == "green"
        assert on_app(world, index, "systemctl is-active chat-api@blue") == "inactive"
        assert on_app(world, index, "readlink /opt/chat-api/blue") == "releases/1.1.0"  # still there to roll back to
        assert audit(world, index)[-1]["result"] == "failed"


def test_a_release_crashing_after_the_switch_is_rolled_back_on_every_host(world):
    proc = deploy(world, "1.4.0")
    assert proc.returncode != 0
    assert "switched back" in proc.stdout, proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.2.0"}
    for index in (0, 1):
        assert live_color(world, index) == "green"
        assert on_app(world, index, "systemctl is-active chat-api@green chat-api@blue").split() == ["active",
                                                                                                   "inactive"]
        assert audit(world, index)[-1]["result"] == "rolled_back"


def test_rollback_goes_back_to_the_previous_release_in_seconds(world):
    started = time.monotonic()
    proc = deploy(world, playbook=ROLLBACK)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert versions_through_lb(world) == {"1.1.0"}
    for index in (0, 1):
        assert live_color(world, index) == "blue"
        assert on_app(world, index, "systemctl is-active chat-api@blue chat-api@green").split() == ["active",
                                                                                                   "inactive"]
        entry = audit(world, index)[-1]
        assert (entry["action"], entry["version"], entry["result"]) == ("rollback", "1.1.0", "succeeded")
    assert seconds < 60, seconds  # the benchmark measures it properly; this only catches a rebuild


def test_a_deploy_waits_for_the_lock_and_fails_naming_its_holder(world):
    record = {"run_id": "other-" + uuid.uuid4().hex[:6], "owner": "alice@laptop", "version": "9.9.9",
              "action": "deploy", "acquired_at": "2026-11-27T06:00:00+00:00"}
    world.ssh(world.apps[1], "echo %s > /var/lib/chat-api/deploy.lock" % shell_quote(json.dumps(record)))
    try:
        proc = deploy(world, "1.2.0")
        assert proc.returncode != 0
        assert "alice@laptop" in proc.stdout and "9.9.9" in proc.stdout, proc.stdout[-6000:]
        assert versions_through_lb(world) == {"1.1.0"}  # nothing switched, on either host
        assert live_color(world, 0) == "blue"
        assert json.loads(on_app(world, 1, "cat /var/lib/chat-api/deploy.lock"))["owner"] == "alice@laptop"
        assert on_app(world, 0, "test -e /var/lib/chat-api/deploy.lock && echo held") == ""  # ours was released
    finally:
        world.ssh(world.apps[1], "rm -f /var/lib/chat-api/deploy.lock")


@pytest.mark.parametrize("extra, message", [
    ({"backend_rollback_to": "0.0.1"}, "Release 0.0.1 is not installed"),
    ({"backend_database_url": ""}, "backend_database_url must be"),
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
    world.ssh(world.apps[0], "systemd-run --unit squatter python3 -c %s" % shell_quote(squatter))
    try:
        listening = on_app(world, 0, "for i in $(seq 50); do ss -Hltnp 'sport = :8002' | grep . && break; sleep 0.2; done")
        assert "python3" in listening, on_app(world, 0, "journalctl -u squatter --no-pager | tail")
        proc = deploy(world, "1.2.0")
        assert proc.returncode != 0
        assert "Port 8002 (backend_ports.green) is taken" in proc.stdout, proc.stdout[-6000:]
        assert versions_through_lb(world) == {"1.1.0"}
    finally:
        world.ssh(world.apps[0], "systemctl stop squatter", check=False)


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
