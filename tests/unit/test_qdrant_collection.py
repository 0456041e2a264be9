"""qdrant_collection against the Qdrant stand-in, run as Ansible runs it."""
import json
import urllib.request
import uuid

import pytest

from conftest import run_module

MODULE = "qdrant_collection"


def info(qdrant, name):
    """The collection as the stand-in reports it (None when absent)."""
    request = urllib.request.Request("%s/collections/%s" % (qdrant.url, name), headers={"api-key": qdrant.api_key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["result"]
    except urllib.error.HTTPError as err:
        assert err.code == 404
        return None


def methods(qdrant):
    return [(entry["method"], entry["path"]) for entry in qdrant.requests()]


def only_reads(qdrant):
    return all(entry["method"] == "GET" for entry in qdrant.requests())


@pytest.fixture
def name():
    return "docs_%s" % uuid.uuid4().hex[:8]


@pytest.fixture
def collection(qdrant, qdrant_args, name):
    """A collection of 4-dimensional cosine vectors, created by the module; the log is reset afterwards."""
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(size=4, distance="Cosine")))
    assert result["changed"] is True, result
    qdrant.reset_log()
    return name


def test_create_then_nothing_to_do(qdrant, qdrant_args, name):
    args = dict(qdrant_args, name=name, vectors=dict(size=384, distance="cosine"), hnsw_config=dict(m=32),
                optimizers_config=dict(indexing_threshold=0), on_disk_payload=False,
                payload_indexes=[dict(field="chapter", schema="keyword"), dict(field="year", schema="integer")])
    result = run_module(MODULE, args)
    assert result["changed"] is True, result
    created = info(qdrant, name)
    assert created["config"]["params"]["vectors"] == {"size": 384, "distance": "Cosine"}
    assert created["config"]["hnsw_config"]["m"] == 32
    assert created["config"]["optimizer_config"]["indexing_threshold"] == 0
    assert created["config"]["params"]["on_disk_payload"] is False
    assert {field: index["data_type"] for field, index in created["payload_schema"].items()} == {
        "chapter": "keyword", "year": "integer"}
    assert result["collection"] == created
    assert result["config"]["payload_indexes"] == {"chapter": "keyword", "year": "integer"}

    qdrant.reset_log()
    again = run_module(MODULE, dict(args, vectors=dict(size=384, distance="COSINE")))
    assert again["changed"] is False, again
    assert only_reads(qdrant) and len(qdrant.requests()) == 2
    assert again["config"] == result["config"]
    assert qdrant.violations() == [] or all(name not in v["path"] for v in qdrant.violations())


def test_check_mode_creates_nothing(qdrant, qdrant_args, name):
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(size=4, distance="Dot"),
                                     payload_indexes=[dict(field="lang", schema="keyword")]), check=True, diff=True)
    assert result["changed"] is True and result["collection"] is None
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["vectors"] == {"size": 4, "distance": "Dot"}
    assert result["diff"]["after"]["payload_indexes"] == {"lang": "keyword"}
    assert info(qdrant, name) is None
    assert only_reads(qdrant)


def test_update_in_place_with_one_patch_and_diff(qdrant, qdrant_args, collection):
    args = dict(qdrant_args, name=collection, vectors=dict(size=4, distance="Cosine", on_disk=True),
                hnsw_config=dict(ef_construct=200), optimizers_config=dict(deleted_threshold=0.3),
                on_disk_payload=False, quantization_config=dict(scalar=dict(type="int8", always_ram=True)))
    result = run_module(MODULE, args, diff=True)
    assert result["changed"] is True, result
    writes = [entry for entry in methods(qdrant) if entry[0] != "GET"]
    assert writes == [("PATCH", "/collections/" + collection)]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["vectors"] == {"size": 4, "distance": "Cosine"}
    assert after["vectors"] == {"size": 4, "distance": "Cosine", "on_disk": True}
    assert (before["hnsw_config"]["ef_construct"], after["hnsw_config"]["ef_construct"]) == (100, 200)
    assert (before["optimizers_config"]["deleted_threshold"], after["optimizers_config"]["deleted_threshold"]) == (
        0.2, 0.3)
    assert (before["on_disk_payload"], after["on_disk_payload"]) == (True, False)
    assert (before["quantization_config"], after["quantization_config"]) == (
        None, {"scalar": {"type": "int8", "always_ram": True}})
    config = info(qdrant, collection)["config"]
    assert config["params"]["vectors"]["on_disk"] is True and config["hnsw_config"]["ef_construct"] == 200
    assert config["quantization_config"] == {"scalar": {"type": "int8", "always_ram": True}}

    qdrant.reset_log()
    assert run_module(MODULE, args)["changed"] is False
    assert only_reads(qdrant)


