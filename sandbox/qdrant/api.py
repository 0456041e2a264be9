"""Qdrant's REST operations over the stand-in's state. Every handler takes (app, params, body, query) and returns
the `result` of Qdrant's envelope, or raises QdrantError; the server wraps both into Qdrant's envelope."""
import re
import time

from sandbox.common import routes

from .collections import (NOT_MODELLED_CREATE, NOT_MODELLED_UPDATE, QdrantError, already_exists, check_create,
                          check_update, new_config, not_found, updated_config, validation_error, wrong_input)
from .engine import NotModelled

VERSION = "1.15.0"
COLLECTION_NAME = re.compile(r"^[^/\\:*?\"<>|\x00-\x1f]{1,255}$")


class Route(routes.Route):
    """A Qdrant operation; `body`: it takes a JSON body, checked against qdrant-client's model."""

    def __init__(self, method, template, operation, body=False):
        super().__init__(method, template, operation)
        self.operation, self.body = operation, body


ROUTES = [
    Route("GET", "/", "root"),
    Route("GET", "/collections", "list_collections"),
    Route("GET", "/aliases", "list_aliases"),
    Route("POST", "/collections/aliases", "update_aliases", body=True),
    Route("GET", "/collections/{name}", "get_collection"),
    Route("PUT", "/collections/{name}", "create_collection", body=True),
    Route("PATCH", "/collections/{name}", "update_collection", body=True),
    Route("DELETE", "/collections/{name}", "delete_collection"),
    Route("GET", "/collections/{name}/exists", "collection_exists"),
    Route("GET", "/collections/{name}/aliases", "collection_aliases"),
    Route("PUT", "/collections/{name}/index", "create_index", body=True),
    Route("DELETE", "/collections/{name}/index/{field_name}", "delete_index"),
    Route("PUT", "/collections/{name}/points", "upsert_points", body=True),
    Route("POST", "/collections/{name}/points/query", "query_points", body=True),
    Route("POST", "/collections/{name}/points/count", "count_points", body=True),
]
# Write operations a read-only key may not call (Qdrant: every method but GET, and POSTs that only read).
READ_ONLY_POSTS = {"query_points", "count_points"}


def match(method, path):
    return routes.match(ROUTES, method, path)


def is_write(route):
    return route.method != "GET" and route.operation not in READ_ONLY_POSTS


def check_name(name):
    if not COLLECTION_NAME.match(name):
        raise validation_error("path parameters", ["name: collection name %r contains forbidden characters or is "
                                                   "longer than 255" % name])


def update_result(app, wait):
    return {"operation_id": app.next_operation_id(), "status": "completed" if wait else "acknowledged"}


def _wait(query):
    return query.get("wait", "false").lower() == "true"


# -- service ---------------------------------------------------------------------------------------------------

def root(app, params, body, query):
    return {"title": "qdrant - vector search engine", "version": VERSION, "commit": None}


# -- collections -----------------------------------------------------------------------------------------------

def list_collections(app, params, body, query):
    return {"collections": [{"name": name} for name in sorted(app.collections)]}


def get_collection(app, params, body, query):
    return app.collection(params["name"]).info()


def collection_exists(app, params, body, query):
    return {"exists": params["name"] in app.collections}


def create_collection(app, params, body, query):
    name = params["name"]
    check_name(name)
    unsupported = [key for key in NOT_MODELLED_CREATE if body.get(key) is not None]
    if unsupported:
        raise NotModelled("collection options %s" % ", ".join(unsupported))
    check_create(body)
    if name in app.collections:
        raise already_exists(name)
    if name in app.aliases:
        raise wrong_input("Can't create collection with name %s. Alias with the same name already exists" % name)
    app.add_collection(name, new_config(body))
    return True


def update_collection(app, params, body, query):
    collection = app.collection(params["name"])
    unsupported = [key for key in NOT_MODELLED_UPDATE if body.get(key) is not None]
    if unsupported:
        raise NotModelled("collection options %s" % ", ".join(unsupported))
    check_update(body)
    collection.config = updated_config(collection.config, body)
    return True


def delete_collection(app, params, body, query):
    return app.remove_collection(params["name"])


def create_index(app, params, body, query):
    collection = app.collection(params["name"])
    schema = body.get("field_schema")
    if schema is None:
        raise QdrantError(400, "Bad request: Can't auto-detect field type, please specify `field_schema` in the "
                               "request")
    collection.create_index(body["field_name"], schema)
    return update_result(app, _wait(query))


