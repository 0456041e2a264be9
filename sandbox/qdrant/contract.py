"""Request and response checks against qdrant-client's generated models (`qdrant_client.http.models`).

The models forbid unknown fields in requests already (`extra="forbid"`); they are applied in strict JSON mode, so
a string where Qdrant wants a number fails as it does in Qdrant (serde does not coerce). Response models accept
unknown fields, so `response_problems` also reports every key of a response that its model does not know.
"""
import json
from functools import lru_cache

from pydantic import BaseModel, TypeAdapter, ValidationError
from qdrant_client.http import models as m

# What each operation takes as a body and gives as `result` (None: no body / no check).
REQUEST_MODELS = {
    "create_collection": m.CreateCollection,
    "update_collection": m.UpdateCollection,
    "create_index": m.CreateFieldIndex,
    "update_aliases": m.ChangeAliasesOperation,
    "upsert_points": m.PointInsertOperations,
    "query_points": m.QueryRequest,
    "count_points": m.CountRequest,
}
RESULT_MODELS = {
    "root": m.VersionInfo,
    "list_collections": m.CollectionsResponse,
    "get_collection": m.CollectionInfo,
    "collection_exists": m.CollectionExistence,
    "create_collection": bool,
    "update_collection": bool,
    "delete_collection": bool,
    "create_index": m.UpdateResult,
    "delete_index": m.UpdateResult,
    "update_aliases": bool,
    "list_aliases": m.CollectionsAliasesResponse,
    "collection_aliases": m.CollectionsAliasesResponse,
    "upsert_points": m.UpdateResult,
    "query_points": m.QueryResponse,
    "count_points": m.CountResult,
}


@lru_cache(maxsize=None)
def adapter(model):
    return TypeAdapter(model)


def _where(loc):
    """pydantic's location minus the union branch names, as Qdrant's dotted path: points[0].vector."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += "[%d]" % part
        elif part == "":
            text += '.""' if text else '""'
        elif isinstance(part, str) and (part[:1].isupper() or "[" in part):
            continue  # a union member's name (VectorParams, dict[str,VectorParams]), not a field
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def describe(err):
    """One line for a ValidationError, preferring what a person fixes first: an unknown field."""
    errors = err.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    first = (extra or errors)[0]
    where = _where(first["loc"])
    if first["type"] == "extra_forbidden":
        return "unknown field `%s` at %s" % (str(first["loc"][-1]), where)
    return "%s: %s" % (where, first["msg"])


def check_request(operation, raw):
    """(parsed model, None) or (None, message) for a JSON body (bytes)."""
    model = REQUEST_MODELS.get(operation)
    if model is None:
        return None, None
    try:
        return adapter(model).validate_json(raw, strict=True), None
    except ValidationError as err:
        return None, describe(err)


def unknown_keys(raw, dumped, path=""):
    """Keys present in raw JSON data but absent from the model's dump of it (the model ignored them)."""
    found = []
    if isinstance(raw, dict) and isinstance(dumped, dict):
        for key, value in raw.items():
            where = "%s.%s" % (path, key) if path else key
            if key not in dumped:
                found.append(where)
            else:
                found.extend(unknown_keys(value, dumped[key], where))
    elif isinstance(raw, list) and isinstance(dumped, list):
        for index, (value, other) in enumerate(zip(raw, dumped)):
            found.extend(unknown_keys(value, other, "%s[%d]" % (path, index)))
    return found


def response_problems(operation, result):
    """What is wrong with the `result` the stand-in built for an operation (empty list: nothing)."""
    model = RESULT_MODELS.get(operation)
    if model is None:
        return []
    raw = json.loads(json.dumps(result))
    try:
        parsed = adapter(model).validate_json(json.dumps(raw), strict=True)
    except ValidationError as err:
        return [describe(err)]
    dumped = adapter(model).dump_python(parsed, mode="json", exclude_unset=True, by_alias=True)
    if isinstance(parsed, BaseModel) or isinstance(dumped, (dict, list)):
        return ["unknown field `%s`" % key for key in unknown_keys(raw, dumped)]
    return []