def test_check_mode_update_changes_nothing(qdrant, qdrant_args, collection):
    result = run_module(MODULE, dict(qdrant_args, name=collection, hnsw_config=dict(m=64)), check=True, diff=True)
    assert result["changed"] is True
    assert (result["diff"]["before"]["hnsw_config"]["m"], result["diff"]["after"]["hnsw_config"]["m"]) == (16, 64)
    assert info(qdrant, collection)["config"]["hnsw_config"]["m"] == 16
    assert only_reads(qdrant)


def test_named_vectors_update_one_vector(qdrant, qdrant_args, name):
    vectors = dict(text=dict(size=3, distance="Dot"), image=dict(size=2, distance="Euclid"))
    assert run_module(MODULE, dict(qdrant_args, name=name, vectors=vectors))["changed"] is True
    vectors["image"]["hnsw_config"] = dict(m=8)
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=vectors))
    assert result["changed"] is True, result
    stored = info(qdrant, name)["config"]["params"]["vectors"]
    assert stored["image"]["hnsw_config"] == {"m": 8} and "hnsw_config" not in stored["text"]
    assert run_module(MODULE, dict(qdrant_args, name=name, vectors=vectors))["changed"] is False


@pytest.mark.parametrize("vectors, reported", [
    (dict(size=8, distance="Cosine"), "vectors.size: 4 in the collection, 8 requested"),
    (dict(size=4, distance="Dot"), "vectors.distance: Cosine in the collection, Dot requested"),
    (dict(text=dict(size=4, distance="Cosine")), "the collection has one unnamed vector, the task asks for named"),
])
def test_rebuild_needing_change_is_refused(qdrant, qdrant_args, collection, vectors, reported):
    result = run_module(MODULE, dict(qdrant_args, name=collection, vectors=vectors))
    assert result.get("failed") is True
    assert reported in result["msg"]
    assert "qdrant_alias" in result["msg"] and "new collection" in result["msg"]
    assert only_reads(qdrant)
    assert info(qdrant, collection)["config"]["params"]["vectors"] == {"size": 4, "distance": "Cosine"}


def test_named_vector_added_is_refused(qdrant, qdrant_args, name):
    run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(text=dict(size=3, distance="Dot"))))
    qdrant.reset_log()
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(text=dict(size=3, distance="Dot"),
                                                                          image=dict(size=2, distance="Dot"))))
    assert result.get("failed") is True and "vectors.image: would be added" in result["msg"]
    assert only_reads(qdrant)


def test_payload_indexes_added_replaced_and_purged(qdrant, qdrant_args, collection):
    args = dict(qdrant_args, name=collection, payload_indexes=[dict(field="lang", schema="keyword"),
                                                               dict(field="year", schema="integer")])
    assert run_module(MODULE, args)["changed"] is True
    assert sorted(info(qdrant, collection)["payload_schema"]) == ["lang", "year"]

    qdrant.reset_log()
    kept = dict(args, payload_indexes=[dict(field="year", schema="float")])
    result = run_module(MODULE, kept, diff=True)  # year replaced; lang kept (no purge)
    assert result["changed"] is True
    assert result["diff"]["after"]["payload_indexes"] == {"lang": "keyword", "year": "float"}
    assert {f: i["data_type"] for f, i in info(qdrant, collection)["payload_schema"].items()} == {
        "lang": "keyword", "year": "float"}

    qdrant.reset_log()
    result = run_module(MODULE, dict(kept, purge_payload_indexes=True), check=True)
    assert result["changed"] is True and only_reads(qdrant)
    result = run_module(MODULE, dict(kept, purge_payload_indexes=True))
    assert result["changed"] is True
    assert ("DELETE", "/collections/%s/index/lang" % collection) in methods(qdrant)
    assert list(info(qdrant, collection)["payload_schema"]) == ["year"]
    assert run_module(MODULE, dict(kept, purge_payload_indexes=True))["changed"] is False


def test_absent(qdrant, qdrant_args, collection):
    result = run_module(MODULE, dict(qdrant_args, name=collection, state="absent"), check=True)
    assert result["changed"] is True and info(qdrant, collection) is not None and only_reads(qdrant)
    result = run_module(MODULE, dict(qdrant_args, name=collection, state="absent"), diff=True)
    assert result["changed"] is True and result["diff"]["after"] == {}
    assert result["diff"]["before"]["vectors"] == {"size": 4, "distance": "Cosine"}
    assert info(qdrant, collection) is None
    qdrant.reset_log()
    assert run_module(MODULE, dict(qdrant_args, name=collection, state="absent"))["changed"] is False
    assert only_reads(qdrant)


