"""content_index state=absent against the Qdrant stand-in, run as Ansible runs it: a pull request's preview index
(its alias and every collection the indexer built for it) removed, nothing else touched; check and diff mode; a
rerun changes nothing; an alias of the wrong shape refused before any request."""
import json
import random
import sys
import uuid
import warnings

import pytest

from conftest import ROOT, run_module
from npm_textbook import write

from ansible_collections.textbook.deploy.plugins.modules import content_index

MODULE = "content_index"
SERVICE_SRC = ROOT / "examples" / "chat_api" / "src"
PAGE = "---\ntitle: Balance\n---\n\n# Balance\n\n## The zero-moment point\n\nWhere the ground pushes back.\n"


def writes(qdrant):
    return [(entry["method"], entry["path"]) for entry in qdrant.requests() if entry["method"] != "GET"]


@pytest.fixture
def client(qdrant):
    """qdrant-client on the stand-in, for what the module does not make itself (decoys, another alias)."""
    from qdrant_client import QdrantClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an API key over plain http, on loopback
        made = QdrantClient(url=qdrant.url, api_key=qdrant.api_key, https=False, check_compatibility=False)
    yield made
    made.close()


def create(client, *names):
    from qdrant_client import models

    for name in names:
        client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))


def point(client, alias, collection):
    from qdrant_client import models

    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=collection, alias_name=alias))])


@pytest.fixture
def alias():
    return "preview_%d_passages" % random.randint(10 ** 6, 10 ** 8)


def index(qdrant, docs, alias):
    result = run_module(MODULE, dict(docs_dir=str(docs), service_src=str(SERVICE_SRC), alias=alias,
                                     api_url=qdrant.url, token=qdrant.api_key))
    assert not result.get("failed"), result["msg"]
    return result["collection"]