def delete_index(app, params, body, query):
    collection = app.collection(params["name"])
    collection.delete_index(params["field_name"])
    return update_result(app, _wait(query))


# -- aliases ---------------------------------------------------------------------------------------------------

def _apply_alias_action(app, aliases, action):
    if "create_alias" in action:
        alias, target = action["create_alias"]["alias_name"], action["create_alias"]["collection_name"]
        if target not in app.collections:
            raise not_found(target)
        if alias in app.collections:
            raise already_exists(alias)
        aliases[alias] = target
    elif "delete_alias" in action:
        aliases.pop(action["delete_alias"]["alias_name"], None)
    else:
        old, new = action["rename_alias"]["old_alias_name"], action["rename_alias"]["new_alias_name"]
        if old not in aliases:
            raise QdrantError(404, "Not found: Alias %s does not exists!" % old)
        aliases[new] = aliases.pop(old)


def update_aliases(app, params, body, query):
    aliases = dict(app.aliases)
    for action in body["actions"]:
        _apply_alias_action(app, aliases, action)
    app.aliases = aliases  # all actions or none
    return True


def _alias_list(pairs):
    return {"aliases": [{"alias_name": alias, "collection_name": target} for alias, target in sorted(pairs)]}


def list_aliases(app, params, body, query):
    return _alias_list(app.aliases.items())


def collection_aliases(app, params, body, query):
    name = app.resolve(params["name"])
    if name not in app.collections:
        raise not_found(params["name"])
    return _alias_list((alias, target) for alias, target in app.aliases.items() if target == name)


# -- points ----------------------------------------------------------------------------------------------------

def _points_of(body):
    if "points" in body:
        return body["points"]
    batch = body["batch"]
    vectors = batch["vectors"]
    payloads = batch.get("payloads") or [None] * len(batch["ids"])
    if isinstance(vectors, dict):
        vectors = [{name: values[i] for name, values in vectors.items()} for i in range(len(batch["ids"]))]
    if not len(batch["ids"]) == len(vectors) == len(payloads):
        raise wrong_input("number of ids, vectors and payloads must be equal")
    return [{"id": pid, "vector": vector, "payload": payload}
            for pid, vector, payload in zip(batch["ids"], vectors, payloads)]


def upsert_points(app, params, body, query):
    collection = app.collection(params["name"])
    if body.get("update_filter") is not None or body.get("update_mode") is not None:
        raise NotModelled("conditional upserts (update_filter, update_mode)")
    try:
        collection.shard.upsert(_points_of(body))
    except ValueError as err:
        raise QdrantError(400, "Format error in JSON body: %s" % err) from err
    return update_result(app, _wait(query))


def _limit(body, default=10):
    limit = body.get("limit")
    if limit is None:
        return default
    if limit < 1:
        raise validation_error("JSON body", ["limit: value %s invalid, must be 1 or larger" % limit])
    return limit


def _nearest(body):
    """(vector, using) of a query: a plain vector or {"nearest": vector}; anything else is not modelled."""
    value = body.get("query")
    if isinstance(value, dict) and set(value) <= {"nearest", "mmr"} and not value.get("mmr"):
        value = value["nearest"]
    if value is None or (isinstance(value, list) and all(isinstance(x, (int, float)) for x in value)):
        return value, body.get("using")
    raise NotModelled("query kinds other than a dense vector (recommend, fusion, order_by, by point id, ...)")


def query_points(app, params, body, query):
    if body.get("prefetch") is not None or body.get("lookup_from") is not None:
        raise NotModelled("prefetch and lookup_from")
    collection = app.collection(params["name"])
    vector, using = _nearest(body)
    points = collection.shard.query(vector, using, body.get("filter"), _limit(body), body.get("offset") or 0,
                                    body.get("score_threshold"), body.get("with_payload"),
                                    body.get("with_vector"))
    return {"points": points}


def count_points(app, params, body, query):
    collection = app.collection(params["name"])
    return {"count": collection.shard.count(body.get("filter"))}


HANDLERS = {name: function for name, function in globals().items()
            if callable(function) and name in {route.operation for route in ROUTES}}


def elapsed(started):
    return round(time.monotonic() - started, 6)
