"""GitHub Pages: site settings, builds, and the host that serves built sites straight from the bare repository.

Builds follow the clock rather than worker threads: a build waits for the one before it, spends `delay` seconds
`queued` and `delay` seconds `building`, then is `built` (or `errored`). Its outcome is fixed when it is queued,
because it builds one fixed commit. A branch-built (`legacy`) site serves the tree of the newest build that has
finished `built`; a site built by Actions (`workflow`) serves the tree of its newest deployment that has
succeeded (pages_deployments.py), with the same URL rules.
"""
import mimetypes
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional
from urllib.parse import unquote, urlsplit

from . import git
from .web import CHUNK, Handler

ERROR_HOOK = ".pages-build-error"  # a file with this name makes the build fail with its text (for failure tests)
TYPES = {".html": "text/html", ".js": "application/javascript", ".mjs": "application/javascript",
         ".css": "text/css", ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
         ".xml": "application/xml", ".txt": "text/plain", ".md": "text/markdown", ".woff": "font/woff",
         ".woff2": "font/woff2", ".wasm": "application/wasm", ".webp": "image/webp", ".ico": "image/x-icon"}
NO_SITE = b"<!DOCTYPE html>\n<title>Site not found &middot; GitHub Pages</title>\n<h1>404</h1>\n" \
          b"<p><strong>There isn't a GitHub Pages site here.</strong></p>\n"
NO_FILE = b"<!DOCTYPE html>\n<title>Page not found &middot; GitHub Pages</title>\n<h1>404</h1>\n" \
          b"<p><strong>File not found</strong></p>\n"


