"""The Grafana stand-in: its contract checks (requests and responses against Grafana's OpenAPI description), auth,
and the folder, dashboard and annotation behaviour the clients depend on. Each test has its own stand-in (`grafana`,
tests/fixtures_grafana.py): state is in memory, so one costs nothing."""
import json
import re

import pytest
import requests

from sandbox.grafana import GrafanaStandIn, contract, server
from sandbox.grafana.extract_openapi import COMMIT, OPERATIONS, subset


def call(grafana, method, path, body=None, token=None, params=None, headers=None, data=None):
    """One API call below /api: (status, decoded JSON or None)."""
    h = {"Authorization": "Bearer %s" % (token or grafana.token)}
    h.update(headers or {})
    response = requests.request(method, grafana.url + "/api" + path, json=body, data=data, params=params, headers=h,
                                timeout=30)
    return response.status_code, (response.json() if response.content else None)


def folder(grafana, title="textbook", **extra):
    status, data = call(grafana, "POST", "/folders", dict({"title": title}, **extra))
    assert status == 200, data
    return data


def save(grafana, dashboard, **extra):
    return call(grafana, "POST", "/dashboards/db", dict({"dashboard": dashboard}, **extra))


# --- the contract subset ---------------------------------------------------------------------------------------

def test_subset_is_recorded_and_complete():
    spec = contract.load_spec()
    assert contract.source()["repository"] == "grafana/grafana"
    assert contract.source()["path"] == "public/openapi3.json"
    assert contract.source()["commit"] == COMMIT
    assert spec["servers"] == [{"url": "/api"}]
    for path, methods in OPERATIONS.items():
        assert set(methods) <= set(spec["paths"][path])
    text = open(contract.SPEC_FILE).read()
    for kind, name in set(re.findall(r'"#/components/(\w+)/([^"]+)"', text)):
        assert name in spec["components"][kind], (kind, name)


