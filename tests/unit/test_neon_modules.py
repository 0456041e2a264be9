"""neon_project, neon_branch, neon_role, neon_database and neon_connection_info against the Neon stand-in.

The stand-in checks every request and answer against Neon's OpenAPI description, runs operations that finish
over time (423 Locked meanwhile) and creates roles and databases in real PostgreSQL servers.
"""
import calendar
import time
import uuid

import psycopg
import pytest
import requests

from conftest import run_module


def call(neon, module, check=False, diff=False, env=None, **args):
    args.setdefault("api_url", neon.api_url)
    args.setdefault("token", neon.api_key)
    return run_module(module, args, check=check, diff=diff, env=env)


def ok(result):
    assert not result.get("failed"), result.get("msg")
    return result


def failed(result):
    assert result.get("failed"), result
    return result["msg"]


def changes(neon):
    """The requests that could change something (anything but GET) since the last reset_log()."""
    return [(r["method"], r["path"], r["status"]) for r in neon.requests() if r["method"] != "GET"]


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


@pytest.fixture
def project(neon, neon_project):
    neon.reset_log()
    earlier = len(neon.violations())  # the stand-in is shared by the session: count only this test's
    yield neon_project
    assert neon.violations()[earlier:] == []


def branch(neon, project, name, **args):
    return ok(call(neon, "neon_branch", project=project["name"], name=name, **args))


def connect(uri):
    with psycopg.connect(uri, connect_timeout=10) as conn:
        return conn.execute("select current_user, current_database()").fetchone()


# --- neon_project ------------------------------------------------------------------------------------------------

def test_project_is_created_once_and_found_by_name(neon):
    name = unique("proj")
    created = ok(call(neon, "neon_project", name=name, pg_version=16, diff=True))
    assert created["changed"] and created["project"]["name"] == name and created["project"]["pg_version"] == 16
    assert created["default_branch"]["name"] == "main" and created["diff"]["before"] == {}
    neon.reset_log()
    again = ok(call(neon, "neon_project", name=name, pg_version=16))
    assert not again["changed"] and again["project"]["id"] == created["project"]["id"]
    assert again["default_branch"]["id"] == created["default_branch"]["id"]
    assert changes(neon) == []


def test_project_region_or_version_change_is_refused(neon, project):
    msg = failed(call(neon, "neon_project", name=project["name"], pg_version=14 if project["pg_version"] != 14 else 15))
    assert "pg_version" in msg and "cannot change" in msg
    assert changes(neon) == []


def test_project_check_mode_and_absent(neon):
    name = unique("gone")
    would = ok(call(neon, "neon_project", name=name, check=True))
    assert would["changed"] and changes(neon) == []
    ok(call(neon, "neon_project", name=name))
    removed = ok(call(neon, "neon_project", name=name, state="absent"))
    assert removed["changed"] and removed["project"] == {}
    assert not ok(call(neon, "neon_project", name=name, state="absent"))["changed"]


# --- neon_branch -------------------------------------------------------------------------------------------------

def test_branch_with_endpoint_is_created_then_only_read(neon, project):
    created = branch(neon, project, "staging", diff=True)
    assert created["changed"] and created["branch"]["name"] == "staging"
    assert created["endpoint"]["type"] == "read_write" and created["endpoint"]["host"]
    main = ok(call(neon, "neon_project", name=project["name"]))["default_branch"]
    assert created["branch"]["parent_id"] == main["id"]
    assert created["diff"]["before"] == {} and created["diff"]["after"]["branch"]["name"] == "staging"
    neon.reset_log()
    again = branch(neon, project, "staging")
    assert not again["changed"] and again["branch"]["id"] == created["branch"]["id"]
    assert changes(neon) == []


def test_branch_check_mode_creates_nothing(neon, project):
    would = ok(call(neon, "neon_branch", project=project["name"], name="preview-1", check=True, diff=True))
    assert would["changed"] and would["diff"]["after"]["branch"]["name"] == "preview-1"
    assert changes(neon) == []
    assert not [b for b in neon_branches(neon, project) if b["name"] == "preview-1"]


def neon_branches(neon, project):
    import requests

    response = requests.get("%s/projects/%s/branches" % (neon.api_url, project["id"]),
                            headers={"Authorization": "Bearer %s" % neon.api_key}, timeout=10)
    response.raise_for_status()
    return response.json()["branches"]


