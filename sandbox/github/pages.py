"""GitHub Pages: site settings, builds, and the host that serves built sites straight from the bare repository.

Builds follow the clock rather than worker threads: a build waits for the one before it, spends `delay` seconds
`queued` and `delay` seconds `building`, then is `built` (or `errored`). Its outcome is fixed when it is queued,
because it builds one fixed commit. The site served is the tree of the newest build that has finished `built`.
"""
import mimetypes
import time
from dataclasses import dataclass, field
from typing import List, Optional
from urllib.parse import unquote, urlsplit

from . import git
from .web import Handler

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


@dataclass
class Build:
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

    @property
    def done_at(self):
        return self.start + 2 * self.delay

    def status(self, now):
        if now < self.start + self.delay:
            return "queued"
        if now < self.done_at:
            return "building"
        return "errored" if self.error is not None else "built"

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

    def latest(self):
        return self.builds[-1] if self.builds else None

    def status(self, now):
        """The Page's status: that of its newest build (a queued build already counts as building)."""
        latest = self.latest()
        if latest is None:
            return None
        status = latest.status(now)
        return "building" if status == "queued" else status

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


def find_file(git_dir, build, url_path):
    """Map a URL path (relative to the site root) to ("blob", sha, size, name), ("redirect",) (add a slash) or None.

    As on GitHub: a directory serves its index.html; `/a` serves `a`, else redirects to `/a/` when `a/index.html`
    exists, else serves `a.html`.
    """
    parts = [p for p in unquote(url_path).split("/") if p]
    if any(p in (".", "..") or any(ord(c) < 32 for c in p) for p in parts):
        return None
    if not build.nojekyll and _hidden_by_jekyll(parts):
        return None
    relative = "/".join(parts)
    if not parts or url_path.endswith("/"):
        found = git.lookup(git_dir, [_spec(build.commit, build.path, "/".join(parts + ["index.html"]))])[0]
        return ("blob", found[1], found[2], "index.html") if found and found[0] == "blob" else None
    exact, index, html = git.lookup(git_dir, [_spec(build.commit, build.path, relative + suffix)
                                              for suffix in ("", "/index.html", ".html")])
    if exact and exact[0] == "blob":
        return "blob", exact[1], exact[2], parts[-1]
    if index and index[0] == "blob":
        return ("redirect",)
    if html and html[0] == "blob":
        return "blob", html[1], html[2], parts[-1] + ".html"
    return None


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
