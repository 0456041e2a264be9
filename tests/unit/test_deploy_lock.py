"""deploy_lock on lock files in a temporary directory, run as Ansible runs it."""
import json
import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import run_module

MODULE = "deploy_lock"
FIELDS = ["run_id", "owner", "version", "action", "acquired_at"]


@pytest.fixture
def lock(tmp_path):
    """The lock's path, in a directory the module has to create."""
    return tmp_path / "state" / "deploy.lock"


def take(lock, run_id, owner="alice", version="1.4.0", **args):
    return run_module(MODULE, dict(path=str(lock), run_id=run_id, owner=owner, version=version, **args))


def give_back(lock, run_id, **args):
    return run_module(MODULE, dict(path=str(lock), state="absent", run_id=run_id, **args))


def record_in(lock):
    return json.loads(lock.read_text())


def test_acquire_writes_the_record_and_again_is_a_no_op(lock):
    result = take(lock, "run-1", action="rollback")
    assert result["changed"] is True and result["previous"] is None and result["waited"] == 0
    record = record_in(lock)
    assert list(record) == FIELDS
    assert record == dict(result["holder"], run_id="run-1", owner="alice", version="1.4.0", action="rollback")
    assert record["acquired_at"].endswith("Z")
    assert os.listdir(lock.parent) == ["deploy.lock"]  # the temporary file is gone
    content = lock.read_bytes()
    again = take(lock, "run-1", version="other")
    assert again["changed"] is False and again["holder"] == record
    assert lock.read_bytes() == content


def test_held_by_another_run_fails_naming_the_holder(lock):
    take(lock, "run-1")
    content = lock.read_bytes()
    result = take(lock, "run-2", owner="bob", version="1.5.0", timeout=0)
    assert result["failed"] is True and result["changed"] is False
    for part in ("alice", "run-1", "1.4.0", "deploy", record_in(lock)["acquired_at"], "force=true"):
        assert part in result["msg"]
    assert result["holder"]["run_id"] == "run-1"
    assert lock.read_bytes() == content


def test_gives_up_after_the_timeout(lock):
    take(lock, "run-1")
    result = take(lock, "run-2", timeout=0.6)
    assert result["failed"] is True and 0.6 <= result["waited"] < 2


def test_waits_until_the_holder_releases(lock):
    take(lock, "run-1")
    releaser = threading.Timer(0.5, give_back, args=(lock, "run-1"))
    releaser.start()
    result = take(lock, "run-2", owner="bob", timeout=10)
    releaser.join()
    assert result["changed"] is True, result.get("msg")
    assert result["waited"] > 0 and result["previous"] is None
    assert record_in(lock)["run_id"] == "run-2"


def test_force_takes_the_lock_and_returns_the_previous_holder(lock):
    before = take(lock, "run-1")["holder"]
    result = take(lock, "run-2", owner="bob", force=True, timeout=0)
    assert result["changed"] is True and result["previous"] == before
    assert record_in(lock) == result["holder"] and result["holder"]["owner"] == "bob"
    assert os.listdir(lock.parent) == ["deploy.lock"]


def test_release_by_holder_removes_the_lock_and_writes_one_audit_line(lock, tmp_path):
    audit = tmp_path / "log" / "deploy.log"
    holder = take(lock, "run-1", action="rollback")["holder"]
    result = give_back(lock, "run-1", audit_log=str(audit), result="rolled_back")
    assert result["changed"] is True and result["holder"] is None and result["previous"] == holder
    assert not lock.exists()
    lines = audit.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry.pop("time").endswith("Z")
    assert entry == dict(holder, event="released", result="rolled_back")
    assert stat.S_IMODE(audit.stat().st_mode) == 0o640
    again = give_back(lock, "run-1", audit_log=str(audit), result="rolled_back")
    assert again["changed"] is False and again["holder"] is None
    assert len(audit.read_text().splitlines()) == 1