def test_compute_settings_are_changed_in_place(neon, project):
    branch(neon, project, "staging", compute={"min_cu": 0.25, "max_cu": 1})
    neon.reset_log()
    changed = branch(neon, project, "staging", compute={"max_cu": 2, "suspend_timeout_seconds": 600}, diff=True)
    assert changed["changed"] and changed["endpoint"]["autoscaling_limit_max_cu"] == 2
    assert changed["endpoint"]["suspend_timeout_seconds"] == 600
    assert changed["diff"]["before"]["endpoint"]["autoscaling_limit_max_cu"] == 1
    assert [(m, s) for m, p, s in changes(neon)] == [("PATCH", 200)]
    assert not branch(neon, project, "staging", compute={"max_cu": 2})["changed"]


def test_branch_absent_and_default_branch_is_kept(neon, project):
    branch(neon, project, "old")
    assert branch(neon, project, "old", state="absent")["changed"]
    assert not branch(neon, project, "old", state="absent")["changed"]
    neon.reset_log()
    msg = failed(call(neon, "neon_branch", project=project["name"], name="main", state="absent"))
    assert "default branch" in msg and changes(neon) == []


@pytest.mark.parametrize("args,option", [
    (dict(name=""), "name"),
    (dict(name="x" * 257), "name"),
    (dict(name="ok", compute={"min_cu": 0.1}), "compute.min_cu"),
    (dict(name="ok", compute={"min_cu": 2, "max_cu": 1}), "compute.max_cu"),
    (dict(name="ok", compute={"suspend_timeout_seconds": 5}), "compute.suspend_timeout_seconds"),
])
def test_bad_branch_input_fails_before_any_request(neon, project, args, option):
    msg = failed(call(neon, "neon_branch", project=project["name"], **args))
    assert option in msg
    assert neon.requests() == []


def test_unknown_project_and_parent_are_named(neon, project):
    assert "option project" in failed(call(neon, "neon_branch", project="no-such-project-x", name="a"))
    assert "option parent" in failed(call(neon, "neon_branch", project=project["name"], name="a", parent="nope"))
    assert changes(neon) == []


# --- neon_branch: expiry ---------------------------------------------------------------------------------------

def epoch(timestamp):
    return calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))


def iso(seconds_from_now):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def set_expiry(neon, project, branch_id, value):
    """Someone else (the console) sets or removes a branch's expiry."""
    response = requests.patch("%s/projects/%s/branches/%s" % (neon.api_url, project["id"], branch_id),
                              json={"branch": {"expires_at": value}},
                              headers={"Authorization": "Bearer %s" % neon.api_key}, timeout=10)
    assert response.status_code == 200, response.text
    time.sleep(0.3)  # its (empty) operations; keep the project unlocked for the module


def test_expires_in_is_set_on_create_and_a_rerun_changes_nothing(neon, project):
    created = branch(neon, project, "preview-7", expires_in="7d", diff=True)
    assert created["changed"] and abs(epoch(created["branch"]["expires_at"]) - (time.time() + 7 * 86400)) < 30
    assert created["diff"]["before"] == {} and created["diff"]["after"]["branch"]["expires_at"]
    assert [(m, s) for m, p, s in changes(neon)] == [("POST", 201)]  # the expiry went with the create
    neon.reset_log()
    again = branch(neon, project, "preview-7", expires_in="7d")
    assert not again["changed"] and again["branch"]["expires_at"] == created["branch"]["expires_at"]
    assert changes(neon) == []


def test_expires_in_extends_an_expiry_that_lags_beyond_the_tolerance(neon, project):
    made = branch(neon, project, "preview-8")
    set_expiry(neon, project, made["branch"]["id"], iso(86400))
    neon.reset_log()
    # a tolerance longer than the lag leaves it alone
    assert not branch(neon, project, "preview-8", expires_in="7d", expiry_tolerance="6d12h")["changed"]
    would = ok(call(neon, "neon_branch", project=project["name"], name="preview-8", expires_in="7d", check=True,
                    diff=True))
    assert would["changed"] and changes(neon) == []
    assert abs(epoch(would["diff"]["after"]["branch"]["expires_at"]) - (time.time() + 7 * 86400)) < 30
    assert abs(epoch(would["diff"]["before"]["branch"]["expires_at"]) - (time.time() + 86400)) < 30
    extended = branch(neon, project, "preview-8", expires_in="7d", diff=True)
    assert extended["changed"] and [(m, s) for m, p, s in changes(neon)] == [("PATCH", 200)]
    assert abs(epoch(extended["branch"]["expires_at"]) - (time.time() + 7 * 86400)) < 30
    neon.reset_log()
    # within the tolerance (1h by default): no change; a shorter expires_in never brings it forward
    assert not branch(neon, project, "preview-8", expires_in="7d")["changed"]
    assert not branch(neon, project, "preview-8", expires_in="1d")["changed"]
    assert changes(neon) == []


