"""Pages deployed by GitHub Actions (actions/deploy-pages): Actions artifacts, and the two operations of GitHub's
description, `POST /repos/{owner}/{repo}/pages/deployments` and `GET .../pages/deployments/{pages_deployment_id}`.

Where each rule comes from:
- A deployment is accepted only for a site whose `build_type` is `workflow` ("Configuring a publishing source
  for your GitHub Pages site": a site publishes from a branch or with a custom GitHub Actions workflow); a site
  built from a branch is a 400 here (GitHub's exact answer was not found; the status is one the description
  lists). No Pages site is a 404 (description).
- The request names the artifact by `artifact_id` or `artifact_url` ("Either `artifact_id` or `artifact_url` are
  required", description); `pages_build_version` and `oidc_token` are required (description). The artifact must
  belong to the repository (description); an unknown one is a 404.
- The artifact is "a single gzip archive containing a single tar file" that contains only files and
  directories, no symbolic or hard links (actions/upload-pages-artifact's README, "Artifact validation"). One
  that is not is accepted, and the deployment ends `deployment_content_failed`.
- The deployment runs asynchronously and one at a time per site, on the clock like the branch builds: queued
  behind the site's previous deployment, then `delay` seconds `deployment_in_progress`, `delay` seconds
  `syncing_files`, then `succeed`; from then on the Pages host serves the artifact's tree (pages.py). The
  description's status enum has no queued status, so a queued deployment already reads
  `deployment_in_progress`. The response's `id` is a number; GET also takes the deployed commit's SHA
  (`pages_build_version`), as the description's parameter says.

Not modelled: the OIDC token is not verified (no OIDC issuer here), `environment` is stored only (no deployment
of the environment is created), previews (`preview`), cancelling a deployment, artifact expiry and size limits
(10 GB), and Actions' own artifact API (artifacts are registered through the admin API,
POST /_sandbox/artifacts, by the local runner of sandbox/workflows).
"""
import base64
import gzip
import io
import itertools
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from typing import Optional

from sandbox.common.routes import Route

from .errors import DOCS, error, not_found
from .pages import TwoSteps

PAGES_DOCS = DOCS + "/pages/pages"
ARTIFACT_IDS = itertools.count(1)
DEPLOYMENT_IDS = itertools.count(1)
ROUTES = [
    Route("POST", "/repos/{owner}/{repo}/pages/deployments", "create_pages_deployment"),
    Route("GET", "/repos/{owner}/{repo}/pages/deployments/{pages_deployment_id}", "get_pages_deployment"),
]


@dataclass
class Artifact:
    id: int
    name: str
    repo: str  # owner/name, lower-case
    path: str  # the bytes as uploaded, on disk
    size: int


@dataclass
class Deployment(TwoSteps):
    id: int
    version: str  # pages_build_version: the deployed commit
    environment: str
    site_dir: str  # the artifact's tree, unpacked
    error: Optional[str]
    created: float
    start: float  # when it leaves the queue
    delay: float
    STATUSES = ("deployment_in_progress", "syncing_files", "succeed", "deployment_content_failed")


