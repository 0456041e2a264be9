"""`GitHubStandIn`: the state (repositories, tokens, Pages, Actions settings, users and teams, faults, logs) and the
two HTTP servers around it."""
import base64
import itertools
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import parse_qs, urlsplit

from sandbox.common.standin import StandIn

from . import admin, git
from .accounts import Team, User
from .actions import RepoActions
from .faults import GIT_KINDS, Faults
from .objects import USER_ID
from .pages import Pages, PagesHost, iso
from .pulls import RepoIssues
from .rest import PREFIX, USER, RestApi
from .web import Handler, Server

OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)?$")
SERVICES = ("git-upload-pack", "git-receive-pack")
PUSH_SCOPES = {"repo", "public_repo"}


@dataclass
class Repo:
    owner: str
    name: str
    git_dir: str
    default_branch: str
    id: int
    created_at: float
    pushed_at: float
    pages: Optional[Pages] = None
    actions: RepoActions = field(default_factory=RepoActions)
    issues: RepoIssues = field(default_factory=RepoIssues)  # pull requests and their comments

    @property
    def full_name(self):
        return "%s/%s" % (self.owner, self.name)


class GitHubStandIn(StandIn):
    def __init__(self, state_dir, host="127.0.0.1", port=0, pages_port=0, tokens=None, build_delay=0.2):
        super().__init__(state_dir, host, port)
        self.repos_root = os.path.join(self.state_dir, "repos")
        self.pages_port = pages_port
        self.build_delay = build_delay
        self.token = "ghp_" + secrets.token_hex(18)
        self._tokens = {self.token: ["repo"]}
        self._tokens.update({token: list(scopes) for token, scopes in (tokens or {}).items()})
        self._repos = {}
        self._users = {USER.lower(): User(USER, USER_ID)}
        self._teams = {}  # (org, slug), lower-case -> Team
        self._orgs = {}  # org, lower-case -> its id
        self._account_ids = itertools.count(1001)
        self.faults = Faults()
        self.artifacts = {}  # id -> pages_deployments.Artifact (Actions artifacts, registered by the admin API)
        self.rest = RestApi(self)
        self.backend_log = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.repos_root, exist_ok=True)
        self.backend_log = open(os.path.join(self.state_dir, "git-http-backend.log"), "ab")
        api = Server((self.bind_host, self.port), ApiHost, self)
        pages = Server((self.bind_host, self.pages_port), PagesHost, self)
        self.port, self.pages_port = self.serve(api), self.serve(pages)
        return self

    def stop(self):
        self.stop_serving()
        if self.backend_log:
            self.backend_log.close()

    # --- addresses -----------------------------------------------------------------------------------------

    @property
    def host(self):
        return "%s:%d" % (self.bind_host, self.port)

    @property
    def base_url(self):
        return "http://" + self.host

    @property
    def api_url(self):
        return self.base_url + PREFIX

    @property
    def admin_url(self):
        return self.base_url + "/_sandbox"

    @property
    def pages_base(self):
        return "http://%s:%d/" % (self.bind_host, self.pages_port)

    def git_url(self, owner, repo):
        return "%s/%s/%s.git" % (self.base_url, owner, repo)

    def pages_url(self, owner, repo):
        return "%s%s/%s/" % (self.pages_base, owner, repo)

    def site_url(self, repo):
        """A Page's html_url: the project address, or its custom domain (served by Host header) on our port."""
        cname = repo.pages.cname if repo.pages else None
        return "http://%s:%d/" % (cname, self.pages_port) if cname else self.pages_url(repo.owner, repo.name)

    # --- administration ------------------------------------------------------------------------------------

    def create_repo(self, owner, repo, default_branch="main"):
        """Create an empty repository (idempotent); returns its git URL."""
        if not OWNER_RE.match(owner) or not NAME_RE.match(repo) or repo.endswith(".git") or repo in (".", ".."):
            raise ValueError("invalid repository name %r" % ("%s/%s" % (owner, repo)))
        with self.lock:
            if self.repo(owner, repo) is None:
                git_dir = os.path.join(self.repos_root, owner, repo + ".git")
                git.init_bare(git_dir, default_branch)
                now = time.time()
                self._repos[(owner.lower(), repo.lower())] = Repo(owner, repo, git_dir, default_branch,
                                                                  len(self._repos) + 1, now, now)
        return self.git_url(owner, repo)

    def add_token(self, token, scopes):
        with self.lock:
            self._tokens[token] = list(scopes)

    def add_user(self, login, user_id=None, name=None):
        """A user that environments can name as reviewer (idempotent by login); returns it."""
        if not OWNER_RE.match(login):
            raise ValueError("invalid login %r" % login)
        with self.lock:
            user = self._users.get(login.lower())
            if user is None:
                user = User(login, int(user_id) if user_id is not None else next(self._account_ids), name)
                if self.user_by_id(user.id):
                    raise ValueError("user id %d is taken" % user.id)
                self._users[login.lower()] = user
            return user

    def add_team(self, org, slug, team_id=None, name=None):
        """A team of an organisation that environments can name as reviewer (idempotent by org and slug)."""
        if not OWNER_RE.match(org) or not re.match(r"^[a-z0-9][a-z0-9_-]*$", slug):
            raise ValueError("invalid organisation or team slug %r" % ("%s/%s" % (org, slug)))
        with self.lock:
            team = self._teams.get((org.lower(), slug.lower()))
            if team is None:
                org_id = self._orgs.setdefault(org.lower(), next(self._account_ids))
                team = Team(org, org_id, slug, int(team_id) if team_id is not None else next(self._account_ids),
                            name or slug)
                if self.team_by_id(team.id):
                    raise ValueError("team id %d is taken" % team.id)
                self._teams[(org.lower(), slug.lower())] = team
            return team

    def actions_level(self, owner, repo, environment=None):
        """The Actions settings of a repository, or of one of its environments; None if there is no such thing."""
        found = self.repo(owner, repo)
        if found is None:
            return None
        return found.actions if environment is None else found.actions.environment(environment)

    def secret_values(self, owner, repo, environment=None):
        """The decrypted secrets of a repository or environment (for tests; GitHub never shows them), or None.

        {NAME: {"value": text or None if not UTF-8, "value_base64", "created_at", "updated_at"}}
        """
        with self.lock:
            level = self.actions_level(owner, repo, environment)
            if level is None:
                return None
            return {name: {"value": _text(s.value), "value_base64": base64.b64encode(s.value).decode(),
                           "created_at": iso(s.created), "updated_at": iso(s.updated)}
                    for name, s in sorted(level.secrets.items())}

    def rotate_public_key(self, owner, repo, environment=None):
        """Give a repository or environment a new key pair (as GitHub may): secrets sealed for the old key_id are
        refused from now on. Returns the new {"key_id", "key"}, or None if there is no such level."""
        with self.lock:
            level = self.actions_level(owner, repo, environment)
            if level is None:
                return None
            keys = level.rotate_key()
            return {"key_id": keys.key_id, "key": keys.public_key}

    def create_pull(self, owner, repo, head, base, title=None, body=None):
        """Open a pull request from branch `head` into `base` (both must exist in the repository's git); returns its
        number. Raises ValueError when GitHub would refuse it (see pulls.py), KeyError for an unknown repository."""
        with self.lock:
            found = self._require_repo(owner, repo)
            return found.issues.open_pull(found.git_dir, found.owner, head, base, USER, title, body).number

    def update_pull(self, owner, repo, number, action):
        """`close`, `merge` or `reopen` a pull request; returns {"number", "state", "merged"}. Raises KeyError for an
        unknown repository or number, ValueError for a change GitHub would not make."""
        with self.lock:
            found = self._require_repo(owner, repo)
            pull = found.issues.change_pull(found.git_dir, int(number), action)
            return {"number": pull.number, "state": pull.state, "merged": pull.merged_at is not None}

    def _require_repo(self, owner, repo):
        found = self.repo(owner, repo)
        if found is None:
            raise KeyError("no repository %s/%s" % (owner, repo))
        return found

    def inject_fault(self, kind, method=None, path=None, times=1, retry_after=1, delay=0.5):
        """Make the next `times` matching requests fail; `path` is a regex searched in the request path.

        REST faults match the API path without the /api/v3 prefix (e.g. r"/pages$"); `push_race` matches the git
        path (e.g. r"^/owner/repo\\.git/").
        """
        return self.faults.add(kind, method, path, times, retry_after, delay).as_dict()

    # --- used by the request handlers ----------------------------------------------------------------------

    def repo(self, owner, name):
        return self._repos.get((owner.lower(), name.lower()))

    def token_scopes(self, token):
        return self._tokens.get(token) if token else None

    def user(self, login):
        return self._users.get(login.lower())

    def user_by_id(self, user_id):
        return next((u for u in self._users.values() if u.id == user_id), None)

    def team(self, org, slug):
        return self._teams.get((org.lower(), slug.lower()))

    def team_by_id(self, team_id):
        return next((t for t in self._teams.values() if t.id == team_id), None)

    def queue_build(self, repo, commit, pusher):
        with self.lock:
            if repo.pages and commit:
                repo.pages.queue(repo.git_dir, commit, pusher, self.build_delay)

    def pushed(self, repo, before, after, pusher):
        """Refs moved: record the push, and build the Pages site when its source branch moved (as GitHub does)."""
        changed = {ref: sha for ref, sha in after.items() if before.get(ref) != sha}
        with self.lock:
            if changed or before.keys() != after.keys():
                repo.pushed_at = time.time()
            pages = repo.pages
            if pages and pages.build_type == "legacy":
                self.queue_build(repo, changed.get("refs/heads/%s" % pages.branch), pusher)

    def site_by_name(self, owner, name):
        repo = self.repo(owner, name)
        return repo if repo and repo.pages else None

    def site_by_cname(self, host):
        with self.lock:
            for repo in self._repos.values():
                if repo.pages and repo.pages.cname == host:
                    return repo
        return None


