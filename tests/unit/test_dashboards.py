"""The monitoring role's Grafana dashboards (roles/monitoring/files/dashboards/*.json): each parses, has a uid and a
title (unique), and every PromQL expression in it is accepted by the real promtool 2.42 (`make deps` unpacks it into
.cache/prometheus-tools/bin): the expressions, with Grafana's variables replaced by values, become recording rules of
one rule file checked with `promtool check rules`."""
import json
import re
import subprocess

import pytest
import yaml

from conftest import ROOT

PROMTOOL = ROOT / ".cache" / "prometheus-tools" / "bin" / "promtool"
DASHBOARDS = sorted((ROOT / "roles" / "monitoring" / "files" / "dashboards").glob("*.json"))
# Grafana's template variables, as a dashboard would have them filled in
VARIABLES = {"$environment": ".*", "$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}


def expressions(node):
    """Every `expr` of the dashboard's panels (nested rows included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def check_rules(tmp_path, exprs):
    rules = [{"record": "dashboard:expr%d" % number, "expr": expr} for number, expr in enumerate(exprs)]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    if not PROMTOOL.is_file():
        pytest.fail("%s is missing: run make deps" % PROMTOOL.relative_to(ROOT))
    return subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


def fill(expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def test_there_are_the_two_dashboards():
    assert [path.name for path in DASHBOARDS] == ["deployments.json", "platform-overview.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_dashboard_parses_and_has_a_uid_and_title(path):
    dashboard = json.loads(path.read_text())
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert dashboard["panels"] and all(panel.get("title") for panel in dashboard["panels"])


def test_uids_and_titles_are_unique():
    loaded = [json.loads(path.read_text()) for path in DASHBOARDS]
    assert len({d["uid"] for d in loaded}) == len({d["title"] for d in loaded}) == len(loaded)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_every_expression_passes_promtool(path, tmp_path):
    exprs = [fill(expr) for expr in expressions(json.loads(path.read_text()))]
    assert exprs
    assert not [expr for expr in exprs if "$" in expr], "a Grafana variable this test does not know"
    proc = check_rules(tmp_path, exprs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: %d rules found" % len(exprs) in proc.stdout


def test_the_dashboards_cover_the_platform_and_the_deploys():
    text = {path.stem: path.read_text() for path in DASHBOARDS}
    for metric in ("chat_http_requests_total", "chat_http_request_duration_seconds_bucket", "ratio_rate1h", "up",
                   "probe_success"):
        assert metric in text["platform-overview"], metric
    for metric in ("textbook_deploy_runs_total", "textbook_deploy_last_duration_seconds", 'result=\\"failed\\"'):
        assert metric in text["deployments"], metric


def test_promtool_rejects_a_broken_expression(tmp_path):
    proc = check_rules(tmp_path, ["sum(rate(chat_http_requests_total[5m])) by"])
    assert proc.returncode != 0
    assert "parse error" in proc.stdout + proc.stderr
