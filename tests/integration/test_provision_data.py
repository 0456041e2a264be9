"""playbooks/provision_data.yml (role data) end to end against the Neon and Qdrant stand-ins: first run, idempotent
re-run with only GET requests, check mode, the schema applied for real, an edited migration refused, a reindex
through an alias switch, and no secret in the output at -vvv.
"""
import json
import re
import shutil
import sys
import uuid

import psycopg
import pytest

from conftest import ROOT, run_playbook

PLAYBOOK = ROOT / "playbooks" / "provision_data.yml"
INVENTORY = ROOT / "inventories" / "local"
MIGRATIONS = ROOT / "examples" / "chat_api" / "migrations"


def recap(output):
    match = re.search(r"localhost\s+:\s+(.*)", output.split("PLAY RECAP")[-1])
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.fixture
def environment(neon, neon_project, qdrant, tmp_path):
    """Variables of a fresh environment (its own branch and Qdrant prefix) and a copy of the migrations."""
    name = "env-%s" % uuid.uuid4().hex[:6]
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    values = {
        "deploy_environment": name,
        "data_neon_api_url": neon.api_url,
        "data_neon_api_key": neon.api_key,
        "data_neon_project": neon_project["name"],
        "data_qdrant_url": qdrant.url,
        "data_qdrant_api_key": qdrant.api_key,
        "data_migrations_dir": str(migrations),
        "data_qdrant_collections": [
            {"name": "passages", "version": 1, "vectors": {"size": 8, "distance": "Cosine"},
             "payload_indexes": [{"field": "doc_id", "schema": "keyword"}]},
            {"name": "glossary", "version": 1, "vectors": {"size": 4, "distance": "Dot"}},
        ],
    }
    values["prefix"] = re.sub(r"[^A-Za-z0-9]+", "_", name) + "_"
    values["migrations"] = migrations
    return values


def provision(environment, **kwargs):
    extra = {key: value for key, value in environment.items() if key not in ("prefix", "migrations")}
    extra.update(kwargs.pop("extra", {}))
    return run_playbook(PLAYBOOK, inventory=INVENTORY, extra_vars=extra, **kwargs)


def database_uri(neon, environment):
    from conftest import run_module

    info = run_module("neon_connection_info", dict(
        api_url=neon.api_url, token=neon.api_key, project=environment["data_neon_project"],
        branch=environment["deploy_environment"], database="chat", role="chat_app"))
    assert not info.get("failed"), info.get("msg")
    return info["uri"], info["password"]


def writes(service):
    return [(r["method"], r["path"]) for r in service.requests() if r["method"] != "GET"]


HANDOVER = """
- name: Provision
  ansible.builtin.import_playbook: {playbook}
- name: What the backend receives
  hosts: data
  gather_facts: false
  tasks:
    - name: Write the facts the data role set
      ansible.builtin.copy:
        content: "{{{{ {{'url': data_database_url, 'aliases': data_qdrant_aliases}} | to_json }}}}"
        dest: "{dest}"
        mode: "0600"
      no_log: true
"""


def test_first_run_provisions_everything_and_the_rerun_only_reads(neon, qdrant, environment, tmp_path):
    # the stand-ins are shared by the session, and other tests provoke violations on purpose: count only ours
    earlier_violations = len(neon.violations()), len(qdrant.violations())
    handover = tmp_path / "handover.yml"
    handover.write_text(HANDOVER.format(playbook=PLAYBOOK, dest=tmp_path / "facts.json"))
    first = run_playbook(handover, inventory=INVENTORY, extra_vars={
        key: value for key, value in environment.items() if key not in ("prefix", "migrations")})
    assert first.returncode == 0, first.stdout[-4000:]
    assert recap(first.stdout)["changed"] > 0
    uri, dummy = database_uri(neon, environment)
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["url"] == uri
    assert facts["aliases"] == {"passages": environment["prefix"] + "passages",
                                "glossary": environment["prefix"] + "glossary"}
    with psycopg.connect(uri) as conn:
        applied = [row[0] for row in conn.execute("select version from schema_migrations order by version")]
        assert applied == ["0001_questions", "0002_question_search", "0003_feedback"]
        conn.execute("insert into questions (question) values ('What is a branch?')")
        assert conn.execute("select count(*) from questions where question % 'what is a brnch'").fetchone()[0] == 1
        extensions = [row[0] for row in conn.execute("select extname from pg_extension")]
        assert "pg_trgm" in extensions and "vector" not in extensions  # optional, and not offered here
    prefix = environment["prefix"]
    assert qdrant.aliases.get(prefix + "passages") == prefix + "passages_v1"
    assert qdrant.aliases.get(prefix + "glossary") == prefix + "glossary_v1"

    neon.reset_log()
    qdrant.reset_log()
    second = provision(environment)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout)["changed"] == 0, second.stdout[-4000:]
    assert writes(neon) == [] and writes(qdrant) == []
    assert neon.violations()[earlier_violations[0]:] == [] and qdrant.violations()[earlier_violations[1]:] == []


