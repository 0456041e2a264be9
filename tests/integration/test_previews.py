"""playbooks/preview.yml end to end against the GitHub, Neon and Qdrant stand-ins: a pull request's preview made
(Neon branch with an expiry and the migrations, its own index, the site in pr-preview/pr-<N>/ beside the main site),
made again without changes, pushed to while the main site is deployed, and removed on close; bad input refused.

The textbook is the tiny npm project of the frontend tests (a build copies src/), with two Markdown pages to index.
"""
import base64
import json
import re
import subprocess
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from conftest import ROOT, run_playbook
from npm_textbook import npm_textbook, write
from test_deploy_frontend import deploy_vars, live, remote_head

PREVIEW = ROOT / "playbooks" / "preview.yml"
FRONTEND = ROOT / "playbooks" / "deploy_frontend.yml"
INVENTORY = ROOT / "inventories" / "local"


def recap(output):
    match = re.search(r"localhost\s+:\s+(.*)", output.split("PLAY RECAP")[-1])
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.fixture
def platform(github, neon, neon_project, qdrant, tmp_path):
    """A repository with its main site published, and the variables of its environment."""
    textbook = npm_textbook(tmp_path / "textbook")
    write(textbook / "docs" / "robots.md", "# Robots\n\n## What is a robot?\n\nA robot senses, thinks and acts.\n")
    write(textbook / "docs" / "walking.md", "# Walking\n\n## How do robots walk?\n\nBy shifting their weight.\n")
    repo = "book-" + uuid.uuid4().hex[:6]
    values = deploy_vars(github, repo, textbook, frontend_preview_build_dir=str(tmp_path / "preview-build"),
                         frontend_chat_api_url="https://api.example.invalid")
    values.update({
        "data_neon_api_url": neon.api_url, "data_neon_api_key": neon.api_key,
        "data_neon_project": neon_project["name"], "data_qdrant_url": qdrant.url,
        "data_qdrant_api_key": qdrant.api_key, "data_migrations_dir": str(ROOT / "examples/chat_api/migrations"),
        "content_docs_dir": str(textbook / "docs"),
    })
    main = run_playbook(FRONTEND, INVENTORY, dict(values, backend_journey_check=False))
    assert main.returncode == 0, main.stdout[-3000:]
    values["_repo"], values["_textbook"] = repo, textbook
    values["_number"] = open_pull_request(github, repo, tmp_path / "checkout")
    return values


def open_pull_request(github, repo, checkout):
    """A branch `change` with a commit on top of `main`, pushed to the stand-in, and a pull request of it."""
    auth = "http.extraHeader=Authorization: Basic " + base64.b64encode(
        ("x-access-token:" + github.token).encode()).decode()
    env = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@example.invalid", "PATH": "/usr/bin:/bin"}
    commands = [["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"],
                ["checkout", "-q", "-b", "change"], ["commit", "-q", "--allow-empty", "-m", "a change"],
                ["-c", auth, "push", "-q", github.git_url("textbook", repo), "main", "change"]]
    checkout.mkdir()
    for command in commands:
        subprocess.run(["git", "-C", str(checkout)] + command, check=True, env=env, capture_output=True)
    return github.create_pull("textbook", repo, "change", "main", title="A change")


def comments(github, repo, number):
    url = "%s/repos/textbook/%s/issues/%d/comments" % (github.api_url, repo, number)
    return api(url, github.token, scheme="token")


def preview(platform, number, state="present", check=False, **extra_vars):
    extra = {key: value for key, value in platform.items() if not key.startswith("_")}
    extra.update(extra_vars, preview_number=number, preview_state=state)
    return run_playbook(PREVIEW, INVENTORY, extra, check=check)


def api(url, key, method="GET", body=None, scheme="Bearer"):
    headers = {"Authorization": "%s %s" % (scheme, key)} if scheme else {"api-key": key}
    headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def branches(neon, project):
    listing = api("%s/projects/%s/branches" % (neon.api_url, project["id"]), neon.api_key)
    return {branch["name"]: branch for branch in listing["branches"]}


def alias_target(qdrant, alias):
    listing = api(qdrant.url + "/aliases", qdrant.api_key, scheme=None)["result"]["aliases"]
    return next((entry["collection_name"] for entry in listing if entry["alias_name"] == alias), None)


