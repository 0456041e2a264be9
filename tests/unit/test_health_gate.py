"""health_gate against a local HTTP server whose answers each test scripts, run as Ansible runs it."""
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_module

MODULE = "health_gate"
FAST = dict(interval=0.05, request_timeout=1.0)


class ScriptedServer:
    """Answers /readyz with the statuses given, one per request (the last one repeats), and /version with a version.

    Records every request (path and headers), so a test can count probes or see what was sent.
    """

    def __init__(self, statuses=(200,), version="1.0.0"):
        self.statuses, self.version, self.requests = list(statuses), version, []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        # a short poll interval: shutdown() waits for one poll, 0.5 s by default, after every test
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def next_status(self):
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def handler(self):
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                scripted.requests.append((self.path, dict(self.headers)))
                if self.path == "/readyz":
                    status, body = scripted.next_status(), b"ready"
                elif self.path == "/version":
                    status, body = 200, json.dumps({"version": scripted.version}).encode()
                else:
                    status, body = 404, b"not found"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def paths(self):
        return [path for path, dummy in self.requests]


@pytest.fixture
def serve():
    """serve(statuses, version) starts a ScriptedServer; every server started is stopped after the test."""
    servers = []

    def start(statuses=(200,), version="1.0.0"):
        server = ScriptedServer(statuses, version)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def closed_port():
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def journalctl(tmp_path):
    """A fake journalctl first on PATH: prints known lines and records its arguments; returns (env, args file)."""
    bin_dir, args_file = tmp_path / "bin", tmp_path / "journalctl.args"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text('#!/bin/sh\necho "$@" > %s\nprintf "uvicorn starting\\nERROR cannot reach Qdrant\\n"\n'
                      % args_file)
    script.chmod(0o755)
    return dict(PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"])), args_file


def gate(server, **args):
    return run_module(MODULE, dict(FAST, url=server.url + "/readyz", **args))


def test_passes_once_ready_after_failing_probes(serve):
    server = serve([503, 503, 200])
    result = gate(server)
    assert not result.get("failed"), result["msg"]
    assert result["changed"] is False
    assert (result["probes"], result["passed"], result["consecutive"]) == (5, 3, 3)
    assert (result["status"], result["last_error"], result["logs"]) == (200, "HTTP 503", [])
    assert server.paths() == ["/readyz"] * 5


def test_flapping_server_needs_three_in_a_row(serve):
    result = gate(serve([200, 503, 200, 200, 200]))
    assert not result.get("failed"), result["msg"]
    assert (result["probes"], result["passed"], result["consecutive"]) == (5, 4, 3)


def test_expected_version_passes(serve):
    server = serve(version="1.4.0")
    result = gate(server, version="1.4.0", version_url=server.url + "/version", successes=2)
    assert not result.get("failed"), result["msg"]
    assert result["version_seen"] == "1.4.0" and result["probes"] == 2
    assert server.paths() == ["/readyz", "/version"] * 2


def test_version_mismatch_fails_naming_both(serve):
    server = serve(version="1.3.9")
    result = gate(server, version="1.4.0", version_url=server.url + "/version", timeout=0.3)
    assert result["failed"] is True and result["passed"] == 0
    assert "version seen: 1.3.9, expected: 1.4.0" in result["msg"]
    assert result["version_seen"] == "1.3.9" and result["status"] == 200


def test_deadline_fails_with_last_status(serve):
    result = gate(serve([200, 503]), timeout=0.3)
    assert result["failed"] is True and result["changed"] is False
    assert "HTTP 503" in result["msg"] and "at best 1 in a row" in result["msg"]
    assert (result["status"], result["last_error"], result["passed"]) == (503, "HTTP 503", 1)
    assert 0.3 <= result["elapsed"] < 2


def test_connection_refused_is_named(closed_port):
    result = run_module(MODULE, dict(FAST, url="http://127.0.0.1:%d/readyz" % closed_port, timeout=0.2))
    assert result["failed"] is True
    assert "connection refused" in result["msg"]
    assert (result["status"], result["last_error"], result["passed"]) == (None, "connection refused", 0)


def test_headers_are_sent(serve):
    server = serve()
    result = gate(server, successes=1, headers={"Host": "api.textbook.example.org"})
    assert not result.get("failed"), result["msg"]
    assert server.requests[0][1]["Host"] == "api.textbook.example.org"


def test_watch_passes_on_a_steady_server(serve):
    result = gate(serve(), mode="watch", duration=0.4)
    assert not result.get("failed"), result["msg"]
    assert result["probes"] >= 4 and result["passed"] == result["probes"] == result["consecutive"]


def test_watch_fails_after_two_failures_in_a_row(serve):
    result = gate(serve([200, 200, 503, 503, 200]), mode="watch", duration=5)
    assert result["failed"] is True
    assert "failed 2 probes in a row" in result["msg"] and "HTTP 503" in result["msg"]
    assert (result["probes"], result["passed"], result["consecutive"]) == (4, 2, 0)
    assert result["elapsed"] < 2


def test_watch_tolerates_isolated_failures(serve):
    result = gate(serve([200, 503, 200, 503, 200]), mode="watch", duration=0.4)
    assert not result.get("failed"), result["msg"]
    assert result["passed"] == result["probes"] - 2


def test_failure_carries_the_units_journal(serve, journalctl):
    env, args_file = journalctl
    result = run_module(MODULE, dict(FAST, url=serve([503]).url + "/readyz", timeout=0.2,
                                     unit="chat-api@green.service", log_lines=5), env=env)
    assert result["failed"] is True
    assert result["logs"] == ["uvicorn starting", "ERROR cannot reach Qdrant"]
    assert "ERROR cannot reach Qdrant" in result["msg"] and "HTTP 503" in result["msg"]
    assert args_file.read_text().split() == ["-u", "chat-api@green.service", "-n", "5", "--no-pager", "-o", "cat"]


def test_success_reads_no_journal(serve, journalctl):
    env, args_file = journalctl
    result = run_module(MODULE, dict(FAST, url=serve().url + "/readyz", successes=1, unit="chat-api@green.service"),
                        env=env)
    assert not result.get("failed") and result["logs"] == []
    assert not args_file.exists()


def test_failing_journalctl_gives_no_logs_and_no_error(serve, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "journalctl").write_text("#!/bin/sh\necho 'No journal files were found.' >&2\nexit 1\n")
    (bin_dir / "journalctl").chmod(0o755)
    result = run_module(MODULE, dict(FAST, url=serve([503]).url + "/readyz", timeout=0.1, unit="chat-api@blue"),
                        env=dict(PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"])))
    assert result["failed"] is True and result["logs"] == []
    assert "HTTP 503" in result["msg"] and "No journal lines of chat-api@blue" in result["msg"]


@pytest.mark.parametrize("args, option", [
    (dict(version="1.4.0"), "version_url"),
    (dict(successes=0), "successes"),
    (dict(failures=0), "failures"),
    (dict(interval=0), "interval"),
    (dict(interval=-1), "interval"),
    (dict(request_timeout=0), "request_timeout"),
])
def test_bad_input_fails_before_probing(serve, args, option):
    server = serve()
    result = run_module(MODULE, dict(dict(FAST, url=server.url + "/readyz"), **args))
    assert result["failed"] is True
    assert result["msg"].startswith(option + " ")
    assert server.requests == []


def test_bad_url_is_named():
    result = run_module(MODULE, dict(url="127.0.0.1:8001/readyz"))
    assert result["failed"] is True and result["msg"].startswith("url must be an http:// or https:// URL")


def test_check_mode_probes_nothing(serve):
    server = serve([503])
    result = run_module(MODULE, dict(FAST, url=server.url + "/readyz", version="1.4.0",
                                     version_url=server.url + "/version"), check=True)
    assert not result.get("failed"), result["msg"]
    assert (result["changed"], result["skipped"], result["probes"]) == (False, True, 0)
    assert server.requests == []
