"""sandbox/hosts.py: Debian test hosts (systemd-nspawn, systemd as PID 1, SSH) in network namespaces of our own.

Builds the cached base on first use (about a minute), boots two hosts, checks them over SSH and across the bridge,
checks `up` is idempotent, and that `down` leaves no process, namespace, mount or link behind.
"""
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from sandbox.hosts import Hosts

PREFIX, SUBNET = "tbt", "10.78.0"  # not the demo's names and addresses, so a running demo is left alone


def leftovers(state_dir):
    namespaces = [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
                  .splitlines() if line.startswith(PREFIX + "-")]
    links = [line for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
             .splitlines() if (" %sbr0" % PREFIX) in line or (" %sv" % PREFIX) in line]
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if str(state_dir) in line]
    processes = subprocess.run(["pgrep", "-f", "systemd-nspawn .*%s" % state_dir], capture_output=True,
                               text=True).stdout.split()
    return namespaces + links + mounts + processes


@pytest.fixture
def hosts(tmp_path):
    machines = Hosts(tmp_path / "hosts", ROOT / ".cache" / "sandbox", prefix=PREFIX, subnet=SUBNET)
    try:
        yield machines
    finally:
        machines.down()


def test_two_hosts_boot_with_systemd_and_answer_ssh(hosts, tmp_path):
    first, second = hosts.up(2)
    assert (first["address"], second["address"]) == (SUBNET + ".11", SUBNET + ".12")
    for host in (first, second):
        out = hosts.ssh(host, "cat /proc/1/comm; hostname; . /etc/os-release; echo $VERSION_ID").stdout.split()
        assert out == ["systemd", host["name"], "12"]
    # the hosts reach each other across the bridge
    assert hosts.ssh(first, "bash -c '</dev/tcp/%s/22' && echo open" % second["address"]).stdout.strip() == "open"
    again = hosts.up(2)
    assert [h["pid"] for h in again] == [first["pid"], second["pid"]]  # running hosts are kept
    hosts.down()
    assert leftovers(tmp_path) == []


def test_down_cleans_up_after_a_killed_run(hosts, tmp_path):
    (host,) = hosts.up(1)
    subprocess.run(["kill", "-9", str(host["pid"])], check=True)  # a crashed run: state and namespace left
    hosts.down()
    assert leftovers(tmp_path) == []
