"""deploy_lock on lock files in a temporary directory, run as Ansible runs it."""
import json
import os
import re
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.textbook.deploy.plugins.module_utils.deploy_lock import read_lock, refresh_heartbeat
from conftest import run_module

MODULE = "deploy_lock"
FIELDS = ["run_id", "owner", "version", "action", "acquired_at", "heartbeat"]


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


def utc_ago(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def write_record(lock, run_id="run-1", owner="bob", heartbeat_age=0, acquired_age=None, heartbeat=True):
    """A lock record as a run that took the lock acquired_age seconds ago and proved alive heartbeat_age seconds ago
    left it (heartbeat=False: as written before records had a heartbeat)."""
    record = dict(run_id=run_id, owner=owner, version="1.3.9", action="deploy",
                  acquired_at=utc_ago(heartbeat_age if acquired_age is None else acquired_age))
    if heartbeat:
        record["heartbeat"] = utc_ago(heartbeat_age)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps(record) + "\n")
    return dict(record, heartbeat=record.get("heartbeat"))


def audit_entries(audit):
    return [json.loads(line) for line in audit.read_text().splitlines()]


def test_acquire_writes_the_record_and_again_is_a_no_op(lock):
    result = take(lock, "run-1", action="rollback")
    assert result["changed"] is True and result["previous"] is None and result["waited"] == 0
    record = record_in(lock)
    assert list(record) == FIELDS
    assert record == dict(result["holder"], run_id="run-1", owner="alice", version="1.4.0", action="rollback")
    assert record["acquired_at"].endswith("Z") and record["heartbeat"] == record["acquired_at"]
    assert os.listdir(lock.parent) == ["deploy.lock"]  # the temporary file is gone
    again = take(lock, "run-1", version="other")
    # taking it again only refreshes the heartbeat (maybe to the same second): bookkeeping, no change
    assert again["changed"] is False and again["previous"] is None and again["abandoned"] is None
    assert dict(again["holder"], heartbeat=None) == dict(record, heartbeat=None)
    assert again["holder"]["heartbeat"] >= record["heartbeat"] and record_in(lock) == again["holder"]
    assert os.listdir(lock.parent) == ["deploy.lock"]


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
    (dict(stale_after=-1), "stale_after"),
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


# --- heartbeat, stale locks, audited takeovers ---------------------------------------------------------------------

def test_the_holder_taking_it_again_refreshes_the_heartbeat_without_a_change(lock):
    before = write_record(lock, run_id="run-1", owner="alice", heartbeat_age=300, acquired_age=900)
    result = run_module(MODULE, dict(path=str(lock), run_id="run-1", owner="alice", stale_after=60), diff=True)
    assert result["changed"] is False and result["abandoned"] is None and result["previous"] is None
    after = record_in(lock)
    assert after == result["holder"] and after["heartbeat"] > before["heartbeat"]
    assert after["heartbeat"] >= utc_ago(5)
    assert dict(after, heartbeat=None) == dict(before, heartbeat=None)  # acquired_at and the rest kept
    assert result["diff"]["before"] == result["diff"]["after"] == after  # bookkeeping shows no diff
    assert os.listdir(lock.parent) == ["deploy.lock"]


def test_heartbeat_refresh_in_check_mode_writes_nothing(lock):
    write_record(lock, run_id="run-1", owner="alice", heartbeat_age=300)
    content = lock.read_bytes()
    result = run_module(MODULE, dict(path=str(lock), run_id="run-1", owner="alice"), check=True)
    assert result["changed"] is False and result["holder"]["heartbeat"] >= utc_ago(5)
    assert lock.read_bytes() == content


def test_refresh_heartbeat_moves_only_the_holders_heartbeat(lock):
    assert refresh_heartbeat(str(lock), "run-1") is False and not lock.parent.exists()  # no lock
    before = write_record(lock, run_id="run-1", heartbeat_age=300)
    content = lock.read_bytes()
    assert refresh_heartbeat(str(lock), "run-2") is False  # another run holds it
    assert lock.read_bytes() == content
    assert refresh_heartbeat(str(lock), "run-1") is True
    after = read_lock(str(lock))
    assert after["heartbeat"] > before["heartbeat"] and dict(after, heartbeat=None) == dict(before, heartbeat=None)
    assert os.listdir(lock.parent) == ["deploy.lock"]
    lock.write_text("not a lock record")
    assert refresh_heartbeat(str(lock), "run-1") is False and lock.read_text() == "not a lock record"


