"""playbooks/sweep_previews.yml end to end against the GitHub, Neon and Qdrant stand-ins: previews made with
playbooks/preview.yml for three pull requests; #1 (the platform's) stays open, #2 is closed (and only its index is left: its site and
Neon branch were removed before, as an expiry would), #3 is gone (the stand-in forgets it). The check-mode sweep
lists #2 and #3 and changes nothing; the sweep removes exactly them and leaves #1 whole; a second sweep changes
nothing.

The platform (a repository with its main site, the environment's variables) and the preview helpers are
test_previews.py's. The file has its own Qdrant stand-in: the sweep lists every preview index of the server, so an
index another test left in a shared one would be swept too.
"""
import json
import re

import pytest

from conftest import ROOT, run_module, run_playbook
from github_calls import api as github_api, change_pull, open_pull, push_branches
from test_deploy_frontend import live, remote_head
from test_previews import INVENTORY, alias_target, branches, comments, platform, preview, recap  # noqa: F401

SWEEP = ROOT / "playbooks" / "sweep_previews.yml"


@pytest.fixture(scope="module")
def qdrant(tmp_path_factory):
    """This file's own Qdrant stand-in (overrides the session's)."""
    from sandbox.qdrant import QdrantStandIn

    server = QdrantStandIn(state_dir=str(tmp_path_factory.mktemp("qdrant-sweep"))).start()
    yield server
    server.stop()


def sweep(platform, check=False):
    return run_playbook(SWEEP, INVENTORY, {key: value for key, value in platform.items() if not key.startswith("_")},
                        check=check)


def site_dirs(github, platform):
    """The directories of the Pages branch's pr-preview/, as the contents API lists them."""
    listing = github_api(github, "GET", "/repos/textbook/%s/contents/pr-preview?ref=gh-pages" % platform["_repo"])
    return sorted(entry["name"] for entry in listing if entry["type"] == "dir")


def stale_lines(output):
    """The summary lines the sweep printed for the stale previews."""
    return sorted(set(re.findall(r"#\d+ (?:closed|merged|gone): [^\"'\n]+", output)))


def test_the_sweep_removes_the_previews_of_closed_and_gone_pull_requests(platform, github, neon, neon_project,
                                                                          qdrant, tmp_path):
    repo = "textbook/" + platform["_repo"]
    work = tmp_path / "branches"
    work.mkdir()
    push_branches(github, repo, ["two", "three"], work)
    assert platform["_number"] == 1 and [open_pull(github, repo, head) for head in ("two", "three")] == [2, 3]
    for number in (1, 2, 3):
        made = preview(platform, number)
        assert made.returncode == 0, made.stdout[-4000:]
    assert site_dirs(github, platform) == ["pr-1", "pr-2", "pr-3"]

    # #2 closed, with only its index left; #3 a number GitHub no longer knows
    change_pull(github, repo, 2, "close")
    removed = run_module("pages_publish", dict(repo=platform["frontend_git_url"], branch="gh-pages", token=github.token,
                                               path="pr-preview/pr-2", state="absent"))
    assert removed["changed"] and not removed.get("failed"), removed.get("msg")
    removed = run_module("neon_branch", dict(api_url=neon.api_url, token=neon.api_key, project=neon_project["name"],
                                             name="preview-2", state="absent"))
    assert removed["changed"] and not removed.get("failed"), removed.get("msg")
    with github.lock:
        del github.repo("textbook", platform["_repo"]).issues.pulls[3]
    assert comments(github, platform["_repo"], 2)  # the preview's comment, removed by the sweep with the preview

    head = remote_head(platform["frontend_git_url"], github.token)
    checked = sweep(platform, check=True)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert stale_lines(checked.stdout) == [
        "#2 closed: index preview_2_passages",
        "#3 gone: site pr-preview/pr-3/, Neon branch preview-3, index preview_3_passages"], checked.stdout[-4000:]
    assert "2 stale preview(s), that would be removed (check mode)" in checked.stdout
    assert recap(checked.stdout)["changed"] >= 3, checked.stdout[-4000:]
    # nothing changed
    assert remote_head(platform["frontend_git_url"], github.token) == head
    assert {"preview-1", "preview-3"} <= set(branches(neon, neon_project))
    assert alias_target(qdrant, "preview_2_passages") and alias_target(qdrant, "preview_3_passages")
    assert comments(github, platform["_repo"], 2)

    swept = sweep(platform)
    assert swept.returncode == 0, swept.stdout[-4000:]
    assert stale_lines(swept.stdout) == stale_lines(checked.stdout)
    # #2 and #3 are gone, whatever was left of them
    assert site_dirs(github, platform) == ["pr-1"]
    assert "preview-3" not in branches(neon, neon_project)
    assert alias_target(qdrant, "preview_2_passages") is None and alias_target(qdrant, "preview_3_passages") is None
    assert comments(github, platform["_repo"], 2) == []
    # #1, open, is whole: its site, branch and index
    assert json.loads(live(github, platform["_repo"], "pr-preview/pr-1/build-info.json"))["preview"] == 1
    assert "preview-1" in branches(neon, neon_project) and alias_target(qdrant, "preview_1_passages")
    assert comments(github, platform["_repo"], 1)

    again = sweep(platform)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert "No stale preview: nothing to remove." in again.stdout and stale_lines(again.stdout) == []
    assert github.violations() == [] and neon.violations() == []