def points(qdrant, collection):
    return api("%s/collections/%s/points/count" % (qdrant.url, collection), qdrant.api_key, "POST",
               {"exact": True}, scheme=None)["result"]["count"]


def test_a_preview_is_made_beside_the_main_site_and_removed_on_close(platform, github, neon, neon_project, qdrant):
    repo = platform["_repo"]
    main_before = live(github, repo)

    number = platform["_number"]
    made = preview(platform, number, preview_commit="0123456789abcdef")
    assert made.returncode == 0, made.stdout[-4000:]
    # the site: the build in pr-preview/pr-<N>/, the main site untouched
    assert json.loads(live(github, repo, "pr-preview/pr-%d/build-info.json" % number))["preview"] == number
    assert "Chapter 1" in live(github, repo, "pr-preview/pr-%d/" % number)
    assert live(github, repo) == main_before
    # the data: a branch of the project with an expiry about a week ahead
    branch = branches(neon, neon_project)["preview-%d" % number]
    expires = datetime.fromisoformat(branch["expires_at"].replace("Z", "+00:00"))
    assert 6.9 < (expires - datetime.now(timezone.utc)).total_seconds() / 86400 <= 7
    # the index: the preview's own alias, with the pull request's pages
    alias = alias_target(qdrant, "preview_%d_passages" % number)
    assert alias and points(qdrant, alias) >= 2

    # the sticky comment: one, with the addresses
    [comment] = comments(github, repo, number)
    site = "%spr-preview/pr-%d/" % (github.pages_url("textbook", repo), number)
    assert site in comment["body"] and "`preview-%d`" % number in comment["body"] and "0123456789ab" in comment["body"]

    again = preview(platform, number, preview_commit="0123456789abcdef")
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-4000:]

    # the main site deployed again (a new version) keeps the preview
    write(platform["_textbook"] / "src" / "index.html", "<h1>Chapter 1, second edition</h1>")
    redeployed = run_playbook(FRONTEND, INVENTORY, {k: v for k, v in platform.items() if not k.startswith("_")})
    assert redeployed.returncode == 0, redeployed.stdout[-3000:]
    assert "second edition" in live(github, repo, "") and "Chapter 1" in live(github, repo, "pr-preview/pr-%d/" % number)

    checked = preview(platform, number, "absent", check=True)
    assert checked.returncode == 0 and recap(checked.stdout)["changed"] >= 3, checked.stdout[-4000:]
    assert "preview-%d" % number in branches(neon, neon_project)

    closed = preview(platform, number, "absent")
    assert closed.returncode == 0, closed.stdout[-4000:]
    assert "preview-%d" % number not in branches(neon, neon_project) and comments(github, repo, number) == []
    assert alias_target(qdrant, "preview_%d_passages" % number) is None
    with pytest.raises(Exception):
        live(github, repo, "pr-preview/pr-%d/build-info.json" % number)
    assert "second edition" in live(github, repo, "")
    gone = preview(platform, number, "absent")
    assert gone.returncode == 0 and recap(gone.stdout)["changed"] == 0, gone.stdout[-4000:]
    assert github.violations() == [] and neon.violations() == []


@pytest.mark.parametrize("extra, message", [
    ({"preview_number": "abc"}, "preview_number must be the pull request's number, a positive integer"),
    ({"preview_number": 0}, "preview_number must be the pull request's number, a positive integer"),
    ({"preview_number": 7, "preview_state": "gone"}, "preview_state must be present or absent"),
    ({"preview_number": 7, "preview_expires_in": "45d"}, "expires_in"),
])
def test_bad_input_is_refused_before_any_change(platform, github, neon, neon_project, extra, message):
    head = remote_head(platform["frontend_git_url"], github.token)
    values = {key: value for key, value in platform.items() if not key.startswith("_")}
    result = run_playbook(PREVIEW, INVENTORY, dict(values, **extra))
    assert result.returncode != 0 and message in result.stdout, result.stdout[-3000:]
    assert remote_head(platform["frontend_git_url"], github.token) == head
    assert not any(name.startswith("preview-") for name in branches(neon, neon_project))
