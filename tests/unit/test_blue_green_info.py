"""blue_green_info on service layouts built in a temporary directory, run as Ansible runs it.

The `unit` option's running detection needs a running systemd and is covered on real hosts; here only its
validation is tested, so `running` is always [].
"""
import json
import os

import pytest

from conftest import run_module
from test_health_gate import closed_port, serve  # noqa: F401 (fixtures)

MODULE = "blue_green_info"


def layout(root, releases, links=None):
    """root/releases/<v>/ with the given mtimes (seconds), and root/<name> -> target symlinks."""
    for version in releases:
        (root / "releases" / version / "bin").mkdir(parents=True)
    for name, target in (links or {}).items():
        os.symlink(target, root / name)
    for version, mtime in releases.items():  # last: creating anything inside a directory moves its mtime
        os.utime(root / "releases" / version, (mtime, mtime))
    return root


def info(root, check=False, **args):
    return run_module(MODULE, dict(root=str(root), **args), check=check)


def snapshot(root):
    """Every entry under root with its link target or mtime, to show that nothing was touched."""
    seen = {}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = os.path.join(directory, name)
            seen[path] = os.readlink(path) if os.path.islink(path) else os.lstat(path).st_mtime_ns
    return seen


def test_reads_live_color_releases_and_installed_newest_first(tmp_path):
    # mtime order differs from name order (1.10.0 < 1.9.0 < 1.2.0 as strings) so only the mtime sort passes
    root = layout(tmp_path / "chat-api", {"1.9.0": 2_000_000, "1.10.0": 3_000_000, "1.2.0": 1_000_000},
                  {"blue": "releases/1.9.0", "green": "releases/1.10.0", "live": "green"})
    result = info(root)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["live"] == "green"
    assert result["releases"] == {"blue": "1.9.0", "green": "1.10.0"}
    assert result["running"] == []
    assert result["installed"] == ["1.10.0", "1.9.0", "1.2.0"]


def test_installed_follows_the_mtimes_not_the_order_of_creation(tmp_path):
    root = layout(tmp_path / "svc", {"a": 300, "b": 100, "c": 200})
    assert info(root)["installed"] == ["a", "c", "b"]
    os.utime(root / "releases" / "b", (400, 400))
    assert info(root)["installed"] == ["b", "a", "c"]


def test_only_release_directories_count_as_installed(tmp_path):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000, "1.1.0": 2_000})
    (root / "releases" / "1.2.0.tar.gz").write_text("an archive left behind")
    os.symlink("1.0.0", root / "releases" / "current")  # a link to a release is not another release
    assert info(root)["installed"] == ["1.1.0", "1.0.0"]


def test_absolute_and_trailing_slash_links_give_the_release_name(tmp_path):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000, "1.1.0": 2_000})
    os.symlink(str(root / "releases" / "1.0.0") + "/", root / "blue")
    os.symlink(str(root / "releases" / "1.1.0"), root / "green")
    os.symlink(str(root / "blue"), root / "live")
    result = info(root)
    assert result["releases"] == {"blue": "1.0.0", "green": "1.1.0"}
    assert result["live"] == "blue"


def test_a_missing_root_is_a_host_with_nothing_deployed(tmp_path):
    root = tmp_path / "never-deployed"
    result = info(root)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["live"] == ""
    assert result["releases"] == {"blue": "", "green": ""}
    assert result["running"] == [] and result["installed"] == []
    assert not root.exists()


def test_missing_links_are_empty_strings(tmp_path):
    # a first deploy half done: one release, blue points at it, green and live do not exist yet
    root = layout(tmp_path / "svc", {"1.0.0": 1_000}, {"blue": "releases/1.0.0"})
    result = info(root)
    assert result["live"] == "" and result["releases"] == {"blue": "1.0.0", "green": ""}
    assert result["installed"] == ["1.0.0"]


def test_a_directory_where_a_link_should_be_reads_as_no_link(tmp_path):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000}, {"green": "releases/1.0.0"})
    (root / "blue").mkdir()
    assert info(root)["releases"] == {"blue": "", "green": "1.0.0"}


def test_a_dangling_link_still_names_its_release(tmp_path):
    # the release directory was pruned but the color still points at it: the link is what is reported
    root = layout(tmp_path / "svc", {"1.1.0": 1_000}, {"blue": "releases/1.0.0", "green": "releases/1.1.0"})
    result = info(root)
    assert result["releases"] == {"blue": "1.0.0", "green": "1.1.0"}
    assert result["installed"] == ["1.1.0"]


def test_custom_colors(tmp_path):
    root = layout(tmp_path / "svc", {"2.0.0": 1_000, "2.1.0": 2_000},
                  {"red": "releases/2.0.0", "black": "releases/2.1.0", "live": "black",
                   "blue": "releases/2.0.0"})  # not one of the colors: not reported
    result = info(root, colors=["red", "black"])
    assert result.get("failed") is not True, result.get("msg")
    assert result["live"] == "black"
    assert result["releases"] == {"red": "2.0.0", "black": "2.1.0"}
    assert result["installed"] == ["2.1.0", "2.0.0"]


