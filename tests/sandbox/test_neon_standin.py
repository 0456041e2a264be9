"""The Neon API v2 stand-in: contract checks, state, operations and locks, faults, and the real PostgreSQL behind.

Tests on the shared `neon` fixture leave no violation behind; tests that provoke violations or inject faults on
purpose use a private stand-in (`fresh`) or clear what they injected (the `neon_project` fixture clears faults).
"""
import calendar
import os
import re
import subprocess
import time
import uuid

import psycopg
import pytest
import requests

from sandbox.neon import NeonStandIn
from sandbox.neon.extract_openapi import OPERATIONS, subset


# --- helpers ---------------------------------------------------------------------------------------------------

def call(server, method, path, body=None, key=None, params=None, headers=None):
    """One API call: (status, decoded JSON or None, response headers)."""
    h = {"Authorization": "Bearer %s" % (key or server.api_key)}
    h.update(headers or {})
    response = requests.request(method, server.api_url + path, json=body, params=params, headers=h, timeout=30)
    return response.status_code, (response.json() if response.content else None), response.headers


def wait_ops(server, project_id, operations, timeout=10):
    """Poll operations until none is running; returns their final JSON."""
    deadline = time.monotonic() + timeout
    final = []
    for op in operations:
        while True:
            status, data, _ = call(server, "GET", "/projects/%s/operations/%s" % (project_id, op["id"]))
            assert status == 200, data
            if data["operation"]["status"] != "running":
                final.append(data["operation"])
                break
            assert time.monotonic() < deadline, "operation %s still running" % op["id"]
            time.sleep(0.05)
    return final


def change(server, method, path, body=None, ok=(200, 201), project_id=None):
    """A mutating call that succeeds, then waits for its operations."""
    status, data, _ = call(server, method, path, body)
    assert status in ok, (status, data)
    project_id = project_id or path.split("/")[2]
    wait_ops(server, project_id, data.get("operations", []))
    return data


def sql(uri, statement):
    with psycopg.connect(uri, connect_timeout=5) as conn:
        return conn.execute(statement).fetchall()


def create_project(server, name=None):
    status, data, _ = call(server, "POST", "/projects", {"project": {"name": name or "p-" + uuid.uuid4().hex[:8]}})
    assert status == 201, data
    wait_ops(server, data["project"]["id"], data["operations"])
    return data


