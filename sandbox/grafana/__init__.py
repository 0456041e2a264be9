"""A stateful local stand-in for Grafana's HTTP API: folders, dashboards and annotations, checked against Grafana's
own OpenAPI description.

No Grafana can be installed here (no Debian, PyPI or npm package). The stand-in's job is to fail loudly on whatever
Grafana would reject, and to behave as Grafana does where the collection depends on it: community.grafana's
grafana_folder and grafana_dashboard modules (the monitoring role) and the deploy_metrics callback's annotations.

    with GrafanaStandIn() as grafana:                  # or .start() / .stop(); GrafanaStandIn(token="glsa_...")
        grafana.url, grafana.token                     # http://127.0.0.1:PORT (clients add /api/...), glsa_...
        grafana.folders(), grafana.dashboards(), grafana.dashboard(uid), grafana.annotations()
        grafana.inject_fault("http_503", method="POST", path=r"^/annotations$")
        grafana.requests(), grafana.violations(), grafana.reset_log(), grafana.clear_faults()

Modelled:
- Every request (path, query, body) and every response of POST /api/annotations, POST /api/dashboards/db,
  GET /api/dashboards/uid/{uid}, GET and POST /api/folders and GET /api/search is checked against Grafana's OpenAPI
  description (openapi/, cut from public/openapi3.json of grafana/grafana by extract_openapi.py; adjustments listed in
  contract.py). An invalid request is answered 400 {"message": "bad request data: ..."}; an invalid response becomes
  a 500. Both are recorded in `violations()`, as are requests for paths the stand-in does not serve (404/405).
- Authentication by one service account token (`Authorization: Bearer <token>`): no credentials -> 401
  {"message": "Unauthorized"}; another token -> 401 {"message": "Invalid API key", "messageId": "api-key.invalid",
  ...}, as Grafana's authn answers. GET /api/health answers without a token, as Grafana's does (it is served before
  authentication); GET /api/frontend/settings needs one and gives `buildInfo.version` (the clients read Grafana's
  version from these two; `version` is a constructor argument, 12.0.0 by default).
- Folders: a uid is generated when none is given (14 characters, a letter first); uids are at most 40 characters of
  [a-zA-Z0-9-_] (400); a uid already taken and a title already used at the same level are refused (409); nested
  folders through parentUid (the parent must exist); GET /api/folders lists one level (parentUid, limit, page).
- Dashboards: POST /api/dashboards/db creates (version 1, id and uid set in the stored JSON) or updates (version + 1)
  a dashboard found by its id or uid; the folder is named by folderUid or the deprecated folderId (0 or none: the
  General folder; an unknown folder is 400). Without `overwrite`, a version that differs from the stored one is
  412 {"status": "version-mismatch"} and a title already used in the folder by another dashboard is 412
  {"status": "name-exists"}; with `overwrite`, the stored version is replaced and a same-named dashboard is taken
  over, as Grafana's save does. An unknown `id` is 404 "Dashboard not found", as is GET /api/dashboards/uid/{uid} for
  an unknown uid. The stored JSON is kept as sent (plus id, uid, version), so a client comparing what it sends with
  what it reads back sees no change on a re-run. The answer is Grafana's {"status", "slug", "version", "id", "uid",
  "url", "folderUid"}. GET /api/search finds folders and dashboards by query (substring, case-insensitive), type,
  tag, dashboardUIDs/Ids and folderUIDs/Ids (0: General), sorted by title, with limit and page.
- Annotations: POST /api/annotations stores text, tags, time and timeEnd (time defaults to now, timeEnd to time),
  dashboardUID (must name a dashboard: 400 otherwise) and panelId; an empty text is 400 "Failed to save annotation";
  the answer is {"message": "Annotation added", "id"}.
- Faults on demand: http_500 and http_503 (the next matching request fails before anything is done).

Not modelled (do not rely on these being checked):
- Users, basic auth, organisations (one org, id 1), teams, roles, permissions and token scopes: the one token may do
  everything; 403 never happens. Service accounts and their tokens cannot be created through the API.
- Any endpoint not listed above: reading or deleting annotations, deleting or moving folders and dashboards,
  dashboard versions and restore, library panels, data sources (dashboards may name any data source), provisioning,
  alerting, snapshots, public dashboards, stars, the dashboard schema (a dashboard is any JSON object with a title;
  Grafana's frontend migrations of schemaVersion are not applied).
- GET /api/health and GET /api/frontend/settings are not in Grafana's description: their shapes come from Grafana's
  source (health: commit, database, version) and are not contract-checked beyond the error shape; frontend settings
  holds only buildInfo.
- Stricter than Grafana on purpose: unknown (or differently capitalised) fields in request bodies and malformed query
  parameters are refused with 400 (Grafana ignores the first and reads the second as 0).
- Best guesses (the wording and some statuses are not in the description): the exact messages of 400/409/412
  refusals, 400 for an unknown folder in a dashboard save, whether Grafana still refuses a second folder with the
  same title at one level, Grafana's uid generator (only the shape is copied), rate limits (none), durability (state
  lives in memory and dies with the stand-in).
"""
from .server import GrafanaStandIn

__all__ = ["GrafanaStandIn"]