def register_artifact(app, data):
    """Admin API: POST /_sandbox/artifacts {"repo": "owner/name", "name", "content_base64"} -> the artifact."""
    owner, _, name = data["repo"].partition("/")
    if app.repo(owner, name) is None:
        return 404, {"message": "no repository %s" % data["repo"]}
    content = base64.b64decode(data["content_base64"], validate=True)
    artifact_id = next(ARTIFACT_IDS)
    path = os.path.join(app.state_dir, "artifacts", "%d.gz" % artifact_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
    artifact = Artifact(artifact_id, data["name"], data["repo"].lower(), path, len(content))
    with app.lock:
        app.artifacts[artifact_id] = artifact
    return 201, {"id": artifact_id, "name": artifact.name, "repo": data["repo"], "size_in_bytes": artifact.size,
                 "url": artifact_url(app, data["repo"], artifact_id)}


def artifact_url(app, repo, artifact_id):
    return "%s/repos/%s/actions/artifacts/%d" % (app.api_url, repo, artifact_id)


def unpack(artifact, destination):
    """Unpack a Pages artifact into `destination`; the reason it is not a valid one, or None."""
    try:
        with open(artifact.path, "rb") as handle:
            tar_bytes = gzip.decompress(handle.read())
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            members = tar.getmembers()
            bad = [m.name for m in members if not (m.isfile() or m.isdir())]
            if bad:
                return "the artifact's tar holds links or special files (%s): only files and directories may be" \
                       " deployed" % ", ".join(bad[:3])
            outside = [m.name for m in members if m.name.startswith("/") or ".." in m.name.split("/")]
            if outside:
                return "the artifact's tar has paths outside the site: %s" % ", ".join(outside[:3])
            tar.extractall(destination, filter="data")
    except (OSError, EOFError, gzip.BadGzipFile, tarfile.TarError) as err:
        return "the artifact is not a gzip archive of one tar file: %s" % err
    return None


class PagesDeploymentsApi:
    def __init__(self, app):
        self.app = app

    def create_pages_deployment(self, repo, data, **_):
        pages = repo.pages
        if pages is None:
            return not_found(PAGES_DOCS + "#create-a-github-pages-deployment")
        if pages.build_type != "workflow":
            return error(400, "This site is built from the %s branch (build_type legacy): a Pages deployment needs "
                              "build_type workflow." % pages.branch, PAGES_DOCS + "#create-a-github-pages-deployment")
        artifact = self._artifact(repo, data)
        if isinstance(artifact, tuple):
            return artifact
        deployment = self._queue(repo, artifact, data)
        return 200, {"id": deployment.id, "page_url": self.app.site_url(repo), "status_url": "%s/repos/%s/pages/"
                     "deployments/%d" % (self.app.api_url, repo.full_name, deployment.id)}, []

    def get_pages_deployment(self, repo, params, **_):
        wanted = params["pages_deployment_id"]
        deployments = repo.pages.deployments if repo.pages else []
        found = [d for d in deployments if str(d.id) == wanted or d.version == wanted]
        if not found:
            return not_found(PAGES_DOCS + "#get-the-status-of-a-github-pages-deployment")
        return 200, {"status": found[-1].status(time.time())}, []

    def _artifact(self, repo, data):
        """The artifact a request names, or an error response."""
        if "artifact_id" in data:
            wanted = data["artifact_id"]
        elif "artifact_url" in data:
            wanted = data["artifact_url"].rstrip("/").rsplit("/", 1)[-1]
        else:
            return error(400, "Either artifact_id or artifact_url is required.", PAGES_DOCS)
        artifact = next((a for a in self.app.artifacts.values() if str(a.id) == str(wanted).split(".")[0]
                         and a.repo == repo.full_name.lower()), None)
        if artifact is None or ("artifact_url" in data and "artifact_id" not in data and
                                data["artifact_url"] != artifact_url(self.app, repo.full_name, artifact.id)):
            return error(404, "Artifact not found for this repository.", PAGES_DOCS)
        return artifact

    def _queue(self, repo, artifact, data):
        now, deployments = time.time(), repo.pages.deployments
        deployment_id = next(DEPLOYMENT_IDS)
        site_dir = os.path.join(self.app.state_dir, "pages-deployments", repo.full_name, str(deployment_id))
        problem = unpack(artifact, site_dir)
        if problem:
            shutil.rmtree(site_dir, ignore_errors=True)
        start = max(now, deployments[-1].done_at) if deployments else now
        deployment = Deployment(deployment_id, data["pages_build_version"], data.get("environment", "github-pages"),
                                site_dir, problem, now, start, self.app.build_delay)
        deployments.append(deployment)
        return deployment