def test_stale_lock_is_taken_over_without_force_and_audited(lock, tmp_path):
    audit = tmp_path / "log" / "deploy.log"
    dead = write_record(lock, run_id="run-1", owner="bob", heartbeat_age=7200, acquired_age=9000)
    result = take(lock, "run-2", owner="alice", stale_after=600, timeout=0, audit_log=str(audit))
    assert result["changed"] is True and not result.get("failed"), result.get("msg")
    assert record_in(lock) == result["holder"] and result["holder"]["run_id"] == "run-2"
    assert result["previous"] == dead
    silent = result["abandoned"].pop("silent_for")
    assert result["abandoned"] == dead and 7200 <= silent < 7260
    [entry] = audit_entries(audit)
    assert entry.pop("time") >= utc_ago(5)
    assert entry == dict(dead, event="abandoned", silent_for=silent, taken_over_by="run-2")
    assert stat.S_IMODE(audit.stat().st_mode) == 0o640
    assert os.listdir(lock.parent) == ["deploy.lock"]
    # the run judged dead learns it lost the lock: its heartbeat and its release are refused
    assert refresh_heartbeat(str(lock), "run-1") is False
    refused = give_back(lock, "run-1", audit_log=str(audit))
    assert refused["failed"] is True and "run-2" in refused["msg"] and record_in(lock) == result["holder"]
    assert len(audit_entries(audit)) == 1


def test_record_without_heartbeat_is_judged_by_acquired_at(lock):
    fresh = write_record(lock, run_id="run-1", heartbeat=False)
    refused = take(lock, "run-2", stale_after=600, timeout=0)
    assert refused["failed"] is True and "no heartbeat since it took the lock" in refused["msg"]
    old = write_record(lock, run_id="run-1", heartbeat=False, acquired_age=3600)
    assert fresh["heartbeat"] is None
    taken = take(lock, "run-2", stale_after=600, timeout=0)
    assert taken["changed"] is True and taken["abandoned"]["heartbeat"] is None
    assert taken["previous"] == old and taken["abandoned"]["silent_for"] >= 3600


