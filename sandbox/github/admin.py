"""The stand-in's own control API under /_sandbox/ (JSON, the controller only, no auth) for playbooks and benchmarks.

    GET    /_sandbox/             addresses and pid
    POST   /_sandbox/repos        {"owner", "repo", "default_branch"?}
    POST   /_sandbox/tokens       {"token", "scopes": [...]}
    GET    /_sandbox/faults       pending faults
    POST   /_sandbox/faults       {"kind", "method"?, "path"?, "times"?, "retry_after"?, "delay"?}
    DELETE /_sandbox/faults       clear them
    GET    /_sandbox/requests     the REST log;  DELETE clears it
    GET    /_sandbox/violations   contract violations recorded so far
    POST   /_sandbox/artifacts    {"repo": "owner/name", "name", "content_base64"}: an Actions artifact, as
                                  actions/upload-artifact uploads it -> {"id", "name", "repo", "size_in_bytes",
                                  "url"} (a Pages deployment names it by id or url; pages_deployments.py)
    POST   /_sandbox/users        {"login", "id"?, "name"?}: a user environments can name as reviewer
    POST   /_sandbox/teams        {"org", "slug", "id"?, "name"?}: a team environments can name as reviewer
    GET    /_sandbox/secrets?repo=owner/name[&environment=name]
                                  the decrypted secrets of a repository or environment (GitHub never shows them):
                                  {"repo", "environment", "secrets": {NAME: {"value", "value_base64",
                                  "created_at", "updated_at"}}}; "value" is null if the bytes are not UTF-8
    POST   /_sandbox/pulls        {"repo": "owner/name", "head", "base", "title"?, "body"?}: open a pull request
                                  (head and base are branches of its git repository) -> {"number", "repo"}
    PATCH  /_sandbox/pulls        {"repo", "number", "action": "close" | "merge" | "reopen"}
                                  -> {"number", "state", "merged"}
    POST   /_sandbox/public-keys/rotate  {"repo": "owner/name", "environment"?}: a new key pair for that level
                                  (secrets sealed for the old key_id are refused from now on) -> {"key_id", "key"}

Query parameters count as fields too (GET /_sandbox/secrets?repo=...).
"""
import json
import os
from urllib.parse import parse_qsl, urlsplit

from . import pages_deployments

LOOPBACK = ("127.0.0.1", "::1")
FAULT_ARGS = ("kind", "method", "path", "times", "retry_after", "delay")


def info(app, data):
    return 200, {"api_url": app.api_url, "git_base": app.base_url, "pages_base": app.pages_base,
                 "admin_url": app.admin_url, "pid": os.getpid()}


def create_repo(app, data):
    git_url = app.create_repo(data["owner"], data["repo"], data.get("default_branch", "main"))
    return 201, {"full_name": "%s/%s" % (data["owner"], data["repo"]), "git_url": git_url,
                 "pages_url": app.pages_url(data["owner"], data["repo"])}


def add_token(app, data):
    if not isinstance(data["scopes"], list):
        raise ValueError("scopes must be a list")
    app.add_token(data["token"], data["scopes"])
    return 201, {"token": data["token"], "scopes": data["scopes"]}


def add_user(app, data):
    user = app.add_user(data["login"], data.get("id"), data.get("name"))
    return 201, {"login": user.login, "id": user.id, "name": user.name}


def add_team(app, data):
    team = app.add_team(data["org"], data["slug"], data.get("id"), data.get("name"))
    return 201, {"org": team.org, "slug": team.slug, "id": team.id, "name": team.name}


def _level_args(data):
    owner, _, repo = data["repo"].partition("/")
    return owner, repo, data.get("environment") or None


def _no_level(app, data):
    owner, repo, environment = _level_args(data)
    if app.repo(owner, repo) is None:
        return 404, {"message": "no repository %s" % data["repo"]}
    return 404, {"message": "no environment %r in %s" % (environment, data["repo"])}


def read_secrets(app, data):
    owner, repo, environment = _level_args(data)
    values = app.secret_values(owner, repo, environment)
    if values is None:
        return _no_level(app, data)
    return 200, {"repo": data["repo"], "environment": environment, "secrets": values}


def rotate_key(app, data):
    owner, repo, environment = _level_args(data)
    key = app.rotate_public_key(owner, repo, environment)
    return (201, key) if key else _no_level(app, data)


def open_pull(app, data):
    owner, _, repo = data["repo"].partition("/")
    if app.repo(owner, repo) is None:
        return 404, {"message": "no repository %s" % data["repo"]}
    try:
        number = app.create_pull(owner, repo, data["head"], data["base"], data.get("title"), data.get("body"))
    except ValueError as exc:
        return 422, {"message": str(exc)}
    return 201, {"repo": data["repo"], "number": number}


def change_pull(app, data):
    owner, _, repo = data["repo"].partition("/")
    number, action = int(data["number"]), data["action"]
    try:
        return 200, app.update_pull(owner, repo, number, action)
    except KeyError:
        return 404, {"message": "no pull request #%s in %s" % (data["number"], data["repo"])}
    except ValueError as exc:
        return 422, {"message": str(exc)}


def add_fault(app, data):
    unknown = set(data) - set(FAULT_ARGS)
    if unknown:
        raise ValueError("unknown fault fields: %s" % ", ".join(sorted(unknown)))
    return 201, app.inject_fault(**data)


def clear_faults(app, data):
    app.clear_faults()
    return 204, None


def reset_log(app, data):
    app.reset_log()
    return 204, None


ROUTES = {
    ("GET", ""): info,
    ("POST", "repos"): create_repo,
    ("POST", "tokens"): add_token,
    ("POST", "artifacts"): pages_deployments.register_artifact,
    ("GET", "faults"): lambda app, data: (200, app.faults.pending()),
    ("POST", "faults"): add_fault,
    ("DELETE", "faults"): clear_faults,
    ("GET", "requests"): lambda app, data: (200, app.requests()),
    ("DELETE", "requests"): reset_log,
    ("GET", "violations"): lambda app, data: (200, app.violations()),
    ("POST", "users"): add_user,
    ("POST", "teams"): add_team,
    ("GET", "secrets"): read_secrets,
    ("POST", "public-keys/rotate"): rotate_key,
    ("POST", "pulls"): open_pull,
    ("PATCH", "pulls"): change_pull,
}


def handle(handler, app):
    body = handler.read_body()
    # the controller only: loopback, or the address the stand-in listens on (the hosts' bridge, whose other
    # addresses are the test hosts')
    if handler.client_address[0] not in LOOPBACK + (handler.server.server_address[0],):
        return handler.send_json(403, {"message": "the sandbox's admin API answers the controller's clients only"})
    url = urlsplit(handler.path)
    action = ROUTES.get((handler.command, url.path[len("/_sandbox"):].strip("/")))
    if action is None:
        return handler.send_json(404, {"message": "no such admin endpoint", "endpoints": __doc__.strip()})
    try:
        data = json.loads(body or b"{}")
        data.update(parse_qsl(url.query))
        handler.send_json(*action(app, data))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        handler.send_json(400, {"message": "bad request: %s: %s" % (type(exc).__name__, exc)})
