"""The GitHub stand-in's Pages deployments (sandbox/github/pages_deployments.py): artifacts through the admin API,
POST/GET .../pages/deployments as GitHub's description has them, the asynchronous statuses, the rules (a
workflow-built site only, a valid artifact), and the Pages host serving the deployed tree while a branch-built
site keeps being served from its branch."""
import base64
import gzip
import io
import json
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from github_calls import raw_api as api, send


def artifact(files, links=()):
    """A Pages artifact as actions/upload-pages-artifact makes it: one gzip holding one tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
        for name, target in links:
            info = tarfile.TarInfo("./" + name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return gzip.compress(buffer.getvalue())


def register(server, full_name, content, name="github-pages"):
    status, _, raw = send("POST", server.admin_url + "/artifacts", json.dumps({
        "repo": full_name, "name": name, "content_base64": base64.b64encode(content).decode()}).encode())
    assert status == 201, raw
    return json.loads(raw)


def new_site(server, build_type="workflow"):
    name = "p" + uuid.uuid4().hex[:8]
    server.create_repo("octo", name)
    if build_type:
        status, _, body = api(server, "POST", "/repos/octo/%s/pages" % name, {"build_type": build_type})
        assert status == 201, body
    return "octo/" + name


def deploy(server, full_name, body):
    return api(server, "POST", "/repos/%s/pages/deployments" % full_name, dict(
        {"pages_build_version": "a" * 40, "oidc_token": "token"}, **body))


def wait_status(server, full_name, deployment_id, final=("succeed", "deployment_content_failed")):
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, _, body = api(server, "GET", "/repos/%s/pages/deployments/%s" % (full_name, deployment_id))
        assert status == 200, body
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in final:
            return seen
        time.sleep(0.02)
    raise AssertionError("no final status: %s" % seen)


def page(server, full_name, path=""):
    status, headers, body = send("GET", server.pages_base + full_name + "/" + path)
    return status, headers, body.decode()


def test_a_deployment_goes_through_its_statuses_and_the_site_serves_its_tree(github_clean):
    server = github_clean
    site = new_site(server)
    assert page(server, site)[0] == 404  # nothing deployed yet
    found = register(server, site, artifact({"index.html": "<h1>v1</h1>", "guide/index.html": "guide",
                                              "about.html": "about", "404.html": "custom missing"}))
    status, _, created = deploy(server, site, {"artifact_id": found["id"]})
    assert status == 200, created
    assert created["page_url"] == server.pages_url(*site.split("/"))
    assert created["status_url"].endswith("/repos/%s/pages/deployments/%s" % (site, created["id"]))
    assert wait_status(server, site, created["id"]) == ["deployment_in_progress", "syncing_files", "succeed"]
    assert page(server, site)[2] == "<h1>v1</h1>"
    assert page(server, site, "about")[2] == "about"  # /a serves a.html
    assert page(server, site, "guide")[0] == 301  # /a/ when a/index.html exists
    assert page(server, site, "guide/")[2] == "guide"
    status, _, missing = page(server, site, "nothing")
    assert (status, missing) == (404, "custom missing")
    # the deployed commit's SHA finds the deployment too (the description's parameter)
    assert api(server, "GET", "/repos/%s/pages/deployments/%s" % (site, "a" * 40))[2] == {"status": "succeed"}
    assert api(server, "GET", "/repos/%s/pages" % site)[2]["status"] == "built"


def test_deployments_queue_one_after_another_and_the_newest_is_served(github_clean):
    server = github_clean
    site = new_site(server)
    first = deploy(server, site, {"artifact_id": register(server, site, artifact({"index.html": "one"}))["id"]})[2]
    url = register(server, site, artifact({"index.html": "two"}))["url"]
    second = deploy(server, site, {"artifact_url": url})[2]
    # the second waits for the first: still in progress when the first has succeeded
    assert wait_status(server, site, first["id"])[-1] == "succeed"
    assert api(server, "GET", "/repos/%s/pages/deployments/%s" % (site, second["id"]))[2]["status"] != "succeed"
    assert page(server, site)[2] == "one"
    wait_status(server, site, second["id"])
    assert page(server, site)[2] == "two"


def test_an_artifact_with_a_link_is_accepted_then_fails(github_clean):
    server = github_clean
    site = new_site(server)
    bad = register(server, site, artifact({"index.html": "x"}, links=[("passwd", "/etc/passwd")]))
    status, _, created = deploy(server, site, {"artifact_id": bad["id"]})
    assert status == 200
    assert wait_status(server, site, created["id"])[-1] == "deployment_content_failed"
    not_gzip = register(server, site, b"just bytes")
    created = deploy(server, site, {"artifact_id": not_gzip["id"]})[2]
    assert wait_status(server, site, created["id"])[-1] == "deployment_content_failed"
    assert page(server, site)[0] == 404
    assert api(server, "GET", "/repos/%s/pages" % site)[2]["status"] == "errored"


@pytest.mark.parametrize("build_type, body, status, message", [
    ("legacy", {"artifact_id": "own"}, 400, "a Pages deployment needs build_type workflow"),
    (None, {"artifact_id": "own"}, 404, "Not Found"),
    ("workflow", {}, 400, "Either artifact_id or artifact_url is required"),
    ("workflow", {"artifact_id": "other"}, 404, "Artifact not found for this repository"),
    ("workflow", {"artifact_id": 999999}, 404, "Artifact not found"),
])
def test_deployments_refused(github_fresh, build_type, body, status, message):
    server = github_fresh
    if build_type == "legacy":
        site = "octo/legacy" + uuid.uuid4().hex[:6]
        server.create_repo(*site.split("/"))
        seed_branch(server, site)
        assert api(server, "POST", "/repos/%s/pages" % site, {"source": {"branch": "main"}})[0] == 201
    else:
        site = new_site(server, build_type)
    other = new_site(server)
    ids = {"own": register(server, site, artifact({"index.html": "x"}))["id"],
           "other": register(server, other, artifact({"index.html": "x"}))["id"]}
    body = {key: ids.get(value, value) for key, value in body.items()}
    answer = deploy(server, site, body)
    assert answer[0] == status, answer
    assert message in answer[2]["message"]


def test_a_request_without_the_required_fields_is_a_422(github_fresh):
    server = github_fresh
    site = new_site(server)
    status, _, body = api(server, "POST", "/repos/%s/pages/deployments" % site, {"artifact_id": 1})
    assert status == 422 and "oidc_token" in body["message"]
    assert server.violations()[-1]["kind"] == "request"


def seed_branch(server, full_name):
    """One commit on main of a repository (through git itself)."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
        Path(work, "index.html").write_text("branch")
        subprocess.run(["git", "-C", work, "add", "-A"], check=True)
        subprocess.run(["git", "-C", work, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x"],
                       check=True)
        header = "Authorization: Basic " + base64.b64encode(("x:" + server.token).encode()).decode()
        subprocess.run(["git", "-C", work, "-c", "http.extraheader=" + header, "push", "-q",
                        server.git_url(*full_name.split("/")), "main"], check=True)
