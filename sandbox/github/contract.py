"""Check REST requests and responses against GitHub's own OpenAPI description (the committed subset).

Loading, the two adjustments (nullable enums, closed request bodies) and openapi-core's checks are shared
(sandbox/common/contract.py); this module keeps GitHub's error shapes.
"""
import os

from sandbox.common import contract
from sandbox.common.contract import ApiResponse  # noqa: F401 (the stand-in builds its responses from here)

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "api.github.com.subset.json")
DOCS = "https://docs.github.com/rest"
CONTRACT = contract.Contract(SPEC_FILE)


def load_spec():
    return CONTRACT.spec


class ApiRequest(contract.ApiRequest):
    host_url = load_spec()["servers"][0]["url"]  # paths in the description are relative to api.github.com


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