def postgres_processes(path):
    """Pids of processes whose command line mentions path (postmasters run with -D <data dir>)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmdline and "postgres" in cmdline:
            found.append(int(pid))
    return found


@pytest.fixture
def fresh(tmp_path):
    server = NeonStandIn(str(tmp_path / "neon"), op_delay=0.3)
    server.start()
    yield server
    server.stop()


# --- the contract subset ---------------------------------------------------------------------------------------

def test_subset_is_recorded_and_complete():
    from sandbox.neon import contract

    spec = contract.load_spec()
    assert spec["info"]["x-extracted-from"]["package"] == "@neondatabase/api-client"
    assert spec["info"]["x-extracted-from"]["version"] == "2.7.3"
    for path, methods in OPERATIONS.items():
        assert set(methods) <= set(spec["paths"][path])
    # every $ref in the subset resolves inside it
    text = open(contract.SPEC_FILE).read()
    for kind, name in set(re.findall(r'"#/components/(\w+)/([^"]+)"', text)):
        assert name in spec["components"][kind], (kind, name)


def test_subset_extraction_is_deterministic():
    spec = {"openapi": "3.0.3", "info": {"title": "t"}, "servers": [{"url": "https://x/api/v2"}], "security": [],
            "paths": {p: {m: {"responses": {"200": {"$ref": "#/components/responses/R"}}} for m in ms}
                      for p, ms in OPERATIONS.items()},
            "components": {"responses": {"R": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/B"}}}}},
                "schemas": {"B": {"properties": {"a": {"$ref": "#/components/schemas/A"}}}, "A": {"type": "string"},
                            "Unused": {"type": "integer"}}}}
    one, two = subset(spec), subset(spec)
    assert one == two
    assert list(one["components"]["schemas"]) == ["A", "B"]


# --- round trips through HTTP ----------------------------------------------------------------------------------

def test_project_branch_role_database_round_trip(neon):
    neon.reset_log()
    created = create_project(neon)
    project, pid = created["project"], created["project"]["id"]
    assert created["branch"]["name"] == "main" and created["branch"]["default"] is True
    assert [e["type"] for e in created["endpoints"]] == ["read_write"]
    assert created["endpoints"][0]["host"] == neon.public_host
    assert [r["name"] for r in created["roles"]] == ["neondb_owner"] and created["roles"][0]["password"]
    assert [d["name"] for d in created["databases"]] == ["neondb"]
    assert {op["action"] for op in created["operations"]} == {"create_timeline", "start_compute"}
    main = created["branch"]["id"]

    status, listed, _ = call(neon, "GET", "/projects", params={"search": project["name"]})
    assert status == 200 and [p["id"] for p in listed["projects"]] == [pid]
    assert listed["pagination"]["cursor"] == pid

    data = change(neon, "PATCH", "/projects/%s" % pid, {"project": {"name": project["name"] + "-renamed"}})
    assert data["project"]["name"] == project["name"] + "-renamed"

    data = change(neon, "POST", "/projects/%s/branches" % pid,
                  {"branch": {"name": "dev", "parent_id": main}, "endpoints": [{"type": "read_write"}]})
    dev = data["branch"]["id"]
    assert data["branch"]["parent_id"] == main
    assert {op["action"] for op in data["operations"]} == {"create_branch", "start_compute"}
    assert [r["name"] for r in data["roles"]] == ["neondb_owner"]
    assert all("password" not in r for r in data["roles"])

    data = change(neon, "POST", "/projects/%s/branches/%s/roles" % (pid, dev), {"role": {"name": "app"}})
    assert data["role"]["name"] == "app" and data["role"]["password"].startswith("npg_")
    assert [op["action"] for op in data["operations"]] == ["apply_config"]
    password = data["role"]["password"]
    status, role, _ = call(neon, "GET", "/projects/%s/branches/%s/roles/app" % (pid, dev))
    assert status == 200 and "password" not in role["role"]
    status, roles, _ = call(neon, "GET", "/projects/%s/branches/%s/roles" % (pid, dev))
    assert sorted(r["name"] for r in roles["roles"]) == ["app", "neondb_owner"]
    assert all("password" not in r for r in roles["roles"])
    status, revealed, _ = call(neon, "GET", "/projects/%s/branches/%s/roles/app/reveal_password" % (pid, dev))
    assert status == 200 and revealed == {"password": password}

    data = change(neon, "POST", "/projects/%s/branches/%s/databases" % (pid, dev),
                  {"database": {"name": "appdb", "owner_name": "app"}})
    assert data["database"]["owner_name"] == "app"
    data = change(neon, "PATCH", "/projects/%s/branches/%s/databases/appdb" % (pid, dev),
                  {"database": {"name": "appdb2"}})
    assert data["database"]["name"] == "appdb2"
    status, dbs, _ = call(neon, "GET", "/projects/%s/branches/%s/databases" % (pid, dev))
    assert sorted(d["name"] for d in dbs["databases"]) == ["appdb2", "neondb"]
    # the parent branch did not get them (branches are copies, not links)
    status, dbs, _ = call(neon, "GET", "/projects/%s/branches/%s/databases" % (pid, main))
    assert [d["name"] for d in dbs["databases"]] == ["neondb"]

    status, uri, _ = call(neon, "GET", "/projects/%s/connection_uri" % pid,
                          params={"branch_id": dev, "database_name": "appdb2", "role_name": "app"})
    assert status == 200
    assert sql(uri["uri"], "select current_user, current_database()") == [("app", "appdb2")]

    status, eps, _ = call(neon, "GET", "/projects/%s/branches/%s/endpoints" % (pid, dev))
    assert status == 200 and len(eps["endpoints"]) == 1
    status, eps_all, _ = call(neon, "GET", "/projects/%s/endpoints" % pid)
    assert len(eps_all["endpoints"]) == 2

    change(neon, "DELETE", "/projects/%s/branches/%s/databases/appdb2" % (pid, dev))
    change(neon, "DELETE", "/projects/%s/branches/%s/roles/app" % (pid, dev))
    assert call(neon, "GET", "/projects/%s/branches/%s/roles/app" % (pid, dev))[0] == 404
    with pytest.raises(psycopg.OperationalError):
        sql(uri["uri"], "select 1")
    data = change(neon, "DELETE", "/projects/%s/branches/%s" % (pid, dev))
    assert {op["action"] for op in data["operations"]} == {"suspend_compute", "delete_timeline"}
    assert call(neon, "GET", "/projects/%s/branches/%s" % (pid, dev))[0] == 404

    status, ops, _ = call(neon, "GET", "/projects/%s/operations" % pid)
    assert status == 200 and ops["operations"][0]["action"] == "delete_timeline"  # newest first
    assert all(op["status"] == "finished" for op in ops["operations"])

    status, deleted, _ = call(neon, "DELETE", "/projects/%s" % pid)
    assert status == 200 and deleted["project"]["id"] == pid
    assert call(neon, "GET", "/projects/%s" % pid)[0] == 404
    assert neon.violations() == []
    log = neon.requests()
    assert {"method": "POST", "path": "/projects", "status": 201} in log
    assert {"method": "DELETE", "path": "/projects/%s" % pid, "status": 200} in log


def test_connection_uri_connects_for_real(neon, neon_project):
    pid, main = neon_project["id"], neon_project["_branch_id"]
    status, data, _ = call(neon, "GET", "/projects/%s/connection_uri" % pid,
                           params={"database_name": "neondb", "role_name": "neondb_owner"})
    assert status == 200
    uri = data["uri"]
    assert uri.startswith("postgresql://neondb_owner:") and "@%s:" % neon.public_host in uri
    assert "sslmode" not in uri
    assert sql(uri, "select current_user, current_database()") == [("neondb_owner", "neondb")]
    assert uri == neon_project["_connection_uri"]
    # roles created through the API are members of neon_superuser, as on Neon
    assert sql(uri, "select pg_has_role('neondb_owner', 'neon_superuser', 'member')") == [(True,)]
    # the superuser is not reachable over TCP
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=neon.public_host, port=int(uri.rsplit(":", 1)[1].split("/")[0]), user="cloud_admin",
                        dbname="postgres", connect_timeout=5)
    assert neon.violations() == []


def test_branch_sees_parent_data(neon, neon_project):
    pid, main = neon_project["id"], neon_project["_branch_id"]
    parent_uri = neon_project["_connection_uri"]
    with psycopg.connect(parent_uri) as conn:
        conn.execute("create table notes (id int primary key, body text)")
        conn.execute("insert into notes values (1, 'before branching')")
    data = change(neon, "POST", "/projects/%s/branches" % pid,
                  {"branch": {"name": "child"}, "endpoints": [{"type": "read_write"}]})
    child_uri = data["connection_uris"][0]["connection_uri"]
    assert child_uri != parent_uri
    assert sql(child_uri, "select body from notes") == [("before branching",)]
    # the child is a copy: writes on one side do not show on the other
    with psycopg.connect(child_uri) as conn:
        conn.execute("insert into notes values (2, 'child only')")
    assert sql(parent_uri, "select count(*) from notes") == [(1,)]
    # a grandchild from a branch without endpoint copies the stopped cluster
    data = change(neon, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "noep",
                                                                           "parent_id": data["branch"]["id"]}})
    assert data["endpoints"] == [] and "connection_uris" not in data
    noep = data["branch"]["id"]
    data = change(neon, "POST", "/projects/%s/endpoints" % pid, {"endpoint": {"branch_id": noep,
                                                                              "type": "read_write"}})
    status, uri, _ = call(neon, "GET", "/projects/%s/connection_uri" % pid,
                          params={"branch_id": noep, "database_name": "neondb", "role_name": "neondb_owner"})
    assert sql(uri["uri"], "select count(*) from notes") == [(2,)]
    assert neon.violations() == []


def test_read_only_endpoint_is_a_standby(neon, neon_project):
    pid, main = neon_project["id"], neon_project["_branch_id"]
    with psycopg.connect(neon_project["_connection_uri"]) as conn:
        conn.execute("create table ro_check (x int)")
        conn.execute("insert into ro_check values (5)")
    data = change(neon, "POST", "/projects/%s/endpoints" % pid, {"endpoint": {"branch_id": main,
                                                                              "type": "read_only"}})
    ep = data["endpoint"]
    assert ep["type"] == "read_only"
    status, uri, _ = call(neon, "GET", "/projects/%s/connection_uri" % pid,
                          params={"endpoint_id": ep["id"], "database_name": "neondb", "role_name": "neondb_owner"})
    assert sql(uri["uri"], "select x, pg_is_in_recovery() from ro_check") == [(5, True)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(uri["uri"], "insert into ro_check values (6)")
    # a second read_write endpoint on one branch is refused
    status, err, _ = call(neon, "POST", "/projects/%s/endpoints" % pid, {"endpoint": {"branch_id": main,
                                                                                     "type": "read_write"}})
    assert status == 409 and err["code"] == "" and "read_write" in err["message"]
    change(neon, "DELETE", "/projects/%s/endpoints/%s" % (pid, ep["id"]))
    assert call(neon, "GET", "/projects/%s/endpoints/%s" % (pid, ep["id"]))[0] == 404
    assert neon.violations() == []


# --- errors ----------------------------------------------------------------------------------------------------

def test_conflicts_and_name_rules(neon, neon_project):
    pid, main = neon_project["id"], neon_project["_branch_id"]
    base = "/projects/%s/branches/%s" % (pid, main)
    status, err, _ = call(neon, "POST", base + "/roles", {"role": {"name": "neondb_owner"}})
    assert (status, err["message"]) == (409, "role 'neondb_owner' already exists")
    assert set(err) == {"code", "message", "request_id"}
    status, err, _ = call(neon, "POST", base + "/databases", {"database": {"name": "neondb",
                                                                           "owner_name": "neondb_owner"}})
    assert (status, err["message"]) == (409, "database 'neondb' already exists")
    status, err, _ = call(neon, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "main"}})
    assert (status, err["message"]) == (409, "branch with name 'main' already exists")
    for bad in ("pg_monitor2", "neon_superuser", "x" * 64, "PG_thing"):
        status, err, _ = call(neon, "POST", base + "/roles", {"role": {"name": bad}})
        assert status == 400, (bad, err)
    assert call(neon, "POST", base + "/roles", {"role": {"name": "é" * 32}})[0] == 400  # 64 bytes
    for bad in ("postgres", "template1", "d" * 64):
        status, err, _ = call(neon, "POST", base + "/databases", {"database": {"name": bad,
                                                                               "owner_name": "neondb_owner"}})
        assert status == 400, (bad, err)
    status, err, _ = call(neon, "POST", base + "/databases", {"database": {"name": "x", "owner_name": "nobody"}})
    assert status == 400 and "nobody" in err["message"]
    assert call(neon, "GET", base + "/roles/nobody") [0] == 404
    status, err, _ = call(neon, "GET", "/projects/no-such-project")
    assert (status, err["message"]) == (404, "project not found")
    status, err, _ = call(neon, "GET", "/projects/%s/branches/br-missing-1" % pid)
    assert (status, err["message"]) == (404, "branch not found")
    status, err, _ = call(neon, "DELETE", "/projects/%s/branches/%s" % (pid, main))
    assert status == 400 and "default branch" in err["message"]
    # 63 bytes is fine
    data = change(neon, "POST", base + "/roles", {"role": {"name": "r" * 63}})
    assert data["role"]["name"] == "r" * 63
    assert neon.violations() == []


def test_contract_violations_are_rejected_and_recorded(fresh):
    created = create_project(fresh)
    pid, main = created["project"]["id"], created["branch"]["id"]
    base = "/projects/%s/branches/%s" % (pid, main)
    status, err, _ = call(fresh, "POST", base + "/roles", {"role": {"name": "ok", "nmae": "typo"}})
    assert status == 400 and "nmae" in err["message"] and err["code"] == ""
    status, err, _ = call(fresh, "POST", base + "/roles", {"role": {"name": 5}})
    assert status == 400 and "/role/name" in err["message"]
    status, err, _ = call(fresh, "POST", "/projects", {"project": {"name": "x", "pg_version": 12}})
    assert status == 400
    status, err, _ = call(fresh, "GET", "/projects", params={"limit": 1000})
    assert status == 400 and "limit" in err["message"]
    status, err, _ = call(fresh, "GET", "/projects/%s/operations/not-a-uuid" % pid)
    assert status == 400
    status, err, _ = call(fresh, "GET", "/projects/%s/things" % pid)
    assert status == 404
    kinds = [(v["kind"], v["method"], v["status"]) for v in fresh.violations()]
    assert kinds == [("request", "POST", 400)] * 3 + [("request", "GET", 400)] * 2 + [("request", "GET", 404)]
    # nothing was created by the rejected requests
    status, roles, _ = call(fresh, "GET", base + "/roles")
    assert [r["name"] for r in roles["roles"]] == ["neondb_owner"]


def test_unauthenticated_requests_get_401(neon):
    status, err, _ = call(neon, "GET", "/projects", headers={"Authorization": ""})
    assert (status, err["message"]) == (401, "authentication required")
    response = requests.get(neon.api_url + "/projects", timeout=10)
    assert response.status_code == 401 and response.json()["message"] == "authentication required"
    status, err, _ = call(neon, "GET", "/projects", key="napi_wrong")
    assert (status, err["message"], err["code"]) == (401, "authorization failed", "")
    status, err, _ = call(neon, "GET", "/projects", headers={"Authorization": "Basic " + neon.api_key})
    assert status == 401
    assert neon.violations() == []


def test_423_while_an_operation_runs(fresh):
    created = create_project(fresh)
    pid, main = created["project"]["id"], created["branch"]["id"]
    status, data, _ = call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "a"}})
    assert status == 201 and data["operations"][0]["status"] == "running"
    status, err, _ = call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "b"}})
    assert status == 423
    assert err["message"] == "project already has running conflicting operations, scheduling of new ones is prohibited"
    # reads are never blocked
    assert call(fresh, "GET", "/projects/%s/branches/%s/roles" % (pid, main))[0] == 200
    # another project is not locked
    other = fresh.create_project("other")
    other_main = call(fresh, "GET", "/projects/%s/branches" % other["id"])[1]["branches"][0]["id"]
    assert call(fresh, "POST", "/projects/%s/branches/%s/roles" % (other["id"], other_main),
                {"role": {"name": "c"}})[0] == 201
    wait_ops(fresh, pid, data["operations"])
    status, data, _ = call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "b"}})
    assert status == 201
    assert fresh.violations() == []


def test_http_faults(fresh):
    created = create_project(fresh)
    pid = created["project"]["id"]
    fresh.inject_fault("http_423", method="GET", path=r"/branches$")
    status, err, _ = call(fresh, "GET", "/projects/%s/branches" % pid)
    assert status == 423 and "running conflicting operations" in err["message"]
    assert call(fresh, "GET", "/projects/%s/branches" % pid)[0] == 200  # used up
    fresh.inject_fault("http_429", retry_after=7)
    status, err, headers = call(fresh, "GET", "/projects")
    assert status == 429 and headers["Retry-After"] == "7" and set(err) >= {"code", "message"}
    fresh.inject_fault("http_500", times=2)
    assert [call(fresh, "GET", "/projects")[0] for _ in range(3)] == [500, 500, 200]
    fresh.inject_fault("http_503", method="POST")
    assert call(fresh, "GET", "/projects")[0] == 200  # method does not match
    status, err, _ = call(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "x"}})
    assert status == 503
    status, data, _ = call(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "x"}})
    assert status == 201  # the 503 did nothing: retrying is safe
    fresh.inject_fault("http_500")
    fresh.clear_faults()
    assert call(fresh, "GET", "/projects")[0] == 200
    with pytest.raises(ValueError):
        fresh.inject_fault("no_such_kind")
    assert fresh.violations() == []


def test_operation_faults(fresh):
    created = create_project(fresh)
    pid, main = created["project"]["id"], created["branch"]["id"]
    fresh.inject_fault("operation_failed", path=r"/roles$")
    status, data, _ = call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "f"}})
    assert status == 201
    final = wait_ops(fresh, pid, data["operations"])
    assert final[-1]["status"] == "failed" and final[-1]["error"]
    fresh.inject_fault("slow_operation", seconds=1.0)
    started = time.monotonic()
    status, data, _ = call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "s"}})
    assert status == 201
    time.sleep(0.5)
    assert call(fresh, "POST", "/projects/%s/branches/%s/roles" % (pid, main), {"role": {"name": "t"}})[0] == 423
    final = wait_ops(fresh, pid, data["operations"])
    assert final[0]["status"] == "finished" and time.monotonic() - started >= 1.0
    assert fresh.violations() == []


def test_reset_password_changes_the_real_password(neon, neon_project):
    pid, main = neon_project["id"], neon_project["_branch_id"]
    old_uri = neon_project["_connection_uri"]
    assert sql(old_uri, "select 1") == [(1,)]
    data = change(neon, "POST", "/projects/%s/branches/%s/roles/neondb_owner/reset_password" % (pid, main))
    new_password = data["role"]["password"]
    assert new_password and new_password not in old_uri
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        sql(old_uri, "select 1")
    status, uri, _ = call(neon, "GET", "/projects/%s/connection_uri" % pid,
                          params={"database_name": "neondb", "role_name": "neondb_owner"})
    assert new_password in uri["uri"]
    assert sql(uri["uri"], "select current_user") == [("neondb_owner",)]
    status, revealed, _ = call(neon, "GET", "/projects/%s/branches/%s/roles/neondb_owner/reveal_password"
                               % (pid, main))
    assert revealed == {"password": new_password}
    assert neon.violations() == []


def test_project_list_pagination(fresh):
    ids = [fresh.create_project("page-%d" % i)["id"] for i in range(3)]
    status, first, _ = call(fresh, "GET", "/projects", params={"limit": 2})
    assert [p["id"] for p in first["projects"]] == ids[:2]
    status, second, _ = call(fresh, "GET", "/projects", params={"limit": 2, "cursor": first["pagination"]["cursor"]})
    assert [p["id"] for p in second["projects"]] == ids[2:]
    status, found, _ = call(fresh, "GET", "/projects", params={"search": "PAGE-1"})
    assert [p["id"] for p in found["projects"]] == [ids[1]]
    assert fresh.violations() == []


def test_stop_leaves_no_postgres_running(tmp_path):
    server = NeonStandIn(str(tmp_path / "neon"), op_delay=0)
    server.start()
    pg_root = (tmp_path / "neon" / "pg-root").read_text().strip()
    project = server.create_project("stopper")
    status, data, _ = call(server, "POST", "/projects/%s/branches" % project["id"],
                           {"branch": {"name": "b"}, "endpoints": [{"type": "read_write"}, {"type": "read_only"}]})
    assert status == 201, data
    running = server.postmaster_pids()
    assert len(running) >= 3  # main, the branch, its standby
    assert postgres_processes(pg_root)
    server.stop()
    deadline = time.monotonic() + 5
    while postgres_processes(pg_root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert postgres_processes(pg_root) == []
    assert subprocess.run(["pgrep", "-f", pg_root], capture_output=True).returncode == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(server.api_url + "/projects", timeout=2)


# --- branch names and expiry -----------------------------------------------------------------------------------

def iso_in(seconds, server=None):
    """An RFC 3339 UTC timestamp `seconds` from the stand-in's expiry clock (now when no server is given)."""
    now = server.now() if server else time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))


