"""Check Neon API requests and responses against Neon's own OpenAPI description (the committed subset).

The subset (openapi/public-v2-for-users.subset.json) is cut from npm @neondatabase/api-client 2.7.3 by
extract_openapi.py. Adjustments made when it is loaded, all written down here:

- Request bodies are closed (`additionalProperties: false` on every object that lists properties), so a misspelt
  field (`{"role": {"nmae": "x"}}`) is rejected. Neon's own validator ignores unknown fields; a field Neon would
  silently ignore is a client bug we want to see. To close a body without touching the shared components the
  responses use, each request body schema is first inlined (its `$ref`s replaced by copies) and an `allOf` of
  objects (POST /branches: BranchCreateRequest + AnnotationCreateValueRequest) is merged into one object -
  closing each part of an allOf separately would make every body fail.
- `nullable: true` next to an `enum` also allows null (strict OAS 3.0 tooling reads the enum as excluding it).
Loading, these adjustments and openapi-core's checks are shared (sandbox/common/contract.py); this module keeps the
body preparation and Neon's error shapes.
- The description's security schemes are left in place; authentication (Bearer API key) is checked by the
  stand-in before the contract, so openapi-core sees only authenticated requests.

A request that breaks the description is answered 400 in Neon's error shape ({"code", "message"}), with a message
modelled on Neon's validator ("request body has an error: ..."); a response that breaks it is a stand-in bug.
"""

import os
from urllib.parse import urlsplit

from sandbox.common import contract
from sandbox.common.contract import ApiResponse  # noqa: F401 (the stand-in builds its responses from here)

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "public-v2-for-users.subset.json")


def _merge_all_of(node):
    """Fold `allOf: [objects...]` into one object schema (properties and required united), bottom up."""
    if isinstance(node, list):
        return [_merge_all_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merge_all_of(v) for k, v in node.items()}
    parts = node.get("allOf")
    if isinstance(parts, list) and all(isinstance(p, dict) and p.get("type", "object") == "object"
                                       and "properties" in p for p in parts):
        merged = {k: v for k, v in node.items() if k != "allOf"}
        merged["type"] = "object"
        merged.setdefault("properties", {})
        required = list(merged.get("required", []))
        for part in parts:
            merged["properties"].update(part.get("properties", {}))
            required += [r for r in part.get("required", []) if r not in required]
        if required:
            merged["required"] = required
        return merged
    return node


def _inline_body(spec, schema):
    """A request body schema with its $refs inlined and allOf merged, so closing it leaves the components alone."""
    return _merge_all_of(contract.inline_refs(spec, schema))


CONTRACT = contract.Contract(SPEC_FILE, prepare_body=_inline_body)


def load_spec():
    return CONTRACT.spec


def source():
    """The npm package and version the subset was cut from."""
    return load_spec()["info"]["x-extracted-from"]


class ApiRequest(contract.ApiRequest):
    """A request whose path is relative to /api/v2 (`api_path`); `path` is the full one the description matches."""

    _server = urlsplit(load_spec()["servers"][0]["url"])  # https://console.neon.tech/api/v2
    host_url = "%s://%s" % (_server.scheme, _server.netloc)
    prefix = _server.path.rstrip("/")


def _details(error):
    return contract.details(error, root="/")


def _message(error, details):
    kind = type(error).__name__
    if "Body" in kind or "MediaType" in kind:
        text = "; ".join('Error at "%s": %s' % d if d[0] else d[1] for d in details)
        return "request body has an error: doesn't match schema: " + text
    if getattr(error.__cause__, "schema_errors", None):
        return "request has an error: %s: %s" % (error, "; ".join(m for _, m in details))
    return "request has an error: " + "; ".join(m for _, m in details)


def check_request(request):
    """None when the request matches the description, else (status, Neon error body, violation text)."""
    errors = CONTRACT.request_errors(request)
    if not errors:
        return None
    messages = [_message(error, _details(error)) for error in errors]
    message = "; ".join(messages)
    return 400, {"code": "", "message": message}, message


def check_response(request, pattern, response):
    """A list of problems with a response (empty when it matches the description).

    Neon's description documents success bodies and a `default` GeneralError, so every status is checked: an
    error must have the GeneralError shape, and a success status the description lacks is a stand-in bug.
    """
    return CONTRACT.response_problems(request, pattern, response, "GeneralError", default_covers_errors=True)


def error_problems(data):
    """Problems with an error body that no operation documents (e.g. a 404 for an unknown path)."""
    return CONTRACT.error_problems(data, "GeneralError")