def test_expires_at_is_exact_and_never_removes_it(neon, project):
    at = iso(3 * 86400)
    made = branch(neon, project, "demo", expires_at=at.replace("Z", "+00:00"))
    assert made["changed"] and made["branch"]["expires_at"] == at
    neon.reset_log()
    assert not branch(neon, project, "demo", expires_at=at)["changed"]
    later = iso(5 * 86400)
    moved = branch(neon, project, "demo", expires_at=later, diff=True)
    assert moved["changed"] and moved["branch"]["expires_at"] == later
    assert (moved["diff"]["before"]["branch"]["expires_at"], moved["diff"]["after"]["branch"]["expires_at"]) == (
        at, later)
    kept = branch(neon, project, "demo", expires_at="never", diff=True)
    assert kept["changed"] and "expires_at" not in kept["branch"]
    assert "expires_at" not in kept["diff"]["after"]["branch"]
    assert [(m, s) for m, p, s in changes(neon)] == [("PATCH", 200), ("PATCH", 200)]
    neon.reset_log()
    assert not branch(neon, project, "demo", expires_at="never")["changed"]
    assert not branch(neon, project, "demo")["changed"]  # no expiry option: the expiry is left as it is
    assert changes(neon) == []


@pytest.mark.parametrize("args,words", [
    (dict(expires_at="2020-01-01T00:00:00Z"), ["expires_at", "not in the future"]),
    (dict(expires_at="2999-01-01T00:00:00Z"), ["expires_at", "30 days"]),
    (dict(expires_at="2030-01-01T00:00:00"), ["expires_at", "time zone"]),
    (dict(expires_at="tomorrow"), ["expires_at", "RFC 3339"]),
    (dict(expires_in="31d"), ["expires_in", "30d"]),
    (dict(expires_in="0"), ["expires_in", "more than 0"]),
    (dict(expires_in="7x"), ["expires_in", "7d"]),
    (dict(expiry_tolerance="1h"), ["expiry_tolerance", "expires_in"]),
    (dict(expires_in="7d", expiry_tolerance="soon"), ["expiry_tolerance", "duration"]),
    (dict(expires_in="7d", expires_at="2030-01-01T00:00:00Z"), ["expires_at", "expires_in"]),
    (dict(name="   "), ["name", "preview-42"]),
    (dict(name="pre\u0000view"), ["name", "NUL"]),
    (dict(name="p" * 257), ["name", "256"]),
])
def test_bad_expiry_or_name_fails_before_any_request(neon, project, args, words):
    args.setdefault("name", "preview-9")
    msg = failed(call(neon, "neon_branch", project=project["name"], **args))
    assert all(word in msg for word in words), msg
    assert neon.requests() == []


def test_expiry_where_neon_refuses_it_fails_before_any_change(neon, project):
    msg = failed(call(neon, "neon_branch", project=project["name"], name="main", expires_in="7d"))
    assert "expires_in" in msg and "default branch" in msg
    branch(neon, project, "parent")
    branch(neon, project, "child", parent="parent")
    msg = failed(call(neon, "neon_branch", project=project["name"], name="parent", expires_at=iso(86400)))
    assert "expires_at" in msg and "child" in msg
    expiring = branch(neon, project, "expiring", expires_in="1d")["branch"]
    neon.reset_log()
    msg = failed(call(neon, "neon_branch", project=project["name"], name="grandchild", parent="expiring"))
    assert "parent expiring expires at %s" % expiring["expires_at"] in msg and "expires_at: never" in msg
    assert changes(neon) == []


# --- neon_role and neon_database ----------------------------------------------------------------------------------

def test_role_is_created_once_and_its_password_never_shown(neon, project):
    created = ok(call(neon, "neon_role", project=project["name"], name="chat_app", diff=True))
    assert created["changed"] and created["role"]["name"] == "chat_app" and "password" not in created["role"]
    neon.reset_log()
    again = ok(call(neon, "neon_role", project=project["name"], name="chat_app"))
    assert not again["changed"] and changes(neon) == []  # never created twice
    info = ok(call(neon, "neon_connection_info", project=project["name"], database="neondb", role="chat_app"))
    assert info["password"] and info["password"] not in created["_stdout"] + again["_stdout"]


def test_reset_password_only_when_asked(neon, project):
    ok(call(neon, "neon_role", project=project["name"], name="rotating"))
    ok(call(neon, "neon_database", project=project["name"], name="rot", owner="rotating"))
    old = ok(call(neon, "neon_connection_info", project=project["name"], database="rot", role="rotating"))["uri"]
    assert connect(old) == ("rotating", "rot")
    reset = ok(call(neon, "neon_role", project=project["name"], name="rotating", reset_password=True))
    assert reset["changed"] and reset["password_reset"]
    new = ok(call(neon, "neon_connection_info", project=project["name"], database="rot", role="rotating"))["uri"]
    assert new != old and connect(new) == ("rotating", "rot")
    with pytest.raises(psycopg.OperationalError):
        connect(old)
    assert new.split("@")[0].split(":")[-1] not in reset["_stdout"]


