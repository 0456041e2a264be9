"""playbooks/monitoring.yml against four sandbox hosts: the hosts hardened (harden.yml: the environment's CA, the
firewall), the backend deployed with HTTPS (deploy_backend.yml, backend_tls) to a load balancer and two app hosts,
then Prometheus, Alertmanager, the blackbox exporter and node exporters from the monitoring role, checked through
their own APIs from the controller; the probes go through HTTPS and check the load balancer's certificate.

The controller serves, on the hosts' bridge, a stand-in for the live Pages site (build-info.json with version 2.0.0)
and a webhook receiver that records what Alertmanager posts. The deploy_metrics callback's textfile reaches
Prometheus through the role's copy into the monitoring host's node exporter textfile directory. The tests run in
order and share the hosts.
"""
import http.server
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, run_playbook
from sandbox.backend_world import BackendWorld

PREFIX, SUBNET = "tbm", "10.82.0"
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
HARDEN = ROOT / "playbooks" / "harden.yml"
MONITORING = ROOT / "playbooks" / "monitoring.yml"
SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_watch_seconds": 2,
            "backend_drain_seconds": 1, "backend_lock_timeout": 2, "backend_canary_window": 2,
            "backend_canary_thresholds": {"slo_latency_ms": 5000}}
TOKEN = "whsec_monitoringTestToken_0123456789abcdef"  # in the webhook URLs: must never be shown
SITE_VERSION = "2.0.0"
CONFIGS = "/etc/prometheus/prometheus.yml /etc/prometheus/rules/textbook.yml /etc/prometheus/alertmanager.yml " \
          "/etc/prometheus/blackbox.yml"


