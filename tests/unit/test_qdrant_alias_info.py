"""qdrant_alias_info against the Qdrant stand-in: every alias and its collection in one GET, filtered by a name
regex; a bad regex refused before any request; the API key never in the result."""
import json
import random
import uuid

import pytest

from conftest import run_module
from test_qdrant_alias import http

PREVIEWS = r"^preview_[1-9][0-9]*_passages$"


@pytest.fixture
def aliases(qdrant):
    """Two preview aliases and one environment's, each on a collection of its own: {alias: collection}."""
    tag, number = uuid.uuid4().hex[:6], random.randint(10 ** 6, 10 ** 8)
    made = {"preview_%d_passages" % number: "p%d_%s" % (number, tag),
            "preview_%d_passages" % (number + 1): "p%d_%s" % (number + 1, tag),
            "staging_%s_passages" % tag: "staging_%s" % tag}
    for collection in made.values():
        http(qdrant, "PUT", "/collections/" + collection, {"vectors": {"size": 4, "distance": "Cosine"}})
    http(qdrant, "POST", "/collections/aliases", {"actions": [
        {"create_alias": {"alias_name": alias, "collection_name": collection}} for alias, collection in made.items()]})
    qdrant.reset_log()
    yield made
    for collection in made.values():
        http(qdrant, "DELETE", "/collections/" + collection)  # its aliases go with it


def test_every_alias_and_its_collection_in_one_request(qdrant, qdrant_args, aliases):
    result = run_module("qdrant_alias_info", qdrant_args, check=True)
    assert result["changed"] is False and not result.get("failed"), result
    assert set(aliases.items()) <= set(result["aliases"].items())
    assert list(result["aliases"]) == sorted(result["aliases"])
    assert [(entry["method"], entry["path"]) for entry in qdrant.requests()] == [("GET", "/aliases")]
    assert qdrant.api_key not in json.dumps(result)


def test_name_regex_keeps_the_matching_aliases(qdrant, qdrant_args, aliases):
    result = run_module("qdrant_alias_info", dict(qdrant_args, name_regex=PREVIEWS))
    previews = {alias: collection for alias, collection in aliases.items() if alias.startswith("preview_")}
    assert set(previews.items()) <= set(result["aliases"].items())
    assert all(alias.startswith("preview_") for alias in result["aliases"])
    staging = next(alias for alias in aliases if alias.startswith("staging_"))
    exact = run_module("qdrant_alias_info", dict(qdrant_args, name_regex="^%s$" % staging))
    assert exact["aliases"] == {staging: aliases[staging]}


@pytest.mark.parametrize("args, message", [
    ({"name_regex": "preview_(["}, "name_regex is not a valid regular expression"),
    ({"api_url": "localhost:6333"}, "api_url must be an http:// or https:// URL"),
])
def test_bad_input_fails_before_any_request(qdrant, qdrant_args, args, message):
    result = run_module("qdrant_alias_info", dict(qdrant_args, **args))
    assert result.get("failed") and message in result["msg"], result
    assert qdrant.requests() == []


def test_a_wrong_key_is_refused_without_showing_it(qdrant, qdrant_args):
    result = run_module("qdrant_alias_info", dict(qdrant_args, api_key="not-the-key-1234", retries=0))
    assert result.get("failed") and ("401" in result["msg"] or "403" in result["msg"]), result
    assert "not-the-key-1234" not in json.dumps(result)
