"""`GrafanaStandIn`: the Grafana HTTP API stand-in's state, its HTTP server and the request handlers.

Handlers run under one lock and return (status, data); the pipeline around them (auth, faults, routing, the
contract on the way in and on the way out) is `Api.handle`.
"""
import copy
import json
import re
import secrets
import string
import time
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from sandbox.common import faults as common_faults
from sandbox.common.routes import Route
from sandbox.common.standin import StandIn
from sandbox.github.web import Handler, Server

from . import contract

PREFIX = contract.PREFIX  # "/api"
UID_MAX = 40
UID_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]*$")
SERVICE_ACCOUNT = "sa-1-textbook-deploy"  # the login Grafana shows as createdBy/updatedBy for a service account
UNAUTHORIZED = {"message": "Unauthorized"}
INVALID_KEY = {"message": "Invalid API key", "messageId": "api-key.invalid", "statusCode": 401, "traceID": ""}

ROUTES = [
    Route("GET", "/health", "health"),
    Route("GET", "/frontend/settings", "frontend_settings"),
    Route("GET", "/folders", "list_folders"),
    Route("POST", "/folders", "create_folder"),
    Route("GET", "/search", "search"),
    Route("GET", "/dashboards/uid/{uid}", "get_dashboard"),
    Route("POST", "/dashboards/db", "save_dashboard"),
    Route("POST", "/annotations", "create_annotation"),
]
# answered without a token (Grafana serves /api/health before authentication) and not in the description
NO_AUTH = ("health",)
NOT_IN_DESCRIPTION = ("health", "frontend_settings")


class ApiError(Exception):
    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.status, self.body = code, dict({"message": message}, **extra)


class Faults(common_faults.Faults):
    """http_500, http_503: the next matching request is answered with that status before anything is done."""

    kinds = ("http_500", "http_503")

    def add(self, kind, method=None, path=None, times=1):
        self.validate(kind, path, times)
        return self.append(common_faults.Fault(kind, method.upper() if method else None, path, int(times)))


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


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def slugify(title):
    """Grafana's slug of a title: lower case, runs of other characters turned into one dash."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def new_uid():
    """A short uid in the shape Grafana generates (14 characters, a letter first)."""
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(alphabet) for _ in range(13))


def uid_problem(uid):
    if len(uid) > UID_MAX:
        return "uid too long, max 40 characters"
    if not UID_PATTERN.match(uid):
        return "uid contains illegal characters"
    return None


class GrafanaStandIn(StandIn):
    """A Grafana with one organisation and one service account token. State lives in memory only."""

    def __init__(self, host="127.0.0.1", port=0, token=None, version="12.0.0", state_dir="."):
        super().__init__(state_dir, host, port)  # nothing is written to state_dir
        self._token = token or "glsa_%s_%s" % (secrets.token_hex(16), secrets.token_hex(4))
        self.version = version
        self.faults = Faults()
        self._ids = 0  # folders and dashboards share one id sequence, as they share Grafana's dashboard table
        self._folders = {}  # uid -> dict
        self._dashboards = {}  # uid -> dict
        self._annotations = []

    def start(self):
        self.port = self.serve(Server((self.bind_host, self.port), GrafanaHandler, self))
        return self

    def stop(self):
        self.stop_serving()

    # --- public properties and test helpers ------------------------------------------------------------------

    @property
    def token(self):
        return self._token

    @property
    def url(self):
        """Grafana's base URL, as clients are given it (they add /api/...)."""
        return "http://%s:%d" % (self.bind_host, self.port)

    def inject_fault(self, kind, method=None, path=None, times=1):
        """Make the next `times` matching requests fail with 500 or 503; `path` is a regex searched in the path
        below /api (e.g. r"^/annotations$")."""
        return self.faults.add(kind, method, path, times).as_dict()

    def folders(self):
        """Every folder: {"id", "uid", "title", "parentUid", "version"}."""
        with self.lock:
            return [{k: f[k] for k in ("id", "uid", "title", "parentUid", "version")} for f in self._folders.values()]

    def dashboards(self):
        """Every dashboard: {"id", "uid", "title", "folderUid", "version"} ("" folderUid: the General folder)."""
        with self.lock:
            return [{k: d[k] for k in ("id", "uid", "title", "folderUid", "version")}
                    for d in self._dashboards.values()]

    def dashboard(self, uid):
        """The stored JSON model of a dashboard (as GET /api/dashboards/uid/{uid} returns it), or None."""
        with self.lock:
            found = self._dashboards.get(uid)
            return copy.deepcopy(found["data"]) if found else None

    def annotations(self):
        with self.lock:
            return copy.deepcopy(self._annotations)

    def next_id(self):
        self._ids += 1
        return self._ids


