"""The Qdrant stand-in: Qdrant's envelope and status codes, request/response checks, auth, aliases, real points."""
import json
import math
import urllib.error
import urllib.request
import uuid

import pytest

from sandbox.qdrant import api


def call(qdrant, method, path, body=None, key="default", headers=None):
    """(status, decoded body or text, response headers)."""
    request = urllib.request.Request(qdrant.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if key == "default":
        key = qdrant.api_key
    if key is not None:
        request.add_header("api-key", key)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, raw, got = err.code, err.read(), dict(err.headers)
    try:
        return status, json.loads(raw), got
    except ValueError:
        return status, raw.decode(), got


def fresh(prefix="c"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def create(qdrant, name, vectors=None, **extra):
    body = dict(vectors=vectors or {"size": 4, "distance": "Cosine"}, **extra)
    status, data, _ = call(qdrant, "PUT", "/collections/" + name, body)
    assert status == 200, data
    return data


def test_envelope_and_version(qdrant):
    status, data, _ = call(qdrant, "GET", "/collections")
    assert status == 200
    assert set(data) == {"result", "status", "time"} and data["status"] == "ok"
    assert isinstance(data["time"], float) and isinstance(data["result"]["collections"], list)
    status, data, _ = call(qdrant, "GET", "/", key=None)  # no key needed, no envelope
    assert status == 200 and data["title"] == "qdrant - vector search engine" and data["version"]
    status, text, _ = call(qdrant, "GET", "/healthz", key=None)
    assert (status, text) == (200, "healthz check passed")


def test_create_twice_is_409_and_missing_is_404(qdrant):
    name = fresh()
    assert create(qdrant, name)["result"] is True
    status, data, _ = call(qdrant, "PUT", "/collections/" + name, {"vectors": {"size": 4, "distance": "Cosine"}})
    assert status == 409
    assert data["status"] == {"error": "Wrong input: Collection `%s` already exists!" % name}
    assert isinstance(data["time"], float) and "result" not in data
    status, data, _ = call(qdrant, "GET", "/collections/" + fresh("missing"))
    assert status == 404 and data["status"]["error"].startswith("Not found: Collection")
    status, data, _ = call(qdrant, "DELETE", "/collections/" + fresh("missing"))
    assert (status, data["result"]) == (200, False)  # Qdrant answers false, not 404


def test_collection_info_has_qdrants_shape(qdrant):
    name = fresh()
    create(qdrant, name, hnsw_config={"m": 32}, optimizers_config={"indexing_threshold": 0})
    status, data, _ = call(qdrant, "GET", "/collections/" + name)
    info = data["result"]
    assert status == 200 and info["status"] == "green" and info["optimizer_status"] == "ok"
    assert info["points_count"] == 0 and info["payload_schema"] == {}
    config = info["config"]
    assert config["params"]["vectors"] == {"size": 4, "distance": "Cosine"}
    assert config["params"]["on_disk_payload"] is True and config["params"]["replication_factor"] == 1
    assert config["hnsw_config"]["m"] == 32 and config["hnsw_config"]["ef_construct"] == 100
    assert config["optimizer_config"]["indexing_threshold"] == 0
    assert config["wal_config"]["wal_capacity_mb"] == 32 and config["quantization_config"] is None
    assert call(qdrant, "GET", "/collections/%s/exists" % name)[1]["result"] == {"exists": True}
    assert {"name": name} in call(qdrant, "GET", "/collections")[1]["result"]["collections"]
    assert qdrant.violations() == [] or all(v["path"] != "/collections/" + name for v in qdrant.violations())


def test_unknown_field_is_400_and_a_violation(qdrant):
    name = fresh()
    before = len(qdrant.violations())
    status, data, _ = call(qdrant, "PUT", "/collections/" + name,
                           {"vectors": {"size": 4, "distance": "Cosine", "dimension": 4}})
    assert status == 400
    assert data["status"]["error"] == "Format error in JSON body: unknown field `dimension` at vectors.dimension"
    violation = qdrant.violations()[before]
    assert violation["kind"] == "request" and violation["status"] == 400 and violation["path"] == "/collections/" + name
    assert call(qdrant, "GET", "/collections/%s/exists" % name)[1]["result"] == {"exists": False}


def test_wrong_types_and_validator_limits(qdrant):
    status, data, _ = call(qdrant, "PUT", "/collections/" + fresh(), {"vectors": {"size": "4", "distance": "Cosine"}})
    assert status == 400 and "vectors.size" in data["status"]["error"]
    status, data, _ = call(qdrant, "PUT", "/collections/" + fresh(), {"vectors": {"size": 4, "distance": "cosine"}})
    assert status == 400 and "Cosine" in data["status"]["error"]
    status, data, _ = call(qdrant, "PUT", "/collections/" + fresh(), {"vectors": {"size": 0, "distance": "Cosine"}})
    assert status == 422
    assert data["status"]["error"] == ("Validation error in JSON body: [vectors.size: value 0 invalid, must be 1 or "
                                       "larger]")
    assert qdrant.violations()[-1]["status"] == 422


def test_body_needs_json_content_type(qdrant):
    request = urllib.request.Request(qdrant.url + "/collections/" + fresh(), method="PUT",
                                     data=b'{"vectors": {"size": 4, "distance": "Cosine"}}',
                                     headers={"api-key": qdrant.api_key, "Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    assert json.loads(err.value.read())["status"]["error"] == "Content type error"


def test_auth(qdrant):
    status, text, _ = call(qdrant, "GET", "/collections", key=None)
    assert (status, text) == (401, "Must provide an API key or an Authorization bearer token")
    status, text, _ = call(qdrant, "GET", "/collections", key="not-the-key")
    assert (status, text) == (401, "Invalid API key or JWT")
    status, data, _ = call(qdrant, "GET", "/collections", key=None,
                           headers={"Authorization": "Bearer " + qdrant.api_key})
    assert status == 200 and data["status"] == "ok"
    assert [entry["status"] for entry in qdrant.requests()] == [401, 401, 200]


def test_read_only_key_cannot_write(tmp_path):
    from sandbox.qdrant import QdrantStandIn

    with QdrantStandIn(str(tmp_path), api_key="rw-key", read_only_api_key="ro-key") as qdrant:
        assert qdrant.api_key == "rw-key"
        assert call(qdrant, "GET", "/collections", key="ro-key")[0] == 200
        status, data, _ = call(qdrant, "PUT", "/collections/docs", {"vectors": {"size": 4, "distance": "Dot"}},
                               key="ro-key")
        assert status == 403 and data["status"]["error"].startswith("Forbidden")
        assert call(qdrant, "GET", "/collections/docs/exists", key="ro-key")[1]["result"]["exists"] is False


def test_alias_actions_are_all_or_nothing(qdrant):
    first, second = fresh(), fresh()
    create(qdrant, first)
    create(qdrant, second)
    alias = fresh("alias")
    status, data, _ = call(qdrant, "POST", "/collections/aliases", {"actions": [
        {"create_alias": {"alias_name": alias, "collection_name": first}},
        {"create_alias": {"alias_name": fresh("alias"), "collection_name": fresh("missing")}}]})
    assert status == 404 and "doesn't exist" in data["status"]["error"]
    aliases = call(qdrant, "GET", "/aliases")[1]["result"]["aliases"]
    assert alias not in [item["alias_name"] for item in aliases]  # the first action was not applied either

    assert call(qdrant, "POST", "/collections/aliases", {"actions": [
        {"create_alias": {"alias_name": alias, "collection_name": first}}]})[0] == 200
    status, data, _ = call(qdrant, "POST", "/collections/aliases", {"actions": [
        {"delete_alias": {"alias_name": alias}},
        {"create_alias": {"alias_name": alias, "collection_name": second}}]})
    assert (status, data["result"]) == (200, True)
    assert call(qdrant, "GET", "/collections/%s/aliases" % second)[1]["result"]["aliases"] == [
        {"alias_name": alias, "collection_name": second}]
    assert call(qdrant, "GET", "/collections/%s/aliases" % first)[1]["result"]["aliases"] == []
    # an alias stands for its collection in collection operations; deleting the collection drops the alias
    assert call(qdrant, "GET", "/collections/" + alias)[0] == 200
    call(qdrant, "DELETE", "/collections/" + second)
    assert alias not in [item["alias_name"] for item in call(qdrant, "GET", "/aliases")[1]["result"]["aliases"]]


def test_alias_cannot_take_a_collection_name(qdrant):
    first, second = fresh(), fresh()
    create(qdrant, first)
    create(qdrant, second)
    status, data, _ = call(qdrant, "POST", "/collections/aliases", {"actions": [
        {"create_alias": {"alias_name": second, "collection_name": first}}]})
    assert status == 409


def test_points_are_stored_and_searched_for_real(qdrant):
    name = fresh()
    create(qdrant, name)
    status, data, _ = call(qdrant, "PUT", "/collections/%s/points?wait=true" % name, {"points": [
        {"id": 1, "vector": [1, 0, 0, 0], "payload": {"lang": "en"}},
        {"id": 2, "vector": [0.9, 0.1, 0, 0], "payload": {"lang": "de"}},
        {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "vector": [0, 0, 1, 0], "payload": {"lang": "en"}}]})
    assert status == 200 and data["result"]["status"] == "completed"
    status, data, _ = call(qdrant, "POST", "/collections/%s/points/query" % name,
                           {"query": [1, 0, 0, 0], "limit": 2, "with_payload": True})
    points = data["result"]["points"]
    assert [point["id"] for point in points] == [1, 2]
    assert points[0]["score"] == pytest.approx(1.0)
    assert points[1]["score"] == pytest.approx(0.9 / math.sqrt(0.82), rel=1e-5)  # cosine, computed by qdrant-edge
    assert points[0]["payload"] == {"lang": "en"} and "vector" not in points[0]
    status, data, _ = call(qdrant, "POST", "/collections/%s/points/query" % name, {
        "query": {"nearest": [0, 0, 1, 0]}, "limit": 1,
        "filter": {"must": [{"key": "lang", "match": {"value": "en"}}]}})
    assert data["result"]["points"][0]["id"] == "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    status, data, _ = call(qdrant, "POST", "/collections/%s/points/count" % name,
                           {"filter": {"must": [{"key": "lang", "match": {"value": "en"}}]}, "exact": True})
    assert data["result"] == {"count": 2}
    status, data, _ = call(qdrant, "PUT", "/collections/%s/points" % name,
                           {"points": [{"id": 9, "vector": [1, 0, 0]}]})
    assert status == 400 and data["status"]["error"] == "Wrong input: Vector dimension error: expected dim: 4, got 3"
    assert call(qdrant, "GET", "/collections/" + name)[1]["result"]["points_count"] == 3


def test_named_vectors_and_batch_upsert(qdrant):
    name = fresh()
    create(qdrant, name, vectors={"text": {"size": 3, "distance": "Dot"}, "image": {"size": 2, "distance": "Euclid"}})
    status, _, _ = call(qdrant, "PUT", "/collections/%s/points?wait=true" % name, {"batch": {
        "ids": [1, 2], "vectors": {"text": [[1, 2, 3], [3, 2, 1]], "image": [[0, 0], [5, 5]]}}})
    assert status == 200
    data = call(qdrant, "POST", "/collections/%s/points/query" % name,
                {"query": [0, 0], "using": "image", "limit": 2})[1]
    assert [point["id"] for point in data["result"]["points"]] == [1, 2]
    data = call(qdrant, "POST", "/collections/%s/points/query" % name,
                {"query": [1, 0, 0], "using": "text", "limit": 1})[1]
    best = data["result"]["points"][0]
    assert (best["id"], best["score"]) == (2, 3.0)  # dot product [1,0,0].[3,2,1]


def test_payload_indexes_are_reported(qdrant):
    name = fresh()
    create(qdrant, name)
    call(qdrant, "PUT", "/collections/%s/points?wait=true" % name,
         {"points": [{"id": 1, "vector": [1, 0, 0, 0], "payload": {"lang": "en"}}]})
    status, data, _ = call(qdrant, "PUT", "/collections/%s/index?wait=true" % name,
                           {"field_name": "lang", "field_schema": "keyword"})
    assert status == 200 and data["result"]["status"] == "completed"
    schema = call(qdrant, "GET", "/collections/" + name)[1]["result"]["payload_schema"]
    assert schema == {"lang": {"data_type": "keyword", "points": 1}}
    assert call(qdrant, "DELETE", "/collections/%s/index/lang" % name)[0] == 200
    assert call(qdrant, "GET", "/collections/" + name)[1]["result"]["payload_schema"] == {}
    status, data, _ = call(qdrant, "PUT", "/collections/%s/index" % name, {"field_name": "lang", "field_schema": "word"})
    assert status == 400


def test_patch_updates_in_place_and_refuses_size(qdrant):
    name = fresh()
    create(qdrant, name)
    status, data, _ = call(qdrant, "PATCH", "/collections/" + name, {
        "vectors": {"": {"on_disk": True, "hnsw_config": {"m": 8}}}, "hnsw_config": {"ef_construct": 200},
        "optimizers_config": {"indexing_threshold": 5000}, "params": {"on_disk_payload": False},
        "quantization_config": {"scalar": {"type": "int8", "always_ram": True}}})
    assert (status, data["result"]) == (200, True)
    config = call(qdrant, "GET", "/collections/" + name)[1]["result"]["config"]
    assert config["params"]["vectors"] == {"size": 4, "distance": "Cosine", "on_disk": True, "hnsw_config": {"m": 8}}
    assert config["hnsw_config"]["ef_construct"] == 200 and config["hnsw_config"]["m"] == 16
    assert config["optimizer_config"]["indexing_threshold"] == 5000
    assert config["params"]["on_disk_payload"] is False
    assert config["quantization_config"] == {"scalar": {"type": "int8", "always_ram": True}}
    status, data, _ = call(qdrant, "PATCH", "/collections/" + name, {"vectors": {"": {"size": 8}}})
    assert status == 400 and "unknown field `size`" in data["status"]["error"]
    status, data, _ = call(qdrant, "PATCH", "/collections/" + name, {"vectors": {"text": {"on_disk": True}}})
    assert status == 400 and data["status"]["error"].startswith("Wrong input")
    assert call(qdrant, "PATCH", "/collections/" + name, {"quantization_config": "Disabled"})[0] == 200
    config = call(qdrant, "GET", "/collections/" + name)[1]["result"]["config"]
    assert config["params"]["vectors"]["size"] == 4 and config["quantization_config"] is None


def test_faults(qdrant):
    qdrant.inject_fault("http_429", method="GET", path=r"^/collections$", retry_after=3)
    status, data, headers = call(qdrant, "GET", "/collections")
    assert status == 429 and headers["Retry-After"] == "3" and data["status"]["error"].startswith("Rate limiting")
    assert call(qdrant, "GET", "/collections")[0] == 200  # used up
    qdrant.inject_fault("http_500", times=2)
    assert [call(qdrant, "GET", "/collections")[0] for _ in range(3)] == [500, 500, 200]
    qdrant.inject_fault("http_503", path="/aliases")
    assert call(qdrant, "GET", "/collections")[0] == 200
    assert call(qdrant, "GET", "/aliases")[0] == 503
    qdrant.inject_fault("http_500")
    qdrant.clear_faults()
    assert call(qdrant, "GET", "/collections")[0] == 200
    with pytest.raises(ValueError):
        qdrant.inject_fault("http_418")


def test_unknown_path_is_a_violation(qdrant):
    status, text, _ = call(qdrant, "POST", "/collections/x/points/recommend", {"positive": [1]})
    assert (status, text) == (404, "")
    assert qdrant.violations()[-1]["message"] == "no such operation in the stand-in"


def test_a_response_that_breaks_the_model_is_a_stand_in_bug(qdrant, monkeypatch):
    monkeypatch.setitem(api.HANDLERS, "list_collections", lambda *args: {"collections": [], "total": 0})
    status, data, _ = call(qdrant, "GET", "/collections")
    assert status == 500 and "unknown field `total`" in data["status"]["error"]
    assert qdrant.violations()[-1]["kind"] == "response"


def test_request_log(qdrant):
    call(qdrant, "GET", "/collections/%s/exists?x=1" % "abc")
    assert qdrant.requests() == [{"method": "GET", "path": "/collections/abc/exists", "status": 200}]
    qdrant.reset_log()
    assert qdrant.requests() == []
