"""Check Grafana HTTP API requests and responses against Grafana's own OpenAPI description (the committed subset).

The subset (openapi/openapi3.subset.json) is cut by extract_openapi.py from public/openapi3.json of the
grafana/grafana repository at commit 004965ecf88f944b0752ce9582c6adde5687f643 (recorded in the subset's
`info.x-extracted-from`). Paths in it are relative to the server URL `/api`. Loading, openapi-core's checks and
two adjustments (nullable enums, closed request bodies) are shared (sandbox/common/contract.py); the Grafana-specific
adjustments, all written down here:

- Request bodies are closed (`additionalProperties: false` on every object that lists properties), so a misspelt
  field (`{"title": "x", "uidd": "y"}`) is refused. Grafana's Go decoder ignores unknown fields (and matches names
  case-insensitively); a field Grafana would silently drop is a client bug we want to see. Each body schema is first
  inlined (its `$ref`s replaced by copies) so that the components the responses share are not touched.
- In request bodies an optional property may be `null`: Go's decoder reads `null` as "not given", and the clients
  send it (community.grafana's grafana_folder posts `{"parentUid": null, "title": ..., "uid": null}`). Required
  properties stay non-null.
- postDashboardResponse lists `title` as required, but Grafana's PostDashboard never sends it: it answers `slug`
  (the swagger comment describes the field as "Slug The slug of the dashboard" under the name `title`). `title` is
  taken out of that response's `required`, and the stand-in answers as Grafana does.
- The description's security schemes (basic, api_key) are left in place; the stand-in checks the service account
  token (`Authorization: Bearer ...`) before the contract, so openapi-core sees only authenticated requests.

A request that breaks the description is answered 400 in Grafana's error shape, `{"message": "bad request data:
..."}` (Grafana's own message for a body it cannot bind, followed by what is wrong); a response that breaks it is a
stand-in bug (the stand-in answers 500 and records it).
"""
import os

from sandbox.common import contract
from sandbox.common.contract import ApiResponse  # noqa: F401 (the stand-in builds its responses from here)

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "openapi3.subset.json")
PREFIX = "/api"


def _optional_nullable(node):
    """Let every optional property of every object in node be null (Go reads null as absent)."""
    for item in contract.walk(node):
        properties = item.get("properties")
        if isinstance(properties, dict):
            required = set(item.get("required", []))
            for name, schema in properties.items():
                if name not in required and isinstance(schema, dict):
                    schema["nullable"] = True


def _prepare_body(spec, schema):
    inlined = contract.inline_refs(spec, schema)
    _optional_nullable(inlined)
    return inlined


def _adjust(spec):
    """postDashboardResponse: `title` is not required (Grafana sends `slug` instead; see the module docstring)."""
    schema = spec["components"]["responses"]["postDashboardResponse"]["content"]["application/json"]["schema"]
    schema["required"] = [name for name in schema["required"] if name != "title"]


CONTRACT = contract.Contract(SPEC_FILE, prepare_body=_prepare_body, adjust=_adjust)


def load_spec():
    return CONTRACT.spec


def source():
    """The repository, path and commit the subset was cut from."""
    return load_spec()["info"]["x-extracted-from"]


class ApiRequest(contract.ApiRequest):
    """A request whose path is relative to /api (`api_path`); `path` is the full one the description matches."""

    host_url = "http://grafana.invalid"
    prefix = PREFIX


def _details(error):
    return contract.details(error, root="/")


def check_request(request):
    """None when the request matches the description, else (status, Grafana error body, violation text)."""
    errors = CONTRACT.request_errors(request)
    if not errors:
        return None
    texts = []
    for error in errors:
        details = _details(error)
        if getattr(error.__cause__, "schema_errors", None):  # name the fields, not the whole (large) value
            where = "request body" if "Body" in type(error).__name__ else str(error)
            texts.append("%s: %s" % (where, "; ".join('at "%s": %s' % d for d in details)))
        else:
            texts.append("; ".join(m for _, m in details))
    text = "; ".join(texts)
    return 400, {"message": "bad request data: " + text}, text


def check_response(request, pattern, response):
    """A list of problems with a response (empty when it matches the description).

    Every documented status is checked by openapi-core; a success status the description lacks is a stand-in bug;
    an undocumented error status must still have Grafana's error shape (ErrorResponseBody).
    """
    return CONTRACT.response_problems(request, pattern, response, "ErrorResponseBody")


def error_problems(data):
    """Problems with an error body that no operation documents (e.g. a 404 for an unknown path)."""
    return CONTRACT.error_problems(data, "ErrorResponseBody")
