"""The REST API under /api/v3: repositories, Pages and Actions settings, with GitHub's auth, rate-limit headers
and errors.

Every request and response passes the contract check (contract.py). Handlers return (status, data, headers); the
Actions settings (secrets, variables, environments) and the user/team look-ups live in actions_api.py.
"""
import json
import time
import uuid
from urllib.parse import unquote

from sandbox.common import routes
from sandbox.common.routes import Route

from . import actions_api, contents_api, contract, git, objects, pages_deployments, pulls_api
from .errors import DOCS, error, not_found
from .faults import REST_KINDS
from .pages import Pages

PREFIX = "/api/v3"
USER = "sandbox-user"
RATE_LIMIT = 5000
PAGES_DOCS = DOCS + "/pages/pages"
LIMITS_DOCS = DOCS + "/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID %s.")


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}", "get_repo"),
    Route("GET", "/repos/{owner}/{repo}/pages", "get_pages"),
    Route("POST", "/repos/{owner}/{repo}/pages", "create_pages"),
    Route("PUT", "/repos/{owner}/{repo}/pages", "update_pages"),
    Route("DELETE", "/repos/{owner}/{repo}/pages", "delete_pages"),
    Route("GET", "/repos/{owner}/{repo}/pages/builds", "list_builds"),
    Route("POST", "/repos/{owner}/{repo}/pages/builds", "request_build"),
    Route("GET", "/repos/{owner}/{repo}/pages/builds/latest", "latest_build"),
    Route("GET", "/repos/{owner}/{repo}/pages/builds/{build_id}", "get_build"),
] + pages_deployments.ROUTES + actions_api.ROUTES + pulls_api.ROUTES + contents_api.ROUTES
# The Pages, Actions settings, pull request, issue comment and contents endpoints need a classic token's `repo` scope;
# reading a repository does not (fragments of the operations' path templates).
NEEDS_REPO_SCOPE = (("/pages",) + actions_api.NEEDS_REPO_SCOPE + pulls_api.NEEDS_REPO_SCOPE
                    + contents_api.NEEDS_REPO_SCOPE)


def match(method, path):
    """(route, path params) for a request, or (None, None)."""
    return routes.match(ROUTES, method, path)


