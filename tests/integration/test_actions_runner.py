"""`python -m sandbox actions run`: the workflows the cicd role generates, run to their conclusion against the
GitHub stand-in (issue 16). ci.yml on push (textbook build, chat service tests, lint), deploy-frontend.yml on push
(the Pages site built by Actions then serves the new build), a workflow that fails, environment secrets and
variables the way deploy-backend.yml reads them, and bad input.

The checkout is small on purpose: the tiny npm textbook (tests/npm_textbook.py) as cicd_frontend_dir, a one-test
Python package as cicd_backend_dir, and yamllint as the lint job (all installed in .venv already), so that the
runs take seconds.
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from nacl.public import PublicKey, SealedBox

from conftest import ROOT, run_playbook
from github_calls import api
from npm_textbook import npm_textbook, write

REPO_OWNER = "textbook"
SERVICE_TEST = "def test_service_answers():\n    assert 'textbook'.startswith('text')\n"
# the textbook's build as Docusaurus writes it (build/), with the Pages variable the workflow passes in
BUILD = "node build.js --out-dir build && node -e \"require('fs').writeFileSync('build/site-url.txt', " \
        "process.env.SITE_URL || '')\""


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.org", *args], cwd=str(cwd),
                          capture_output=True, text=True, check=True).stdout


def push(github, world):
    header = "Authorization: Basic " + base64.b64encode(("x:" + github.token).encode()).decode()
    git(world["checkout"], "-c", "http.extraheader=" + header, "push", "-q", "origin", "HEAD:main")


def commit_all(world, message):
    git(world["checkout"], "add", "-A")
    git(world["checkout"], "commit", "-qm", message)


def seal(github, level, value):
    key = api(github, "GET", level + "/secrets/public-key")
    box = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt(value.encode())
    return {"encrypted_value": base64.b64encode(box).decode(), "key_id": key["key_id"]}


@pytest.fixture(scope="module")
def world(github, tmp_path_factory):
    """A repository on the stand-in whose checkout has the workflows the cicd role generates (setup_ci_cd.yml,
    Pages built by Actions), pushed."""
    repo = "runner-" + uuid.uuid4().hex[:8]
    github.create_repo(REPO_OWNER, repo)
    base = tmp_path_factory.mktemp("runner")
    checkout = base / "checkout"
    checkout.mkdir()
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "remote", "add", "origin", github.git_url(REPO_OWNER, repo))
    npm_textbook(checkout / "book", index_html="<h1>Chapter 1</h1>")
    package = json.loads((checkout / "book" / "package.json").read_text())
    package["scripts"]["build"] = BUILD
    (checkout / "book" / "package.json").write_text(json.dumps(package))
    write(checkout / "service" / "test_service.py", SERVICE_TEST)
    (checkout / ".gitignore").write_text("node_modules/\nbuild/\n")
    commit_all({"checkout": checkout}, "the textbook and the service")
    values = {
        "deploy_environment": "staging", "cicd_repo": "%s/%s" % (REPO_OWNER, repo), "cicd_repo_path": str(checkout),
        "cicd_github_api_url": github.api_url, "cicd_github_token": github.token, "cicd_commit": True,
        "cicd_workflows": ["ci", "deploy-frontend"], "cicd_pages_from_workflow": True,
        "cicd_frontend_dir": "book", "cicd_backend_dir": "service", "cicd_backend_test_requirements": ["pytest"],
        "cicd_backend_test_command": "python -m pytest -q -p no:cacheprovider",
        "cicd_ansible_requirements": ["yamllint"], "cicd_ansible_setup_command": "",
        "cicd_lint_command": "python -m yamllint -d relaxed .github",
        "cicd_repository_variables": {"SITE_URL": "https://textbook.example.org", "BASE_URL": "/%s/" % repo,
                                      "CHAT_API_URL": "https://api.example.org"},
    }
    inventory = base / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
        "vars": values}}))
    (base / "home").mkdir()
    proc = run_playbook(ROOT / "playbooks" / "setup_ci_cd.yml", inventory=inventory, env={"HOME": str(base / "home")})
    assert proc.returncode == 0, proc.stdout[-6000:]
    world = {"repo": repo, "full_name": "%s/%s" % (REPO_OWNER, repo), "checkout": checkout, "runs": base / "runs",
             "vars": values}
    push(github, world)
    return world


def run(github, world, workflow, *args, timeout=600):
    """The runner as a user starts it; (exit status, output, the run's result.json or None)."""
    path = workflow if os.path.isabs(str(workflow)) else world["checkout"] / ".github" / "workflows" / workflow
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sandbox", "actions", "run", str(path), "--github", github.base_url,
                           "--token", github.token, "--runs-dir", str(world["runs"]), *args],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=timeout)
    output = proc.stdout + proc.stderr
    print("%s %s: exit %d in %.1f s\n%s" % (workflow, " ".join(args), proc.returncode, time.monotonic() - started,
                                            output))
    marker = "run directory: "
    result = None
    if marker in proc.stdout:
        run_dir = proc.stdout.split(marker, 1)[1].splitlines()[0].strip()
        result_file = os.path.join(run_dir, "result.json")
        result = json.loads(open(result_file).read()) if os.path.exists(result_file) else None
    return proc.returncode, output, result


