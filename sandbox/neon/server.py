"""`NeonStandIn`: the Neon API v2 stand-in's state, its HTTP server and the request handlers.

Handlers run under one lock (state and SQL are serialised, which a stand-in can afford) and return
(status, data, headers). The real work (PostgreSQL clusters, roles, databases) is done before the answer;
operations only *report* it, running for `op_delay` seconds, as Neon's do.
"""
import calendar
import json
import os
import re
import secrets
import time
import uuid
from urllib.parse import quote, unquote, urlsplit

from sandbox.common.routes import Route
from sandbox.common.standin import StandIn
from sandbox.github.web import Handler, Server

from . import contract, objects
from .faults import HTTP_KINDS, OPERATION_KINDS, Faults
from .objects import Branch, Database, Endpoint, Operation, Project, Role
from sandbox.common.net import free_port

from .postgres import PgError, PgHost, quote_ident, quote_literal

PREFIX = "/api/v2"
NAME_MAX = 63  # bytes: PostgreSQL's NAMEDATALEN - 1, Neon's limit for role and database names
RESERVED_ROLES = ("neon_superuser", "cloud_admin", "postgres", "public", "none", "current_user", "session_user",
                  "current_role", "neon_service", "zenith_admin", "authenticator", "anonymous", "authenticated",
                  "neon_ai", "replicator")
RESERVED_DATABASES = ("postgres", "template0", "template1")
REGIONS = ("aws-us-east-1", "aws-us-east-2", "aws-us-west-2", "aws-eu-central-1", "aws-eu-west-2",
           "aws-ap-southeast-1", "aws-ap-southeast-2", "aws-sa-east-1", "azure-eastus2", "azure-westus3",
           "azure-gwc")
LOCKED_MESSAGE = "project already has running conflicting operations, scheduling of new ones is prohibited"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
BRANCH_NAME_MAX = 256  # characters (the description's maxLength; it documents no character set)
# Branch expiry, as https://neon.com/docs/guides/branch-expiration describes it: RFC 3339 (section 5.6) with a time
# zone, fractional seconds accepted but only whole seconds stored, in the future, at most 30 days from now.
EXPIRY_MAX = 30 * 86400
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$")


class ApiError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


def not_found(what):
    return ApiError(404, "%s not found" % what)


P = "/projects/{project_id}"
B = P + "/branches/{branch_id}"
ROUTES = [
    Route("GET", "/projects", "list_projects"),
    Route("POST", "/projects", "create_project"),
    Route("GET", P, "get_project"),
    Route("PATCH", P, "update_project"),
    Route("DELETE", P, "delete_project"),
    Route("GET", P + "/branches", "list_branches"),
    Route("POST", P + "/branches", "create_branch"),
    Route("GET", B, "get_branch"),
    Route("PATCH", B, "update_branch"),
    Route("DELETE", B, "delete_branch"),
    Route("GET", B + "/endpoints", "list_branch_endpoints"),
    Route("GET", P + "/endpoints", "list_endpoints"),
    Route("POST", P + "/endpoints", "create_endpoint"),
    Route("GET", P + "/endpoints/{endpoint_id}", "get_endpoint"),
    Route("PATCH", P + "/endpoints/{endpoint_id}", "update_endpoint"),
    Route("DELETE", P + "/endpoints/{endpoint_id}", "delete_endpoint"),
    Route("GET", B + "/roles", "list_roles"),
    Route("POST", B + "/roles", "create_role"),
    Route("GET", B + "/roles/{role_name}", "get_role"),
    Route("DELETE", B + "/roles/{role_name}", "delete_role"),
    Route("POST", B + "/roles/{role_name}/reset_password", "reset_password"),
    Route("GET", B + "/roles/{role_name}/reveal_password", "reveal_password"),
    Route("GET", B + "/databases", "list_databases"),
    Route("POST", B + "/databases", "create_database"),
    Route("GET", B + "/databases/{database_name}", "get_database"),
    Route("PATCH", B + "/databases/{database_name}", "update_database"),
    Route("DELETE", B + "/databases/{database_name}", "delete_database"),
    Route("GET", P + "/operations", "list_operations"),
    Route("GET", P + "/operations/{operation_id}", "get_operation"),
    Route("GET", P + "/connection_uri", "connection_uri"),
]


def match(method, path):
    """(route, decoded path params) for a request, or (None, None); (None, {}) when only the method is wrong."""
    found_path = False
    for route in ROUTES:
        found = route.regex.match(path)
        if found:
            found_path = True
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, ({} if found_path else None)


def name_problem(name, what):
    if not name:
        return "%s name must not be empty" % what
    if len(name.encode("utf-8")) > NAME_MAX:
        return "%s name %r exceeds the limit of %d bytes" % (what, name, NAME_MAX)
    if "\0" in name:
        return "%s name must not contain NUL characters" % what
    return None


def branch_name_problem(name):
    """Neon's description: 1 to 256 characters. A NUL is refused too (Neon keeps its state in PostgreSQL, whose text
    cannot hold one: our inference, not documented)."""
    if not name:
        return "branch name must not be empty"
    if len(name) > BRANCH_NAME_MAX:
        return "branch name exceeds the limit of %d characters" % BRANCH_NAME_MAX
    if "\0" in name:
        return "branch name must not contain NUL characters"
    return None