def test_check_mode_on_a_new_environment_changes_nothing(neon, qdrant, environment):
    neon.reset_log()
    qdrant.reset_log()
    result = provision(environment, check=True, diff=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result.stdout)["changed"] > 0
    assert writes(neon) == [] and writes(qdrant) == []


def test_a_new_migration_is_applied_and_an_edited_one_refused(neon, environment):
    assert provision(environment).returncode == 0
    (environment["migrations"] / "0004_answer_sources.sql").write_text(
        "ALTER TABLE questions ADD COLUMN model text NOT NULL DEFAULT 'extractive';\n")
    added = provision(environment)
    assert added.returncode == 0, added.stdout[-4000:]
    uri, dummy = database_uri(neon, environment)
    with psycopg.connect(uri) as conn:
        assert conn.execute("select count(*) from schema_migrations").fetchone()[0] == 4
    (environment["migrations"] / "0001_questions.sql").write_text("-- edited\n")
    edited = provision(environment)
    assert edited.returncode != 0
    assert "0001_questions was changed after it was applied" in edited.stdout


def test_a_failing_migration_leaves_no_trace(neon, environment):
    assert provision(environment).returncode == 0
    (environment["migrations"] / "0004_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
    broken = provision(environment)
    assert broken.returncode != 0
    uri, dummy = database_uri(neon, environment)
    with psycopg.connect(uri) as conn:
        assert conn.execute("select to_regclass('half_done')").fetchone()[0] is None
        assert conn.execute("select count(*) from schema_migrations").fetchone()[0] == 3


def test_reindex_switches_the_alias_to_the_new_version(qdrant, environment):
    assert provision(environment).returncode == 0
    collections = environment["data_qdrant_collections"]
    collections[0] = dict(collections[0], version=2, vectors={"size": 16, "distance": "Cosine"})
    qdrant.reset_log()
    result = provision(environment, extra={"data_qdrant_collections": collections, "data_qdrant_drop_previous": True})
    assert result.returncode == 0, result.stdout[-4000:]
    prefix = environment["prefix"]
    assert qdrant.aliases.get(prefix + "passages") == prefix + "passages_v2"
    alias_posts = [path for method, path in writes(qdrant) if path == "/collections/aliases"]
    assert len(alias_posts) == 1  # one atomic switch
    assert prefix + "passages_v1" not in qdrant.collections


def test_no_secret_in_the_output_at_vvv(neon, environment):
    result = provision(environment, verbosity=3)
    assert result.returncode == 0, result.stdout[-4000:]
    uri, password = database_uri(neon, environment)
    for secret in (password, uri, environment["data_neon_api_key"], environment["data_qdrant_api_key"]):
        assert secret not in result.stdout


def test_placeholder_keys_are_refused_before_any_request(neon, qdrant, environment):
    neon.reset_log()
    result = provision(environment, extra={"data_neon_api_key": "REPLACE_ME"})
    assert result.returncode != 0 and "placeholder" in result.stdout
    assert neon.requests() == []


CONNECTION_INFO = """
- name: A task that forgets no_log
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the connection settings
      textbook.deploy.neon_connection_info:
        api_url: "{api_url}"
        token: "{token}"
        project: "{project}"
        database: neondb
        role: neondb_owner
      register: info

    - name: Use them
      ansible.builtin.assert:
        that: info.uri is match('postgresql://')
"""


def test_connection_info_is_censored_even_without_no_log(neon, neon_project, tmp_path):
    playbook = tmp_path / "leak.yml"
    playbook.write_text(CONNECTION_INFO.format(api_url=neon.api_url, token=neon.api_key, project=neon_project["name"]))
    result = run_playbook(playbook, inventory="localhost,", verbosity=3,
                          extra_vars={"ansible_connection": "local", "ansible_python_interpreter": sys.executable})
    assert result.returncode == 0, result.stdout[-3000:]
    uri = neon_project["_connection_uri"]
    password = uri.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password not in result.stdout and "censored" in result.stdout


def test_production_lives_on_the_default_branch(neon, qdrant, environment):
    environment["deploy_environment"] = "production"
    result = provision(environment, extra={"data_qdrant_prefix": environment["prefix"]})
    assert result.returncode == 0, result.stdout[-4000:]
    branches = [b["name"] for b in neon_branches(neon, environment["data_neon_project"])]
    assert branches == ["main"]  # no branch of its own
    from conftest import run_module

    info = run_module("neon_connection_info", dict(api_url=neon.api_url, token=neon.api_key,
                                                   project=environment["data_neon_project"], database="chat",
                                                   role="chat_app"))
    with psycopg.connect(info["uri"]) as conn:
        assert conn.execute("select count(*) from schema_migrations").fetchone()[0] == 3


def neon_branches(neon, project_name):
    import requests

    headers = {"Authorization": "Bearer %s" % neon.api_key}
    projects = requests.get("%s/projects" % neon.api_url, params={"search": project_name}, headers=headers,
                            timeout=10).json()["projects"]
    project_id = next(p["id"] for p in projects if p["name"] == project_name)
    return requests.get("%s/projects/%s/branches" % (neon.api_url, project_id), headers=headers,
                        timeout=10).json()["branches"]