def conclusions(result, job):
    return [(step["name"], step["outcome"], step["conclusion"]) for step in result["jobs"][job]["steps"]]


def no_violations(github, world):
    return [v for v in github.violations() if world["repo"] in v["path"]]


# --- the generated workflows -----------------------------------------------------------------------------------

def test_ci_on_push_succeeds(github, world):
    status, output, result = run(github, world, "ci.yml", "--event", "push")
    assert status == 0, output
    assert result["conclusion"] == "success"
    assert {job: r["result"] for job, r in result["jobs"].items()} == {
        "textbook": "success", "chat-api": "success", "lint": "success"}
    assert [s[0] for s in conclusions(result, "textbook")] == [
        "Run actions/checkout@v5", "Run actions/setup-node@v5", "Run npm ci --no-audit --no-fund", "Run npm run build"]
    tests_log = open(result["jobs"]["chat-api"]["steps"][-1]["log"]).read()
    assert "1 passed" in tests_log
    install_log = open(result["jobs"]["chat-api"]["steps"][-2]["log"]).read()
    assert "Requirement already satisfied: pytest" in install_log  # from the runner's packages, nothing fetched
    assert "Summary of CI" in output and no_violations(github, world) == []


def test_deploy_frontend_on_push_serves_the_new_build(github, world):
    marker = "Chapter %s" % uuid.uuid4().hex[:8]
    write(world["checkout"] / "book" / "src" / "index.html", "<h1>%s</h1>" % marker)
    commit_all(world, "a new chapter")
    push(github, world)
    status, output, result = run(github, world, "deploy-frontend.yml", "--event", "push")
    assert status == 0, output
    assert [s[0] for s in conclusions(result, "build")][-1] == "Keep the site for the deploy job"
    assert conclusions(result, "deploy") == [("Run actions/deploy-pages@v4", "success", "success")]
    site = github.pages_url(REPO_OWNER, world["repo"])
    assert "environment github-pages: %s" % site in output  # the job's environment url, from the step's output
    with urllib.request.urlopen(site, timeout=10) as response:
        assert marker in response.read().decode()
    with urllib.request.urlopen(site + "site-url.txt", timeout=10) as response:
        assert response.read().decode() == world["vars"]["cicd_repository_variables"]["SITE_URL"]
    pages = api(github, "GET", "/repos/%s/pages" % world["full_name"])
    assert pages["build_type"] == "workflow" and pages["status"] == "built"
    assert no_violations(github, world) == []


def test_a_push_outside_the_paths_filter_does_not_run_the_deploy(github, world):
    write(world["checkout"] / "README.md", "# readme %s\n" % uuid.uuid4().hex)
    commit_all(world, "docs only")
    push(github, world)
    status, output, _ = run(github, world, "deploy-frontend.yml", "--event", "push")
    assert status == 3, output
    assert "deploy-frontend.yml does not run for this push: no changed file matches paths" in output


def test_a_pull_request_builds_but_does_not_deploy(github, world):
    git(world["checkout"], "checkout", "-q", "-b", "feature")
    write(world["checkout"] / "book" / "src" / "index.html", "<h1>Draft</h1>")
    commit_all(world, "a draft chapter")
    header = "Authorization: Basic " + base64.b64encode(("x:" + github.token).encode()).decode()
    git(world["checkout"], "-c", "http.extraheader=" + header, "push", "-q", "origin", "feature")
    git(world["checkout"], "checkout", "-q", "main")
    status, output, result = run(github, world, "deploy-frontend.yml", "--event", "pull_request", "--ref", "feature",
                                 "--number", "12", "--action", "synchronize")
    assert status == 0, output
    assert conclusions(result, "build")[-1] == ("Keep the site for the deploy job", "skipped", "skipped")
    assert result["jobs"]["deploy"]["result"] == "skipped"
    assert result["ref"] == "refs/pull/12/merge"


# --- a workflow of our own: failures, timeouts, the job's home, environment secrets -----------------------------

