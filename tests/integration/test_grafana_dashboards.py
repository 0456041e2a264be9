"""The monitoring role's Grafana provisioning (roles/monitoring/tasks/grafana.yml) against the Grafana stand-in.

A tiny playbook on localhost includes the role's grafana.yml, as tasks/main.yml does when monitoring_grafana_url is
set; community.grafana's grafana_folder and grafana_dashboard talk to the stand-in (sandbox/grafana), which checks
every request and response against Grafana's OpenAPI description.
"""
import json
import re

from conftest import ROOT, run_playbook

DASHBOARDS = {json.loads(path.read_text())["uid"]: json.loads(path.read_text())
              for path in sorted((ROOT / "roles" / "monitoring" / "files" / "dashboards").glob("*.json"))}
FOLDER = "textbook"


def playbook(tmp_path, grafana, token=None):
    play = {"name": "Grafana dashboards", "hosts": "localhost", "connection": "local", "gather_facts": False,
            "tasks": [{"name": "Provision Grafana", "ansible.builtin.include_role": {
                "name": "textbook.deploy.monitoring", "tasks_from": "grafana.yml"}}],
            "vars": {"monitoring_grafana_url": grafana.url, "monitoring_grafana_token": token or grafana.token,
                     "monitoring_grafana_folder": FOLDER}}
    path = tmp_path / "grafana.yml"
    path.write_text(json.dumps([play], indent=1))  # JSON is YAML
    return path


def recap(output):
    """{"ok": n, "changed": n, "failed": n, ...} of localhost in the play recap."""
    line = re.search(r"^localhost\s+:\s+(.*)$", output, re.M)
    assert line, output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def test_folder_and_dashboards_are_provisioned_once(tmp_path, grafana):
    book = playbook(tmp_path, grafana)
    first = run_playbook(book)
    assert first.returncode == 0, first.stdout
    assert recap(first.stdout)["changed"] == 2, first.stdout  # the folder task and the dashboards' loop
    assert first.stdout.count("changed: [localhost] => (item=") == len(DASHBOARDS), first.stdout
    folders = grafana.folders()
    assert [f["title"] for f in folders] == [FOLDER]
    stored = {d["uid"]: d for d in grafana.dashboards()}
    assert set(stored) == set(DASHBOARDS)
    for uid, source in DASHBOARDS.items():
        assert stored[uid]["title"] == source["title"]
        assert stored[uid]["folderUid"] == folders[0]["uid"]
        assert stored[uid]["version"] == 1
        model = grafana.dashboard(uid)
        assert {k: v for k, v in model.items() if k not in ("id", "version")} == \
            {k: v for k, v in source.items() if k not in ("id", "version")}
    grafana.reset_log()
    second = run_playbook(book)
    assert second.returncode == 0, second.stdout
    assert recap(second.stdout)["changed"] == 0, second.stdout
    assert [d["version"] for d in grafana.dashboards()] == [1] * len(DASHBOARDS)
    assert not [r for r in grafana.requests() if r["method"] == "POST"]  # a re-run only reads
    assert grafana.violations() == []


def test_check_mode_changes_nothing(tmp_path, grafana):
    proc = run_playbook(playbook(tmp_path, grafana), check=True)
    assert proc.returncode == 0, proc.stdout
    assert recap(proc.stdout)["changed"] == 1, proc.stdout  # what a run would create, reported
    assert "a run creates it and the dashboards" in proc.stdout
    assert grafana.folders() == [] and grafana.dashboards() == []
    assert not [r for r in grafana.requests() if r["method"] != "GET"]
    assert grafana.violations() == []


def test_check_mode_on_a_provisioned_grafana_reports_no_change(tmp_path, grafana):
    book = playbook(tmp_path, grafana)
    assert run_playbook(book).returncode == 0
    grafana.reset_log()
    proc = run_playbook(book, check=True)
    assert proc.returncode == 0, proc.stdout
    assert recap(proc.stdout)["changed"] == 0, proc.stdout
    assert not [r for r in grafana.requests() if r["method"] != "GET"]
    assert grafana.violations() == []


def test_wrong_token_fails_the_play_and_says_so(tmp_path, grafana):
    proc = run_playbook(playbook(tmp_path, grafana, token="glsa_wrongTokenForTheTest_0123456789"))
    assert proc.returncode != 0, proc.stdout
    assert recap(proc.stdout)["failed"] == 1, proc.stdout
    assert "monitoring_grafana_token" in proc.stdout and "401" in proc.stdout, proc.stdout
    assert "glsa_wrongTokenForTheTest" not in proc.stdout
    assert grafana.folders() == [] and grafana.dashboards() == []
    assert grafana.violations() == []


def test_token_never_shown_at_vvv(tmp_path, grafana):
    proc = run_playbook(playbook(tmp_path, grafana), verbosity=3)
    assert proc.returncode == 0, proc.stdout
    assert grafana.token not in proc.stdout
    assert grafana.token[5:21] not in proc.stdout
    assert len(grafana.dashboards()) == len(DASHBOARDS)
    assert grafana.violations() == []


def test_grafana_refusing_a_dashboard_fails_without_showing_the_token(tmp_path, grafana):
    grafana.inject_fault("http_500", method="POST", path=r"^/dashboards/db$")
    proc = run_playbook(playbook(tmp_path, grafana), verbosity=3)
    assert proc.returncode != 0, proc.stdout
    assert "Unable to create the new dashboard" in proc.stdout and "500" in proc.stdout, proc.stdout
    assert grafana.token not in proc.stdout
    assert grafana.token[5:21] not in proc.stdout
    assert grafana.violations() == []