def test_lock_of_unknown_owner_is_stale_only_by_its_files_mtime(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    lock.parent.mkdir()
    lock.write_text('{"run_id": "run-1", "own')
    refused = take(lock, "run-2", stale_after=600, timeout=0, audit_log=str(audit))
    assert refused["failed"] is True and "unknown" in refused["msg"] and "lock file last written" in refused["msg"]
    assert lock.read_text() == '{"run_id": "run-1", "own'
    old = time.time() - 3600
    os.utime(str(lock), (old, old))
    taken = take(lock, "run-2", stale_after=600, timeout=0, audit_log=str(audit))
    assert taken["changed"] is True and taken["abandoned"]["owner"] == "unknown"
    assert taken["abandoned"]["run_id"] is None and 3600 <= taken["abandoned"]["silent_for"] < 3660
    [entry] = audit_entries(audit)
    assert (entry["event"], entry["owner"], entry["taken_over_by"]) == ("abandoned", "unknown", "run-2")


def test_live_lock_of_another_run_is_waited_for_and_the_message_gives_its_heartbeat_age(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    write_record(lock, run_id="run-1", owner="bob", heartbeat_age=12, acquired_age=400)
    content = lock.read_bytes()
    hint = "-e backend_lock_force=true"
    result = take(lock, "run-2", stale_after=600, timeout=0.6, force_hint=hint, audit_log=str(audit))
    assert result["failed"] is True and result["changed"] is False and 0.6 <= result["waited"] < 2
    assert result["abandoned"] is None and result["holder"]["run_id"] == "run-1"
    for part in ("bob", "run-1", "1.3.9", "stale_after=600", "run with %s if that run is known to be dead" % hint):
        assert part in result["msg"]
    assert re.search(r"last heartbeat 1[2-4] s ago", result["msg"]), result["msg"]
    assert "run with force=true" not in result["msg"]
    assert lock.read_bytes() == content and not audit.exists()
    refused = give_back(lock, "run-2", force_hint=hint)
    assert refused["failed"] is True and hint in refused["msg"] and "last heartbeat" in refused["msg"]
    assert lock.read_bytes() == content


def test_a_run_falling_silent_while_waited_for_is_taken_over(lock):
    # fresh when the module starts (its start takes up to seconds on a busy machine: hence 5 s), stale in the wait
    dead = write_record(lock, run_id="run-1", heartbeat_age=0)
    result = take(lock, "run-2", stale_after=5, timeout=20)
    assert result["changed"] is True and 0 < result["waited"] < 10, result.get("msg")
    assert result["previous"] == dead and result["abandoned"]["silent_for"] > 5


def test_forced_takeover_of_a_live_lock_is_audited(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    live = take(lock, "run-1", stale_after=600)["holder"]
    result = take(lock, "run-2", owner="bob", force=True, stale_after=600, timeout=0, audit_log=str(audit))
    assert result["changed"] is True and result["previous"] == live and result["abandoned"] is None
    assert record_in(lock) == result["holder"] and result["holder"]["owner"] == "bob"
    [entry] = audit_entries(audit)
    assert entry.pop("time") >= utc_ago(5)
    assert entry == dict(live, event="forced_takeover", forced_by="run-2")
    give_back(lock, "run-2", audit_log=str(audit), result="succeeded")
    released = audit_entries(audit)[1]
    assert released["event"] == "released" and released["heartbeat"] == result["holder"]["heartbeat"]


def test_forced_takeover_of_a_stale_lock_is_audited_as_abandoned(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    write_record(lock, run_id="run-1", heartbeat_age=3600)
    result = take(lock, "run-2", force=True, stale_after=600, timeout=0, audit_log=str(audit))
    assert result["changed"] is True and result["abandoned"]["run_id"] == "run-1"
    [entry] = audit_entries(audit)
    assert entry["event"] == "abandoned" and "forced_by" not in entry


def test_negative_stale_after_fails_before_any_change(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    write_record(lock, run_id="run-1", heartbeat_age=3600)
    content = lock.read_bytes()
    result = take(lock, "run-2", stale_after=-0.5, timeout=0, audit_log=str(audit))
    assert result["failed"] is True and result["msg"].startswith("stale_after ")
    assert lock.read_bytes() == content and not audit.exists()


def test_check_mode_of_a_stale_takeover_writes_nothing(lock, tmp_path):
    audit = tmp_path / "deploy.log"
    dead = write_record(lock, run_id="run-1", heartbeat_age=3600)
    content = lock.read_bytes()
    result = run_module(MODULE, dict(path=str(lock), run_id="run-2", owner="alice", stale_after=600, timeout=0,
                                     audit_log=str(audit)), check=True, diff=True)
    assert result["changed"] is True and result["holder"]["run_id"] == "run-2"
    assert result["previous"] == dead and result["abandoned"]["run_id"] == "run-1"
    assert result["diff"]["before"] == dead and result["diff"]["after"] == result["holder"]
    assert lock.read_bytes() == content and not audit.exists()
    assert os.listdir(lock.parent) == ["deploy.lock"]


def test_of_two_runs_taking_over_one_dead_run_exactly_one_does(tmp_path):
    audits = [tmp_path / ("host%d" % number) / "deploy.log" for number in range(3)]
    locks = [audit.parent / "state" / "deploy.lock" for audit in audits]
    for path in locks:
        write_record(path, run_id="run-dead", heartbeat_age=3600)
    runs = [(path, audit, run_id) for path, audit in zip(locks, audits) for run_id in ("run-a", "run-b")]
    with ThreadPoolExecutor(len(runs)) as pool:
        results = list(pool.map(lambda run: take(run[0], run[2], timeout=0, stale_after=600, audit_log=str(run[1])),
                                runs))
    for index, (path, audit) in enumerate(zip(locks, audits)):
        pair = results[2 * index:2 * index + 2]
        winners = [result for result in pair if result["changed"] and not result.get("failed")]
        assert len(winners) == 1 and sum(bool(result.get("failed")) for result in pair) == 1, pair
        assert record_in(path) == winners[0]["holder"] and winners[0]["abandoned"]["run_id"] == "run-dead"
        [entry] = audit_entries(audit)
        assert (entry["event"], entry["taken_over_by"]) == ("abandoned", winners[0]["holder"]["run_id"])
        assert os.listdir(path.parent) == ["deploy.lock"]


def test_details_join_the_released_line_without_replacing_its_fields(lock, tmp_path):
    log = tmp_path / "deploy.log"
    take(lock, "run-1")
    steps = [{"percent": 10, "outcome": "passed", "canary": {"requests": 40}}]
    give_back(lock, "run-1", audit_log=str(log), result="succeeded",
              details={"canary": steps, "result": "forged", "run_id": "forged"})
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["canary"] == steps
    assert (entry["result"], entry["run_id"], entry["event"]) == ("succeeded", "run-1", "released")