def iso(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


class TwoSteps:
    """On the clock: waits in its site's queue until `start`, then spends `delay` seconds in each of two steps and
    ends done, or failed when it has an `error`. STATUSES names them: (first step, second step, done, failed)."""

    STATUSES = ()

    @property
    def done_at(self):
        return self.start + 2 * self.delay

    def status(self, now):
        first, second, done, failed = self.STATUSES
        if now < self.start + self.delay:
            return first
        if now < self.done_at:
            return second
        return failed if self.error is not None else done


@dataclass
class Build(TwoSteps):
    id: int
    commit: str
    path: str  # the source directory at the time of the build ("/" or "/docs")
    pusher: str
    error: Optional[str]
    nojekyll: bool
    custom_404: bool
    created: float
    start: float  # when it leaves the queue
    delay: float
    STATUSES = ("queued", "building", "built", "errored")

    def updated(self, now):
        """When the status last changed."""
        if now >= self.done_at:
            return self.done_at
        return self.start + self.delay if now >= self.start + self.delay else self.created

    def duration_ms(self, now):
        return int((self.done_at - self.start) * 1000) if now >= self.done_at else 0


@dataclass
class Pages:
    build_type: str
    branch: Optional[str]
    path: str = "/"
    cname: Optional[str] = None
    https_enforced: bool = False
    builds: List[Build] = field(default_factory=list)
    deployments: list = field(default_factory=list)  # pages_deployments.Deployment, for build_type workflow

    def latest(self):
        return self.builds[-1] if self.builds else None

    def status(self, now):
        """The Page's status: that of its newest build (a queued build already counts as building), or for a
        site built by Actions that of its newest deployment."""
        if self.build_type == "workflow" and self.deployments:
            status = self.deployments[-1].status(now)
            return "built" if status == "succeed" else "errored" if status.endswith("failed") else "building"
        latest = self.latest()
        if latest is None:
            return None
        status = latest.status(now)
        return "building" if status == "queued" else status

    def live_deployment(self, now):
        """The newest deployment whose tree is being served, or None."""
        return next((d for d in reversed(self.deployments) if d.status(now) == "succeed"), None)

    def live(self, now):
        """The newest build whose site is being served, or None."""
        for build in reversed(self.builds):
            if build.status(now) == "built":
                return build
        return None

    def queue(self, git_dir, commit, pusher, delay, now=None):
        now = time.time() if now is None else now
        previous = self.latest()
        start = max(now, previous.done_at) if previous else now
        error, nojekyll, custom_404 = inspect_tree(git_dir, commit, self.path)
        build = Build(len(self.builds) + 1, commit, self.path, pusher, error, nojekyll, custom_404, now, start, delay)
        self.builds.append(build)
        return build


def _spec(commit, base, relative=""):
    """`<commit>:<path>` for git, with base "/" or "/docs" and a path relative to it."""
    return "%s:%s" % (commit, "/".join(p for p in (base.strip("/"), relative) if p))


def inspect_tree(git_dir, commit, base):
    """(error message or None, has .nojekyll, has 404.html) for the site tree of a commit."""
    root, hook, nojekyll, custom_404 = git.lookup(git_dir, [
        _spec(commit, base), _spec(commit, base, ERROR_HOOK), _spec(commit, base, ".nojekyll"),
        _spec(commit, base, "404.html")])
    if root is None or root[0] != "tree":
        return "The %s directory does not exist in %s." % (base, commit[:7]), False, False
    error = None
    if hook and hook[0] == "blob":
        error = git.read_blob(git_dir, hook[1]).decode("utf-8", "replace").strip() or "Page build failed."
    return error, nojekyll is not None, custom_404 is not None


def content_type(name):
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    textual = kind.startswith("text/") or kind in ("application/javascript", "application/json", "image/svg+xml",
                                                   "application/xml")
    return kind + "; charset=utf-8" if textual else kind


def _hidden_by_jekyll(parts):
    # Without .nojekyll, GitHub runs Jekyll, which leaves these out of the site.
    return any(p.startswith(("_", ".", "#")) or p.endswith("~") for p in parts)


def url_parts(url_path):
    """The path's segments, or None for one no site can have (`.`, `..`, control characters)."""
    parts = [p for p in unquote(url_path).split("/") if p]
    if any(p in (".", "..") or any(ord(c) < 32 for c in p) for p in parts):
        return None
    return parts


def resolve(parts, directory_url, probe):
    """(the file found, its name), ("redirect",) (add a slash) or None, as GitHub maps a URL path: a directory
    serves its index.html; `/a` serves `a`, else redirects to `/a/` when `a/index.html` exists, else serves
    `a.html`. probe(paths relative to the site) answers each with the file, or None."""
    if not parts or directory_url:
        found = probe(["/".join(parts + ["index.html"])])[0]
        return (found, "index.html") if found else None
    relative = "/".join(parts)
    exact, index, html = probe([relative + suffix for suffix in ("", "/index.html", ".html")])
    if exact:
        return exact, parts[-1]
    if index:
        return ("redirect",)
    return (html, parts[-1] + ".html") if html else None


def find_file(git_dir, build, url_path):
    """Map a URL path (relative to the site root) to ("blob", sha, size, name), ("redirect",) or None."""
    parts = url_parts(url_path)
    if parts is None or (not build.nojekyll and _hidden_by_jekyll(parts)):
        return None

    def probe(paths):
        found = git.lookup(git_dir, [_spec(build.commit, build.path, path) for path in paths])
        return [entry if entry and entry[0] == "blob" else None for entry in found]

    found = resolve(parts, url_path.endswith("/"), probe)
    if found is None or found[0] == "redirect":
        return found
    entry, name = found
    return "blob", entry[1], entry[2], name


def find_deployed_file(site_dir, url_path):
    """Map a URL path to (a file of a deployment's tree, name), ("redirect",) or None."""
    parts = url_parts(url_path)
    if parts is None:
        return None
    return resolve(parts, url_path.endswith("/"), lambda paths: [
        os.path.join(site_dir, path) if os.path.isfile(os.path.join(site_dir, path)) else None for path in paths])


def stream_file(path):
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            yield chunk


class PagesHost(Handler):
    """Serves every enabled Pages site: /<owner>/<repo>/..., or / for a request whose Host is a site's cname."""

    def dispatch(self):
        if self.command not in ("GET", "HEAD"):
            return self.send(405, b"Method not allowed\n")
        path = urlsplit(self.path).path
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        site = self.app.site_by_cname(host)
        if site:
            return self.serve(site, path)
        parts = path.split("/", 3)  # "", owner, repo, rest of the path
        site = self.app.site_by_name(parts[1], parts[2]) if len(parts) > 2 else None
        if site is None:
            return self.send(404, NO_SITE, "text/html; charset=utf-8")
        if site.pages.cname:  # GitHub sends visitors of the project address on to the custom domain
            return self.redirect(self.app.site_url(site) + (parts[3] if len(parts) > 3 else ""))
        if len(parts) == 3:
            return self.redirect(path + "/")
        self.serve(site, "/" + parts[3])

    def redirect(self, location):
        self.send(301, b"", None, [("Location", location)])

    def serve(self, site, path):
        if site.pages.build_type == "workflow":
            return self.serve_deployment(site, path)
        build = site.pages.live(time.time())
        found = find_file(site.git_dir, build, path) if build else None
        if found and found[0] == "redirect":
            return self.redirect(urlsplit(self.path).path + "/")
        if found is None:
            return self.not_found(site, build)
        _, sha, size, name = found
        self.send_stream(200, [("Content-Type", content_type(name)), ("Content-Length", str(size)),
                               ("ETag", '"%s"' % sha)], git.stream_blob(site.git_dir, sha))

    def not_found(self, site, build):
        page = git.lookup(site.git_dir, [_spec(build.commit, build.path, "404.html")])[0] if build else None
        body = git.read_blob(site.git_dir, page[1]) if page and page[0] == "blob" else (NO_FILE if build else NO_SITE)
        self.send(404, body, "text/html; charset=utf-8")

    def serve_deployment(self, site, path):
        """A site built by Actions: the tree of its newest successful deployment (404 before there is one)."""
        deployment = site.pages.live_deployment(time.time())
        if deployment is None:
            return self.send(404, NO_SITE, "text/html; charset=utf-8")
        found = find_deployed_file(deployment.site_dir, path)
        if found and found[0] == "redirect":
            return self.redirect(urlsplit(self.path).path + "/")
        if found is None:
            page = Path(deployment.site_dir, "404.html")
            return self.send(404, page.read_bytes() if page.is_file() else NO_FILE, "text/html; charset=utf-8")
        file_path, name = found
        self.send_stream(200, [("Content-Type", content_type(name)), ("Content-Length", str(os.path.getsize(
            file_path)))], stream_file(file_path))