class RestApi:
    def __init__(self, app):
        self.app = app
        self.usage = {}  # (token, hour) -> requests made
        self.handlers = (self, actions_api.ActionsApi(app), pulls_api.PullsApi(app), contents_api.ContentsApi(app),
                         pages_deployments.PagesDeploymentsApi(app))

    def _action(self, name):
        return next(getattr(h, name) for h in self.handlers if hasattr(h, name))

    def handle(self, handler):
        path, _, query = handler.path.partition("?")
        api_path = path[len(PREFIX):] or "/"
        request = contract.ApiRequest(handler.command, api_path, query, dict(handler.headers.items()),
                                      handler.read_body(), handler.headers.get("Content-Type"))
        token = self._token(handler.headers.get("Authorization", ""))
        status, data, headers = self.respond(request, token)
        self.app.log_request(handler.command, api_path, status)  # logged before the client can ask for the log
        handler.send_json(status, data, self._common_headers(token) + headers)

    def respond(self, request, token):
        method, path = request.method.upper(), request.path
        refused = self._fault(method, path) or self._authenticate(token)
        if refused:
            return refused
        route, params = match(method, path)
        if route is None:
            self.app.record_violation("request", method, path, "no such operation in the stand-in's API subset", 404)
            return not_found()
        if any(part in route.template for part in NEEDS_REPO_SCOPE) and "repo" not in self.app.token_scopes(token):
            return self._missing_scope(PAGES_DOCS if "/pages" in route.template else DOCS)
        data, rejected = self._check_request(request)
        if rejected:
            return rejected
        params = {name: unquote(value) for name, value in params.items()}  # an environment's "a%2Fb" is "a/b"
        with self.app.lock:
            repo = None
            if "repo" in params:
                repo = self.app.repo(params["owner"], params["repo"])
                if repo is None:
                    return not_found()
            action = self._action(route.action)
            status, data, headers = action(repo, data=data, params=params, query=dict(request.parameters.query),
                                           path=path)
        return self._check_response(request, route, status, data, headers)

    def _check_request(self, request):
        """(parsed body, None), or (None, the error response) for a request GitHub would reject."""
        method, path = request.method.upper(), request.path
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            self.app.record_violation("request", method, path, "body is not JSON", 400)
            return None, error(400, "Problems parsing JSON")
        problem = contract.check_request(request)
        if problem:
            status, body, violation = problem
            self.app.record_violation("request", method, path, violation, status)
            return None, (status, body, [])
        return data, None

    def _check_response(self, request, route, status, data, headers):
        body = b"" if data is None else json.dumps(data).encode()
        response = contract.ApiResponse(status, [("Content-Type", "application/json; charset=utf-8")] + headers, body)
        problems = contract.check_response(request, route.template, response)
        if problems:
            self.app.record_violation("response", request.method.upper(), request.path, "; ".join(problems), status)
            return error(500, "The sandbox produced a response that breaks GitHub's API description: "
                         + "; ".join(problems))
        return status, data, headers

    # --- auth, rate limits, faults -------------------------------------------------------------------------

    def _fault(self, method, path):
        """The response of an injected fault, if one is due (a `slow` one only delays the real answer)."""
        fault = self.app.faults.take(method, path, REST_KINDS)
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        elif fault:
            return self._fault_response(fault)
        return None

    def _authenticate(self, token):
        if self.app.token_scopes(token) is None:
            return error(401, "Requires authentication" if not token else "Bad credentials")
        if self._over_limit(token):
            return error(403, "API rate limit exceeded for user ID 1.", LIMITS_DOCS)
        return None

    @staticmethod
    def _token(header):
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() in ("bearer", "token") else ""

    def _window(self):
        hour = int(time.time() // 3600) * 3600
        return hour, hour + 3600

    def _over_limit(self, token):
        key = (token, self._window()[0])
        with self.app.lock:
            self.usage[key] = self.usage.get(key, 0) + 1
            return self.usage[key] > RATE_LIMIT

    def _common_headers(self, token):
        hour, reset = self._window()
        used = min(self.usage.get((token, hour), 0), RATE_LIMIT)
        headers = [("X-RateLimit-Limit", str(RATE_LIMIT)), ("X-RateLimit-Remaining", str(RATE_LIMIT - used)),
                   ("X-RateLimit-Reset", str(reset)), ("X-RateLimit-Used", str(used)),
                   ("X-RateLimit-Resource", "core"), ("X-GitHub-Media-Type", "github.v3; format=json"),
                   ("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper())]
        scopes = self.app.token_scopes(token)
        if scopes is not None:
            headers.append(("X-OAuth-Scopes", ", ".join(scopes)))
        return headers

    @staticmethod
    def _missing_scope(docs):
        status, data, _ = error(403, "Resource not accessible by personal access token", docs)
        return status, data, [("X-Accepted-OAuth-Scopes", "repo")]

    @staticmethod
    def _fault_response(fault):
        retry = [("Retry-After", str(fault.retry_after))]
        if fault.kind == "http_500":
            return error(500, "Server Error (injected by the sandbox)")
        if fault.kind == "rate_limit_429":
            # A primary limit: nothing left until the reset, which Retry-After also announces.
            status, data, _ = error(429, "API rate limit exceeded for user ID 1.", LIMITS_DOCS)
            return status, data, retry + [("X-RateLimit-Remaining", "0"),
                                          ("X-RateLimit-Reset", str(int(time.time()) + fault.retry_after))]
        status, data, _ = error(403, SECONDARY_MESSAGE % uuid.uuid4().hex[:20].upper(),
                                LIMITS_DOCS + "#about-secondary-rate-limits")
        return status, data, retry

    # --- repositories --------------------------------------------------------------------------------------

    def get_repo(self, repo, **_):
        return 200, objects.repo_json(self.app, repo), []

    # --- Pages ---------------------------------------------------------------------------------------------

    def get_pages(self, repo, **_):
        if repo.pages is None:
            return not_found(PAGES_DOCS + "#get-a-apiname-pages-site")
        return 200, objects.page_json(self.app, repo), []

    def create_pages(self, repo, data, **_):
        if repo.pages is not None:
            return error(409, "GitHub Pages is already enabled.", PAGES_DOCS + "#create-a-apiname-pages-site")
        source = data.get("source") or {}
        pages = Pages(build_type=data.get("build_type", "legacy"), branch=source.get("branch"),
                      path=source.get("path", "/"))
        if pages.build_type == "legacy":
            pages.branch = pages.branch or repo.default_branch
            if self._branch_head(repo, pages.branch) is None:
                return self._no_branch(pages.branch)
        repo.pages = pages
        self._rebuild(repo)
        return 201, objects.page_json(self.app, repo), []

    def update_pages(self, repo, data, **_):
        pages = repo.pages
        if pages is None:
            return not_found(PAGES_DOCS + "#update-information-about-a-apiname-pages-site")
        before = (pages.build_type, pages.branch, pages.path, pages.cname)
        branch, path = self._source(data.get("source", (pages.branch, pages.path)))
        build_type = data.get("build_type", pages.build_type)
        if build_type == "legacy" and self._branch_head(repo, branch) is None:
            return self._no_branch(branch)
        pages.build_type, pages.branch, pages.path = build_type, branch, path
        if "cname" in data:
            pages.cname = (data["cname"] or "").strip().lower() or None
        pages.https_enforced = data.get("https_enforced", pages.https_enforced)
        if (pages.build_type, pages.branch, pages.path, pages.cname) != before:
            self._rebuild(repo)
        return 204, None, []

    def delete_pages(self, repo, **_):
        if repo.pages is None:
            return not_found(PAGES_DOCS + "#delete-a-apiname-pages-site")
        repo.pages = None
        return 204, None, []

    def list_builds(self, repo, query, **_):
        if repo.pages is None:
            return not_found()
        per_page, page = min(int(query.get("per_page", 30)), 100), max(int(query.get("page", 1)), 1)
        builds = list(reversed(repo.pages.builds))
        shown = builds[(page - 1) * per_page:page * per_page]
        headers = []
        if page * per_page < len(builds):
            url = "%s/repos/%s/pages/builds" % (self.app.api_url, repo.full_name)
            headers.append(("Link", '<%s?per_page=%d&page=%d>; rel="next"' % (url, per_page, page + 1)))
        return 200, [objects.build_json(self.app, repo, b) for b in shown], headers

    def request_build(self, repo, **_):
        pages = repo.pages
        if pages is None:
            return not_found()
        if pages.build_type != "legacy":
            return error(422, "This site is built by a GitHub Actions workflow; the sandbox runs no workflows.")
        if self._branch_head(repo, pages.branch) is None:
            return self._no_branch(pages.branch)
        self._rebuild(repo)
        return 201, {"url": "%s/repos/%s/pages/builds/latest" % (self.app.api_url, repo.full_name),
                     "status": "queued"}, []

    def latest_build(self, repo, **_):
        build = repo.pages.latest() if repo.pages else None
        return (200, objects.build_json(self.app, repo, build), []) if build else not_found()

    def get_build(self, repo, params, **_):
        builds = repo.pages.builds if repo.pages else []
        found = [b for b in builds if str(b.id) == params["build_id"]]
        return (200, objects.build_json(self.app, repo, found[0]), []) if found else not_found()

    # --- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _source(source):
        """(branch, path) from a PUT source: an object, or the older string form "gh-pages" / "master /docs"."""
        if isinstance(source, dict):
            return source["branch"], source["path"]
        if isinstance(source, str):
            branch, _, path = source.partition(" ")
            return branch, path or "/"
        return source

    @staticmethod
    def _branch_head(repo, branch):
        return git.heads(repo.git_dir).get("refs/heads/%s" % branch) if branch else None

    @staticmethod
    def _no_branch(branch):
        return error(422, "Validation Failed", PAGES_DOCS, errors=[{
            "resource": "Page", "field": "source", "code": "invalid",
            "message": "The branch %r does not exist in this repository." % branch}])

    def _rebuild(self, repo):
        """A legacy site builds its branch's current head (as on a push)."""
        if repo.pages.build_type == "legacy":
            self.app.queue_build(repo, self._branch_head(repo, repo.pages.branch), USER)
