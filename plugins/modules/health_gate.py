#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: health_gate
short_description: Wait until a freshly started release is healthy, or watch a live one for failures
version_added: 1.0.0
description:
  - Probes a readiness URL on the target host, every O(interval) seconds. A probe passes when O(url) answers with a
    2xx status and, when O(version) is set, O(version_url) answers with 2xx JSON whose C(version) equals O(version).
  - With O(mode=gate) (before traffic is switched to a release) the task succeeds as soon as O(successes) probes in
    a row passed, and fails when they did not within O(timeout) seconds. A failed probe starts the count again, so a
    release that flaps does not pass.
  - With O(mode=watch) (after the switch) the task probes for O(duration) seconds and fails as soon as O(failures)
    probes in a row failed; an isolated failure is tolerated.
  - A failure message says how many probes passed in a row at best, the last status or error (for example
    C(HTTP 503) or C(connection refused)) and the version seen against the one expected; with O(unit), the last
    lines of that unit's journal are appended, so the reason a release is unhealthy is in the task's output.
  - Needs only the Python standard library on the target host.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  url:
    description:
      - The readiness URL, for example C(http://127.0.0.1:8001/readyz). Any 2xx status passes.
    type: str
    required: true
  version:
    description:
      - The version the release must report at O(version_url). A probe that sees another version fails.
      - Requires O(version_url).
    type: str
  version_url:
    description:
      - A URL answering JSON with a C(version) key, for example C(http://127.0.0.1:8001/version).
      - Required with O(version); only read when O(version) is set.
    type: str
  mode:
    description:
      - V(gate) waits until O(successes) probes in a row passed, failing after O(timeout) seconds.
      - V(watch) probes for O(duration) seconds and fails once O(failures) probes in a row failed.
    type: str
    choices: [gate, watch]
    default: gate
  successes:
    description:
      - How many probes in a row must pass in O(mode=gate). At least V(1).
    type: int
    default: 3
  timeout:
    description:
      - Seconds O(mode=gate) waits for O(successes) passing probes in a row before it fails. Must be above V(0).
      - A probe started before the deadline runs to its end, so the task can take up to O(request_timeout) longer.
    type: float
    default: 60
  duration:
    description:
      - Seconds O(mode=watch) keeps probing. V(0) probes once.
    type: float
    default: 30
  failures:
    description:
      - How many failed probes in a row fail O(mode=watch). At least V(1).
    type: int
    default: 2
  interval:
    description:
      - Seconds between the start of one probe and the next. Must be above V(0).
    type: float
    default: 1.0
  request_timeout:
    description:
      - Seconds each HTTP request may take before the probe counts as failed. Must be above V(0).
    type: float
    default: 2.0
  unit:
    description:
      - A systemd unit, for example C(chat-api@green.service). When the task fails, the last O(log_lines) lines of
        its journal (C(journalctl -u UNIT -n LOG_LINES --no-pager -o cat)) are returned as RV(logs) and appended to
        the failure message.
      - When C(journalctl) is missing or fails, RV(logs) is empty; that never fails the task by itself.
    type: str
  log_lines:
    description:
      - How many journal lines of O(unit) to return on failure. At least V(1).
    type: int
    default: 20
  headers:
    description:
      - HTTP headers sent with every request, for example C(Host) to probe a site through nginx.
    type: dict
attributes:
  check_mode:
    support: full
    description: Does not probe (in check mode the release it would gate was not started) and returns
      RV(skipped=true) with RV(probes=0).
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to compare.
  idempotent:
    support: full
    description: Only sends C(GET) requests and reads the journal; it always reports no change.
notes:
  - Requests go straight to the host named in the URL; proxy environment variables and C(.netrc) are ignored, since
    the service probed is normally on the target host itself.
  - Redirects are followed; the status that counts is the final one.
seealso:
  - module: ansible.builtin.uri
  - module: ansible.builtin.wait_for
"""

EXAMPLES = r"""
- name: Wait until the idle color is ready and serves the release
  textbook.deploy.health_gate:
    url: http://127.0.0.1:8002/readyz
    version_url: http://127.0.0.1:8002/version
    version: "1.4.0"
    successes: 3
    timeout: 60
    unit: chat-api@green.service

- name: Watch the live release through nginx for two minutes after the switch
  textbook.deploy.health_gate:
    mode: watch
    url: http://127.0.0.1/readyz
    headers:
      Host: api.textbook.example.org
    duration: 120
    failures: 3
    unit: chat-api@green.service
"""

RETURN = r"""
probes:
  description: How many probes were made (V(0) in check mode).
  returned: always
  type: int
  sample: 5
passed:
  description: How many of them passed.
  returned: always
  type: int
  sample: 3
consecutive:
  description: How many probes in a row passed at the end.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds spent probing.
  returned: always
  type: float
  sample: 2.013
status:
  description: HTTP status of the last answer from O(url), or null when it did not answer.
  returned: always
  type: int
  sample: 200
version_seen:
  description: The last version read from O(version_url), or null.
  returned: always
  type: str
  sample: "1.4.0"
last_error:
  description: Why the last failed probe failed (for example C(HTTP 503), C(connection refused)), or null.
  returned: always
  type: str
  sample: HTTP 503
logs:
  description: The last O(log_lines) journal lines of O(unit) when the task failed; empty otherwise.
  returned: always
  type: list
  elements: str
  sample: ["INFO: Started server process", "ERROR: cannot reach Qdrant"]
skipped:
  description: True in check mode, where nothing is probed.
  returned: check mode
  type: bool
  sample: true
"""

import time

from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.textbook.deploy.plugins.module_utils import probe
from ansible_collections.textbook.deploy.plugins.module_utils.probe import describe_error


def option_error(params):
    """The first bad option, as a message naming it and the fix; None when all are fine."""
    if not params["url"].startswith(("http://", "https://")):
        return "url must be an http:// or https:// URL, got %r." % params["url"]
    if params["version"] is not None and not params["version_url"]:
        return ("version_url is required with version: give the URL that answers JSON with the running version, "
                "for example http://127.0.0.1:8001/version.")
    for name in ("successes", "failures", "log_lines"):
        if params[name] < 1:
            return "%s must be at least 1, got %s." % (name, params[name])
    for name in ("interval", "request_timeout", "timeout"):
        if params[name] <= 0:
            return "%s must be above 0 seconds, got %s." % (name, params[name])
    if params["duration"] < 0:
        return "duration must be 0 seconds or more, got %s." % params["duration"]
    return None


class Prober:
    """Probes the service and keeps the counts the result and the failure message are made of."""

    def __init__(self, params):
        self.params = params
        self.headers = dict((str(k), str(v)) for k, v in (params["headers"] or {}).items())
        self.probes = self.passed = self.consecutive = self.best = self.failed_in_a_row = 0
        self.status = self.version_seen = self.last_error = None

    def get(self, url):
        """(status, body) of a 2xx answer; raises on anything else."""
        return probe.get(url, self.headers, self.params["request_timeout"])

    def check_version(self):
        """None when version_url reports the expected version, else why not."""
        version, error = probe.reported_version(self.params["version_url"], self.headers,
                                                self.params["request_timeout"])
        if error:
            return error
        self.version_seen = version
        if self.version_seen != self.params["version"]:
            return "version %s, expected %s" % (self.version_seen, self.params["version"])
        return None

    def probe(self):
        """One probe; updates the counts and returns whether it passed."""
        self.probes += 1
        try:
            self.status = self.get(self.params["url"])[0]
            error = self.check_version() if self.params["version"] is not None else None
        except HTTPError as http_error:
            self.status, error = http_error.code, describe_error(http_error)
        except Exception as other:  # refused, timed out, bad TLS, broken answer: all a failed probe
            self.status, error = None, describe_error(other)
        if error:
            self.last_error = error
            self.consecutive, self.failed_in_a_row = 0, self.failed_in_a_row + 1
            return False
        self.passed += 1
        self.consecutive, self.failed_in_a_row = self.consecutive + 1, 0
        self.best = max(self.best, self.consecutive)
        return True

    def summary(self):
        """Counts, last error and versions, for a failure message."""
        text = "%d probes, %d passed, at best %d in a row; last: %s" % (
            self.probes, self.passed, self.best, self.last_error)
        if self.params["version"] is not None:
            text += "; version seen: %s, expected: %s" % (self.version_seen or "none", self.params["version"])
        return text

    def result(self, started):
        return dict(changed=False, probes=self.probes, passed=self.passed, consecutive=self.consecutive,
                    elapsed=round(time.monotonic() - started, 3), status=self.status,
                    version_seen=self.version_seen, last_error=self.last_error, logs=[])


def gate(prober, params):
    """None once `successes` probes in a row passed, else the failure message at the deadline."""
    deadline = time.monotonic() + params["timeout"]
    while True:
        next_probe = time.monotonic() + params["interval"]
        if prober.probe() and prober.consecutive >= params["successes"]:
            return None
        if time.monotonic() >= deadline:
            return "%s did not pass %d probes in a row within %s s (%s)." % (
                params["url"], params["successes"], params["timeout"], prober.summary())
        time.sleep(max(0, min(next_probe, deadline) - time.monotonic()))


def watch(prober, params):
    """None when `duration` passed without `failures` failed probes in a row, else the failure message."""
    started = time.monotonic()
    end = started + params["duration"]
    while True:
        next_probe = time.monotonic() + params["interval"]
        if not prober.probe() and prober.failed_in_a_row >= params["failures"]:
            return "%s failed %d probes in a row after %.1f s of a %s s watch (%s)." % (
                params["url"], prober.failed_in_a_row, time.monotonic() - started, params["duration"],
                prober.summary())
        if time.monotonic() >= end:
            return None
        time.sleep(max(0, min(next_probe, end) - time.monotonic()))


def journal(module, unit, lines):
    """The unit's last journal lines; [] when journalctl is missing or fails (logs help, they never fail a task)."""
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        return []
    try:
        rc, out, dummy = module.run_command([journalctl, "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"],
                                            handle_exceptions=False)
    except OSError:
        return []
    return out.splitlines() if rc == 0 else []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            version=dict(type="str"),
            version_url=dict(type="str"),
            mode=dict(type="str", choices=["gate", "watch"], default="gate"),
            successes=dict(type="int", default=3),
            timeout=dict(type="float", default=60),
            duration=dict(type="float", default=30),
            failures=dict(type="int", default=2),
            interval=dict(type="float", default=1.0),
            request_timeout=dict(type="float", default=2.0),
            unit=dict(type="str"),
            log_lines=dict(type="int", default=20),
            headers=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    error = option_error(params)
    if error:
        module.fail_json(msg=error)
    prober = Prober(params)
    started = time.monotonic()
    if module.check_mode:
        module.exit_json(skipped=True, msg="Check mode: not probed (the release to check is not started).",
                         **prober.result(started))
    failure = (gate if params["mode"] == "gate" else watch)(prober, params)
    result = prober.result(started)
    if failure is None:
        module.exit_json(**result)
    if params["unit"]:
        result["logs"] = journal(module, params["unit"], params["log_lines"])
        failure += ("\nLast %d journal lines of %s:\n%s" % (len(result["logs"]), params["unit"], "\n".join(result["logs"]))
                    if result["logs"] else "\nNo journal lines of %s could be read." % params["unit"])
    module.fail_json(msg="Health %s failed: %s" % (params["mode"], failure), **result)


if __name__ == "__main__":
    main()
