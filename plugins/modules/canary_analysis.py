#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: canary_analysis
short_description: Judge a canary release by the real traffic it served, against the stable release beside it
version_added: 1.2.0
description:
  - Runs on an app host while its nginx splits the traffic between the stable color (O(stable_port)) and the canary
    (O(canary_port)). For O(window) seconds it reads the requests nginx logs at O(log) and compares the canary's
    error ratio and p95 latency with the stable's over the same seconds.
  - Every attempt nginx made at a color is one sample, so a canary attempt that failed and was retried on the stable
    color counts against the canary even though the reader got an answer. An answer of 5xx, or none (refused, timed
    out), is an error.
  - The canary fails when its error ratio (over every request) is above
    C(max(max_error_ratio, error_ratio_factor x stable's)), or when the p95 latency of its C(POST /api/chat) answers
    is above C(slo_latency_ms) (while the stable's is within it), or above
    C(max(latency_factor x stable's p95, latency_floor_ms)) with its median above the same rule on the stable's
    median (a regression shows in the typical answer too; the two slowest answers of twenty on a busy host are
    noise). Without enough stable traffic in
    the window (the canary takes all of it), O(baseline) stands for the stable.
  - A verdict needs C(min_requests) canary requests in the window. When real traffic asks too few questions, the
    module adds its own synthetic journey traffic (C(POST /api/chat) with O(questions)) straight to each color's port,
    paced to reach C(min_requests) questions per color by half the window and to go on at that pace to its end, so a
    quiet environment gets a verdict rather than a pass by default. Without O(questions), too little traffic fails as
    C(inconclusive).
  - The stable gets as many synthetic questions as the canary, and the two latencies are always timed the same way,
    from nginx's log once the canary has answered C(min_requests) real questions, else from this module's own
    questions to both colors (timed by the module, which on a busy host waits for the CPU too, so never compared
    with nginx's timing).
  - The window stops early, failing, as soon as the canary has the minimum number of requests and fails a threshold;
    on latency only once it has also answered C(min_requests) questions (a p95 over a few answers is the slowest of a
    new color's first ones).
  - Needs only the Python standard library on the target host.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  log:
    description:
      - The nginx log of the app host's site, in the format C($msec $status $request_method "$uri" "$upstream_addr"
        "$upstream_status" "$upstream_response_time") (C(textbook_upstream) of the backend role's site).
    type: path
    default: /var/log/nginx/chat-api-upstream.log
  canary_port:
    description:
      - The local port of the canary color (the new release).
    type: int
    required: true
  stable_port:
    description:
      - The local port of the stable color (the release serving before). Omit it when there is none (a first
        deploy); the canary is then judged against O(baseline) or the absolute thresholds alone.
    type: int
  window:
    description:
      - Seconds of traffic the verdict is made from. At least V(1) (the resolution of the nginx log's analysis).
      - A window whose canary had fewer than C(min_requests) requests goes on until it has them, up to three times
        O(window); then a threshold the requests it had already break fails it, or it is C(inconclusive).
    type: float
    default: 10
  thresholds:
    description:
      - Overrides of the thresholds, all numbers of 0 or more; those not given keep their defaults.
      - C(min_requests) (V(20)) canary requests a verdict needs; C(max_error_ratio) (V(0.01)) and
        C(error_ratio_factor) (V(2)); C(latency_factor) (V(1.5)), C(latency_floor_ms) (V(400)) and
        C(slo_latency_ms) (V(1000)).
    type: dict
    default: {}
  baseline:
    description:
      - The stable's numbers from an earlier window (this module's RV(stable)), used when the stable served fewer
        than C(min_requests) requests in this window.
    type: dict
  questions:
    description:
      - Known questions for the synthetic traffic, each a string or a dict with a C(question) (the form
        M(textbook.deploy.journey_check) takes). Empty, no synthetic traffic.
    type: list
    elements: raw
    default: []
  origin:
    description:
      - The browser origin the synthetic requests come from (the textbook's site), sent as C(Origin).
    type: str
  percent:
    description:
      - The share of the requests (%) the canary takes in this step, only reported back (RV(percent)) for the audit
        log and the deploy's metrics and annotations.
    type: int
  lock:
    description:
      - A deploy lock file (M(textbook.deploy.deploy_lock)) whose heartbeat this run refreshes while it analyses,
        so a run that dies during a window is soon recognised as dead. Needs O(run_id).
    type: path
  run_id:
    description:
      - The deploy run holding O(lock).
    type: str
  since:
    description:
      - When the step's traffic share took effect, in seconds since the epoch on the host's clock, for example
        M(textbook.deploy.nginx_site)'s RV(textbook.deploy.nginx_site#module:reloaded_at). The window starts there
        (the requests nginx logged since then count) rather than when this module starts, so the module's own
        start on a busy host does not lengthen the step.
      - Without it, the window starts with the module.
    type: float
attributes:
  check_mode:
    support: full
    description: Sends no synthetic request and judges nothing; returns C(skipped).
  diff_mode:
    support: none
    description: Returns no diff; it changes nothing.
  idempotent:
    support: full
    description: Reads a log and sends read-only questions; it changes nothing on the host (changed is always false).
notes:
  - The synthetic requests carry the header C(User-Agent) V(textbook-deploy-canary), so they can be told apart in the service's
    own logs.
"""

EXAMPLES = r"""
- name: Judge the canary over 10 s of the traffic nginx splits between the colors
  textbook.deploy.canary_analysis:
    stable_port: 8001
    canary_port: 8002
    window: 10
    questions: ["What is a ROS 2 node?"]
    thresholds:
      slo_latency_ms: 800
"""

RETURN = r"""
outcome:
  description: V(passed), V(failed) (a threshold) or V(inconclusive) (too few requests; the task fails too).
  returned: unless check mode
  type: str
  sample: failed
metric:
  description: What decided a failure, V(error-ratio), V(latency-p95) or V(request-count); null when passed.
  returned: unless check mode
  type: str
  sample: error-ratio
detail:
  description: The verdict in words, with its numbers.
  returned: unless check mode
  type: str
  sample: error ratio 31.00 % (31 of 100) is above the limit of 1.00 % (stable 0.00 % over 900 requests)
canary:
  description:
    - The canary's numbers over the window; C(synthetic) of them were sent by this module. The latency (C(p50_ms),
      C(p95_ms)) is that of C(chat_requests) C(POST /api/chat) requests timed the same way for both colors,
      C(latency_from) being V(log) (nginx's timing of real traffic) or V(synthetic) (this module's timing of its own
      questions, until the canary has answered C(min_requests) real ones).
  returned: unless check mode
  type: dict
  sample: {"requests": 100, "errors": 31, "error_ratio": 0.31, "chat_requests": 20, "p95_ms": 21.0, "synthetic": 0,
           "latency_from": "log"}
stable:
  description: The stable's numbers over the window (the same keys as RV(canary)).
  returned: unless check mode
  type: dict
  sample: {"requests": 900, "errors": 0, "error_ratio": 0.0, "chat_requests": 180, "p95_ms": 19.0, "synthetic": 0,
           "latency_from": "log"}
limits:
  description: The limits the canary was held to.
  returned: unless check mode
  type: dict
  sample: {"error_ratio": 0.01, "p95_ms": 100.0}
percent:
  description: O(percent), as given.
  returned: unless check mode
  type: int
  sample: 10
seconds:
  description: How long the window ran (shorter than O(window) when it stopped early).
  returned: unless check mode
  type: float
  sample: 10.0
"""

import os
import threading
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.textbook.deploy.plugins.module_utils import canary
from ansible_collections.textbook.deploy.plugins.module_utils.deploy_lock import refresh_heartbeat
from ansible_collections.textbook.deploy.plugins.module_utils.journey import CHAT_PATH, Http, question_entries

POLL_SECONDS = 0.25
EXTENSION = 3
HEARTBEAT_SECONDS = 5.0
# how far back in the log a window starting at `since` reads (some seconds of the busiest traffic)
BACKLOG_BYTES = 1 << 20
SYNTHETIC_TIMEOUT = 5.0


def logged_since(line, since):
    """Whether a log line (bytes, its first field nginx's $msec) was logged at `since` or later: a cheap look at the
    lines read back before the window, which are then not parsed."""
    try:
        return float(line.split(b" ", 1)[0]) >= since
    except ValueError:
        return True  # not a line of the format: parsing decides


class LogTail:
    """The samples of the lines appended to a log since the window started ({port: [(failed, ms, main)]}), each line
    parsed once as it comes; follows a rotation (a new file at the path)."""

    def __init__(self, path, since=None):
        self.path, self.pending, self.samples, self.since = path, b"", {}, since
        self.inode, self.offset = self._stat()
        # a window that started before the module (at `since`) reads back over the lines logged since then
        self.cut = since is not None and self.offset > BACKLOG_BYTES
        if since is not None:
            self.offset = max(0, self.offset - BACKLOG_BYTES)

    def _stat(self):
        try:
            info = os.stat(self.path)
        except OSError:
            return None, 0
        return info.st_ino, info.st_size

    def read(self):
        inode, size = self._stat()
        if inode is None:
            return
        if inode != self.inode or size < self.offset:  # rotated or truncated: the new file from its start
            self.inode, self.offset, self.pending = inode, 0, b""
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        if self.cut and complete:  # the first line of a read back from the middle of the file may be cut
            complete, self.cut = complete[1:], False
        if self.since is not None and complete and not logged_since(complete[0], self.since):
            complete = [line for line in complete if logged_since(line, self.since)]
        lines = [line.decode("utf-8", "replace") for line in complete]
        for port, found in canary.samples_by_port(lines, self.since).items():
            self.samples.setdefault(port, []).extend(found)


class Synthetic:
    """Journey questions sent straight to one color's port by a few workers (so a slow release still answers enough
    of them in a window), paced to keep `wanted` samples."""

    WORKERS = 4

    def __init__(self, port, questions, origin):
        self.port, self.questions, self.origin = port, questions, origin
        self.samples, self.wanted, self.stopped, self.sent = [], 0, False, 0
        self.lock = threading.Lock()
        self.http = Http(timeout=SYNTHETIC_TIMEOUT)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _worker in range(self.WORKERS)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def _next_question(self):
        """The next question to ask, or None when enough were sent (answered or still in flight)."""
        with self.lock:
            if self.sent >= self.wanted:
                return None
            self.sent += 1
            return self.questions[self.sent % len(self.questions)]

    def _run(self):
        while not self.stopped:
            question = self._next_question()
            if question is None:
                time.sleep(0.05)
                continue
            headers = {"Content-Type": "application/json", "User-Agent": "textbook-deploy-canary"}
            if self.origin:
                headers["Origin"] = self.origin
            status, _headers, _body, ms = self.http.request(
                "POST", "http://127.0.0.1:%d%s" % (self.port, CHAT_PATH), {"question": question}, headers)
            self.samples.append((status is None or status >= 500, float(ms), True))


def numbers(logged, synthetic, latency_from):
    """A color's numbers: requests and errors over all its samples; its latency from one instrument for both colors,
    latency_from: 'log' (nginx's timing of real traffic) or 'synthetic' (this module's own timing of its questions,
    which on a busy host includes the module's wait for the CPU: never compared with nginx's)."""
    own = synthetic.samples if synthetic else []
    summary = canary.summarise(logged + own)
    timed = canary.summarise(logged if latency_from == "log" else own)
    summary.update(chat_requests=timed["chat_requests"], p50_ms=timed["p50_ms"], p95_ms=timed["p95_ms"],
                   synthetic=len(own), latency_from=latency_from)
    return summary


def questions_logged(logged, port):
    """How many POST /api/chat of real traffic nginx logged for the color on port."""
    return sum(1 for sample in logged.get(port, []) if sample[2])


def latency_source(logged, canary_port, senders, thresholds):
    """'log' once the canary answered the minimum of real questions (or there is no synthetic traffic), else
    'synthetic'."""
    enough = questions_logged(logged, canary_port) >= thresholds["min_requests"]
    return "log" if enough or canary_port not in senders else "synthetic"


def analyse(params, thresholds, tail):
    """(outcome, metric, detail, canary numbers, stable numbers, limits, seconds) of one window."""
    ports = [params["canary_port"]] + ([params["stable_port"]] if params["stable_port"] else [])
    senders = dict((port, Synthetic(port, params["questions"], params["origin"])) for port in ports
                   if params["questions"])
    for sender in senders.values():
        sender.start()
    started = last_beat = time.monotonic()
    if params["since"] is not None:  # the window began when the step's share took effect
        started -= min(max(time.time() - params["since"], 0.0), params["window"])
    try:
        while True:
            time.sleep(POLL_SECONDS)
            elapsed = time.monotonic() - started
            tail.read()
            logged = tail.samples
            # each color should have the minimum of questions by half the window (so its latency is judged, with
            # time to spare on a busy host), and go on at that pace to its end (a release failing late in the window
            # is seen); synthetic traffic makes up the shortfall
            # (the stable gets as many as the canary, so that both latencies can be timed the same way)
            due = thresholds["min_requests"] * elapsed / (0.5 * params["window"])
            asked = questions_logged(logged, params["canary_port"])
            for sender in senders.values():
                sender.wanted = max(0, int(due) + 1 - asked)
            # a window with too few requests to judge goes on, up to EXTENSION times its length
            over, last_chance = elapsed >= params["window"], elapsed >= EXTENSION * params["window"]
            result = judge(params, thresholds, logged, senders, final=last_chance)
            if result[0] == "failed" or (over and result[0] == "passed") or last_chance:
                return result + (round(elapsed, 3),)
            if params["lock"] and time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                refresh_heartbeat(params["lock"], params["run_id"])
                last_beat = time.monotonic()
    finally:
        for sender in senders.values():
            sender.stopped = True


def judge(params, thresholds, logged, senders, final):
    stable = None
    source = latency_source(logged, params["canary_port"], senders, thresholds)
    if params["stable_port"]:
        stable = numbers(logged.get(params["stable_port"], []), senders.get(params["stable_port"]), source)
    reference = stable if stable and stable["requests"] >= thresholds["min_requests"] else params["baseline"]
    canary_numbers = numbers(logged.get(params["canary_port"], []), senders.get(params["canary_port"]), source)
    outcome, metric, detail = canary.verdict(canary_numbers, reference, thresholds, final)
    return outcome, metric, detail, canary_numbers, stable, canary.limits(reference, thresholds)


def checked_thresholds(module):
    problems = canary.threshold_errors(module.params["thresholds"], option="thresholds")
    if problems:
        module.fail_json(msg="; ".join(problems) + ".")
    thresholds = dict(canary.DEFAULT_THRESHOLDS)
    thresholds.update((name, float(value)) for name, value in module.params["thresholds"].items())
    thresholds["min_requests"] = int(thresholds["min_requests"])
    return thresholds


def question_texts(module):
    questions, problem = question_entries(module.params["questions"])
    if problem:
        module.fail_json(msg=problem)
    return [entry["question"] for entry in questions]


def check_options(module):
    params = module.params
    if params["window"] < canary.LOG_RESOLUTION_SECONDS:
        module.fail_json(msg="window must be at least %.0f s (the resolution of the nginx log it is measured from), "
                             "got %s." % (canary.LOG_RESOLUTION_SECONDS, params["window"]))
    for name in ("canary_port", "stable_port"):
        if params[name] is not None and not 0 < params[name] < 65536:
            module.fail_json(msg="%s must be a TCP port (1-65535), got %s." % (name, params[name]))
    if params["stable_port"] == params["canary_port"]:
        module.fail_json(msg="stable_port and canary_port must differ: they are the two colors' ports.")
    if bool(params["lock"]) != bool(params["run_id"]):
        module.fail_json(msg="lock and run_id go together: give both (the run refreshes its lock's heartbeat) or "
                             "neither.")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            log=dict(type="path", default="/var/log/nginx/chat-api-upstream.log"),
            canary_port=dict(type="int", required=True),
            stable_port=dict(type="int"),
            window=dict(type="float", default=10),
            thresholds=dict(type="dict", default={}),
            baseline=dict(type="dict"),
            questions=dict(type="list", elements="raw", default=[]),
            origin=dict(type="str"),
            percent=dict(type="int"),
            lock=dict(type="path"),
            run_id=dict(type="str"),
            since=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    check_options(module)
    module.params["questions"] = question_texts(module)
    thresholds = checked_thresholds(module)
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="Check mode: no traffic analysed.")
    tail = LogTail(module.params["log"], module.params["since"])
    outcome, metric, detail, canary_numbers, stable, bounds, seconds = analyse(module.params, thresholds, tail)
    result = dict(changed=False, outcome=outcome, metric=metric, detail=detail, canary=canary_numbers,
                  stable=stable, limits=bounds, seconds=seconds, percent=module.params["percent"])
    if outcome != "passed":
        module.fail_json(msg="Canary analysis %s on %s: %s." % (outcome, metric, detail), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
