"""Check REST requests and responses against GitHub's own OpenAPI description (the committed subset).

Loading, the two adjustments (nullable enums, closed request bodies) and openapi-core's checks are shared
(sandbox/common/contract.py); this module keeps GitHub's error shapes and two readings of GitHub's description that
openapi-core does not make by itself:
- A path parameter marked `x-multi-segment` (the file path of repos/get-content) spans several segments, slashes
  included; openapi-core matches a parameter within one segment, so its slashes are percent-encoded in the path
  the check (and the router, which decodes parameters) reads.
- A `oneOf` whose `discriminator` also lists an array (repos/get-content answers a directory as an array, a file as
  an object) cannot be discriminated: an array has no `type` property. The discriminator is dropped there; the
  alternatives still exclude each other (an array, or an object whose `type` enum is file, symlink or submodule).
"""
import os
import re
from urllib.parse import quote

from sandbox.common import contract
from sandbox.common.contract import ApiResponse  # noqa: F401 (the stand-in builds its responses from here)

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "api.github.com.subset.json")
DOCS = "https://docs.github.com/rest"


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def drop_array_discriminators(spec):
    """No discriminator on a oneOf that has an array among its alternatives (see the module's docstring)."""
    for node in contract.walk(spec["paths"]):
        if "discriminator" in node and any(_resolve(spec, alternative).get("type") == "array"
                                           for alternative in node.get("oneOf", [])):
            del node["discriminator"]


CONTRACT = contract.Contract(SPEC_FILE, adjust=drop_array_discriminators)


def load_spec():
    return CONTRACT.spec


def multi_segment_paths(spec):
    """[(regex of the path template with its multi-segment parameter spanning slashes, that parameter's name)]."""
    found = []
    for template, item in spec["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                parameter = _resolve(spec, parameter)
                if parameter.get("in") == "path" and parameter.get("x-multi-segment"):
                    name = parameter["name"]
                    regex = re.sub(r"\\{(\w+)\\}", lambda m: "(?P<%s>%s)" % (
                        m.group(1), ".+" if m.group(1) == name else "[^/]+"), re.escape(template))
                    found.append((re.compile("^%s$" % regex), name))
    return found


MULTI_SEGMENT = multi_segment_paths(load_spec())


def encode_multi_segment(path):
    """The path with the slashes of a multi-segment parameter percent-encoded (the one segment openapi-core reads)."""
    for regex, name in MULTI_SEGMENT:
        found = regex.match(path)
        if found:
            start, end = found.span(name)
            return path[:start] + quote(found.group(name), safe="%") + path[end:]
    return path


class ApiRequest(contract.ApiRequest):
    host_url = load_spec()["servers"][0]["url"]  # paths in the description are relative to api.github.com

    def __init__(self, method, path, *args, **kwargs):
        super().__init__(method, encode_multi_segment(path), *args, **kwargs)


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
    errors = CONTRACT.request_errors(request)
    if not errors:
        return None
    details = [d for error in errors for d in contract.details(error)]
    return 422, validation_failed(details), "; ".join("%s: %s" % d if d[0] else d[1] for d in details)


def check_response(request, pattern, response):
    """Return a list of problems with a response (empty when it matches the description).

    GitHub's description leaves out most generic errors (401, 403, 429, 5xx ...); those must still have GitHub's
    basic error shape. An undocumented success status is a stand-in bug.
    """
    documented = CONTRACT.documented_responses(request, pattern)
    if str(response.status_code) in documented or "default" in documented:
        return ["%s%s" % (error, "".join(" | %s" % m for _, m in contract.details(error)))
                for error in CONTRACT.response_errors(request, response)]
    if response.status_code < 400:
        return [contract.undocumented_status(request, pattern, response)]
    return contract.body_problems(response.data, load_spec()["components"]["schemas"]["basic-error"])