def test_audit_line_without_result_has_no_result(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    take(lock, "run-1")
    give_back(lock, "run-1", audit_log=str(audit))
    assert "result" not in json.loads(audit.read_text())


def test_release_by_another_run_fails_unless_forced(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    holder = take(lock, "run-1")["holder"]
    refused = give_back(lock, "run-2", audit_log=str(audit))
    assert refused["failed"] is True and "alice" in refused["msg"] and "force=true" in refused["msg"]
    assert record_in(lock) == holder and not audit.exists()
    forced = give_back(lock, "run-2", force=True, audit_log=str(audit), result="failed")
    assert forced["changed"] is True and forced["previous"] == holder and not lock.exists()
    entry = json.loads(audit.read_text())
    assert (entry["run_id"], entry["forced_by"], entry["result"]) == ("run-1", "run-2", "failed")


def test_check_mode_touches_nothing(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    would = run_module(MODULE, dict(path=str(lock), run_id="run-1", owner="alice"), check=True)
    assert would["changed"] is True and would["holder"]["run_id"] == "run-1"
    assert not lock.parent.exists()
    take(lock, "run-1")
    content = lock.read_bytes()
    forced = run_module(MODULE, dict(path=str(lock), run_id="run-2", owner="bob", force=True), check=True)
    assert forced["changed"] is True and forced["previous"]["run_id"] == "run-1"
    released = run_module(MODULE, dict(path=str(lock), state="absent", run_id="run-1", audit_log=str(audit),
                                       result="succeeded"), check=True)
    assert released["changed"] is True and released["holder"] is None
    assert lock.read_bytes() == content and not audit.exists()
    assert os.listdir(lock.parent) == ["deploy.lock"]


def test_diff_shows_the_holder_before_and_after(lock):
    taken = run_module(MODULE, dict(path=str(lock), run_id="run-1", owner="alice"), diff=True)
    assert taken["diff"]["before"] == {} and taken["diff"]["after"] == record_in(lock)
    released = run_module(MODULE, dict(path=str(lock), state="absent", run_id="run-1"), diff=True)
    assert released["diff"]["before"] == taken["holder"] and released["diff"]["after"] == {}


def test_of_two_runs_starting_at_once_exactly_one_gets_the_lock(tmp_path):
    locks = [tmp_path / ("host%d" % number) / "deploy.lock" for number in range(3)]
    runs = [(path, run_id) for path in locks for run_id in ("run-a", "run-b")]
    with ThreadPoolExecutor(len(runs)) as pool:
        results = list(pool.map(lambda run: take(run[0], run[1], timeout=0), runs))
    for index, path in enumerate(locks):
        pair = results[2 * index:2 * index + 2]
        winners = [result for result in pair if result["changed"] and not result.get("failed")]
        assert len(winners) == 1 and sum(bool(result.get("failed")) for result in pair) == 1, pair
        assert record_in(path) == winners[0]["holder"]
        assert os.listdir(path.parent) == ["deploy.lock"]


def test_corrupt_lock_is_held_by_unknown_and_force_takes_it(lock):
    lock.parent.mkdir()
    lock.write_text('{"run_id": "run-1", "own')
    refused = take(lock, "run-2", timeout=0)
    assert refused["failed"] is True and "unknown" in refused["msg"]
    assert refused["holder"]["owner"] == "unknown"
    forced = take(lock, "run-2", timeout=0, force=True)
    assert forced["changed"] is True and forced["previous"]["owner"] == "unknown"
    assert record_in(lock)["run_id"] == "run-2"


@pytest.mark.parametrize("args, option", [
    (dict(owner=None), "owner"),
    (dict(timeout=-1), "timeout"),
    (dict(run_id=""), "run_id"),
])
def test_bad_input_fails_before_anything_happens(lock, args, option):
    options = dict(dict(path=str(lock), run_id="run-1", owner="alice"), **args)
    result = run_module(MODULE, dict((key, value) for key, value in options.items() if value is not None))
    assert result["failed"] is True and result["msg"].startswith(option + " ")
    assert not lock.parent.exists()


def test_path_that_is_a_directory_is_named(tmp_path):
    result = run_module(MODULE, dict(path=str(tmp_path), run_id="run-1", owner="alice"))
    assert result["failed"] is True and result["msg"].startswith("path %s is a directory" % tmp_path)


def test_holder_released_while_waiting_in_check_mode_is_reported(lock):
    """Check mode waits like a real run (read only) and reports what it would do once the lock is free."""
    take(lock, "run-1")
    started = time.monotonic()
    releaser = threading.Timer(0.5, give_back, args=(lock, "run-1"))
    releaser.start()
    result = run_module(MODULE, dict(path=str(lock), run_id="run-2", owner="bob", timeout=5), check=True)
    releaser.join()
    assert result["changed"] is True and result["waited"] > 0 and time.monotonic() - started < 5
    assert not lock.exists()
