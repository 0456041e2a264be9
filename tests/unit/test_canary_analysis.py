"""canary_analysis run as Ansible runs it, on a log that a thread writes as nginx would, and against two small HTTP
services on loopback standing for the colors (for its synthetic traffic)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import run_module

MODULE = "canary_analysis"
STABLE, CANARY = 18001, 18002  # ports named in the log lines only (nothing listens on them in the log tests)


class LogWriter:
    """Appends nginx log lines (format textbook_upstream) at `rate` per second while the module reads them."""

    def __init__(self, path, canary_fails_every=0, canary_ms=20, rate=100):
        self.path, self.fails_every, self.canary_ms, self.rate = path, canary_fails_every, canary_ms, rate
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _line(self, number):
        method, uri = ("POST", "/api/chat") if number % 5 == 0 else ("GET", "/version")
        if number % 10 in (5, 6):  # two requests in ten go to the canary (a 20 % step), one of them a question
            failed = self.fails_every and number % self.fails_every in (5, 6)
            status, ms = ("500", self.canary_ms) if failed else ("200", self.canary_ms)
            port = CANARY
        else:
            status, ms, port = "200", 20, STABLE
        return '%.3f %s %s "%s" "127.0.0.1:%d" "%s" "%.3f"\n' % (time.time(), status, method, uri, port, status,
                                                                 ms / 1000.0)

    def _run(self):
        number = 0
        while not self.stopped:
            with open(self.path, "a") as handle:
                handle.write(self._line(number))
            number += 1
            time.sleep(1.0 / self.rate)

    def __enter__(self):
        self.path.touch()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.thread.join(5)


def analyse(log, **args):
    return run_module(MODULE, dict(dict(log=str(log), stable_port=STABLE, canary_port=CANARY, window=2,
                                        thresholds={"min_requests": 10}), **args))


def test_a_canary_serving_like_the_stable_passes(tmp_path):
    log = tmp_path / "upstream.log"
    with LogWriter(log):
        result = analyse(log)
    assert result["outcome"] == "passed", result
    assert result["changed"] is False and result["metric"] is None
    assert result["canary"]["requests"] >= 10 and result["canary"]["errors"] == 0
    # four in five requests went to the stable
    assert result["stable"]["requests"] > 3 * result["canary"]["requests"]
    assert result["seconds"] >= 2


def test_a_failing_canary_stops_the_window_early_naming_the_metric(tmp_path):
    log = tmp_path / "upstream.log"
    with LogWriter(log, canary_fails_every=20, rate=200):  # half of the canary's requests fail
        result = analyse(log, window=20)
    assert result["failed"] is True and result["outcome"] == "failed" and result["metric"] == "error-ratio"
    assert "Canary analysis failed on error-ratio" in result["msg"] and "stable: 0.00 %" in result["msg"]
    assert result["canary"]["errors"] > 0 and result["stable"]["errors"] == 0
    assert result["seconds"] < 10  # it did not wait for the window's end


def test_a_slow_canary_fails_on_latency(tmp_path):
    log = tmp_path / "upstream.log"
    with LogWriter(log, canary_ms=900, rate=200):
        result = analyse(log)
    assert (result["outcome"], result["metric"]) == ("failed", "latency-p95"), result
    assert result["canary"]["p95_ms"] == 900.0 and result["limits"]["p95_ms"] == 400.0


def test_no_traffic_and_no_questions_is_no_verdict_and_fails(tmp_path):
    log = tmp_path / "upstream.log"
    log.touch()
    result = analyse(log, window=1)
    assert result["failed"] is True and result["outcome"] == "inconclusive"
    assert result["metric"] == "request-count" and "0 requests" in result["msg"]


class Color(BaseHTTPRequestHandler):
    status = 200

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        question = json.loads(self.rfile.read(length))["question"]
        self.server.asked.append((question, self.headers.get("User-Agent"), self.headers.get("Origin")))
        body = json.dumps({"answer": "yes", "passages": []}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def colors():
    """Two services on loopback, the stable answering 200 and the canary `canary.status`."""
    servers = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Color)
        server.asked, server.status = [], 200
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()


def test_a_quiet_environment_gets_a_verdict_from_synthetic_traffic(tmp_path, colors):
    stable, canary = colors
    log = tmp_path / "upstream.log"
    log.touch()
    result = analyse(log, stable_port=stable.server_address[1], canary_port=canary.server_address[1],
                     questions=["What is a node?", {"question": "What is a topic?"}],
                     origin="https://owner.github.io", window=4)
    assert result["outcome"] == "passed", result
    assert result["canary"]["synthetic"] >= 10 and result["stable"]["synthetic"] >= 10
    assert {question for question, _agent, _origin in canary.asked} == {"What is a node?", "What is a topic?"}
    assert {(agent, origin) for _question, agent, origin in canary.asked} == {
        ("textbook-deploy-canary", "https://owner.github.io")}
    # paced: the minimum by half the window, then on at that pace (twice the minimum in all), not a flood
    assert 10 <= len(canary.asked) <= 30


def test_synthetic_traffic_finds_a_broken_canary(tmp_path, colors):
    stable, canary = colors
    canary.status = 500
    log = tmp_path / "upstream.log"
    log.touch()
    result = analyse(log, stable_port=stable.server_address[1], canary_port=canary.server_address[1],
                     questions=["What is a node?"], window=10)
    assert (result["outcome"], result["metric"]) == ("failed", "error-ratio"), result
    assert result["canary"]["error_ratio"] == 1.0 and result["stable"]["errors"] == 0


def test_a_refused_canary_counts_as_failing(tmp_path, colors):
    stable, _canary = colors
    log = tmp_path / "upstream.log"
    log.touch()
    result = analyse(log, stable_port=stable.server_address[1], canary_port=1, questions=["What is a node?"])
    assert (result["outcome"], result["metric"]) == ("failed", "error-ratio"), result


def test_the_log_is_followed_through_a_rotation(tmp_path):
    log = tmp_path / "upstream.log"
    with LogWriter(log):
        time.sleep(0.5)
        log.rename(tmp_path / "upstream.log.1")  # as logrotate does; the writer reopens the path
        result = analyse(log)
    assert result["outcome"] == "passed" and result["canary"]["requests"] >= 10, result


def logged(when, port, status="200", method="POST", uri="/api/chat", ms=20):
    return '%.3f %s %s "%s" "127.0.0.1:%d" "%s" "%.3f"\n' % (when, status, method, uri, port, status, ms / 1000.0)


def test_a_window_since_the_share_took_effect_counts_what_nginx_logged_from_then_on(tmp_path):
    """The step's nginx reload was 1.5 s before the module started: the window's first 1.5 s are already in the log
    (the canary answering well), and what came before the reload (the canary failing) is not counted."""
    log, since = tmp_path / "upstream.log", time.time() - 1.5
    before = [logged(since - 5 + n * 0.01, CANARY, status="500") for n in range(100)]
    after = [logged(since + 0.1 + n * 0.02, port) for n in range(30) for port in (CANARY, STABLE)]
    log.write_text("".join(before + after))
    result = analyse(log, window=2, since=since)
    assert result["outcome"] == "passed", result
    assert (result["canary"]["requests"], result["canary"]["errors"]) == (30, 0)
    assert result["stable"]["requests"] == 30
    assert result["seconds"] >= 2  # the window counts from the reload
    # without since, the window starts with the module and finds none of those lines
    assert analyse(log, window=1)["outcome"] == "inconclusive"


@pytest.mark.parametrize("args, message", [
    ({"window": 0.5}, "window must be at least 1 s"),
    ({"thresholds": {"max_error_ratio": -1}}, "thresholds.max_error_ratio must be a number of 0 or more"),
    ({"thresholds": {"p99": 1}}, "thresholds.p99 is not a threshold"),
    ({"canary_port": STABLE}, "stable_port and canary_port must differ"),
    ({"canary_port": 70000}, "canary_port must be a TCP port"),
    ({"lock": "/tmp/deploy.lock"}, "lock and run_id go together"),
    ({"questions": [{"q": "x"}]}, "questions[1] must be a question string"),
])
def test_bad_options_fail_before_any_request(tmp_path, args, message):
    result = analyse(tmp_path / "upstream.log", **args)
    assert result["failed"] is True and message in result["msg"], result
    assert "outcome" not in result


def test_check_mode_analyses_nothing(tmp_path):
    result = run_module(MODULE, dict(log=str(tmp_path / "none.log"), canary_port=CANARY, window=30), check=True)
    assert result["skipped"] is True and result["changed"] is False and "outcome" not in result


def test_synthetic_traffic_goes_on_to_the_end_of_the_window(tmp_path, colors):
    """A canary that breaks after the minimum was reached is still seen: the questions go on at the same pace."""
    stable, canary = colors
    log = tmp_path / "upstream.log"
    log.touch()
    threading.Timer(2.5, setattr, [canary, "status", 500]).start()  # breaks in the second half of a 4 s window
    result = analyse(log, stable_port=stable.server_address[1], canary_port=canary.server_address[1],
                     questions=["What is a node?"], window=4)
    assert (result["outcome"], result["metric"]) == ("failed", "error-ratio"), result


def test_both_latencies_are_timed_by_one_instrument():
    """Seen under load: a good canary failed on latency because its p95 mixed this module's own timing of its
    questions (which waits for a busy host's CPU too) with nginx's timing of real traffic, against a stable timed by
    nginx alone. The latency now comes from the log for both once the canary answered the minimum of real questions,
    else from the module's questions to both."""
    from types import SimpleNamespace

    from ansible_collections.textbook.deploy.plugins.modules.canary_analysis import latency_source, numbers

    thresholds = {"min_requests": 3}
    logged = {CANARY: [(False, 50.0, True)] * 2, STABLE: [(False, 60.0, True)] * 20}
    senders = {CANARY: SimpleNamespace(samples=[(False, 900.0, True)] * 3),
               STABLE: SimpleNamespace(samples=[(False, 950.0, True)] * 3)}
    assert latency_source(logged, CANARY, senders, thresholds) == "synthetic"
    canary, stable = (numbers(logged[port], senders[port], "synthetic") for port in (CANARY, STABLE))
    assert (canary["p95_ms"], canary["chat_requests"], canary["requests"]) == (900.0, 3, 5)
    assert (stable["p95_ms"], stable["chat_requests"], stable["requests"]) == (950.0, 3, 23)
    logged[CANARY] = [(False, 50.0, True)] * 3
    assert latency_source(logged, CANARY, senders, thresholds) == "log"
    canary = numbers(logged[CANARY], senders[CANARY], "log")
    assert (canary["p95_ms"], canary["chat_requests"], canary["requests"], canary["synthetic"]) == (50.0, 3, 6, 3)
    assert latency_source({}, CANARY, {}, thresholds) == "log"  # no questions to send: nginx's log only