def warned(result):
    """The warnings' texts (Ansible 2.19 returns each as a WarningSummary with its event's msg)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def absent(qdrant, alias, **kwargs):
    return run_module(MODULE, dict(alias=alias, state="absent", api_url=qdrant.url, token=qdrant.api_key), **kwargs)


def test_absent_removes_the_alias_and_the_collections_built_for_it_and_nothing_else(qdrant, client, alias, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "balance.md", PAGE)
    first = index(qdrant, docs, alias)
    write(docs / "balance.md", PAGE + "\n## Falling\n\nA robot that falls tucks its arms.\n")
    second = index(qdrant, docs, alias)
    assert first != second and {first, second} <= set(qdrant.collections) and qdrant.aliases[alias] == second
    other = "staging_%s_passages" % uuid.uuid4().hex[:8]
    theirs = index(qdrant, docs, other)
    # named like the index, but not as the indexer names it (or another alias's)
    decoys = [alias + suffix for suffix in ("-backup", "-0123456789abc", "-0123456789AB", "-0123456789a",
                                            "_old-0123456789ab", "-0123456789ab-0123456789ab")]
    decoys.append("x" + first)
    create(client, *decoys)
    ours = sorted([first, second])
    qdrant.reset_log()

    checked = absent(qdrant, alias, check=True, diff=True)
    assert checked["changed"] is True, checked
    assert (checked["removed_alias"], checked["removed_collections"]) == (alias, ours)
    assert checked["previous_collection"] == second and checked["kept_collections"] == []
    assert checked["diff"] == {"before": {"aliases": {alias: second}, "collections": ours},
                               "after": {"aliases": {}, "collections": []}}
    assert writes(qdrant) == [] and qdrant.aliases[alias] == second and set(ours) <= set(qdrant.collections)

    qdrant.reset_log()
    removed = absent(qdrant, alias, diff=True)
    assert removed["changed"] is True and removed["removed_collections"] == ours, removed
    assert removed["diff"] == checked["diff"]
    # the alias first (the service never searches a deleted collection), then each collection
    assert writes(qdrant) == [("POST", "/collections/aliases")] + [("DELETE", "/collections/" + n) for n in ours]
    assert alias not in qdrant.aliases and not set(ours) & set(qdrant.collections)
    assert set(decoys) <= set(qdrant.collections)
    assert qdrant.aliases[other] == theirs and theirs in qdrant.collections
    assert qdrant.api_key not in json.dumps(removed) and qdrant.violations() == []

    qdrant.reset_log()
    again = absent(qdrant, alias, diff=True)
    assert again["changed"] is False, again
    assert (again["removed_alias"], again["removed_collections"], again["previous_collection"]) == (None, [], None)
    assert again["diff"] == {"before": {"aliases": {}, "collections": []}, "after": {"aliases": {}, "collections": []}}
    assert [(entry["method"], entry["path"]) for entry in qdrant.requests()] == [("GET", "/aliases"),
                                                                                   ("GET", "/collections")]
    assert absent(qdrant, other)["removed_collections"] == [theirs]
    for name in decoys:
        client.delete_collection(name)


def test_a_collection_another_alias_points_at_is_kept(qdrant, client, alias):
    built = [alias + "-" + uuid.uuid4().hex[:12] for _ in range(2)]
    create(client, *built)
    point(client, alias, built[1])
    pinned = "pinned_%s" % uuid.uuid4().hex[:8]
    point(client, pinned, built[0])
    qdrant.reset_log()
    result = absent(qdrant, alias)
    assert result["changed"] is True and result["removed_collections"] == [built[1]], result
    assert result["kept_collections"] == [built[0]]
    assert any(pinned in warning and built[0] in warning for warning in warned(result)), result
    assert qdrant.aliases.get(pinned) == built[0] and alias not in qdrant.aliases
    again = absent(qdrant, alias)
    assert again["changed"] is False and again["kept_collections"] == [built[0]]
    client.delete_collection(built[0])


def test_an_alias_pointing_elsewhere_is_deleted_and_its_collection_left(qdrant, client, alias):
    foreign = "hand_made_%s" % uuid.uuid4().hex[:8]
    create(client, foreign)
    point(client, alias, foreign)
    result = absent(qdrant, alias)
    assert result["changed"] is True and result["removed_alias"] == alias, result
    assert result["removed_collections"] == [] and result["previous_collection"] == foreign
    assert any(foreign in warning for warning in warned(result)), result
    assert alias not in qdrant.aliases and foreign in qdrant.collections
    client.delete_collection(foreign)


@pytest.mark.parametrize("bad", ["", "preview 42", "preview_42_passages-3f2a9c1b7d4e", "a" * 243, "docs/x", "*",
                                 "preview.42"])
def test_an_alias_of_the_wrong_shape_fails_before_any_request(qdrant, bad):
    qdrant.reset_log()
    result = absent(qdrant, bad)
    assert result.get("failed") and result["msg"].startswith("alias must be"), result
    assert "Nothing was deleted" in result["msg"] and qdrant.api_key not in json.dumps(result)
    assert qdrant.requests() == []


def test_absent_needs_no_docs_but_present_does(qdrant):
    result = run_module(MODULE, dict(alias="preview_1_passages", api_url=qdrant.url, token=qdrant.api_key))
    assert result.get("failed") and "docs_dir" in result["msg"] and "service_src" in result["msg"], result
    assert qdrant.requests() == []


def test_the_collections_matched_are_the_ones_the_indexer_names():
    sys.path.insert(0, str(SERVICE_SRC))
    try:
        from chat_api.index import TARGET_SUFFIX
    finally:
        sys.path.remove(str(SERVICE_SRC))
    for suffix in ("-0123456789ab", "-0123456789abc", "-0123456789AB", "-0123456789a", "0123456789ab", "-backup",
                   "-0123456789ab-0123456789ab", "_0123456789ab", "-01234567 9ab"):
        assert bool(TARGET_SUFFIX.fullmatch(suffix)) == bool(content_index.INDEX_SUFFIX.fullmatch(suffix)), suffix
    assert content_index.index_collections("p_passages", ["p_passages-0123456789ab", "p_passages2-0123456789ab",
                                                          "p_passages", "xp_passages-0123456789ab"]) == [
        "p_passages-0123456789ab"]