class GrafanaHandler(Handler):
    server_version = "grafana-standin"

    def dispatch(self):
        app = self.app
        body = self.read_body()
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        if not path.startswith(PREFIX + "/"):
            app.record_violation("request", self.command, path, "not under %s" % PREFIX, 404)
            app.log_request(self.command, path, 404)
            return self.send_json(404, {"message": "Not found"})
        api_path = path[len(PREFIX):].rstrip("/") or "/"
        request = contract.ApiRequest(self.command, api_path, query, dict(self.headers.items()), body,
                                      self.headers.get("Content-Type"))
        status, data = Api(app).handle(request, self.headers.get("Authorization", ""))
        app.log_request(self.command, api_path, status)  # logged before the client can ask for the log
        self.send_json(status, data)


class Api:
    """The request handlers; one instance per request (state lives in the stand-in)."""

    def __init__(self, app):
        self.app = app

    # --- the pipeline --------------------------------------------------------------------------------------

    def handle(self, request, authorization):
        method, path = request.method.upper(), request.api_path
        route, params = match(method, path)
        checked = route is not None and route.action not in NOT_IN_DESCRIPTION
        try:
            if route is None or route.action not in NO_AUTH:
                fault = self.app.faults.take(method, path)
                if fault:
                    raise ApiError(int(fault.kind[5:]), "injected by the stand-in (%s)" % fault.kind)
                self.authenticate(authorization)
            if route is None:
                status = 405 if params == {} else 404
                self.app.record_violation("request", method, path, "no such operation in the stand-in's API subset",
                                          status)
                raise ApiError(status, "Method Not Allowed" if status == 405 else "Not found")
            if checked:
                problem = contract.check_request(request)
                if problem:
                    status, data, violation = problem
                    self.app.record_violation("request", method, path, violation, status)
                    return status, data
            body = json.loads(request.body) if request.body else None
            with self.app.lock:
                status, data = getattr(self, route.action)(params=params, query=request.parameters.query, body=body)
        except ApiError as err:
            status, data = err.status, err.body
        except Exception as exc:  # noqa: BLE001 - a stand-in bug is answered and recorded, not a dropped connection
            self.app.record_violation("stand-in", method, path, "%s: %s" % (type(exc).__name__, exc), 500)
            return 500, {"message": "stand-in error: %s: %s" % (type(exc).__name__, exc)}
        problems = self._response_problems(request, route if checked else None, status, data)
        if problems:
            self.app.record_violation("response", method, path, "; ".join(problems), status)
            return 500, {"message": "the stand-in produced a response that breaks Grafana's API description: "
                                    + "; ".join(problems)}
        return status, data

    def authenticate(self, authorization):
        """Grafana's answers: no credentials -> 401 Unauthorized; a wrong token -> 401 Invalid API key."""
        scheme, _, token = authorization.strip().partition(" ")
        if not authorization.strip():
            raise ApiError(401, UNAUTHORIZED["message"])
        if scheme.lower() != "bearer":
            raise ApiError(401, UNAUTHORIZED["message"])  # basic auth (users, passwords) is not modelled
        if not secrets.compare_digest(token.strip().encode(), self.app.token.encode()):
            raise ApiError(401, INVALID_KEY["message"], **{k: v for k, v in INVALID_KEY.items() if k != "message"})

    @staticmethod
    def _response_problems(request, route, status, data):
        body = b"" if data is None else json.dumps(data).encode()
        if route is None:  # not in the description: errors must still have Grafana's error shape
            return contract.error_problems(body) if status >= 400 else []
        response = contract.ApiResponse(status, [("Content-Type", "application/json")], body)
        return contract.check_response(request, route.template, response)

    # --- health and settings (not in the description) --------------------------------------------------------

    def health(self, **_):
        return 200, {"commit": "standin", "database": "ok", "version": self.app.version}

    def frontend_settings(self, **_):
        return 200, {"buildInfo": {"version": self.app.version, "commit": "standin", "edition": "Open Source",
                                   "env": "production", "hideVersion": False, "latestVersion": self.app.version,
                                   "hasUpdate": False}}

    # --- folders -------------------------------------------------------------------------------------------

    def folder_by_id(self, folder_id):
        return next((f for f in self.app._folders.values() if f["id"] == folder_id), None)

    def folder_json(self, folder):
        data = {"id": folder["id"], "uid": folder["uid"], "orgId": 1, "title": folder["title"],
                "url": "/dashboards/f/%s/%s" % (folder["uid"], slugify(folder["title"])), "hasAcl": False,
                "canSave": True, "canEdit": True, "canAdmin": True, "canDelete": True,
                "createdBy": SERVICE_ACCOUNT, "created": folder["created"], "updatedBy": SERVICE_ACCOUNT,
                "updated": folder["updated"], "version": folder["version"]}
        if folder["parentUid"]:
            data["parentUid"] = folder["parentUid"]
        return data

    def list_folders(self, query, **_):
        parent = query.get("parentUid") or ""
        found = sorted((f for f in self.app._folders.values() if f["parentUid"] == parent),
                       key=lambda f: f["title"].lower())
        limit, page = int(query.get("limit") or 1000), int(query.get("page") or 1)
        found = found[(page - 1) * limit:page * limit]
        hits = []
        for folder in found:
            hit = {"id": folder["id"], "uid": folder["uid"], "title": folder["title"]}
            if folder["parentUid"]:
                hit["parentUid"] = folder["parentUid"]
            hits.append(hit)
        return 200, hits

    def create_folder(self, body, **_):
        title = (body.get("title") or "").strip()
        uid = body.get("uid") or ""
        parent = body.get("parentUid") or ""
        if not title:
            raise ApiError(400, "folder title cannot be empty")
        problem = uid_problem(uid)
        if problem:
            raise ApiError(400, problem)
        if parent and parent not in self.app._folders:
            raise ApiError(400, "parent folder not found")
        if uid and (uid in self.app._folders or uid in self.app._dashboards):
            raise ApiError(409, "a folder or dashboard with the same uid already exists")
        if any(f["title"].lower() == title.lower() and f["parentUid"] == parent for f in self.app._folders.values()):
            raise ApiError(409, "a folder with the same name already exists")
        stamp = now_iso()
        folder = {"id": self.app.next_id(), "uid": uid or new_uid(), "title": title, "parentUid": parent,
                  "description": body.get("description") or "", "created": stamp, "updated": stamp, "version": 1}
        self.app._folders[folder["uid"]] = folder
        return 200, self.folder_json(folder)

    # --- dashboards ----------------------------------------------------------------------------------------

    def dashboard_url(self, dashboard):
        return "/d/%s/%s" % (dashboard["uid"], slugify(dashboard["title"]))

    def get_dashboard(self, params, **_):
        dashboard = self.app._dashboards.get(params["uid"])
        if dashboard is None:
            raise ApiError(404, "Dashboard not found")
        folder = self.app._folders.get(dashboard["folderUid"])
        actions = {"canAdd": True, "canEdit": True, "canDelete": True}
        meta = {"type": "db", "canSave": True, "canEdit": True, "canAdmin": True, "canStar": True,
                "canDelete": True, "slug": slugify(dashboard["title"]), "url": self.dashboard_url(dashboard),
                "expires": "0001-01-01T00:00:00Z", "created": dashboard["created"], "updated": dashboard["updated"],
                "updatedBy": SERVICE_ACCOUNT, "createdBy": SERVICE_ACCOUNT, "version": dashboard["version"],
                "hasAcl": False, "isFolder": False, "isStarred": False, "provisioned": False,
                "provisionedExternalId": "", "publicDashboardEnabled": False,
                "annotationsPermissions": {"dashboard": dict(actions), "organization": dict(actions)},
                "folderId": folder["id"] if folder else 0, "folderUid": folder["uid"] if folder else "",
                "folderTitle": folder["title"] if folder else "General",
                "folderUrl": self.folder_json(folder)["url"] if folder else ""}
        return 200, {"dashboard": copy.deepcopy(dashboard["data"]), "meta": meta}

    def target_folder(self, body):
        """The folder a save names: folderUid, else the deprecated folderId (0: General); "" for General."""
        if body.get("folderUid"):
            if body["folderUid"] not in self.app._folders:
                raise ApiError(400, "folder not found")
            return body["folderUid"]
        if body.get("folderId"):
            folder = self.folder_by_id(body["folderId"])
            if folder is None:
                raise ApiError(400, "folder not found")
            return folder["uid"]
        return ""

    def save_dashboard(self, body, **_):
        if body.get("isFolder"):
            raise ApiError(400, "Use folders endpoint for saving folders.")
        data = copy.deepcopy(body.get("dashboard") or {})
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ApiError(400, "Dashboard title cannot be empty")
        overwrite = bool(body.get("overwrite"))
        folder_uid = self.target_folder(body)
        dash_id = data.get("id") if isinstance(data.get("id"), int) else 0
        uid = data.get("uid") if isinstance(data.get("uid"), str) else ""
        problem = uid_problem(uid)
        if problem:
            raise ApiError(400, problem)
        by_id = None
        if dash_id:
            by_id = next((d for d in self.app._dashboards.values() if d["id"] == dash_id), None)
            if by_id is None:
                raise ApiError(404, "Dashboard not found")
            uid = uid or by_id["uid"]
        if uid in self.app._folders:
            raise ApiError(400, "A folder with the same uid already exists")  # Grafana's dashboard-type mismatch
        by_uid = self.app._dashboards.get(uid) if uid else None
        if by_id is not None and by_uid is not None and by_id is not by_uid:
            raise ApiError(400, "A dashboard with the same uid already exists")
        existing = by_id or by_uid
        if existing is not None and data.get("version") != existing["version"] and not overwrite:
            raise ApiError(412, "The dashboard has been changed by someone else", status="version-mismatch")
        same_title = next((d for d in self.app._dashboards.values() if d is not existing
                           and d["folderUid"] == folder_uid and d["title"] == title), None)
        if same_title is not None:
            if not overwrite:
                raise ApiError(412, "A dashboard with the same name in the folder already exists",
                               status="name-exists")
            existing = same_title  # overwrite takes the same-named dashboard over, as Grafana does
        stamp = now_iso()
        if existing is not None:
            dash_id, uid, version, created = existing["id"], existing["uid"], existing["version"] + 1, \
                existing["created"]
        else:
            dash_id, uid, version, created = self.app.next_id(), uid or new_uid(), 1, stamp
        data.update({"id": dash_id, "uid": uid, "version": version})
        dashboard = {"id": dash_id, "uid": uid, "title": title, "folderUid": folder_uid, "version": version,
                     "data": data, "created": created, "updated": stamp, "message": body.get("message") or ""}
        self.app._dashboards[uid] = dashboard
        return 200, {"status": "success", "slug": slugify(title), "version": version, "id": dash_id, "uid": uid,
                     "url": self.dashboard_url(dashboard), "folderUid": folder_uid}

    def search(self, query, **_):
        text = (query.get("query") or "").lower()
        kind = query.get("type")
        tags = query.getlist("tag")
        dashboard_uids = set(query.getlist("dashboardUIDs"))
        dashboard_ids = {int(i) for i in query.getlist("dashboardIds")}
        folder_ids = {int(i) for i in query.getlist("folderIds")}
        folder_uids = set(query.getlist("folderUIDs"))
        hits = []
        if kind in (None, "dash-folder") and not (tags or dashboard_uids or dashboard_ids or folder_ids
                                                  or folder_uids):
            for folder in self.app._folders.values():
                if text in folder["title"].lower():
                    hits.append({"id": folder["id"], "uid": folder["uid"], "title": folder["title"],
                                 "uri": "db/" + slugify(folder["title"]), "url": self.folder_json(folder)["url"],
                                 "slug": "", "type": "dash-folder", "tags": [], "isStarred": False, "sortMeta": 0})
        if kind in (None, "dash-db"):
            for dashboard in self.app._dashboards.values():
                folder = self.app._folders.get(dashboard["folderUid"])
                folder_id = folder["id"] if folder else 0
                dash_tags = dashboard["data"].get("tags") or []
                if (text not in dashboard["title"].lower()
                        or not set(tags) <= set(dash_tags)
                        or (dashboard_uids and dashboard["uid"] not in dashboard_uids)
                        or (dashboard_ids and dashboard["id"] not in dashboard_ids)
                        or (folder_ids and folder_id not in folder_ids)
                        or (folder_uids and dashboard["folderUid"] not in folder_uids)):
                    continue
                hit = {"id": dashboard["id"], "uid": dashboard["uid"], "title": dashboard["title"],
                       "uri": "db/" + slugify(dashboard["title"]), "url": self.dashboard_url(dashboard), "slug": "",
                       "type": "dash-db", "tags": list(dash_tags), "isStarred": False, "sortMeta": 0}
                if folder:
                    hit.update({"folderId": folder["id"], "folderUid": folder["uid"], "folderTitle": folder["title"],
                                "folderUrl": self.folder_json(folder)["url"]})
                hits.append(hit)
        hits.sort(key=lambda h: h["title"].lower(), reverse=query.get("sort") == "alpha-desc")
        limit, page = int(query.get("limit") or 1000), int(query.get("page") or 1)
        return 200, hits[(page - 1) * limit:page * limit]

    # --- annotations ---------------------------------------------------------------------------------------

    def create_annotation(self, body, **_):
        if not body.get("text"):
            raise ApiError(400, "Failed to save annotation")  # Grafana: "text field should not be empty"
        dashboard_uid = body.get("dashboardUID") or ""
        if dashboard_uid and dashboard_uid not in self.app._dashboards:
            raise ApiError(400, "Invalid dashboard UID in annotation request")
        stamp = int(time.time() * 1000)
        start = body.get("time") or stamp
        annotation = {"id": len(self.app._annotations) + 1, "dashboardUID": dashboard_uid,
                      "panelId": body.get("panelId") or 0, "time": start, "timeEnd": body.get("timeEnd") or start,
                      "tags": list(body.get("tags") or []), "text": body["text"], "data": body.get("data") or {},
                      "created": stamp, "updated": stamp, "login": SERVICE_ACCOUNT}
        self.app._annotations.append(annotation)
        return 200, {"message": "Annotation added", "id": annotation["id"]}
