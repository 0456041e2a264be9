"""blue_green_switch on a blue-green layout in a temporary directory, run as Ansible runs it.

There is no nginx here: the site's check and reload are test_nginx_site's logging sh scripts, and a small HTTP server
stands for a color (POST /api/chat) and for nginx in front of it (GET /version).
"""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_module
from test_nginx_site import NEW, OLD, Site

MODULE = "blue_green_switch"


class Color:
    """A color's own port: answers questions (or 500 when broken) and /version; records the questions asked."""

    def __init__(self, version="1.1.0", broken=False):
        self.version, self.broken, self.questions = version, broken, []
        color = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status, document):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                color.questions.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if color.broken:
                    self._send(500, {"detail": "broken"})
                else:
                    self._send(200, {"answer": "It covers robots.", "passages": []})

            def do_GET(self):
                self._send(200, {"version": color.version})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


class Host:
    """A host's root with blue and green links to releases, blue live, and nginx's site in a conf.d directory."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "srv"
        for release in ("1.1.0", "1.2.0"):
            (self.root / "releases" / release).mkdir(parents=True)
        os.symlink("releases/1.1.0", self.root / "blue")
        os.symlink("releases/1.2.0", self.root / "green")
        os.symlink("blue", self.root / "live")
        self.site = Site(tmp_path)
        self.site.existing(OLD)

    def live(self):
        return os.readlink(self.root / "live")

    def run(self, color, content, check=False, diff=False, **args):
        args.setdefault("validate", self.site.validate())
        args.setdefault("reload_command", self.site.reload())
        return run_module(MODULE, dict(root=str(self.root), color=color, site=str(self.site.path), content=content,
                                       **args), check=check, diff=diff)


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture
def colors():
    started = []

    def start(**args):
        started.append(Color(**args))
        return started[-1]

    yield start
    for color in started:
        color.server.shutdown()
        color.server.server_close()


def test_the_switch_points_the_live_link_and_nginx_at_the_color_and_verifies_it(host, colors):
    green = colors(version="1.2.0")
    result = host.run("green", NEW, verify=dict(url=green.url + "/version", json={"version": "1.2.0"}, interval=0.05))
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["reloaded"] is True
    assert result["live"] == {"before": "blue", "after": "green"}
    assert result["verified"]["json"] == {"version": "1.2.0"}
    assert host.live() == "green" and host.site.path.read_text() == NEW
    assert host.site.runs() == ["validate", "reload"]
    assert [name for name in os.listdir(host.root) if name.startswith("live.")] == []  # no temporary link left


def test_a_second_run_changes_nothing_and_asks_nothing(host, colors):
    green = colors(version="1.2.0")
    smoke = dict(api_url=green.url, questions=["What is a robot?"])
    assert host.run("green", NEW, smoke=smoke)["changed"] is True
    host.site.log.unlink()
    asked = len(green.questions)
    again = host.run("green", NEW, smoke=smoke)
    assert again["changed"] is False and again["reloaded"] is False
    assert host.site.runs() == [] and len(green.questions) == asked


def test_a_color_failing_its_smoke_test_gets_no_traffic(host, colors):
    green = colors(version="1.2.0", broken=True)
    result = host.run("green", NEW, smoke=dict(api_url=green.url, questions=["What is a robot?", "How?"]))
    assert result["failed"] is True and result["changed"] is False
    assert "smoke test of green" in result["msg"] and "HTTP 500" in result["msg"]
    assert "nothing was switched" in result["msg"] and result["live"] == {"before": "blue", "after": "blue"}
    assert [question["question"] for question in green.questions] == ["What is a robot?", "How?"]
    assert host.live() == "blue" and host.site.path.read_text() == OLD
    assert host.site.runs() == []


def test_the_smoke_test_runs_before_the_link_moves(host, colors):
    green = colors(version="1.2.0")
    result = host.run("green", NEW, smoke=dict(api_url=green.url, questions=["What is a robot?"]))
    assert result.get("failed") is not True, result.get("msg")
    assert [step["ok"] for step in result["smoke"]] == [True]
    assert green.questions == [{"question": "What is a robot?"}]
    assert host.live() == "green"


def test_a_site_nginx_rejects_puts_the_live_link_back_too(host):
    result = host.run("green", NEW, validate=host.site.validate(passes_if="false"))
    assert result["failed"] is True
    assert "configuration check failed" in result["msg"]
    assert host.live() == "blue" and host.site.path.read_text() == OLD


def test_a_failed_verification_puts_the_live_link_and_the_site_back(host, colors):
    blue = colors(version="1.1.0")  # nginx still answers with the old release
    result = host.run("green", NEW, verify=dict(url=blue.url + "/version", json={"version": "1.2.0"}, timeout=0.3,
                                                interval=0.05))
    assert result["failed"] is True and "did not answer as wanted" in result["msg"]
    assert host.live() == "blue" and host.site.path.read_text() == OLD
    assert host.site.runs() == ["validate", "reload", "reload"]  # reloaded again with the old site


def test_check_mode_reports_the_switch_and_changes_nothing(host, colors):
    green = colors(version="1.2.0")
    result = host.run("green", NEW, check=True, diff=True, smoke=dict(api_url=green.url, questions=["What?"]))
    assert result["changed"] is True and result["reloaded"] is False
    assert host.live() == "blue" and host.site.path.read_text() == OLD
    assert host.site.runs() == [] and green.questions == []
    link_diff, site_diff = result["diff"]
    assert (link_diff["before"], link_diff["after"]) == ("live -> blue\n", "live -> green\n")
    assert (site_diff["before"], site_diff["after"]) == (OLD, NEW)


def test_a_host_without_a_live_link_gets_one(host):
    os.unlink(host.root / "live")
    result = host.run("blue", NEW)
    assert result["changed"] is True and result["live"] == {"before": "", "after": "blue"}
    assert host.live() == "blue"


@pytest.mark.parametrize("args, named", [
    (dict(color="live"), "color must be the name of a color link"),
    (dict(color="purple"), "has no color purple"),
    (dict(smoke=dict(api_url="127.0.0.1:8002", questions=["q"])), "smoke.api_url"),
    (dict(mode="644x"), "mode must be an octal string"),
    (dict(verify=dict(url="http://127.0.0.1/version", timeout=0)), "verify.timeout"),
])
def test_bad_input_fails_before_anything_changes(host, args, named):
    color = args.pop("color", "green")
    result = host.run(color, NEW, **args)
    assert result["failed"] is True and named in result["msg"]
    assert host.live() == "blue" and host.site.path.read_text() == OLD and host.site.runs() == []