@pytest.mark.parametrize("colors", [
    ["blue", "blue"],
    ["blue", "live"],
    ["live"],
    ["blue", "releases"],
    ["blue", "gr/een"],
    ["blue", "/green"],
    ["blue", ""],
])
def test_bad_colors_fail_naming_the_option(tmp_path, colors):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000}, {"blue": "releases/1.0.0", "live": "blue"})
    result = info(root, colors=colors)
    assert result["failed"] is True
    assert "colors" in result["msg"]
    assert str(colors) in result["msg"]
    assert "live" not in result and "releases" not in result  # failed before reading anything


@pytest.mark.parametrize("unit", ["chat-api.service", "chat-api@color.service", ""])
def test_a_unit_without_the_color_placeholder_fails_naming_the_option(tmp_path, unit):
    result = info(tmp_path, unit=unit)
    assert result["failed"] is True
    assert "unit" in result["msg"] and "{color}" in result["msg"] and repr(unit) in result["msg"]


def test_check_mode_reads_the_same_and_changes_nothing(tmp_path):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000, "1.1.0": 2_000},
                  {"blue": "releases/1.0.0", "green": "releases/1.1.0", "live": "blue"})
    before = snapshot(root)
    real, checked = info(root), info(root, check=True)
    assert checked["changed"] is False and real["changed"] is False
    for key in ("live", "releases", "running", "installed"):
        assert checked[key] == real[key]
    assert checked["live"] == "blue" and checked["installed"] == ["1.1.0", "1.0.0"]
    assert snapshot(root) == before


def test_check_mode_on_a_missing_root(tmp_path):
    result = info(tmp_path / "nothing", check=True)
    assert result["changed"] is False and result["live"] == "" and result["installed"] == []


def test_healthy_releases_come_from_the_audit_log_newest_first(tmp_path):
    root = layout(tmp_path / "srv", {"1.1.0": 100, "1.2.0": 200})
    log = tmp_path / "deploy.log"
    lines = [{"event": "released", "version": "1.1.0", "action": "deploy", "result": "succeeded"},
             {"event": "released", "version": "1.2.0", "action": "deploy", "result": "succeeded"},
             {"event": "abandoned", "version": "1.3.0", "action": "deploy"},
             {"event": "released", "version": "1.3.0", "action": "deploy", "result": "rolled_back"},
             {"event": "released", "version": "1.1.0", "action": "rollback", "result": "succeeded"}]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    result = info(root, audit_log=str(log))
    assert result["healthy"] == ["1.1.0", "1.2.0"]
    assert info(root, audit_log=str(tmp_path / "missing.log"))["healthy"] == []
    assert info(root)["healthy"] == [] and info(root)["rollout"] is None


def test_a_rollout_in_progress_is_read(tmp_path):
    root = layout(tmp_path / "srv", {"1.1.0": 100})
    state = tmp_path / "rollout.json"
    record = {"run_id": "r1", "version": "1.2.0", "stable": "blue", "canary": "green"}
    state.write_text(json.dumps(record))
    assert info(root, rollout_state=str(state))["rollout"] == record
    state.write_text("{half")
    assert info(root, rollout_state=str(state))["rollout"] is None


@pytest.fixture
def both_active(tmp_path):
    """A systemctl first on PATH that reports every unit asked about as active (real units are tested on the
    sandbox hosts); returns the environment to run the module with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text('#!/bin/sh\nshift\nfor unit in "$@"; do echo active; done\n')
    script.chmod(0o755)
    return dict(PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"]))


def test_ready_names_the_version_each_running_color_answers(tmp_path, serve, closed_port, both_active):
    # green's link says 1.1.0 but its process still runs 1.0.0: ready reports what answers, not the link
    root = layout(tmp_path / "svc", {"1.0.0": 1_000, "1.1.0": 2_000},
                  {"blue": "releases/1.0.0", "green": "releases/1.1.0", "live": "blue"})
    green = serve(version="1.0.0")
    args = dict(root=str(root), unit="chat-api@{color}.service",
                ports={"blue": closed_port, "green": green.server.server_address[1]})
    result = run_module(MODULE, args, env=both_active)
    assert result.get("failed") is not True, result.get("msg")
    assert result["running"] == ["blue", "green"]
    assert result["ready"] == {"green": "1.0.0"}  # blue refuses the connection: running, not ready
    assert green.paths() == ["/readyz", "/version"]  # one request each, no polling


def test_a_color_that_is_not_ready_is_left_out(tmp_path, serve, both_active):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000}, {"blue": "releases/1.0.0"})
    starting = serve(statuses=(503,))
    result = run_module(MODULE, dict(root=str(root), unit="chat-api@{color}.service",
                                     ports={"blue": starting.server.server_address[1]}), env=both_active)
    assert result["ready"] == {} and starting.paths() == ["/readyz"]


def test_ready_is_empty_without_ports(tmp_path, both_active):
    root = layout(tmp_path / "svc", {"1.0.0": 1_000}, {"blue": "releases/1.0.0"})
    result = run_module(MODULE, dict(root=str(root), unit="chat-api@{color}.service"), env=both_active)
    assert result["running"] == ["blue", "green"] and result["ready"] == {}


@pytest.mark.parametrize("ports, named", [({"red": 8001}, "'red'"), ({"blue": 0}, "ports.blue"),
                                          ({"blue": "80a"}, "ports.blue"), ({"blue": 70000}, "ports.blue")])
def test_bad_ports_fail_naming_the_option(tmp_path, ports, named):
    result = info(tmp_path, ports=ports)
    assert result["failed"] is True and named in result["msg"] and "ports" in result["msg"], result["msg"]