def test_create_needs_vectors(qdrant, qdrant_args, name):
    result = run_module(MODULE, dict(qdrant_args, name=name, hnsw_config=dict(m=8)))
    assert result.get("failed") is True and "set vectors" in result["msg"]
    assert only_reads(qdrant)


@pytest.mark.parametrize("vectors, option, words", [
    (dict(size=0, distance="Cosine"), "vectors.size", "positive integer"),
    (dict(size=-3, distance="Cosine"), "vectors.size", "positive integer"),
    (dict(size="many", distance="Cosine"), "vectors.size", "positive integer"),
    (dict(size=4, distance="cosinus"), "vectors.distance", "Cosine, Euclid, Dot, Manhattan"),
    (dict(text=dict(size=0, distance="Dot")), "vectors.text.size", "positive integer"),
    (dict(size=4, distance="Dot", dims=4), "vectors", "unknown keys dims"),
])
def test_bad_input_fails_before_any_request(qdrant, qdrant_args, name, vectors, option, words):
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=vectors))
    assert result.get("failed") is True
    assert result["msg"].startswith(option) and words in result["msg"]
    assert qdrant.requests() == []


def test_bad_name_fails_before_any_request(qdrant, qdrant_args):
    result = run_module(MODULE, dict(qdrant_args, name="a/b", vectors=dict(size=4, distance="Dot")))
    assert result.get("failed") is True and result["msg"].startswith("name must be")
    assert qdrant.requests() == []


def test_missing_api_key_fails_on_the_first_read(qdrant, qdrant_args, name):
    args = dict(qdrant_args, name=name, vectors=dict(size=4, distance="Dot"))
    del args["api_key"]
    result = run_module(MODULE, args, env={"QDRANT_API_KEY": ""})
    assert result.get("failed") is True and result["status"] == 401
    assert "Must provide an API key" in result["msg"]
    assert "`token` option or the QDRANT_API_KEY environment variable" in result["msg"]
    assert [entry["status"] for entry in qdrant.requests()] == [401]  # refused read; nothing was attempted after


def test_api_key_from_environment(qdrant, qdrant_args, name):
    args = dict(qdrant_args, name=name, vectors=dict(size=4, distance="Dot"))
    del args["api_key"]
    assert run_module(MODULE, args, env={"QDRANT_API_KEY": qdrant.api_key})["changed"] is True


def test_api_key_never_in_output(qdrant, qdrant_args, name):
    wrong = "wrong-key-%s" % uuid.uuid4().hex
    result = run_module(MODULE, dict(qdrant_args, api_key=wrong, name=name, vectors=dict(size=4, distance="Dot")),
                        diff=True)
    assert result.get("failed") is True and result["status"] == 401 and "Invalid API key" in result["msg"]
    assert wrong not in result["_stdout"] + result["_stderr"]
    good = run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(size=4, distance="Dot")), diff=True)
    assert good["changed"] is True
    assert qdrant.api_key not in good["_stdout"] + good["_stderr"]


def test_429_and_500_are_retried(qdrant, qdrant_args, name):
    qdrant.inject_fault("http_429", method="GET", path=r"^/collections$", retry_after=0)
    qdrant.inject_fault("http_500", method="PUT", path=r"^/collections/%s$" % name)
    qdrant.inject_fault("http_503", method="PUT", path=r"/index$")
    result = run_module(MODULE, dict(qdrant_args, name=name, vectors=dict(size=4, distance="Dot"),
                                     payload_indexes=[dict(field="lang", schema="keyword")]))
    assert result["changed"] is True, result
    statuses = [(entry["method"], entry["status"]) for entry in qdrant.requests()]
    assert statuses[:2] == [("GET", 429), ("GET", 200)]
    assert ("PUT", 500) in statuses and ("PUT", 503) in statuses
    assert info(qdrant, name)["payload_schema"]["lang"]["data_type"] == "keyword"


def test_patch_is_retried_after_500(qdrant, qdrant_args, collection):
    qdrant.inject_fault("http_500", method="PATCH")
    result = run_module(MODULE, dict(qdrant_args, name=collection, hnsw_config=dict(m=24)))
    assert result["changed"] is True, result
    assert [entry["status"] for entry in qdrant.requests() if entry["method"] == "PATCH"] == [500, 200]
    assert info(qdrant, collection)["config"]["hnsw_config"]["m"] == 24


def test_retries_exhausted_reports_status_and_message(qdrant, qdrant_args, collection):
    qdrant.inject_fault("http_500", method="PATCH", times=5)
    result = run_module(MODULE, dict(qdrant_args, name=collection, retries=1, hnsw_config=dict(m=24)))
    assert result.get("failed") is True and result["status"] == 500
    assert "Could not update collection %s" % collection in result["msg"]
    assert "Service internal error" in result["msg"]
