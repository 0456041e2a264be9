"""Check requests and responses against a service's OpenAPI description (a committed subset) with openapi-core.

Shared by the GitHub, Neon and Grafana stand-ins: each names its spec file, may prepare its request body schemas
(`inline_refs` copies a body schema so that it can be changed alone) and correct its description (`adjust`), and
keeps its own error shapes and messages. Two adjustments are made to every description when it is loaded:
- `nullable: true` next to an `enum` also allows null. The descriptions mean that (a GitHub Page with no build has
  `status: null`), but strict OpenAPI 3.0 tooling reads the enum as excluding null.
- Request bodies are closed (`additionalProperties: false` on every object that lists properties): the services
  silently ignore some unknown fields, but a field they ignore is a client bug we want to see (a misspelt
  `https_enforcd` would otherwise pass unnoticed).
"""
import functools
import json
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict


def walk(node):
    """Yield every dict inside node (node included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def allow_null_in_nullable_enums(spec):
    for node in walk(spec):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = node["enum"] + [None]


def inline_refs(spec, node, depth=0):
    """A copy of node with every local $ref replaced by (a copy of) its target, so that a request body schema can
    be changed (closed, made nullable) without touching the components the responses share."""
    if depth > 40:
        raise ValueError("$ref nesting too deep (a cycle?) in a request body schema")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target = spec
            for part in ref[2:].split("/"):
                target = target[part]
            merged = dict(target)
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            return inline_refs(spec, merged, depth + 1)
        return {k: inline_refs(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(spec, v, depth + 1) for v in node]
    return node


def close_request_bodies(spec, prepare=None):
    """Forbid unknown properties in request bodies; `prepare(spec, schema)` may first replace each body schema."""
    for item in spec["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for media in body.get("content", {}).values():
                schema = media.get("schema")
                if prepare:
                    schema = media["schema"] = prepare(spec, schema)
                for node in walk(schema):
                    if "properties" in node and "additionalProperties" not in node:
                        node["additionalProperties"] = False


class Contract:
    """One service's description, adjusted once on first use, and the openapi-core app that checks against it."""

    def __init__(self, spec_file, prepare_body=None, adjust=None):
        self.spec_file = spec_file
        self.prepare_body = prepare_body
        self.adjust = adjust  # adjust(spec): a service's own corrections of its description, made once on load

    @functools.cached_property
    def spec(self):
        with open(self.spec_file) as handle:
            spec = json.load(handle)
        allow_null_in_nullable_enums(spec)
        close_request_bodies(spec, self.prepare_body)
        if self.adjust:
            self.adjust(spec)
        return spec

    @functools.cached_property
    def app(self):
        # The subset is cut from a published description: skip the (slow) spec validation.
        return OpenAPI.from_dict(self.spec, config=Config(spec_validator_cls=None))

    def request_errors(self, request):
        return self.app.unmarshal_request(request).errors

    def response_errors(self, request, response):
        return self.app.unmarshal_response(request, response).errors

    def documented_responses(self, request, pattern):
        """The responses the description lists for the operation at path template `pattern`."""
        return self.spec["paths"][pattern][request.method]["responses"]

    def response_problems(self, request, pattern, response, error_schema, default_covers_errors=False):
        """Problems with a response (empty when it matches the description): a documented status is checked by
        openapi-core (an error status also through a `default` response when default_covers_errors), a success
        status the description lacks is a stand-in bug, and any other error must have the service's error shape
        (error_schema, a name in components/schemas)."""
        documented = self.documented_responses(request, pattern)
        if str(response.status_code) in documented or (
                default_covers_errors and response.status_code >= 400 and "default" in documented):
            return ["%s%s" % (error, "".join(" | %s %s" % d for d in details(error, root="/")))
                    for error in self.response_errors(request, response)]
        if response.status_code < 400:
            return [undocumented_status(request, pattern, response)]
        return self.error_problems(response.data, error_schema)

    def error_problems(self, data, error_schema):
        """Problems with an error body that no operation documents (e.g. a 404 for an unknown path)."""
        return body_problems(data, inline_refs(self.spec, self.spec["components"]["schemas"][error_schema]))


class ApiRequest:
    """A REST request in the shape openapi-core reads (its Request protocol).

    `path` is relative to the API root; subclasses set `host_url` and `prefix` (the server URL's path).
    """

    host_url = ""
    prefix = ""

    def __init__(self, method, path, query="", headers=None, body=b"", content_type="application/json"):
        self.method = method.lower()
        self.api_path = path
        self.path = self.prefix + path
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


def _where(error, root):
    """The deepest, most specific (field, message) of a jsonschema error (anyOf failures nest the useful one)."""
    leaves = [error] + list(error.context or [])
    leaf = max(leaves, key=lambda e: len(e.absolute_path))
    return root + "/".join(str(part) for part in leaf.absolute_path), leaf.message


def details(error, root=""):
    """(field, message) pairs explaining an openapi-core error; a field is a JSON path after `root`, or ""."""
    schema_errors = getattr(error.__cause__, "schema_errors", None)
    if schema_errors:
        return [_where(e, root) for e in schema_errors]
    cause = error.__cause__
    return [("", "%s%s" % (error, ": %s" % cause if cause else ""))]


def undocumented_status(request, pattern, response):
    return "status %d is not documented for %s %s" % (response.status_code, request.method.upper(), pattern)


def body_problems(data, schema):
    """Problems with a JSON error body (bytes) that no operation documents, checked against `schema`."""
    try:
        body = json.loads(data or b"null")
    except ValueError as exc:
        return ["error body is not JSON: %s" % exc]
    return [e.message for e in OAS30Validator(schema).iter_errors(body)]
