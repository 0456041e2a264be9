"""The monitoring role's Prometheus rules and Alertmanager config, checked with the real tools.

The templates are rendered by ansible-playbook with the template module (as the role installs them) from the role's
defaults, then checked with promtool 2.42 and amtool 0.25 (Debian's, unpacked by `make deps` into
.cache/prometheus-tools/bin): `promtool check rules`, `promtool test rules` on tests/promtool/*.yml (every alert fires
when it should, with its labels and annotations, and stays silent when it should not), `amtool check-config` and
`amtool config routes test`. The negative tests show that the checks the role runs before installing a file reject
a broken expression and a route to a missing receiver.
"""
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, run_playbook

TOOLS = ROOT / ".cache" / "prometheus-tools" / "bin"
PROMTOOL = TOOLS / "promtool"
AMTOOL = TOOLS / "amtool"
ROLE = ROOT / "roles" / "monitoring"
PROMTOOL_TESTS = sorted((ROOT / "tests" / "promtool").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"

PLAYBOOK = """\
- name: Render the monitoring role's templates with its defaults
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {defaults}
  tasks:
    - name: Render the alert rules
      ansible.builtin.template:
        src: {templates}/alert-rules.yml.j2
        dest: "{{{{ out }}}}/alert-rules.yml"
        mode: "0644"
    - name: Render the Alertmanager config
      ansible.builtin.template:
        src: {templates}/alertmanager.yml.j2
        dest: "{{{{ out }}}}/alertmanager.yml"
        mode: "0644"
"""


def tool(path, *args):
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run make deps")
    return subprocess.run([str(path), *map(str, args)], capture_output=True, text=True, timeout=300)


def render(out, **overrides):
    """Render both templates into `out` (extra vars override the defaults); returns (rules path, alertmanager path)."""
    out.mkdir(parents=True, exist_ok=True)
    playbook = out / "render.yml"
    playbook.write_text(PLAYBOOK.format(defaults=ROLE / "defaults" / "main.yml", templates=ROLE / "templates"))
    proc = run_playbook(playbook, inventory="localhost,", extra_vars=dict(
        overrides, out=str(out), ansible_python_interpreter=sys.executable), timeout=300)
    assert proc.returncode == 0, proc.stdout
    return out / "alert-rules.yml", out / "alertmanager.yml"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("monitoring"))


def alerts(rules_path):
    groups = yaml.safe_load(rules_path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def run_promtool_tests(rules_path, test_file):
    """`promtool test rules` on a copy of test_file beside the rendered rules (its rule_files: alert-rules.yml)."""
    copy = rules_path.parent / test_file.name
    shutil.copyfile(test_file, copy)
    return tool(PROMTOOL, "test", "rules", copy)


def test_tools_are_the_expected_versions():
    assert "version 2.42." in tool(PROMTOOL, "--version").stdout
    proc = tool(AMTOOL, "--version")
    assert "version 0.25." in proc.stdout + proc.stderr


def test_rules_pass_promtool_check(rendered):
    rules, _ = rendered
    proc = tool(PROMTOOL, "check", "rules", rules)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 17 rules found" in proc.stdout


def test_every_alert_has_severity_annotations_and_a_runbook_section(rendered):
    rules, _ = rendered
    headings = {re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
                for line in RUNBOOKS.read_text().splitlines() if line.startswith("## ")}
    names = set()
    for rule in alerts(rules):
        names.add(rule["alert"])
        assert rule["labels"]["severity"] in ("page", "ticket"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
        url, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert url == "https://example.invalid/textbook/deploy/blob/main/docs/runbooks.md", rule
        assert anchor in headings, f"{rule['alert']}: no section #{anchor} in docs/runbooks.md"
    assert names == {"SiteDown", "ApiDown", "TargetDown", "CertificateExpiringSoon", "ApiHighErrorRatio",
                     "ApiHighLatencyP95", "ApiErrorBudgetBurn", "DeploymentFailureRateHigh", "DeploymentTooLong"}


def test_every_alert_is_unit_tested_firing_and_silent(rendered):
    rules, _ = rendered
    fires, silent = {}, set()
    for test_file in PROMTOOL_TESTS:
        for group in yaml.safe_load(test_file.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fires.setdefault(case["alertname"], set()).update(
                        alert["exp_labels"]["severity"] for alert in case["exp_alerts"])
                else:
                    silent.add(case["alertname"])
    for rule in alerts(rules):
        assert rule["labels"]["severity"] in fires.get(rule["alert"], ()), f"{rule['alert']} never fires in a test"
        assert rule["alert"] in silent, f"no test shows {rule['alert']} silent"


@pytest.mark.parametrize("test_file", PROMTOOL_TESTS, ids=lambda path: path.stem)
def test_promtool_unit_tests(rendered, test_file):
    rules, _ = rendered
    proc = run_promtool_tests(rules, test_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_unit_tests_follow_the_thresholds(tmp_path):
    """With a 7% threshold the 6% error ratio of tests/promtool/api.yml no longer pages: the test run fails."""
    rules, _ = render(tmp_path, monitoring_api_error_ratio=0.07)
    assert "> 0.07" in rules.read_text()
    assert tool(PROMTOOL, "check", "rules", rules).returncode == 0
    proc = run_promtool_tests(rules, ROOT / "tests" / "promtool" / "api.yml")
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr
    assert "alertname: ApiHighErrorRatio" in proc.stdout + proc.stderr


def test_promtool_rejects_a_bad_expression(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [{
        "alert": "Broken", "expr": 'sum(rate(chat_http_requests_total{status=~"5.."}[5m]) by', "labels": {"severity": "page"}}]}]}))
    proc = tool(PROMTOOL, "check", "rules", bad)
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr
    assert "parse error" in proc.stdout + proc.stderr