@pytest.mark.parametrize("name", ["pg_monitor_x", "neon_superuser", "x" * 64, ""])
def test_bad_role_names_fail_before_any_request(neon, project, name):
    assert "name" in failed(call(neon, "neon_role", project=project["name"], name=name))
    assert neon.requests() == []


def test_database_is_created_and_reowned_in_place(neon, project):
    branch(neon, project, "staging")
    for role in ("owner_a", "owner_b"):
        ok(call(neon, "neon_role", project=project["name"], branch="staging", name=role))
    created = ok(call(neon, "neon_database", project=project["name"], branch="staging", name="chat", owner="owner_a"))
    assert created["changed"] and created["database"]["owner_name"] == "owner_a"
    neon.reset_log()
    assert not ok(call(neon, "neon_database", project=project["name"], branch="staging", name="chat",
                       owner="owner_a"))["changed"]
    assert changes(neon) == []
    moved = ok(call(neon, "neon_database", project=project["name"], branch="staging", name="chat", owner="owner_b",
                    diff=True))
    assert moved["changed"] and moved["diff"]["before"]["owner_name"] == "owner_a"
    assert moved["database"]["owner_name"] == "owner_b"
    assert [m for m, p, s in changes(neon)] == ["PATCH"]


def test_database_with_a_missing_owner_fails_before_any_change(neon, project):
    msg = failed(call(neon, "neon_database", project=project["name"], name="chat", owner="nobody"))
    assert "owner" in msg and "neon_role" in msg and changes(neon) == []


def test_check_mode_role_and_database_create_nothing(neon, project):
    assert ok(call(neon, "neon_role", project=project["name"], name="ghost", check=True))["changed"]
    assert changes(neon) == []
    assert not ok(call(neon, "neon_role", project=project["name"], name="ghost", state="absent"))["changed"]


# --- neon_connection_info ------------------------------------------------------------------------------------------

def test_connection_uri_of_a_branch_connects_for_real(neon, project):
    branch(neon, project, "staging")
    ok(call(neon, "neon_role", project=project["name"], branch="staging", name="chat_app"))
    ok(call(neon, "neon_database", project=project["name"], branch="staging", name="chat", owner="chat_app"))
    info = ok(call(neon, "neon_connection_info", project=project["name"], branch="staging", database="chat",
                   role="chat_app", check=True))
    assert not info["changed"] and info["user"] == "chat_app" and info["database"] == "chat"
    assert connect(info["uri"]) == ("chat_app", "chat")


# --- faults and bad credentials -----------------------------------------------------------------------------------

def test_locked_and_rate_limited_requests_are_retried(neon, project):
    neon.inject_fault("http_423", method="POST", path="/roles$", times=2)
    neon.inject_fault("http_429", method="GET", path="/branches$", times=1, retry_after=1)
    created = ok(call(neon, "neon_role", project=project["name"], name="patient"))
    assert created["changed"]
    posts = [s for m, p, s in changes(neon) if p.endswith("/roles")]
    assert posts == [423, 423, 201]


def test_server_error_on_a_post_is_not_repeated(neon, project):
    neon.inject_fault("http_500", method="POST", path="/roles$", times=1)
    msg = failed(call(neon, "neon_role", project=project["name"], name="once"))
    assert "500" in msg
    assert [s for m, p, s in changes(neon) if p.endswith("/roles")] == [500]


def test_failed_operation_fails_the_task_with_neons_error(neon, project):
    neon.inject_fault("operation_failed")
    msg = failed(call(neon, "neon_branch", project=project["name"], name="doomed"))
    assert "operation" in msg and "failed" in msg


def test_slow_operation_hits_operation_timeout(neon, project):
    neon.inject_fault("slow_operation", seconds=5)
    msg = failed(call(neon, "neon_branch", project=project["name"], name="slow", operation_timeout=1))
    assert "operation_timeout=1" in msg


def test_missing_or_wrong_api_key(neon, project):
    missing = failed(run_module("neon_role", dict(api_url=neon.api_url, project=project["name"], name="x"),
                                env={"NEON_API_KEY": ""}))
    assert "NEON_API_KEY" in missing and neon.requests() == []
    wrong_key = "napi_" + "w" * 40
    result = call(neon, "neon_role", token=wrong_key, project=project["name"], name="x")
    assert "401" in failed(result) and wrong_key not in result["_stdout"] + result["_stderr"]