def _text(value):
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def hold_last(chunks, callback):
    """Yield chunks, but run callback before the last one: the client learns its push succeeded only after the
    stand-in has reacted to it (queued the Pages build), so a client that asks right away sees the build."""
    held = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    callback()
    if held is not None:
        yield held


class ApiHost(Handler):
    """api + git + admin on one port, as github.com serves git and (with GHES's /api/v3) the API on one host."""

    def dispatch(self):
        path = urlsplit(self.path).path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return self.app.rest.handle(self)
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return admin.handle(self, self.app)
        found = GIT_PATH.match(path)
        if found:
            return self.git(self.app, found["owner"], found["name"], found["rest"] or "")
        self.send_json(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def git(self, app, owner, name, rest):
        """Smart HTTP: GET info/refs?service=..., POST git-upload-pack (fetch) or git-receive-pack (push)."""
        query = parse_qs(urlsplit(self.path).query)
        service = query.get("service", [""])[0] if rest == "/info/refs" else rest.lstrip("/")
        allowed = (self.command == "GET" and rest == "/info/refs") or (self.command == "POST" and rest == "/" + service)
        if not allowed or service not in SERVICES:
            return self.git_error(404, "Not found: the sandbox speaks git's smart HTTP protocol only.")
        login, scopes = self.credentials(app)
        if scopes is None:
            return self.git_error(401, "Invalid username or token. Password authentication is not supported for "
                                       "Git operations.", [("WWW-Authenticate", 'Basic realm="GitHub"')])
        repo = app.repo(owner, name)
        if repo is None:
            return self.git_error(404, "Repository not found.")
        if service == "git-upload-pack":
            return self.run_backend(app, repo, rest, login)
        if not PUSH_SCOPES & set(scopes):
            return self.git_error(403, "Permission to %s.git denied to %s." % (repo.full_name, login))
        if self.command == "GET":
            # The ref advertisement that starts a push: a push_race fault moves the branches right before it.
            if app.faults.take("GET", urlsplit(self.path).path, GIT_KINDS):
                before = git.heads(repo.git_dir)
                git.race_commit(repo.git_dir)
                app.pushed(repo, before, git.heads(repo.git_dir), USER)
            return self.run_backend(app, repo, rest, login)
        before = git.heads(repo.git_dir)
        self.run_backend(app, repo, rest, login, lambda: app.pushed(repo, before, git.heads(repo.git_dir), login))

    def run_backend(self, app, repo, rest, login, when_done=None):
        backend = git.HttpBackend(app.repos_root, "/%s.git%s" % (repo.full_name, rest), self, login, app.backend_log)
        try:
            status, headers = backend.response()
            body = backend.body()
            self.send_stream(status, headers, hold_last(body, when_done) if when_done else body)
        finally:
            backend.close()

    def credentials(self, app):
        """(login, scopes) from HTTP Basic auth: the token is the password (any username), or the username alone."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None, None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        token = user if password in ("", "x-oauth-basic") else password
        scopes = app.token_scopes(token)
        return (USER, scopes) if scopes is not None else (None, None)

    def git_error(self, status, message, headers=()):
        for _ in self.body_chunks():
            pass  # read what the client sent, so that it sees our answer rather than a reset connection
        self.send(status, message.encode() + b"\n", headers=headers)
