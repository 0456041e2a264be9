"""The workflows the cicd stage generated, run to their conclusion on the deployed sandbox by the local runner
(`python -m sandbox actions run`), as a maintainer's push and pull request would run them on GitHub:

- deploy-backend.yml by workflow_dispatch for the environment `local`: a new release of the chat service (the
  example with another version) goes live on the app hosts, and the load balancer answers with it;
- preview.yml on a pull request that changes a page: opened makes the preview (the site in pr-preview/pr-<N>/ with
  the change, the Neon branch, the sticky comment), closed removes it.

Run by molecule's site scenario (verify.yml) after site.yml, like tests/browser/test_sandbox_journey.py: it needs the
sandbox deployed (`make demo` first to run it by hand). The repository the runner checks out is this checkout's
committed tree (git archive HEAD) with the workflows the cicd stage wrote into the sandbox's checkout, pushed to the
stand-in's textbook/textbook.
"""
import base64
import json
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT / ".sandbox"
REPO = "textbook/textbook"
RELEASE = "1.1.0+workflow"  # a local version label: a release of its own, made from the example as it is
CHANGED_PAGE = "examples/textbook/docs/sensors-and-perception.md"
CHANGE = "\n\nPreview check: force-torque sensors sit in the ankles and wrists.\n"


@pytest.fixture(scope="module")
def sandbox():
    state_file = SANDBOX / "sandbox.json"
    if not state_file.is_file() or not (SANDBOX / "checkout" / ".github" / "workflows").is_dir():
        pytest.fail("the sandbox is not deployed with its workflows: run `make demo` (or molecule's site scenario)")
    return json.loads(state_file.read_text())


def git(cwd, *args, token=None):
    auth = ["-c", "http.extraHeader=Authorization: Basic " + base64.b64encode(
        ("x-access-token:" + token).encode()).decode()] if token else []
    env = {"GIT_AUTHOR_NAME": "maintainer", "GIT_AUTHOR_EMAIL": "maintainer@example.invalid", "PATH": "/usr/bin:/bin",
           "GIT_COMMITTER_NAME": "maintainer", "GIT_COMMITTER_EMAIL": "maintainer@example.invalid", "HOME": str(cwd)}
    return subprocess.run(["git", "-C", str(cwd)] + auth + list(args), check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture(scope="module")
def pushed(sandbox, tmp_path_factory):
    """This checkout's committed tree and the generated workflows as the stand-in's main branch; returns the clone."""
    clone = tmp_path_factory.mktemp("repo")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(clone)], input=archive, check=True)
    subprocess.run(["cp", "-r", str(SANDBOX / "checkout" / ".github"), str(clone)], check=True)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "The platform, with the generated workflows")
    git(clone, "push", "-q", "-f", "%s/%s.git" % (sandbox["github"]["git_base"], REPO), "main", token=sandbox["github"]["token"])
    return clone


def run_workflow(clone, name, *args):
    """The runner on one of the clone's workflows; (exit status, output)."""
    proc = subprocess.run([sys.executable, "-m", "sandbox", "actions", "run",
                           str(clone / ".github" / "workflows" / name), "--repo", REPO] + list(args),
                          cwd=str(ROOT), capture_output=True, text=True, timeout=1200)
    return proc.returncode, proc.stdout + proc.stderr


def fetch(url, context=None):
    try:
        with urllib.request.urlopen(url, timeout=15, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def admin(sandbox, method, path, body):
    request = urllib.request.Request(sandbox["github"]["admin_url"] + path, method=method,
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def versions_through_the_load_balancer(times=6):
    context = ssl.create_default_context(cafile=str(SANDBOX / "ca" / "ca.crt"))
    return {json.loads(fetch("https://10.77.0.11/version", context)[1])["version"] for _ in range(times)}


def test_deploy_backend_by_workflow_dispatch_puts_a_new_release_live(pushed, sandbox):
    pyproject = pushed / "examples" / "chat_api" / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', 'version = "%s"' % RELEASE, pyproject.read_text()))
    git(pushed, "commit", "-q", "-am", "chat service %s" % RELEASE)
    git(pushed, "push", "-q", "%s/%s.git" % (sandbox["github"]["git_base"], REPO), "main",
        token=sandbox["github"]["token"])

    status, output = run_workflow(pushed, "deploy-backend.yml", "--event", "workflow_dispatch",
                                  "--input", "environment=local")
    assert status == 0, output[-6000:]
    assert versions_through_the_load_balancer() == {RELEASE}


def test_a_pull_requests_preview_is_made_on_open_and_removed_on_close(pushed, sandbox):
    git(pushed, "checkout", "-q", "-b", "change-sensors")
    page = pushed / CHANGED_PAGE
    page.write_text(page.read_text() + CHANGE)
    git(pushed, "commit", "-q", "-am", "Sensors: where the force-torque sensors sit")
    git(pushed, "push", "-q", "%s/%s.git" % (sandbox["github"]["git_base"], REPO), "change-sensors",
        token=sandbox["github"]["token"])
    number = admin(sandbox, "POST", "/pulls", {"repo": REPO, "head": "change-sensors", "base": "main"})["number"]
    site = "%stextbook/textbook/pr-preview/pr-%d/" % (sandbox["github"]["pages_base"], number)

    status, output = run_workflow(pushed, "preview.yml", "--event", "pull_request", "--action", "opened",
                                  "--number", str(number), "--ref", "change-sensors", "--base", "main")
    assert status == 0, output[-6000:]
    assert fetch(site + "build-info.json")[0] == 200
    assert "force-torque sensors sit in the ankles" in fetch(site + "docs/sensors-and-perception/")[1]
    main_page = fetch("%stextbook/textbook/docs/sensors-and-perception/" % sandbox["github"]["pages_base"])[1]
    assert main_page and "force-torque sensors sit in the ankles" not in main_page
    comments = json.loads(fetch_api(sandbox, "/repos/%s/issues/%d/comments" % (REPO, number)))
    assert len(comments) == 1 and site in comments[0]["body"]

    admin(sandbox, "PATCH", "/pulls", {"repo": REPO, "number": number, "action": "close"})
    status, output = run_workflow(pushed, "preview.yml", "--event", "pull_request", "--action", "closed",
                                  "--number", str(number), "--ref", "change-sensors", "--base", "main")
    assert status == 0, output[-6000:]
    assert fetch(site + "build-info.json")[0] == 404
    assert json.loads(fetch_api(sandbox, "/repos/%s/issues/%d/comments" % (REPO, number))) == []


def fetch_api(sandbox, path):
    request = urllib.request.Request(sandbox["github"]["api_url"] + path,
                                     headers={"Authorization": "token " + sandbox["github"]["token"]})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.read().decode()
