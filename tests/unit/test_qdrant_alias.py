"""qdrant_alias against the Qdrant stand-in, run as Ansible runs it."""
import json
import urllib.request
import uuid

import pytest

from conftest import run_module

MODULE = "qdrant_alias"


def http(qdrant, method, path, body=None):
    request = urllib.request.Request(qdrant.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"api-key": qdrant.api_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["result"]


def target_of(qdrant, alias):
    return {item["alias_name"]: item["collection_name"]
            for item in http(qdrant, "GET", "/aliases")["aliases"]}.get(alias)


def writes(qdrant):
    return [(entry["method"], entry["path"]) for entry in qdrant.requests() if entry["method"] != "GET"]


@pytest.fixture
def collections(qdrant):
    """Two collections (old and new index); the request log starts empty."""
    names = ["docs_%s_v%d" % (uuid.uuid4().hex[:6], version) for version in (1, 2)]
    for name in names:
        http(qdrant, "PUT", "/collections/" + name, {"vectors": {"size": 4, "distance": "Cosine"}})
    qdrant.reset_log()
    return names


@pytest.fixture
def alias():
    return "docs_%s" % uuid.uuid4().hex[:8]


def test_create_then_nothing_to_do(qdrant, qdrant_args, collections, alias):
    result = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]), diff=True)
    assert result["changed"] is True, result
    assert (result["previous_collection"], result["collection"]) == (None, collections[0])
    assert result["diff"] == {"before": {alias: None},
                              "after": {alias: collections[0]}}
    assert writes(qdrant) == [("POST", "/collections/aliases")]
    assert target_of(qdrant, alias) == collections[0]
    qdrant.reset_log()
    again = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    assert again["changed"] is False and again["previous_collection"] == collections[0]
    assert writes(qdrant) == [] and len(qdrant.requests()) == 1


def test_switch_is_one_request(qdrant, qdrant_args, collections, alias):
    run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    qdrant.reset_log()
    result = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[1]), diff=True)
    assert result["changed"] is True
    assert (result["previous_collection"], result["collection"]) == tuple(collections)
    assert result["diff"]["before"] == {alias: collections[0]}
    assert result["diff"]["after"] == {alias: collections[1]}
    assert writes(qdrant) == [("POST", "/collections/aliases")]  # delete_alias + create_alias together
    assert target_of(qdrant, alias) == collections[1]
    assert qdrant.violations() == [] or all(v["path"] != "/collections/aliases" for v in qdrant.violations())


def test_check_mode_changes_nothing(qdrant, qdrant_args, collections, alias):
    run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    qdrant.reset_log()
    result = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[1]), check=True, diff=True)
    assert result["changed"] is True and result["collection"] == collections[1]
    assert writes(qdrant) == []
    assert target_of(qdrant, alias) == collections[0]


def test_missing_collection_fails_before_any_change(qdrant, qdrant_args, collections, alias):
    run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    qdrant.reset_log()
    result = run_module(MODULE, dict(qdrant_args, name=alias, collection="nope_%s" % alias))
    assert result.get("failed") is True
    assert "Collection nope_%s does not exist" % alias in result["msg"] and "collection" in result["msg"]
    assert writes(qdrant) == []
    assert target_of(qdrant, alias) == collections[0]


def test_alias_named_like_a_collection_fails(qdrant, qdrant_args, collections):
    result = run_module(MODULE, dict(qdrant_args, name=collections[1], collection=collections[0]))
    assert result.get("failed") is True and "is the name of a collection" in result["msg"]
    assert writes(qdrant) == []


def test_absent(qdrant, qdrant_args, collections, alias):
    run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    result = run_module(MODULE, dict(qdrant_args, name=alias, state="absent"), check=True)
    assert result["changed"] is True and target_of(qdrant, alias) == collections[0]
    result = run_module(MODULE, dict(qdrant_args, name=alias, state="absent"))
    assert result["changed"] is True and result["previous_collection"] == collections[0]
    assert result["collection"] is None and target_of(qdrant, alias) is None
    assert http(qdrant, "GET", "/collections/%s/exists" % collections[0]) == {"exists": True}
    qdrant.reset_log()
    assert run_module(MODULE, dict(qdrant_args, name=alias, state="absent"))["changed"] is False
    assert writes(qdrant) == []


@pytest.mark.parametrize("args, words", [
    (dict(name="live"), "collection is required with state=present"),
    (dict(name="", collection="docs"), "name must be"),
    (dict(name="live", collection="a/b"), "collection must be"),
])
def test_bad_input_fails_before_any_request(qdrant, qdrant_args, args, words):
    result = run_module(MODULE, dict(qdrant_args, **args))
    assert result.get("failed") is True and words in result["msg"]
    assert qdrant.requests() == []


def test_faults_are_retried(qdrant, qdrant_args, collections, alias):
    qdrant.inject_fault("http_429", method="GET", path="^/aliases$", retry_after=0)
    qdrant.inject_fault("http_500", method="POST", path="^/collections/aliases$")
    result = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]))
    assert result["changed"] is True, result
    assert [entry["status"] for entry in qdrant.requests() if entry["method"] == "POST"] == [500, 200]
    assert target_of(qdrant, alias) == collections[0]


def test_api_key_never_in_output(qdrant, qdrant_args, collections, alias):
    wrong = "wrong-key-%s" % uuid.uuid4().hex
    result = run_module(MODULE, dict(qdrant_args, api_key=wrong, name=alias, collection=collections[0]), diff=True)
    assert result.get("failed") is True and result["status"] == 401
    assert wrong not in result["_stdout"] + result["_stderr"]
    good = run_module(MODULE, dict(qdrant_args, name=alias, collection=collections[0]), diff=True)
    assert good["changed"] is True and qdrant.api_key not in good["_stdout"] + good["_stderr"]


def test_several_aliases_move_in_one_atomic_request(qdrant, qdrant_args, collections):
    first, second = "multi_a_%s" % uuid.uuid4().hex[:6], "multi_b_%s" % uuid.uuid4().hex[:6]
    run_module(MODULE, dict(qdrant_args, name=first, collection=collections[0]))
    qdrant.reset_log()
    wanted = {first: collections[1], second: collections[0]}
    result = run_module(MODULE, dict(qdrant_args, aliases=wanted), diff=True)
    assert result["changed"] is True and result["aliases"] == wanted
    assert result["previous_aliases"] == {first: collections[0], second: None}
    assert writes(qdrant) == [("POST", "/collections/aliases")]
    assert (target_of(qdrant, first), target_of(qdrant, second)) == (collections[1], collections[0])
    qdrant.reset_log()
    assert run_module(MODULE, dict(qdrant_args, aliases=wanted))["changed"] is False
    assert writes(qdrant) == []


def test_several_aliases_with_a_missing_collection_change_none(qdrant, qdrant_args, collections):
    first, second = "multi_c_%s" % uuid.uuid4().hex[:6], "multi_d_%s" % uuid.uuid4().hex[:6]
    qdrant.reset_log()
    result = run_module(MODULE, dict(qdrant_args, aliases={first: collections[0], second: "no_such_collection"}))
    assert result.get("failed") and "no_such_collection does not exist" in result["msg"]
    assert writes(qdrant) == [] and target_of(qdrant, first) is None
