"""playbooks/deploy_frontend.yml end to end against the GitHub stand-in: deploy, re-run, check mode, secrets at
-vvv, a forbidden value, and the automatic rollback when the Pages build of a new version fails.

The textbook here is a tiny npm project whose build script copies src/ into --out-dir (real npm and node, no
Docusaurus), so each deploy takes seconds; tests/integration/test_docusaurus_build.py covers the real textbook.
"""
import base64
import json
import re
import subprocess
import urllib.request

import pytest

from conftest import ROOT, run_playbook
from npm_textbook import npm_textbook, write

PLAYBOOK = ROOT / "playbooks" / "deploy_frontend.yml"
INVENTORY = ROOT / "inventories" / "local"
@pytest.fixture
def textbook(tmp_path):
    return npm_textbook(tmp_path / "textbook")


def deploy_vars(github, repo, textbook, **extra):
    """Inventory variables for a deploy of `textbook` to `repo` on the stand-in (what inventories/local sets)."""
    github.create_repo("textbook", repo)
    values = {
        "frontend_repo": "textbook/%s" % repo,
        "frontend_git_url": github.git_url("textbook", repo),
        "frontend_github_api_url": github.api_url,
        "frontend_github_token": github.token,
        "frontend_site_url": github.pages_base.rstrip("/"),
        "frontend_base_url": "/textbook/%s/" % repo,
        "frontend_project_dir": str(textbook),
        "frontend_build_dir": str(textbook / "build"),
        "frontend_pages_build_timeout": 30,
        "frontend_verify_timeout": 10,
        "frontend_verify_interval": 1,
        # no chat API here: the journey check and the joint rollback of site and index are
        # tests/integration/test_reader_journey.py's
        "frontend_journey_check": False,
    }
    values.update(extra)
    return values


def recap(output):
    """The PLAY RECAP counters of the one host, as a dict."""
    match = re.search(r"localhost\s+:\s+(.*)", output.split("PLAY RECAP")[-1])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def live(github, repo, path="build-info.json"):
    with urllib.request.urlopen(github.pages_url("textbook", repo) + path, timeout=10) as response:
        return response.read().decode()


def remote_head(url, token):
    basic = base64.b64encode(("x-access-token:%s" % token).encode()).decode()
    out = subprocess.run(["git", "-c", "http.extraHeader=Authorization: Basic %s" % basic, "ls-remote", url,
                          "refs/heads/gh-pages"], capture_output=True, text=True, check=True).stdout
    return out.split()[0] if out else None


def test_deploy_publishes_verifies_and_reruns_without_changes(github, textbook):
    extra = deploy_vars(github, "book-idem", textbook)
    first = run_playbook(PLAYBOOK, INVENTORY, extra)
    assert first.returncode == 0, first.stdout
    assert recap(first.stdout)["changed"] >= 3
    info = json.loads(live(github, "book-idem"))
    assert info["version"] == "1.0.0" and len(info["content_hash"]) == 64
    assert "Chapter 1" in live(github, "book-idem", "")

    second = run_playbook(PLAYBOOK, INVENTORY, extra)
    assert second.returncode == 0, second.stdout
    assert recap(second.stdout)["changed"] == 0, second.stdout
    assert github.violations() == []


def test_check_mode_changes_nothing(github, textbook):
    extra = deploy_vars(github, "book-check", textbook)
    result = run_playbook(PLAYBOOK, INVENTORY, extra, check=True, diff=True)
    assert result.returncode == 0, result.stdout
    assert remote_head(extra["frontend_git_url"], github.token) is None
    assert not (textbook / "build").exists()


def test_secrets_never_reach_the_output_even_at_vvv(github, textbook):
    secret = "s3cr3t-backend-value-7f1c"
    extra = deploy_vars(github, "book-vvv", textbook, frontend_forbidden_values=[secret])
    result = run_playbook(PLAYBOOK, INVENTORY, extra, verbosity=3)
    assert result.returncode == 0, result.stdout
    assert github.token not in result.stdout
    assert secret not in result.stdout


def test_forbidden_value_stops_the_deploy_before_anything_is_pushed(github, textbook):
    secret = "s3cr3t-backend-value-9a2b"
    write(textbook / "src" / "leak.js", "const key = '%s';" % secret)
    extra = deploy_vars(github, "book-leak", textbook, frontend_forbidden_values=[secret])
    result = run_playbook(PLAYBOOK, INVENTORY, extra, verbosity=3)
    assert result.returncode != 0
    assert "leak.js" in result.stdout
    assert secret not in result.stdout
    assert remote_head(extra["frontend_git_url"], github.token) is None


def test_failed_pages_build_rolls_back_to_the_previous_version(github, textbook):
    extra = deploy_vars(github, "book-rollback", textbook)
    assert run_playbook(PLAYBOOK, INVENTORY, extra).returncode == 0
    good = json.loads(live(github, "book-rollback"))
    good_head = remote_head(extra["frontend_git_url"], github.token)

    # Version 2 makes the Pages build fail (the stand-in errors a build whose tree holds .pages-build-error).
    write(textbook / "src" / "index.html", "<h1>Chapter 1, second edition</h1>")
    write(textbook / "src" / ".pages-build-error", "Liquid syntax error in index.html")
    result = run_playbook(PLAYBOOK, INVENTORY, extra)
    assert result.returncode != 0
    assert "Rolled back" in result.stdout and "Liquid syntax error" in result.stdout, result.stdout

    rolled_back_head = remote_head(extra["frontend_git_url"], github.token)
    assert rolled_back_head != good_head  # a new commit on top, never a force push
    assert json.loads(live(github, "book-rollback")) == good
    assert "second edition" not in live(github, "book-rollback", "")