def expiry_epoch(text):
    """Whole seconds since the epoch of an RFC 3339 timestamp, or None when it is not one."""
    found = RFC3339.match(text)
    if not found:
        return None
    fields = [int(v) for v in found.groups()[:6]]
    try:
        epoch = calendar.timegm(time.strptime("%04d-%02d-%02dT%02d:%02d:%02d" % tuple(fields), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    if found.group(7):
        offset = int(found.group(8)) * 3600 + int(found.group(9)) * 60
        epoch -= offset if found.group(7) == "+" else -offset
    return epoch


def role_name_problem(name):
    problem = name_problem(name, "role")
    if problem:
        return problem
    if name.lower().startswith("pg_") or name.lower() in RESERVED_ROLES:
        return "role name %r is reserved" % name
    return None


def database_name_problem(name):
    problem = name_problem(name, "database")
    if problem:
        return problem
    if name in RESERVED_DATABASES:
        return "database name %r is reserved" % name
    return None


class RequestContext:
    """What one API request may use up: its operation fault, taken once when the request starts."""

    def __init__(self, fault=None, delay=0.2):
        self.fault, self.delay = fault, delay


class NeonStandIn(StandIn):
    def __init__(self, state_dir, host="127.0.0.1", port=0, api_key=None, op_delay=0.2, public_host="127.0.0.1"):
        super().__init__(state_dir, host, port)
        os.makedirs(self.state_dir, exist_ok=True)
        self.public_host = public_host
        self.op_delay = float(op_delay)
        self._api_key = api_key or "napi_" + secrets.token_hex(24)
        self.faults = Faults()
        self._projects = {}  # id -> Project
        self._db_ids = 0
        self._clock_offset = 0.0
        self.pg = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self):
        self.pg = PgHost(self.state_dir, self.public_host)
        try:
            self.pg.ensure_template()
            server = Server((self.bind_host, self.port), NeonHandler, self)
        except BaseException:
            self.pg.close()
            raise
        self.port = self.serve(server)
        return self

    def stop(self):
        self.stop_serving()
        if self.pg:
            self.pg.close()

    # --- public properties and helpers ---------------------------------------------------------------------

    @property
    def api_key(self):
        return self._api_key

    @property
    def base_url(self):
        return "http://%s:%d" % (self.bind_host, self.port)

    @property
    def api_url(self):
        return self.base_url + PREFIX

    def inject_fault(self, kind, method=None, path=None, times=1, retry_after=None, seconds=None):
        """Make the next `times` matching requests fail (see faults.py); `path` is a regex searched in the API
        path below /api/v2 (e.g. r"/branches$")."""
        return self.faults.add(kind, method, path, times, retry_after, seconds).as_dict()

    def create_project(self, name, region_id="aws-us-east-2", pg_version=17, role_name="neondb_owner",
                       database_name="neondb", branch_name="main", full=False):
        """Create a project directly (no HTTP, no running operations: it is ready at once).

        Returns the project's JSON as GET /projects/{id} shows it, or with full=True the whole body
        POST /projects would have answered (branch, endpoints, roles with password, connection_uris, ...).
        """
        body = {"project": {"name": name, "region_id": region_id, "pg_version": pg_version,
                            "branch": {"name": branch_name, "role_name": role_name, "database_name": database_name}}}
        with self.lock:
            _, data, _ = self.api.create_project(body=body, ctx=RequestContext(delay=0.0))
        return data if full else data["project"]

    def delete_project(self, project_id):
        """Delete a project directly (also while operations run); False when there is no such project."""
        with self.lock:
            project = self._projects.pop(project_id, None)
        if project is None:
            return False
        self.api.drop_project_clusters(project)
        return True

    def connection_uri(self, project_id, role_name=None, database_name=None, branch_id=None):
        """The connection URI of a role and database (defaults: the default branch's first database and its
        owner), as GET /connection_uri answers."""
        with self.lock:
            project = self._project(project_id)
            branch = project.branches[branch_id] if branch_id else project.default_branch()
            database = branch.databases[database_name] if database_name else next(iter(branch.databases.values()))
            role = branch.roles[role_name or database.owner_name]
            endpoint = self.api.rw_endpoint(project, branch)
            return self.api.uri(role, database.name, endpoint)

    def endpoint_port(self, project_id, endpoint_id):
        with self.lock:
            return self._project(project_id).endpoints[endpoint_id].port

    def now(self):
        """The stand-in's clock for branch expiry: the real time, plus what advance_clock() added."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds):
        """Move the expiry clock forward (tests: a branch expires without waiting days). Only expiry reads it."""
        with self.lock:
            self._clock_offset += seconds

    def postmaster_pids(self):
        return self.pg.postmaster_pids() if self.pg else []

    # --- used by the handlers ------------------------------------------------------------------------------

    @property
    def api(self):
        return Api(self)

    def _project(self, project_id):
        project = self._projects.get(project_id)
        if project is None:
            raise not_found("project")
        return project

    def next_db_id(self):
        self._db_ids += 1
        return self._db_ids


class NeonHandler(Handler):
    server_version = "neon-standin"

    def dispatch(self):
        app = self.app
        body = self.read_body()
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        request_id = self.headers.get("X-Request-ID") or str(uuid.uuid4())
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            app.record_violation("request", self.command, path, "not under %s" % PREFIX, 404)
            return self.send_json(404, {"code": "", "message": "not found", "request_id": request_id})
        api_path = path[len(PREFIX):] or "/"
        request = contract.ApiRequest(self.command, api_path, query, dict(self.headers.items()), body,
                                      self.headers.get("Content-Type"))
        status, data, headers = Api(app).handle(request, self.headers.get("Authorization", ""))
        if isinstance(data, dict) and status >= 400:
            data.setdefault("request_id", request_id)
        app.log_request(self.command, api_path, status)  # logged before the client can ask for the log
        self.send_json(status, data, headers + [("X-Request-ID", request_id)])


class Api:
    """The request handlers; one instance per request (state lives in the stand-in)."""

    def __init__(self, app):
        self.app = app

    # --- the pipeline --------------------------------------------------------------------------------------

    def handle(self, request, authorization):
        method, path = request.method.upper(), request.api_path
        try:
            fault = self.app.faults.take(method, path, HTTP_KINDS)
            if fault:
                raise self._fault_error(fault)
            scheme, _, key = authorization.partition(" ")
            if not authorization.strip():
                raise ApiError(401, "authentication required")
            if scheme.lower() != "bearer" or key.strip() != self.app.api_key:
                raise ApiError(401, "authorization failed")
            route, params = match(method, path)
            if route is None:
                status = 405 if params == {} else 404
                self.app.record_violation("request", method, path, "no such operation in the stand-in's API subset",
                                          status)
                raise ApiError(status, "method not allowed" if status == 405 else "not found")
            problem = contract.check_request(request)
            if problem:
                status, data, violation = problem
                self.app.record_violation("request", method, path, violation, status)
                return status, data, []
            data = json.loads(request.body) if request.body else None
            query = dict(request.parameters.query)
            ctx = RequestContext(delay=self.app.op_delay)
            with self.app.lock:
                self.delete_expired()
                project = None
                if "project_id" in params:
                    project = self.app._project(params["project_id"])
                    if method in MUTATING and project.busy():
                        raise ApiError(423, LOCKED_MESSAGE)
                if method in MUTATING:
                    ctx.fault = self.app.faults.take(method, path, OPERATION_KINDS)
                action = getattr(self, route.action)
                status, data, headers = action(project=project, params=params, query=query, body=data, ctx=ctx)
        except ApiError as err:
            status, data, headers = err.status, {"code": "", "message": err.message}, err.headers
            route = match(method, path)[0]
        except PgError as err:
            status, data, headers = 500, {"code": "", "message": "internal error: %s" % err}, []
            route = match(method, path)[0]
            self.app.record_violation("postgres", method, path, str(err), 500)
        if route is None:
            problems = contract.error_problems(json.dumps(data).encode())
        else:
            problems = self._check_response(request, route, status, data, headers)
        if problems:
            self.app.record_violation("response", method, path, "; ".join(problems), status)
            return 500, {"code": "", "message": "the stand-in produced a response that breaks Neon's API "
                                                "description: " + "; ".join(problems)}, []
        return status, data, headers

    def _check_response(self, request, route, status, data, headers):
        body = b"" if data is None else json.dumps(data).encode()
        response = contract.ApiResponse(status, [("Content-Type", "application/json")] + headers, body)
        return contract.check_response(request, route.template, response)

    @staticmethod
    def _fault_error(fault):
        if fault.kind == "http_423":
            return ApiError(423, LOCKED_MESSAGE)
        if fault.kind == "http_429":
            return ApiError(429, "rate limit exceeded", [("Retry-After", str(fault.retry_after))])
        if fault.kind == "http_503":
            headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
            return ApiError(503, "service temporarily unavailable (injected by the stand-in)", headers)
        return ApiError(500, "internal server error (injected by the stand-in)")

    # --- shared helpers ------------------------------------------------------------------------------------

    def ops(self, project, ctx, *specs):
        """Record operations (action, branch_id, endpoint_id) for one request; returns their JSON."""
        fault = ctx.fault
        delay = ctx.delay
        if fault and fault.kind == "slow_operation":
            delay = fault.seconds
        created = []
        for index, (action, branch_id, endpoint_id) in enumerate(specs):
            error = None
            if fault and fault.kind == "operation_failed" and index == len(specs) - 1:
                error = "operation failed (injected by the stand-in): %s could not be completed" % action
            op = Operation(project.id, action, branch_id, endpoint_id, duration=delay, error=error)
            project.operations.append(op)
            created.append(op)
        if fault and fault.kind == "operation_failed" and not specs:
            # a change that needs no operation still fails visibly: report one failed apply_config
            op = Operation(project.id, "apply_config", duration=delay,
                           error="operation failed (injected by the stand-in)")
            project.operations.append(op)
            created.append(op)
        return [op.json() for op in created]

    def branch(self, project, branch_id):
        branch = project.branches.get(branch_id)
        if branch is None:
            raise not_found("branch")
        return branch

    def drop_branch(self, project, branch):
        """Remove a branch, its endpoints and their PostgreSQL clusters; the endpoints removed."""
        endpoints = project.branch_endpoints(branch.id)
        for endpoint in endpoints:
            project.endpoints.pop(endpoint.id)
            if endpoint.cluster is not None:
                self.app.pg.remove(endpoint.cluster)
        del project.branches[branch.id]
        self.app.pg.remove(branch.cluster)
        return endpoints

    def delete_expired(self):
        """Delete the branches whose expiry has passed. Neon does it with a background job, "not exactly at the
        specified time"; the stand-in does it lazily, when the next API request arrives (before it is handled)."""
        now = self.app.now()
        for project in list(self.app._projects.values()):
            for branch in list(project.branches.values()):
                if branch.expires_epoch is not None and branch.expires_epoch <= now and not branch.default:
                    self.drop_branch(project, branch)

    def expiry(self, project, branch, spec, parent=None):
        """(expires_epoch, ttl_interval_seconds) for a create/update body that sets expires_at (checked as Neon
        documents it: format, future, 30 days, and no expiry on default, protected or parent branches)."""
        text = spec["expires_at"]
        epoch = expiry_epoch(text)
        if epoch is None:
            raise ApiError(400, "expires_at must be an RFC 3339 timestamp with a time zone, got %r" % text)
        now = self.app.now()
        if epoch <= now:
            raise ApiError(400, "expires_at must be in the future")
        if epoch - now > EXPIRY_MAX:
            raise ApiError(400, "expires_at must not be more than 30 days in the future")
        if branch is not None and branch.default:
            raise ApiError(400, "cannot set an expiration on the project's default branch")
        if spec.get("protected", branch.protected if branch is not None else False):
            raise ApiError(400, "cannot set an expiration on a protected branch")
        if branch is not None and any(b.parent_id == branch.id for b in project.branches.values()):
            raise ApiError(400, "cannot set an expiration on a branch that has child branches")
        return epoch, int(round(epoch - now))

    def endpoint(self, project, endpoint_id):
        endpoint = project.endpoints.get(endpoint_id)
        if endpoint is None:
            raise not_found("endpoint")
        return endpoint

    def rw_endpoint(self, project, branch):
        return next((e for e in project.branch_endpoints(branch.id) if e.type == "read_write"), None)

    def endpoint_json(self, endpoint):
        return endpoint.json(self.app.public_host)

    def uri(self, role, database, endpoint):
        port = endpoint.port if endpoint else 5432
        return "postgresql://%s:%s@%s:%d/%s" % (quote(role.name, safe=""), quote(role.password or "", safe=""),
                                                self.app.public_host, port, quote(database, safe=""))

    def connection_details(self, branch, endpoint):
        details = []
        if endpoint is None:
            return details
        for database in branch.databases.values():
            role = branch.roles.get(database.owner_name)
            if role is None or not role.password:
                continue
            details.append({"connection_uri": self.uri(role, database.name, endpoint), "connection_parameters": {
                "database": database.name, "password": role.password, "role": role.name,
                "host": self.app.public_host, "pooler_host": self.app.public_host}})
        return details

    def sync_cluster(self, project, branch):
        """Run the branch's postmaster as its endpoints need: on public_host for a read_write endpoint,
        socket-only when only read_only endpoints (standbys) stream from it, stopped otherwise."""
        endpoints = project.branch_endpoints(branch.id)
        rw = next((e for e in endpoints if e.type == "read_write" and not e.disabled), None)
        if rw:
            branch.cluster.start(listen=True, port=rw.port)
        elif any(e.type == "read_only" for e in endpoints):
            branch.cluster.start(listen=False, port=branch.cluster.port if branch.cluster.running else None)
        else:
            branch.cluster.stop()

    def run_sql(self, project, branch, statements, dbname="postgres"):
        """Apply SQL on the branch's primary; a branch without a running compute is started briefly."""
        cluster = branch.cluster
        if cluster.running:
            cluster.execute(statements, dbname)
            return
        cluster.start(listen=False)
        try:
            cluster.execute(statements, dbname)
        finally:
            cluster.stop()

    def apply_ops(self, project, branch, ctx):
        """The operations a role/database change starts: apply_config on each running compute of the branch."""
        return self.ops(project, ctx, *[("apply_config", branch.id, e.id)
                                        for e in project.branch_endpoints(branch.id) if not e.disabled])

    def check_cu(self, min_cu, max_cu):
        if min_cu is not None and max_cu is not None and min_cu > max_cu:
            raise ApiError(400, "autoscaling_limit_min_cu (%s) must not exceed autoscaling_limit_max_cu (%s)"
                           % (min_cu, max_cu))
        for value in (min_cu, max_cu):
            if value is not None and (value * 4) != int(value * 4):
                raise ApiError(400, "compute units must be multiples of 0.25, got %s" % value)

    def new_endpoint(self, project, branch, options):
        etype = options.get("type", "read_write")
        defaults = project.default_endpoint_settings
        min_cu = options.get("autoscaling_limit_min_cu", defaults.get("autoscaling_limit_min_cu", 0.25))
        max_cu = options.get("autoscaling_limit_max_cu", defaults.get("autoscaling_limit_max_cu", max(min_cu, 0.25)))
        self.check_cu(min_cu, max_cu)
        if etype == "read_write" and self.rw_endpoint(project, branch):
            raise ApiError(409, "branch %s already has a read_write endpoint" % branch.id)
        region = options.get("region_id", project.region_id)
        if region != project.region_id:
            raise ApiError(400, "endpoint region %r differs from the project's region %r" % (region, project.region_id))
        endpoint = Endpoint(objects.endpoint_id(), project.id, branch.id, etype, project.region_id, port=0,
                            min_cu=min_cu, max_cu=max_cu,
                            suspend_timeout_seconds=options.get("suspend_timeout_seconds",
                                                                defaults.get("suspend_timeout_seconds", 0)),
                            settings=options.get("settings") or {}, disabled=options.get("disabled", False),
                            passwordless_access=options.get("passwordless_access", False), name=options.get("name"))
        if etype == "read_write":
            endpoint.port = free_port(self.app.public_host)
            project.endpoints[endpoint.id] = endpoint
            try:
                self.sync_cluster(project, branch)
            except PgError:
                del project.endpoints[endpoint.id]
                raise
        else:
            project.endpoints[endpoint.id] = endpoint
            try:
                self.sync_cluster(project, branch)  # the standby streams from the branch's primary
                standby = self.app.pg.clone(branch.cluster, endpoint.id, standby=True)
                endpoint.cluster = standby
                if not endpoint.disabled:
                    endpoint.port = standby.start(listen=True)
                else:
                    endpoint.port = free_port(self.app.public_host)
            except PgError:
                del project.endpoints[endpoint.id]
                raise
        endpoint.started = time.time()
        return endpoint

    def remove_endpoint(self, project, endpoint):
        project.endpoints.pop(endpoint.id, None)
        if endpoint.cluster is not None:
            self.app.pg.remove(endpoint.cluster)
        branch = project.branches.get(endpoint.branch_id)
        if branch is not None:
            self.sync_cluster(project, branch)

    def drop_project_clusters(self, project):
        for endpoint in list(project.endpoints.values()):
            if endpoint.cluster is not None:
                self.app.pg.remove(endpoint.cluster)
        for branch in project.branches.values():
            self.app.pg.remove(branch.cluster)

    # --- projects ------------------------------------------------------------------------------------------

    def list_projects(self, query, **_):
        projects = list(self.app._projects.values())
        search = query.get("search")
        if search:
            needle = search.lower()
            projects = [p for p in projects if needle in p.name.lower() or needle in p.id]
        if query.get("org_id"):
            projects = [p for p in projects if p.org_id == query["org_id"]]
        if str(query.get("recoverable", "false")).lower() == "true":
            projects = []  # deleted projects are gone at once: nothing is recoverable
        cursor = query.get("cursor")
        if cursor:
            ids = [p.id for p in projects]
            if cursor not in ids:
                raise ApiError(400, "invalid cursor")
            projects = projects[ids.index(cursor) + 1:]
        page = projects[:int(query.get("limit", 10))]
        data = {"projects": [p.list_json(self.app.public_host) for p in page], "applications": {},
                "integrations": {}}
        if page:
            data["pagination"] = {"cursor": page[-1].id}
        return 200, data, []

    def create_project(self, body, ctx, **_):
        spec = (body or {}).get("project", {})
        region = spec.get("region_id", "aws-us-east-2")
        if region not in REGIONS:
            raise ApiError(400, "region %r is not supported" % region)
        branch_spec = spec.get("branch") or {}
        if "name" in branch_spec and branch_name_problem(branch_spec["name"]):
            raise ApiError(400, branch_name_problem(branch_spec["name"]))
        role_name = branch_spec.get("role_name", "neondb_owner")
        database_name = branch_spec.get("database_name", "neondb")
        problem = role_name_problem(role_name) or database_name_problem(database_name)
        if problem:
            raise ApiError(400, problem)
        defaults = spec.get("default_endpoint_settings") or {}
        legacy = {k: spec[k] for k in ("autoscaling_limit_min_cu", "autoscaling_limit_max_cu") if k in spec}
        defaults = dict(legacy, **defaults)
        self.check_cu(defaults.get("autoscaling_limit_min_cu"), defaults.get("autoscaling_limit_max_cu"))
        pid = objects.project_id()
        project = Project(pid, spec.get("name") or pid, region, spec.get("pg_version", 17),
                          store_passwords=spec.get("store_passwords", True),
                          history_retention_seconds=spec.get("history_retention_seconds", 86400),
                          settings=spec.get("settings") or {}, default_endpoint_settings=defaults,
                          org_id=spec.get("org_id"))
        cluster = self.app.pg.new_cluster(objects.branch_id())
        branch = Branch(cluster.name, pid, branch_spec.get("name", "main"), None, True, cluster,
                        annotation=dict(branch_spec.get("annotations") or {}))
        branch.ready_at = time.monotonic() + ctx.delay
        project.branches[branch.id] = branch
        role = Role(branch.id, role_name, objects.password())
        database = Database(self.app.next_db_id(), branch.id, database_name, role_name)
        try:
            endpoint = self.new_endpoint(project, branch, {"type": "read_write"})  # starts the compute
            self.run_sql(project, branch, self._create_role_sql(role) + [
                "CREATE DATABASE %s OWNER %s" % (quote_ident(database_name), quote_ident(role_name))])
            branch.roles[role.name] = role
            branch.databases[database.name] = database
        except BaseException:
            self.app.pg.remove(cluster)
            raise
        self.app._projects[pid] = project
        operations = self.ops(project, ctx, ("create_timeline", branch.id, None),
                              ("start_compute", branch.id, endpoint.id))
        return 201, {"project": project.json(self.app.public_host),
                     "connection_uris": self.connection_details(branch, endpoint),
                     "roles": [role.json(with_password=True)], "databases": [database.json()],
                     "operations": operations, "branch": branch.json(),
                     "endpoints": [self.endpoint_json(endpoint)]}, []

    def get_project(self, project, **_):
        return 200, {"project": project.json(self.app.public_host)}, []

    def update_project(self, project, body, ctx, **_):
        spec = body["project"]
        if "name" in spec:
            project.name = spec["name"]
        if "history_retention_seconds" in spec:
            project.history_retention_seconds = spec["history_retention_seconds"]
        specs = []
        if "settings" in spec:
            project.settings.update(spec["settings"])
        if "default_endpoint_settings" in spec:
            merged = dict(project.default_endpoint_settings, **spec["default_endpoint_settings"])
            self.check_cu(merged.get("autoscaling_limit_min_cu"), merged.get("autoscaling_limit_max_cu"))
            project.default_endpoint_settings = merged
            specs = [("apply_config", e.branch_id, e.id) for e in project.endpoints.values() if not e.disabled]
        project.updated = time.time()
        return 200, {"project": project.json(self.app.public_host), "operations": self.ops(project, ctx, *specs)}, []

    def delete_project(self, project, **_):
        data = {"project": project.json(self.app.public_host)}
        del self.app._projects[project.id]
        self.drop_project_clusters(project)
        return 200, data, []

    # --- branches ------------------------------------------------------------------------------------------

    def list_branches(self, project, query, **_):
        branches = list(project.branches.values())
        if query.get("search"):
            needle = query["search"].lower()
            branches = [b for b in branches if needle in b.name.lower() or needle in b.id]
        sort_by = query.get("sort_by", "updated_at")
        order = query.get("sort_order", "desc")
        key = {"name": lambda b: b.name, "created_at": lambda b: b.created, "updated_at": lambda b: b.updated}[sort_by]
        branches.sort(key=key, reverse=(order == "desc"))
        cursor = query.get("cursor")
        if cursor:
            ids = [b.id for b in branches]
            if cursor not in ids:
                raise ApiError(400, "invalid cursor")
            branches = branches[ids.index(cursor) + 1:]
        pagination = {"sort_by": sort_by, "sort_order": order}
        limit = query.get("limit")
        if limit is not None and len(branches) > int(limit):
            branches = branches[:int(limit)]
            pagination["next"] = branches[-1].id
        return 200, {"branches": [b.json() for b in branches], "annotations": {
            b.id: self._annotation(b) for b in branches if b.annotation}, "pagination": pagination}, []

    @staticmethod
    def _annotation(branch):
        return {"object": {"type": "console/branch", "id": branch.id}, "value": dict(branch.annotation)}

    def create_branch(self, project, body, ctx, **_):
        body = body or {}
        spec = body.get("branch") or {}
        for unsupported in ("parent_lsn", "parent_timestamp"):
            if unsupported in spec:
                raise ApiError(400, "%s: point-in-time branching is not modelled by the stand-in" % unsupported)
        if spec.get("init_source", "parent-data") != "parent-data":
            raise ApiError(400, "init_source %r is not modelled by the stand-in" % spec["init_source"])
        if spec.get("archived"):
            raise ApiError(400, "archived branches are not modelled by the stand-in")
        parent = self.branch(project, spec["parent_id"]) if "parent_id" in spec else project.default_branch()
        if parent.expires_at:
            raise ApiError(400, "cannot create a branch from a branch that has an expiration")
        bid = objects.branch_id()
        name = spec.get("name", bid)
        if branch_name_problem(name):
            raise ApiError(400, branch_name_problem(name))
        if any(b.name == name for b in project.branches.values()):
            raise ApiError(409, "branch with name %r already exists" % name)
        expires = self.expiry(project, None, spec) if spec.get("expires_at") is not None else (None, None)
        endpoints_spec = body.get("endpoints") or []
        if sum(1 for e in endpoints_spec if e["type"] == "read_write") > 1:
            raise ApiError(400, "a branch can have only one read_write endpoint")
        cluster = self.app.pg.clone(parent.cluster, bid)
        branch = Branch(bid, project.id, name, parent.id, False, cluster, protected=spec.get("protected", False),
                        annotation=dict(body.get("annotation_value") or {}))
        branch.expires_epoch, branch.ttl_interval_seconds = expires
        branch.ready_at = time.monotonic() + ctx.delay
        for role in parent.roles.values():
            branch.roles[role.name] = Role(bid, role.name, role.password, role.no_login)
        for database in parent.databases.values():
            branch.databases[database.name] = Database(self.app.next_db_id(), bid, database.name,
                                                       database.owner_name)
        project.branches[bid] = branch
        created = []
        try:
            for options in sorted(endpoints_spec, key=lambda e: e["type"] != "read_write"):
                created.append(self.new_endpoint(project, branch, options))
        except BaseException:
            for endpoint in created:
                self.remove_endpoint(project, endpoint)
            del project.branches[bid]
            self.app.pg.remove(cluster)
            raise
        operations = self.ops(project, ctx, ("create_branch", bid, None),
                              *[("start_compute", bid, e.id) for e in created])
        data = {"branch": branch.json(), "endpoints": [self.endpoint_json(e) for e in created],
                "operations": operations, "roles": [r.json() for r in branch.roles.values()],
                "databases": [d.json() for d in branch.databases.values()]}
        rw = self.rw_endpoint(project, branch)
        if rw:
            data["connection_uris"] = self.connection_details(branch, rw)
        return 201, data, []

    def get_branch(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"branch": branch.json(), "annotation": self._annotation(branch)}, []

    def update_branch(self, project, params, body, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        spec = body["branch"]
        if "name" in spec and spec["name"] != branch.name:
            if branch_name_problem(spec["name"]):
                raise ApiError(400, branch_name_problem(spec["name"]))
            if any(b.name == spec["name"] for b in project.branches.values()):
                raise ApiError(409, "branch with name %r already exists" % spec["name"])
        if spec.get("protected") and branch.expires_at and spec.get("expires_at", branch.expires_at) is not None:
            raise ApiError(400, "cannot protect a branch that has an expiration")
        expires = (branch.expires_epoch, branch.ttl_interval_seconds)
        if "expires_at" in spec:
            expires = self.expiry(project, branch, spec) if spec["expires_at"] is not None else (None, None)
        branch.name = spec.get("name", branch.name)
        branch.protected = spec.get("protected", branch.protected)
        branch.expires_epoch, branch.ttl_interval_seconds = expires
        branch.updated = time.time()
        return 200, {"branch": branch.json(), "operations": self.ops(project, ctx)}, []

    def delete_branch(self, project, params, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        if branch.default:
            raise ApiError(400, "cannot delete the project's default branch")
        children = [b.id for b in project.branches.values() if b.parent_id == branch.id]
        if children:
            raise ApiError(400, "cannot delete a branch that has child branches (%s)" % ", ".join(children))
        endpoints = self.drop_branch(project, branch)
        operations = self.ops(project, ctx, *[("suspend_compute", branch.id, e.id) for e in endpoints],
                              ("delete_timeline", branch.id, None))
        return 200, {"branch": branch.json(), "operations": operations}, []

    def list_branch_endpoints(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"endpoints": [self.endpoint_json(e) for e in project.branch_endpoints(branch.id)]}, []

    # --- endpoints -----------------------------------------------------------------------------------------

    def list_endpoints(self, project, **_):
        return 200, {"endpoints": [self.endpoint_json(e) for e in project.endpoints.values()]}, []

    def create_endpoint(self, project, body, ctx, **_):
        spec = body["endpoint"]
        branch = self.branch(project, spec["branch_id"])
        endpoint = self.new_endpoint(project, branch, spec)
        return 201, {"endpoint": self.endpoint_json(endpoint),
                     "operations": self.ops(project, ctx, ("start_compute", branch.id, endpoint.id))}, []

    def get_endpoint(self, project, params, **_):
        return 200, {"endpoint": self.endpoint_json(self.endpoint(project, params["endpoint_id"]))}, []

    def update_endpoint(self, project, params, body, ctx, **_):
        endpoint = self.endpoint(project, params["endpoint_id"])
        spec = body["endpoint"]
        min_cu = spec.get("autoscaling_limit_min_cu", endpoint.min_cu)
        max_cu = spec.get("autoscaling_limit_max_cu", endpoint.max_cu)
        self.check_cu(min_cu, max_cu)
        if "branch_id" in spec and spec["branch_id"] != endpoint.branch_id:
            target = self.branch(project, spec["branch_id"])
            if endpoint.type != "read_write":
                raise ApiError(400, "only a read_write endpoint can be moved to another branch")
            if self.rw_endpoint(project, target):
                raise ApiError(409, "branch %s already has a read_write endpoint" % target.id)
            old = project.branches[endpoint.branch_id]
            endpoint.branch_id = target.id
            self.sync_cluster(project, old)
            self.sync_cluster(project, target)
        endpoint.min_cu, endpoint.max_cu = min_cu, max_cu
        for key in ("suspend_timeout_seconds", "passwordless_access", "name"):
            if key in spec:
                setattr(endpoint, key, spec[key])
        if "settings" in spec:
            endpoint.settings = spec["settings"]
        specs = []
        if "disabled" in spec and spec["disabled"] != endpoint.disabled:
            endpoint.disabled = spec["disabled"]
            if endpoint.cluster is not None:
                if endpoint.disabled:
                    endpoint.cluster.stop()
                else:
                    endpoint.cluster.start(listen=True, port=endpoint.port)
            else:
                self.sync_cluster(project, project.branches[endpoint.branch_id])
            specs.append(("suspend_compute" if endpoint.disabled else "start_compute", endpoint.branch_id,
                          endpoint.id))
        elif not endpoint.disabled:
            specs.append(("apply_config", endpoint.branch_id, endpoint.id))
        endpoint.updated = time.time()
        return 200, {"endpoint": self.endpoint_json(endpoint), "operations": self.ops(project, ctx, *specs)}, []

    def delete_endpoint(self, project, params, ctx, **_):
        endpoint = self.endpoint(project, params["endpoint_id"])
        self.remove_endpoint(project, endpoint)
        return 200, {"endpoint": self.endpoint_json(endpoint),
                     "operations": self.ops(project, ctx, ("suspend_compute", endpoint.branch_id, endpoint.id))}, []

    # --- roles ---------------------------------------------------------------------------------------------

    def role(self, branch, name):
        role = branch.roles.get(name)
        if role is None:
            raise not_found("role")
        return role

    @staticmethod
    def _create_role_sql(role):
        if role.no_login:
            return ["CREATE ROLE %s NOLOGIN IN ROLE neon_superuser" % quote_ident(role.name)]
        return ["CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD %s IN ROLE neon_superuser"
                % (quote_ident(role.name), quote_literal(role.password))]

    def list_roles(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"roles": [r.json() for r in branch.roles.values()]}, []

    def create_role(self, project, params, body, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        spec = body["role"]
        name = spec["name"]
        problem = role_name_problem(name)
        if problem:
            raise ApiError(400, problem)
        if name in branch.roles:
            raise ApiError(409, "role %r already exists" % name)
        no_login = spec.get("no_login", False)
        role = Role(branch.id, name, None if no_login else objects.password(), no_login)
        self.run_sql(project, branch, self._create_role_sql(role))
        branch.roles[name] = role
        return 201, {"role": role.json(with_password=True), "operations": self.apply_ops(project, branch, ctx)}, []

    def get_role(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"role": self.role(branch, params["role_name"]).json()}, []

    def delete_role(self, project, params, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        role = self.role(branch, params["role_name"])
        owned = sorted(d.name for d in branch.databases.values() if d.owner_name == role.name)
        if owned:
            raise ApiError(400, "role %r owns database(s) %s: delete them or give them another owner first"
                           % (role.name, ", ".join(owned)))
        ident = quote_ident(role.name)
        cluster_was_running = branch.cluster.running
        if not cluster_was_running:
            branch.cluster.start(listen=False)
        try:
            for database in ["postgres"] + list(branch.databases):
                branch.cluster.execute(["REASSIGN OWNED BY %s TO cloud_admin" % ident, "DROP OWNED BY %s" % ident],
                                       database)
            branch.cluster.execute(["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s"
                                    % quote_literal(role.name), "DROP ROLE %s" % ident])
        finally:
            if not cluster_was_running:
                branch.cluster.stop()
        del branch.roles[role.name]
        return 200, {"role": role.json(), "operations": self.apply_ops(project, branch, ctx)}, []

    def reset_password(self, project, params, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        role = self.role(branch, params["role_name"])
        if role.no_login:
            raise ApiError(400, "role %r cannot log in: it has no password to reset" % role.name)
        new = objects.password()
        self.run_sql(project, branch, ["ALTER ROLE %s PASSWORD %s" % (quote_ident(role.name), quote_literal(new))])
        role.password = new
        role.updated = time.time()
        return 200, {"role": role.json(with_password=True), "operations": self.apply_ops(project, branch, ctx)}, []

    def reveal_password(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        role = self.role(branch, params["role_name"])
        if not project.store_passwords:
            raise ApiError(412, "passwords are not stored for this project (store_passwords is false)")
        if role.no_login or not role.password:
            raise ApiError(412, "role %r has no password" % role.name)
        return 200, {"password": role.password}, []

    # --- databases -----------------------------------------------------------------------------------------

    def database(self, branch, name):
        database = branch.databases.get(name)
        if database is None:
            raise not_found("database")
        return database

    def list_databases(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"databases": [d.json() for d in branch.databases.values()]}, []

    def create_database(self, project, params, body, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        spec = body["database"]
        name, owner = spec["name"], spec["owner_name"]
        problem = database_name_problem(name)
        if problem:
            raise ApiError(400, problem)
        if name in branch.databases:
            raise ApiError(409, "database %r already exists" % name)
        if owner not in branch.roles:
            raise ApiError(400, "role %r does not exist" % owner)
        self.run_sql(project, branch, ["CREATE DATABASE %s OWNER %s" % (quote_ident(name), quote_ident(owner))])
        database = Database(self.app.next_db_id(), branch.id, name, owner)
        branch.databases[name] = database
        return 201, {"database": database.json(), "operations": self.apply_ops(project, branch, ctx)}, []

    def get_database(self, project, params, **_):
        branch = self.branch(project, params["branch_id"])
        return 200, {"database": self.database(branch, params["database_name"]).json()}, []

    def update_database(self, project, params, body, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        database = self.database(branch, params["database_name"])
        spec = body["database"]
        statements = []
        new_name = spec.get("name", database.name)
        if new_name != database.name:
            problem = database_name_problem(new_name)
            if problem:
                raise ApiError(400, problem)
            if new_name in branch.databases:
                raise ApiError(409, "database %r already exists" % new_name)
            statements += ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                           % quote_literal(database.name),
                           "ALTER DATABASE %s RENAME TO %s" % (quote_ident(database.name), quote_ident(new_name))]
        owner = spec.get("owner_name", database.owner_name)
        if owner != database.owner_name:
            if owner not in branch.roles:
                raise ApiError(400, "role %r does not exist" % owner)
            statements.append("ALTER DATABASE %s OWNER TO %s" % (quote_ident(new_name), quote_ident(owner)))
        if statements:
            self.run_sql(project, branch, statements)
            del branch.databases[database.name]
            database.name, database.owner_name, database.updated = new_name, owner, time.time()
            branch.databases[new_name] = database
        return 200, {"database": database.json(), "operations": self.apply_ops(project, branch, ctx)}, []

    def delete_database(self, project, params, ctx, **_):
        branch = self.branch(project, params["branch_id"])
        database = self.database(branch, params["database_name"])
        self.run_sql(project, branch, ["DROP DATABASE %s WITH (FORCE)" % quote_ident(database.name)])
        del branch.databases[database.name]
        return 200, {"database": database.json(), "operations": self.apply_ops(project, branch, ctx)}, []

    # --- operations and connection URIs --------------------------------------------------------------------

    def list_operations(self, project, query, **_):
        operations = list(reversed(project.operations))  # newest first, as Neon lists them
        cursor = query.get("cursor")
        if cursor:
            ids = [op.id for op in operations]
            if cursor not in ids:
                raise ApiError(400, "invalid cursor")
            operations = operations[ids.index(cursor) + 1:]
        if query.get("limit") is not None:
            operations = operations[:int(query["limit"])]
        data = {"operations": [op.json() for op in operations]}
        if operations:
            data["pagination"] = {"cursor": operations[-1].id}
        return 200, data, []

    def get_operation(self, project, params, **_):
        for op in project.operations:
            if op.id == params["operation_id"]:
                return 200, {"operation": op.json()}, []
        raise not_found("operation")

    def connection_uri(self, project, query, **_):
        branch = self.branch(project, query["branch_id"]) if query.get("branch_id") else project.default_branch()
        if query.get("endpoint_id"):
            endpoint = self.endpoint(project, query["endpoint_id"])
            if endpoint.branch_id != branch.id:
                raise ApiError(400, "endpoint %s does not belong to branch %s" % (endpoint.id, branch.id))
        else:
            endpoint = self.rw_endpoint(project, branch)
            if endpoint is None:
                raise ApiError(400, "branch %s has no read_write endpoint" % branch.id)
        database = self.database(branch, query["database_name"])
        role = self.role(branch, query["role_name"])
        if role.no_login or not role.password:
            raise ApiError(400, "role %r cannot log in with a password" % role.name)
        if not project.store_passwords:
            raise ApiError(412, "passwords are not stored for this project (store_passwords is false)")
        return 200, {"uri": self.uri(role, database.name, endpoint)}, []