def test_promtool_rejects_a_bad_threshold_variable(tmp_path):
    rules, _ = render(tmp_path, monitoring_api_p95_seconds="0.5 ms")
    proc = tool(PROMTOOL, "check", "rules", rules)
    assert proc.returncode != 0
    assert "parse error" in proc.stdout + proc.stderr


def test_alertmanager_config_passes_amtool(rendered):
    _, config = rendered
    proc = tool(AMTOOL, "check-config", config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
    assert " - 3 receivers" in proc.stdout
    loaded = yaml.safe_load(config.read_text())
    assert loaded["route"]["group_by"] == ["alertname", "environment"]
    assert {r["name"]: r["webhook_configs"][0]["url"] for r in loaded["receivers"]} == {
        "page": "http://127.0.0.1:9095/alerts/page", "ticket": "http://127.0.0.1:9095/alerts/ticket",
        "default": "http://127.0.0.1:9095/alerts/default"}


@pytest.mark.parametrize("labels,receiver", [
    (["alertname=SiteDown", "severity=page", "environment=production"], "page"),
    (["alertname=TargetDown", "severity=ticket", "environment=staging"], "ticket"),
    (["alertname=Watchdog"], "default"),
    (["alertname=Other", "severity=info"], "default"),
])
def test_alerts_are_routed_by_severity(rendered, labels, receiver):
    _, config = rendered
    proc = tool(AMTOOL, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}",
                *labels)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == receiver


def test_receivers_can_be_given_in_full(tmp_path):
    receivers = {
        "page": {"pagerduty_configs": [{"routing_key": "0123456789abcdef0123456789abcdef"}]},
        "ticket": {"slack_configs": [{"api_url": "https://hooks.slack.example/services/T0/B0/x", "channel": "#ops"}]},
    }
    _, config = render(tmp_path, monitoring_alert_receivers=receivers)
    proc = tool(AMTOOL, "check-config", config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded = {r["name"]: r for r in yaml.safe_load(config.read_text())["receivers"]}
    assert loaded["page"] == dict(receivers["page"], name="page")
    assert loaded["ticket"] == dict(receivers["ticket"], name="ticket")
    assert loaded["default"]["webhook_configs"] == [{"url": "http://127.0.0.1:9095/alerts/default",
                                                     "send_resolved": True}]


def test_amtool_rejects_a_route_to_a_missing_receiver(rendered, tmp_path):
    _, config = rendered
    loaded = yaml.safe_load(config.read_text())
    loaded["route"]["routes"][0]["receiver"] = "pagerduty"
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(yaml.safe_dump(loaded))
    proc = tool(AMTOOL, "check-config", broken)
    assert proc.returncode != 0
    assert 'undefined receiver "pagerduty" used in route' in proc.stdout + proc.stderr


def test_amtool_rejects_a_receiver_without_a_url(tmp_path):
    _, config = render(tmp_path, monitoring_alert_receivers={"ticket": {"webhook_configs": [{"send_resolved": True}]}})
    proc = tool(AMTOOL, "check-config", config)
    assert proc.returncode != 0
    assert "FAILED: missing URL in webhook config" in proc.stdout + proc.stderr
