"""Check REST requests and responses against GitHub's own OpenAPI description (the committed subset).

Two deliberate adjustments are made to the description when it is loaded, both written down here:
- Request bodies are closed (`additionalProperties: false`): GitHub silently ignores some unknown fields, but a
  field it ignores is a client bug we want to see (a misspelt `https_enforcd` would otherwise pass unnoticed).
- `nullable: true` next to an `enum` also allows null. GitHub's description means that (a Page with no build has
  `status: null`), but strict OpenAPI 3.0 tooling reads the enum as excluding null.
"""
import functools
import json
import os
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "api.github.com.subset.json")
DOCS = "https://docs.github.com/rest"


def walk(node):
    """Yield every dict inside node (node included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def _adjust(spec):
    for node in walk(spec):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = node["enum"] + [None]
    for item in spec["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for media in body.get("content", {}).values():
                for node in walk(media.get("schema")):
                    if "properties" in node and "additionalProperties" not in node:
                        node["additionalProperties"] = False
    return spec


@functools.lru_cache(maxsize=1)
def load_spec():
    with open(SPEC_FILE) as handle:
        return _adjust(json.load(handle))


@functools.lru_cache(maxsize=1)
def _app():
    # The subset is generated from a published description: skip the (slow) spec validation.
    return OpenAPI.from_dict(load_spec(), config=Config(spec_validator_cls=None))


class ApiRequest:
    """A REST request in the shape openapi-core reads (its Request protocol)."""

    host_url = load_spec()["servers"][0]["url"]  # paths in the description are relative to api.github.com

    def __init__(self, method, path, query="", headers=None, body=b"", content_type="application/json"):
        self.method = method.lower()
        self.path = path
        self.body = body or None
        self.content_type = content_type or "application/json"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)),
            header=Headers(headers or {}),
            cookie=ImmutableMultiDict(),
            path={},
        )


class ApiResponse:
    """A REST response in the shape openapi-core reads (its Response protocol)."""

    def __init__(self, status, headers, data):
        self.status_code = status
        self.headers = Headers(headers)
        self.content_type = self.headers.get("Content-Type", "application/json")
        self.data = data


def _where(error):
    """The deepest, most specific message of a jsonschema error (anyOf failures nest the useful one)."""
    leaves = [error] + list(error.context or [])
    leaf = max(leaves, key=lambda e: len(e.absolute_path))
    field = "/".join(str(part) for part in leaf.absolute_path)
    return field, leaf.message


def _details(error):
    """(field, message) pairs explaining an openapi-core request error."""
    schema_errors = getattr(error.__cause__, "schema_errors", None)
    if schema_errors:
        return [_where(e) for e in schema_errors]
    cause = error.__cause__
    return [("", "%s%s" % (error, ": %s" % cause if cause else ""))]


def validation_failed(details):
    """GitHub's 422 body for a request that fails its JSON schema."""
    lines = ["For '%s', %s." % (field, message) if field else message for field, message in details]
    return {
        "message": "Invalid request.\n\n" + "\n".join(lines),
        "documentation_url": DOCS,
        "errors": [{"resource": "Request", "field": field, "code": "invalid", "message": message}
                   for field, message in details],
        "status": "422",
    }


def check_request(request):
    """Return None when the request matches the description, else (status, GitHub error body, violation text)."""
    result = _app().unmarshal_request(request)
    if not result.errors:
        return None
    details = [d for error in result.errors for d in _details(error)]
    return 422, validation_failed(details), "; ".join("%s: %s" % d if d[0] else d[1] for d in details)


def check_response(request, pattern, response):
    """Return a list of problems with a response (empty when it matches the description).

    GitHub's description leaves out most generic errors (401, 403, 429, 5xx ...); those must still have GitHub's
    basic error shape. An undocumented success status is a stand-in bug.
    """
    documented = load_spec()["paths"][pattern][request.method]["responses"]
    if str(response.status_code) in documented or "default" in documented:
        result = _app().unmarshal_response(request, response)
        return ["%s%s" % (error, "".join(" | %s" % m for _, m in _details(error))) for error in result.errors]
    if response.status_code < 400:
        return ["status %d is not documented for %s %s" % (response.status_code, request.method.upper(), pattern)]
    return _basic_error_problems(response.data)


def _basic_error_problems(data):
    try:
        body = json.loads(data or b"null")
    except ValueError as exc:
        return ["error body is not JSON: %s" % exc]
    schema = load_spec()["components"]["schemas"]["basic-error"]
    return [e.message for e in OAS30Validator(schema).iter_errors(body)]