class Recorder(http.server.ThreadingHTTPServer):
    """The site stand-in (GET /site/build-info.json) and the webhook receiver (POST /hooks/<token>/<receiver>)."""
    daemon_threads = True

    def __init__(self, address):
        self.posts = []
        super().__init__((address, 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/site/build-info.json":
            body = json.dumps({"version": SITE_VERSION, "commit": "0" * 40, "content_hash": "x"}, indent=2).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("monitoring")
    with BackendWorld(work, PREFIX, SUBNET, SETTINGS, monitoring=True, environment="sandbox") as world:
        server = Recorder(world.hosts.gateway)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = "http://%s:%d" % (world.hosts.gateway, server.server_address[1])
        world.recorder = server
        world.textfile = work / "textfile"
        world.vars = {
            "deploy_environment": "sandbox", "backend_tls": True,
            "security_ca_dir": str(work / "ca"),
            "monitoring_scrape_interval": "1s", "monitoring_scrape_timeout": "1s",
            "monitoring_evaluation_interval": "1s", "monitoring_probe_for": "2s",
            "monitoring_alert_group_wait": "1s", "monitoring_alert_group_interval": "1s",
            "monitoring_site_url": base + "/site/", "monitoring_site_version": SITE_VERSION,
            "monitoring_alert_webhooks": {name: "%s/hooks/%s/%s" % (base, TOKEN, name)
                                          for name in ("page", "ticket", "default")},
            "monitoring_deploy_metrics_dir": str(world.textfile),
        }
        world.ca = work / "ca" / "ca.crt"
        world.prometheus = "http://%s:9090" % world.monitor["address"]
        world.alertmanager = "http://%s:9093" % world.monitor["address"]
        try:
            yield world
        finally:
            server.shutdown()


def monitoring(world, verbosity=0, **overrides):
    return run_playbook(MONITORING, inventory=world.inventory, extra_vars=dict(world.vars, **overrides),
                        verbosity=verbosity)


def recap(proc):
    totals = {}
    for name, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        totals[name] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return totals


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def query(world, expr):
    answer = get(world.prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return answer["data"]["result"]


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail("%s: not within %ss (last: %r)" % (what, timeout, last))


def probe(world, job):
    """probe_success of a probe job, once it has a sample: {instance: value}."""
    return {sample["metric"]["instance"]: sample["value"][1]
            for sample in query(world, 'probe_success{job="%s"}' % job)}


def blackbox_debug(world, target, module):
    """What the blackbox exporter says about a probe (its debug output), for a failure's message."""
    url = "http://127.0.0.1:9115/probe?" + urllib.parse.urlencode({"target": target, "module": module, "debug": "true"})
    return world.ssh(world.monitor, "python3 -c 'import sys, urllib.request; "
                     "print(urllib.request.urlopen(sys.argv[1]).read().decode())' '%s'" % url, check=False).stdout


def configs(world):
    return world.ssh(world.monitor, "sha256sum %s" % CONFIGS).stdout


def record_a_deploy(world, tmp_path):
    """A tiny playbook run with the deploy_metrics callback writing its textfile on the controller."""
    playbook = tmp_path / "tiny_deploy.yml"
    playbook.write_text("- name: A tiny deploy\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
                        "  tasks:\n    - name: Say it\n      ansible.builtin.debug:\n        msg: deployed\n")
    proc = run_playbook(playbook, inventory="localhost,", extra_vars={"deploy_environment": "sandbox",
                                                                      "deploy_version": "3.1.4"},
                        env={"ANSIBLE_CALLBACKS_ENABLED": "textbook.deploy.deploy_metrics",
                             "TEXTBOOK_DEPLOY_METRICS_TEXTFILE_DIR": str(world.textfile)})
    assert proc.returncode == 0, proc.stdout
    assert (world.textfile / "textbook_deploy.prom").is_file()


def test_monitoring_comes_up_with_every_target_up(world, tmp_path):
    for playbook in (HARDEN, DEPLOY):
        proc = run_playbook(playbook, inventory=world.inventory, extra_vars=world.vars)
        assert proc.returncode == 0, proc.stdout[-6000:]
    record_a_deploy(world, tmp_path)
    proc = monitoring(world, verbosity=3)
    assert proc.returncode == 0, proc.stdout[-8000:]
    # the webhook URLs (with their token) are secrets: never shown, even at -vvv
    assert TOKEN not in proc.stdout
    for host in [world.lb, *world.apps, world.monitor]:
        assert world.ssh(host, "systemctl is-enabled prometheus-node-exporter").stdout.strip() == "enabled"
    for unit in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        assert world.ssh(world.monitor, "systemctl is-enabled %s" % unit).stdout.strip() == "enabled"

    def all_up():
        targets = get(world.prometheus + "/api/v1/targets")["data"]["activeTargets"]
        jobs = {}
        for target in targets:
            jobs.setdefault(target["labels"]["job"], []).append(target["health"])
        expected = {"prometheus": 1, "alertmanager": 1, "blackbox": 1, "node": 4, "chat-api": 2, "api-probe": 1,
                    "lb-probe": 1, "site-probe": 1, "tls-probe": 1}
        if {job: len(health) for job, health in jobs.items()} != expected:
            return None
        return all(health == "up" for healths in jobs.values() for health in healths) and jobs

    wait_for("every target up", all_up)
    config = get(world.prometheus + "/api/v1/status/config")["data"]["yaml"]
    assert "environment: sandbox" in config
    # the chat service's own metrics, scraped through the app hosts' nginx
    wait_for("chat-api metrics", lambda: query(world, 'chat_http_requests_total{job="chat-api"}'))


def test_probes_of_the_api_the_load_balancer_and_the_site_succeed(world):
    lb = world.lb["address"]
    assert wait_for("api probe", lambda: probe(world, "api-probe")) == {"https://%s/readyz" % lb: "1"}
    assert wait_for("lb probe", lambda: probe(world, "lb-probe")) == {"https://%s/lb-health" % lb: "1"}
    assert wait_for("tls probe", lambda: probe(world, "tls-probe")) == {"%s:443" % lb: "1"}
    expiry = query(world, 'probe_ssl_earliest_cert_expiry{job="tls-probe"}')
    assert float(expiry[0]["value"][1]) > time.time() + 300 * 86400  # the certificate of a year, just made
    site = wait_for("site probe", lambda: probe(world, "site-probe"))
    assert list(site)[0].endswith("/site/build-info.json")
    if list(site.values()) != ["1"]:
        time.sleep(3)  # a first probe may have run before the site's answer was fast enough; the next must pass
    assert list(probe(world, "site-probe").values()) == ["1"], blackbox_debug(world, list(site)[0], "site_version")


def test_the_api_over_https_on_every_host(world):
    """The load balancer and the app hosts serve the API over HTTPS with the environment's CA; the load balancer's
    port 80 redirects to it."""
    context = ssl.create_default_context(cafile=str(world.ca))
    for host in [world.lb, *world.apps]:
        with urllib.request.urlopen("https://%s/readyz" % host["address"], timeout=10, context=context) as response:
            assert response.status == 200
            # once: the load balancer's, not also the app host's passed through
            hsts = response.headers.get_all("Strict-Transport-Security")
            assert len(hsts) == 1 and hsts[0].startswith("max-age="), hsts

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open("http://%s/readyz" % world.lb["address"], timeout=10)
    assert answer.value.code == 301
    assert answer.value.headers["Location"] == "https://%s/readyz" % world.lb["address"]


def test_deploys_recorded_by_the_callback_reach_prometheus(world):
    series = wait_for("textbook_deploy_runs_total", lambda: query(
        world, 'textbook_deploy_runs_total{playbook="tiny_deploy"}'))
    assert [(s["metric"]["environment"], s["metric"]["result"], s["value"][1]) for s in series] == [
        ("sandbox", "succeeded", "1")]
    info = query(world, 'textbook_deploy_info{playbook="tiny_deploy"}')
    assert info[0]["metric"]["version"] == "3.1.4"


def test_rerun_changes_nothing(world):
    proc = monitoring(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    totals = recap(proc)
    assert set(totals) == {world.lb["name"], world.monitor["name"]} | {app["name"] for app in world.apps}
    assert {host: counts["changed"] for host, counts in totals.items()} == {host: 0 for host in totals}, \
        proc.stdout[-6000:]


@pytest.mark.parametrize("overrides,message", [
    ({"monitoring_api_job": 'chat"api'}, "parse error"),
    ({"monitoring_alert_receivers": {"ticket": {"webhook_configs": [{"send_resolved": True}]}}},
     "missing URL in webhook config"),
    ({"monitoring_extra_targets": {"pushgateway": ["http://%s:9091/metrics" % SUBNET]}}, "is not a valid hostname"),
], ids=["bad-rule", "bad-alertmanager-receiver", "bad-scrape-target"])
def test_a_config_its_tool_rejects_is_never_installed(world, overrides, message):
    before = configs(world)
    proc = monitoring(world, **overrides)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-6000:]
    assert TOKEN not in proc.stdout
    assert configs(world) == before
    assert world.ssh(world.monitor, "systemctl is-active prometheus prometheus-alertmanager").stdout.split() == [
        "active", "active"]


def test_site_probe_fails_on_another_version(world):
    proc = monitoring(world, monitoring_site_version="9.9.9")
    assert proc.returncode == 0, proc.stdout[-6000:]
    wait_for("site probe failing", lambda: list(probe(world, "site-probe").values()) == ["0"])
    proc = monitoring(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    wait_for("site probe succeeding again", lambda: list(probe(world, "site-probe").values()) == ["1"])


def test_api_down_fires_an_alert(world):
    colors = [world.ssh(app, "readlink /opt/chat-api/live").stdout.strip() for app in world.apps]
    try:
        for app, color in zip(world.apps, colors):
            world.ssh(app, "systemctl stop chat-api@%s" % color)

        def api_down():
            alerts = get(world.alertmanager + "/api/v2/alerts?filter=alertname%3D%22ApiDown%22")
            return [alert for alert in alerts if alert["status"]["state"] == "active"]

        alerts = wait_for("ApiDown in Alertmanager", api_down, timeout=90)
        assert alerts[0]["labels"]["severity"] == "page"
        assert alerts[0]["labels"]["environment"] == "sandbox"
        # and it went to the page receiver's webhook
        posts = wait_for("ApiDown posted to the page webhook", lambda: [
            body for path, body in world.recorder.posts
            if path == "/hooks/%s/page" % TOKEN and body["commonLabels"].get("alertname") == "ApiDown"], timeout=30)
        assert posts[0]["status"] == "firing"
    finally:
        for app, color in zip(world.apps, colors):
            world.ssh(app, "systemctl start chat-api@%s" % color, check=False)