FAILING = """
name: Failing
on: push
env:
  LEVEL: workflow
jobs:
  first:
    runs-on: ubuntu-24.04
    steps:
      - id: ok
        run: |
          echo "answer=42" >> "$GITHUB_OUTPUT"
          install -d -m 0700 ~/.ssh && echo key > ~/.ssh/id_deploy && echo "$HOME" > "$RUNNER_TEMP/home"
          mkdir -p ~/bin && printf '#!/bin/sh\\necho tool ran\\n' > ~/bin/mytool && chmod +x ~/bin/mytool
          echo "$HOME/bin" >> "$GITHUB_PATH"
      - name: Allowed to fail
        continue-on-error: true
        run: exit 2
      - name: Breaks
        run: |
          echo "${{ steps.ok.outputs.answer }} $LEVEL"
          mytool
          false
          echo not reached
      - name: After the failure
        run: echo skipped
      - name: Clean up
        if: always()
        run: echo "cleaning after ${{ job.status }}"
      - name: Only on failure
        if: failure()
        run: echo "failure() is ${{ failure() }}"
  second:
    needs: first
    runs-on: ubuntu-24.04
    steps:
      - run: echo never
  report:
    needs: second
    if: always()
    runs-on: ubuntu-24.04
    steps:
      - run: echo "second was ${{ needs.second.result }}"
"""


def test_a_failing_step_fails_the_run_and_skips_what_follows(github, world, tmp_path):
    path = tmp_path / "failing.yml"
    path.write_text(FAILING)
    status, output, result = run(github, world, path, "--repo", world["full_name"])
    assert status == 1, output
    assert result["conclusion"] == "failure"
    assert conclusions(result, "first") == [
        ("Run echo \"answer=42\" >> \"$GITHUB_OUTPUT\"", "success", "success"),
        ("Allowed to fail", "failure", "success"), ("Breaks", "failure", "failure"),
        ("After the failure", "skipped", "skipped"), ("Clean up", "success", "success"),
        ("Only on failure", "success", "success")]
    assert {job: r["result"] for job, r in result["jobs"].items()} == {
        "first": "failure", "second": "skipped", "report": "success"}
    logs = [open(step["log"]).read() for step in result["jobs"]["first"]["steps"] if step["log"]]
    assert "42 workflow\ntool ran" in logs[2] and "not reached" not in logs[2].split("shell:")[1]
    assert "Error: Process completed with exit code 1." in logs[2]
    assert "cleaning after failure" in logs[3] and "failure() is true" in logs[4]
    assert "second was skipped" in open(result["jobs"]["report"]["steps"][0]["log"]).read()
    run_dir = os.path.dirname(os.path.dirname(os.path.dirname(result["jobs"]["first"]["steps"][0]["log"])))
    # the job's own HOME (short, as a runner's /home/runner: SSH control sockets fit), not the machine's, and gone
    # with what the workflow wrote there once the job ended
    home = open(os.path.join(run_dir, "jobs", "first", "temp", "home")).read().strip()
    assert home != os.path.expanduser("~") and len(home) < 40
    assert os.path.realpath(os.path.join(run_dir, "jobs", "first", "home")) == home and not os.path.exists(home)
    assert "| Error: Process completed with exit code 1." in output  # the failed step's tail is shown


TIMEOUT = """
on: push
jobs:
  slow:
    runs-on: ubuntu-24.04
    steps:
      - timeout-minutes: 0.02
        run: |
          sleep 300 &
          echo $! > "$RUNNER_TEMP/child"
          wait
      - if: always()
        run: 'kill -0 "$(cat "$RUNNER_TEMP/child")" && echo alive || echo gone'
"""


def test_a_step_past_its_timeout_is_killed_with_what_it_started(github, world, tmp_path):
    path = tmp_path / "timeout.yml"
    path.write_text(TIMEOUT)
    started = time.monotonic()
    status, output, result = run(github, world, path, "--repo", world["full_name"])
    assert status == 1 and time.monotonic() - started < 30, output
    steps = result["jobs"]["slow"]["steps"]
    assert "exceeded its timeout-minutes" in open(steps[0]["log"]).read()
    assert "gone" in open(steps[1]["log"]).read()


DISPATCH = """
on:
  workflow_dispatch:
    inputs:
      environment:
        type: choice
        options: [local, staging]
        default: staging
jobs:
  deploy:
    runs-on: ubuntu-24.04
    environment: ${{ inputs.environment }}
    env:
      DEPLOY_ENVIRONMENT: ${{ inputs.environment }}
    steps:
      - uses: actions/checkout@v5
      - env:
          SSH_PRIVATE_KEY: ${{ secrets.DEPLOY_SSH_KEY }}
          SHARED: ${{ secrets.SHARED }}
          KNOWN: ${{ vars.SSH_KNOWN_HOSTS }}
        run: |
          install -d -m 0700 ~/.ssh
          printf '%s\\n' "$SSH_PRIVATE_KEY" > ~/.ssh/id_deploy
          printf '%s' "$SHARED" > "$RUNNER_TEMP/shared"
          echo "env=$DEPLOY_ENVIRONMENT known=$KNOWN key=$SSH_PRIVATE_KEY"
          test -f book/package.json
      - shell: python
        working-directory: book
        run: |
          import hashlib, os
          digest = hashlib.sha256(hashlib.sha256(open("package.json", "rb").read()).digest()).hexdigest()
          print("hash", digest == "${{ hashFiles('book/package.json', '!**/nothing') }}", os.environ["CI"])
"""