def test_subset_extraction_is_deterministic():
    spec = {"openapi": "3.0.3", "info": {"title": "t"}, "servers": [{"url": "/api"}], "security": [{"k": []}],
            "paths": {p: {m: {"responses": {"200": {"$ref": "#/components/responses/R"}}} for m in ms}
                      for p, ms in OPERATIONS.items()},
            "components": {"responses": {"R": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/B"}}}}},
                "schemas": {"B": {"properties": {"a": {"$ref": "#/components/schemas/A"}}}, "A": {"type": "string"},
                            "Unused": {"type": "integer"}},
                "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "Authorization"}}}}
    one, two = subset(spec), subset(spec)
    assert one == two
    assert list(one["components"]["schemas"]) == ["A", "B"]
    assert list(one["components"]["securitySchemes"]) == ["k"]


def test_misspelt_or_mistyped_fields_are_refused_and_recorded(grafana):
    status, err = call(grafana, "POST", "/folders", {"title": "textbook", "uidd": "typo"})
    assert status == 400 and err["message"].startswith("bad request data") and "uidd" in err["message"]
    status, err = call(grafana, "POST", "/annotations", {"text": "x", "time": "1700000000000"})
    assert status == 400 and "/time" in err["message"]
    status, err = call(grafana, "POST", "/annotations", {"tags": ["deploy"]})
    assert status == 400 and "'text' is a required property" in err["message"]
    status, err = call(grafana, "POST", "/dashboards/db", {"dashboard": {"title": "x"}, "overwrit": True})
    assert status == 400 and "overwrit" in err["message"]
    status, err = call(grafana, "GET", "/folders", params={"limit": "many"})
    assert status == 400 and "limit" in err["message"]
    status, err = call(grafana, "GET", "/search", params={"type": "dash-everything"})
    assert status == 400
    assert [(v["kind"], v["method"], v["status"]) for v in grafana.violations()] == \
        [("request", "POST", 400)] * 4 + [("request", "GET", 400)] * 2
    # nothing was made by the refused requests
    assert grafana.folders() == [] and grafana.annotations() == [] and grafana.dashboards() == []


def test_null_for_an_optional_field_is_what_go_reads_as_absent(grafana):
    # community.grafana's grafana_folder posts exactly this
    status, data = call(grafana, "POST", "/folders", data=json.dumps({"parentUid": None, "title": "t", "uid": None}),
                        headers={"Content-Type": "application/json"})
    assert status == 200 and re.fullmatch(r"[a-z][a-z0-9]{13}", data["uid"]), data
    status, err = call(grafana, "POST", "/annotations", {"text": None})
    assert status == 400  # a required field stays non-null
    assert [v["status"] for v in grafana.violations()] == [400]


def test_unknown_paths_are_violations(grafana):
    assert call(grafana, "GET", "/datasources")[0] == 404
    assert call(grafana, "DELETE", "/folders")[0] == 405
    assert requests.get(grafana.url + "/login", timeout=10).status_code == 404
    assert [(v["method"], v["path"], v["status"]) for v in grafana.violations()] == \
        [("GET", "/datasources", 404), ("DELETE", "/folders", 405), ("GET", "/login", 404)]


def test_a_response_that_breaks_the_description_is_a_stand_in_bug(grafana, monkeypatch):
    monkeypatch.setattr(server.Api, "list_folders", lambda self, **_: (200, [{"id": "1", "uid": "u", "title": "t"}]))
    status, data = call(grafana, "GET", "/folders")
    assert status == 500 and "/0/id" in data["message"]
    assert grafana.violations()[-1]["kind"] == "response"


def test_response_checks_without_a_server():
    request = contract.ApiRequest("POST", "/dashboards/db", "", {"Content-Type": "application/json"},
                                  json.dumps({"dashboard": {"title": "t"}}).encode())

    def problems(status, body):
        return contract.check_response(request, "/dashboards/db", contract.ApiResponse(
            status, [("Content-Type", "application/json")], json.dumps(body).encode()))

    good = {"status": "success", "slug": "t", "version": 1, "id": 1, "uid": "u", "url": "/d/u/t", "folderUid": ""}
    assert problems(200, good) == []  # Grafana's answer: slug, no title (see contract.py)
    assert problems(200, dict(good, version="1"))
    assert problems(200, {k: v for k, v in good.items() if k != "uid"})
    assert problems(201, good) == ["status 201 is not documented for POST /dashboards/db"]
    assert problems(412, {"message": "x", "status": "version-mismatch"}) == []
    assert problems(412, {"status": "version-mismatch"})  # Grafana's errors always have a message
    assert problems(418, {"msg": "teapot"}) == ["'message' is a required property"]


# --- auth ----------------------------------------------------------------------------------------------------

def test_tokens(grafana):
    assert call(grafana, "GET", "/folders", headers={"Authorization": ""}) == (401, {"message": "Unauthorized"})
    status, err = call(grafana, "GET", "/folders", token="glsa_wrong")
    assert (status, err["message"], err["messageId"]) == (401, "Invalid API key", "api-key.invalid")
    status, err = call(grafana, "GET", "/folders", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert status == 401
    # /api/health answers everybody, as Grafana's does; the version is read from it and from frontend settings
    response = requests.get(grafana.url + "/api/health", timeout=10)
    assert response.status_code == 200 and response.json()["version"] == "12.0.0"
    assert call(grafana, "GET", "/frontend/settings")[1]["buildInfo"]["version"] == "12.0.0"
    assert call(grafana, "GET", "/frontend/settings", token="glsa_wrong")[0] == 401
    assert grafana.violations() == []


# --- folders, dashboards, annotations --------------------------------------------------------------------------

def test_folders(grafana):
    made = folder(grafana, "textbook", uid="tb", description="dashboards")
    assert (made["uid"], made["title"], made["version"]) == ("tb", "textbook", 1)
    assert made["url"] == "/dashboards/f/tb/textbook"
    assert call(grafana, "POST", "/folders", {"title": "other", "uid": "tb"})[0] == 409
    assert call(grafana, "POST", "/folders", {"title": "Textbook"})[0] == 409
    assert call(grafana, "POST", "/folders", {"title": "x", "uid": "no spaces"})[0] == 400
    assert call(grafana, "POST", "/folders", {"title": "x", "uid": "u" * 41})[0] == 400
    assert call(grafana, "POST", "/folders", {"title": ""})[0] == 400
    child = folder(grafana, "child", parentUid="tb")
    assert call(grafana, "GET", "/folders")[1] == [{"id": made["id"], "uid": "tb", "title": "textbook"}]
    assert call(grafana, "GET", "/folders", params={"parentUid": "tb"})[1] == \
        [{"id": child["id"], "uid": child["uid"], "title": "child", "parentUid": "tb"}]
    assert grafana.violations() == []


def test_dashboards_versions_and_overwrite(grafana):
    box = folder(grafana)
    status, made = save(grafana, {"title": "Deploys", "uid": "deploys", "version": 7, "panels": []},
                        folderId=box["id"])
    assert status == 200 and (made["uid"], made["version"], made["folderUid"], made["slug"]) == \
        ("deploys", 1, box["uid"], "deploys")
    assert made["url"] == "/d/deploys/deploys" and "title" not in made
    status, got = call(grafana, "GET", "/dashboards/uid/deploys")
    assert got["dashboard"] == {"title": "Deploys", "uid": "deploys", "version": 1, "panels": [], "id": made["id"]}
    assert (got["meta"]["folderId"], got["meta"]["folderUid"], got["meta"]["folderTitle"]) == \
        (box["id"], box["uid"], "textbook")
    # a stale version is refused without overwrite, replaced with it
    status, err = save(grafana, {"title": "Deploys", "uid": "deploys", "version": 0}, folderUid=box["uid"])
    assert (status, err["status"]) == (412, "version-mismatch")
    assert save(grafana, {"title": "Deploys", "uid": "deploys", "version": 1}, folderUid=box["uid"])[1]["version"] == 2
    status, replaced = save(grafana, {"title": "Deploys", "uid": "deploys"}, folderUid=box["uid"], overwrite=True)
    assert replaced["version"] == 3
    # another dashboard with the same title in the folder
    status, err = save(grafana, {"title": "Deploys", "uid": "other"}, folderUid=box["uid"])
    assert (status, err["status"]) == (412, "name-exists")
    # a generated uid, the General folder
    status, general = save(grafana, {"title": "Loose"})
    assert status == 200 and general["folderUid"] == "" and re.fullmatch(r"[a-z][a-z0-9]{13}", general["uid"])
    assert call(grafana, "GET", "/dashboards/uid/%s" % general["uid"])[1]["meta"]["folderTitle"] == "General"
    # refusals
    assert call(grafana, "GET", "/dashboards/uid/nope") == (404, {"message": "Dashboard not found"})
    assert save(grafana, {"title": "x", "id": 999})[0] == 404
    assert save(grafana, {"title": "x"}, folderId=999)[0] == 400
    assert save(grafana, {"title": "x"}, folderUid="nope")[0] == 400
    assert save(grafana, {"panels": []})[0] == 400
    assert save(grafana, {"title": "x", "uid": "bad uid"})[0] == 400
    assert save(grafana, {"title": "x"}, isFolder=True)[0] == 400
    assert {d["uid"]: d["version"] for d in grafana.dashboards()} == {"deploys": 3, general["uid"]: 1}
    assert grafana.violations() == []


def test_search(grafana):
    box = folder(grafana)
    save(grafana, {"title": "Deploys", "uid": "deploys", "tags": ["textbook"]}, folderId=box["id"])
    save(grafana, {"title": "Loose", "uid": "loose"})
    status, hits = call(grafana, "GET", "/search",
                        params={"folderIds": box["id"], "query": "deploy", "type": "dash-db"})
    assert status == 200 and [(h["uid"], h["folderUid"], h["type"]) for h in hits] == \
        [("deploys", box["uid"], "dash-db")]
    assert [h["uid"] for h in call(grafana, "GET", "/search", params={"folderIds": 0})[1]] == ["loose"]
    assert [h["uid"] for h in call(grafana, "GET", "/search", params={"tag": "textbook"})[1]] == ["deploys"]
    assert [h["type"] for h in call(grafana, "GET", "/search")[1]] == ["dash-db", "dash-db", "dash-folder"]
    assert grafana.violations() == []


def test_annotations(grafana):
    status, data = call(grafana, "POST", "/annotations",
                        {"time": 1700000000000, "timeEnd": 1700000005000, "tags": ["deploy"], "text": "done"})
    assert (status, data) == (200, {"message": "Annotation added", "id": 1})
    stored = grafana.annotations()[0]
    assert (stored["time"], stored["timeEnd"], stored["tags"], stored["text"]) == \
        (1700000000000, 1700000005000, ["deploy"], "done")
    assert call(grafana, "POST", "/annotations", {"text": ""})[0] == 400
    assert call(grafana, "POST", "/annotations", {"text": "x", "dashboardUID": "nope"})[0] == 400
    assert grafana.violations() == []


def test_faults_and_request_log(grafana):
    grafana.inject_fault("http_503", method="POST", path=r"^/annotations$")
    assert call(grafana, "POST", "/annotations", {"text": "x"})[0] == 503
    assert call(grafana, "POST", "/annotations", {"text": "x"})[0] == 200
    with pytest.raises(ValueError):
        grafana.inject_fault("http_418")
    assert grafana.requests() == [{"method": "POST", "path": "/annotations", "status": 503},
                                  {"method": "POST", "path": "/annotations", "status": 200}]
    grafana.reset_log()
    assert grafana.requests() == []
    assert grafana.violations() == []


def test_a_given_token_and_stop():
    with GrafanaStandIn(token="glsa_given") as grafana:
        assert call(grafana, "GET", "/folders", token="glsa_given")[0] == 200
        url = grafana.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/health", timeout=5)