def test_branch_names_as_neon_limits_them(fresh):
    """On a private stand-in: the contract's refusals below are violations, which the session's must not get."""
    pid = fresh.create_project("names")["id"]
    data = change(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "preview/pr-42 é"}})
    assert data["branch"]["name"] == "preview/pr-42 é"  # no character set is documented
    data = change(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "b" * 256}})
    assert data["branch"]["name"] == "b" * 256
    status, err, _ = call(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "nul\u0000name"}})
    assert status == 400 and "NUL" in err["message"]
    status, err, _ = call(fresh, "PATCH", "/projects/%s/branches/%s" % (pid, data["branch"]["id"]),
                          {"branch": {"name": "bad\u0000"}})
    assert status == 400 and "NUL" in err["message"]
    assert fresh.violations() == []
    earlier = len(fresh.violations())
    status, err, _ = call(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": "b" * 257}})
    assert status == 400 and "/branch/name" in err["message"]  # the description's maxLength, through the contract
    status, err, _ = call(fresh, "POST", "/projects/%s/branches" % pid, {"branch": {"name": ""}})
    assert status == 400
    assert [v["status"] for v in fresh.violations()[earlier:]] == [400, 400]


def test_branch_expiry_is_checked_as_neon_documents_it(fresh):
    created = create_project(fresh)
    pid, main = created["project"]["id"], created["branch"]["id"]
    branches = "/projects/%s/branches" % pid
    # format, future, 30 days
    for bad, words in ((iso_in(-60), "in the future"), (iso_in(30 * 86400 + 120), "30 days")):
        status, err, _ = call(fresh, "POST", branches, {"branch": {"name": "x", "expires_at": bad}})
        assert status == 400 and words in err["message"], (bad, err)
    # a zone offset and a fraction are accepted; the answer is UTC, in whole seconds, with the TTL interval
    local = time.strftime("%Y-%m-%dT%H:%M:%S.250+02:00", time.gmtime(fresh.now() + 7 * 86400 + 7200))
    data = change(fresh, "POST", branches, {"branch": {"name": "preview-1", "expires_at": local}})
    expires = calendar.timegm(time.strptime(data["branch"]["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (fresh.now() + 7 * 86400)) <= 2  # +02:00 read as such, the .250 dropped
    assert abs(data["branch"]["ttl_interval_seconds"] - 7 * 86400) <= 2
    preview = data["branch"]["id"]
    # restrictions: default branch, protected branch, branch with children, child of an expiring branch
    status, err, _ = call(fresh, "PATCH", "%s/%s" % (branches, main), {"branch": {"expires_at": iso_in(3600)}})
    assert status == 400 and "default branch" in err["message"]
    status, err, _ = call(fresh, "POST", branches, {"branch": {"name": "c", "parent_id": preview}})
    assert status == 400 and "expiration" in err["message"]
    status, err, _ = call(fresh, "POST", branches, {"branch": {"name": "p", "protected": True,
                                                               "expires_at": iso_in(3600)}})
    assert status == 400 and "protected" in err["message"]
    status, err, _ = call(fresh, "PATCH", "%s/%s" % (branches, preview), {"branch": {"protected": True}})
    assert status == 400 and "protect" in err["message"]
    parent = change(fresh, "POST", branches, {"branch": {"name": "parent"}})["branch"]["id"]
    change(fresh, "POST", branches, {"branch": {"name": "child", "parent_id": parent}})
    status, err, _ = call(fresh, "PATCH", "%s/%s" % (branches, parent), {"branch": {"expires_at": iso_in(3600)}})
    assert status == 400 and "child" in err["message"]
    # PATCH moves it, null removes it (and the TTL interval with it)
    later = iso_in(20 * 86400, fresh)
    data = change(fresh, "PATCH", "%s/%s" % (branches, preview), {"branch": {"expires_at": later}})
    assert data["branch"]["expires_at"] == later
    data = change(fresh, "PATCH", "%s/%s" % (branches, preview), {"branch": {"expires_at": None}})
    assert "expires_at" not in data["branch"] and "ttl_interval_seconds" not in data["branch"]
    assert fresh.violations() == []


def test_expired_branch_is_deleted_at_the_next_request(fresh):
    created = create_project(fresh)
    pid = created["project"]["id"]
    branches = "/projects/%s/branches" % pid
    data = change(fresh, "POST", branches, {"branch": {"name": "short", "expires_at": iso_in(3600, fresh)},
                                            "endpoints": [{"type": "read_write"}]})
    kept = change(fresh, "POST", branches, {"branch": {"name": "kept", "expires_at": iso_in(7200, fresh)}})
    uri = data["connection_uris"][0]["connection_uri"]
    assert sql(uri, "select 1") == [(1,)]
    fresh.advance_clock(3601)
    names = [b["name"] for b in call(fresh, "GET", branches)[1]["branches"]]
    assert sorted(names) == ["kept", "main"]
    assert call(fresh, "GET", "%s/%s" % (branches, data["branch"]["id"]))[0] == 404
    assert call(fresh, "GET", "/projects/%s/endpoints/%s" % (pid, data["endpoints"][0]["id"]))[0] == 404
    with pytest.raises(psycopg.OperationalError):
        sql(uri, "select 1")  # its compute is gone with it
    assert kept["branch"]["id"] in [b["id"] for b in call(fresh, "GET", branches)[1]["branches"]]
    assert fresh.violations() == []