def test_environment_secrets_and_variables_over_the_repository_ones(github, world, tmp_path):
    repo = "/repos/" + world["full_name"]
    level = repo + "/environments/local"
    api(github, "PUT", level, {})
    key = "ssh-key-%s" % uuid.uuid4().hex
    api(github, "PUT", level + "/secrets/DEPLOY_SSH_KEY", seal(github, level, key))
    api(github, "PUT", repo + "/actions/secrets/SHARED", seal(github, repo + "/actions", "from-the-repository"))
    api(github, "POST", level + "/variables", {"name": "SSH_KNOWN_HOSTS", "value": "app1 ssh-ed25519 AAAA"})
    path = tmp_path / "dispatch.yml"
    path.write_text(DISPATCH)
    status, output, result = run(github, world, path, "--repo", world["full_name"], "--event", "workflow_dispatch",
                                 "--input", "environment=local")
    assert status == 0, output
    assert "job deploy (deploy) in environment local" in output
    log = open(result["jobs"]["deploy"]["steps"][1]["log"]).read()
    assert "env=local known=app1 ssh-ed25519 AAAA key=***" in log and key not in log  # masked in the log
    run_dir = os.path.dirname(os.path.dirname(os.path.dirname(result["jobs"]["deploy"]["steps"][0]["log"])))
    job_dir = os.path.join(run_dir, "jobs", "deploy")
    assert not os.path.exists(os.path.join(job_dir, "home", ".ssh", "id_deploy"))  # the key left with the job
    assert open(os.path.join(job_dir, "temp", "shared")).read() == "from-the-repository"
    assert "hash True true" in open(result["jobs"]["deploy"]["steps"][2]["log"]).read()


# --- bad input ---------------------------------------------------------------------------------------------------

BAD = {
    "unparsable.yml": "on: push\njobs:\n  a:\n    steps: [\n      - run: x\n",
    "unknown-action.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - name: Cache it\n"
                          "        uses: actions/cache@v4\n",
    "missing-secret.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    environment: nowhere\n    steps:\n"
                          "      - run: echo \"${{ secrets.NOT_SET_ANYWHERE }}\"\n",
    "missing-variable.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
                            "      - run: echo \"${{ vars.NOPE }}\"\n",
    "matrix.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix: {v: [1, 2]}\n"
                  "    steps:\n      - run: echo\n",
}


@pytest.mark.parametrize("workflow, args, message", [
    ("unparsable.yml", [], "unparsable.yml:5:7: the workflow is not valid YAML: expected the node content"),
    ("unknown-action.yml", [], "step Cache it of job a uses actions/cache@v4, which the runner does not implement"),
    ("missing-secret.yml", [], "job a: secret NOT_SET_ANYWHERE is referenced but not set: searched environment "
                               "'nowhere' (which does not exist on the stand-in) and repository textbook/"),
    ("missing-variable.yml", [], "job a: variable NOPE is referenced but not set: searched repository textbook/"),
    ("matrix.yml", [], "job a uses strategy, which the runner does not model"),
    ("ci.yml", ["--event", "schedule"], "unknown event 'schedule'"),
    ("ci.yml", ["--event", "workflow_dispatch"], "ci.yml does not run on workflow_dispatch: it listens to "
                                                 "pull_request, push"),
    ("ci.yml", ["--event", "pull_request", "--number", "0"], "argument --number: must be a positive integer"),
    ("ci.yml", ["--event", "pull_request", "--number", "x1"], "argument --number: must be a positive integer"),
    ("ci.yml", ["--ref", "no-such-branch"], "has no branch or tag 'no-such-branch' on the stand-in"),
    ("ci.yml", ["--input", "a=b"], "--input goes with --event workflow_dispatch"),
    ("dispatch.yml", ["--event", "workflow_dispatch", "--input", "colour=red"],
     "unknown --input colour: the workflow declares environment"),
    ("dispatch.yml", ["--event", "workflow_dispatch", "--input", "environment=production"],
     "input environment must be one of local, staging, not 'production'"),
])
def test_bad_input_is_named_and_nothing_runs(github, world, tmp_path, workflow, args, message):
    if workflow in BAD or workflow == "dispatch.yml":
        path = tmp_path / workflow
        path.write_text(BAD.get(workflow, DISPATCH))
    else:
        path = world["checkout"] / ".github" / "workflows" / workflow
    status, output, _ = run(github, world, path, "--repo", world["full_name"], *args)
    assert status == 2, output
    assert message in output, output
    assert "run directory:" not in output  # no job started
