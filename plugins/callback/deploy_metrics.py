# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_metrics
type: aggregate
short_description: Record every playbook run as Prometheus metrics, a JSON audit line and a Grafana annotation
version_added: 1.0.0
description:
  - Records each C(ansible-playbook) run - its environment, playbook, result, duration, recap counts and version -
    in up to four places, each enabled by its own option; with none of them set the callback does nothing.
  - O(textfile_dir) - a Prometheus textfile for node exporter's C(--collector.textfile.directory), C(textbook_deploy.prom).
    It is rewritten atomically (temporary file in the same directory, then rename; mode C(0644)) under a lock, so
    several playbooks, environments and concurrent runs share one file; each run replaces only its own
    environment's and playbook's series and adds to the cumulative C(textbook_deploy_runs_total) read back from
    the previous file.
  - O(pushgateway_url) - the same series of this environment and playbook are PUT to a Prometheus Pushgateway as
    the group C(/metrics/job/textbook_deploy/environment/<environment>/playbook/<playbook>) when the run ends.
  - O(audit_log) - one JSON line per run is appended (the file is created with mode C(0640)).
  - O(grafana_url) - a Grafana annotation spanning the run is created (C(POST /api/annotations)), and one per rollout
    step of the backend (each M(textbook.deploy.canary_analysis) verdict, per host), tagged C(deploy), C(canary), the
    environment and the outcome, as the step ends.
  - 'Metrics, all labelled C(environment) and C(playbook):
    C(textbook_deploy_runs_total{result="succeeded|failed"}) (counter, runs ended);
    C(textbook_deploy_in_progress) (1 from the first play start until the run ends, then 0);
    C(textbook_deploy_started_timestamp_seconds) (start of the latest run, Unix time);
    C(textbook_deploy_last_duration_seconds) (duration of the latest ended run);
    C(textbook_deploy_last_success_timestamp_seconds) (end of the latest succeeded run; kept through failed runs);
    C(textbook_deploy_last_changed) and C(textbook_deploy_last_failed) (the recap''s changed and failed counts of the
    latest ended run, summed over hosts; unreachable hosts are not in C(last_failed));
    C(textbook_deploy_info{version}) (always 1; one series per environment and playbook, the latest run''s version);
    C(textbook_deploy_canary_verdicts_total{outcome,metric}) (counter, the verdicts of the backend''s rollout steps,
    one per host and step: outcome V(passed), V(failed) or V(inconclusive), metric V(error-ratio), V(latency-p95),
    V(request-count) or V(none)).'
  - A run C(failed) when any host failed or was unreachable, or when the run ended without Ansible's recap
    (interrupted with Ctrl-C, or stopped by an error); otherwise it C(succeeded).
  - 'The environment is the variable C(deploy_environment), else C(unknown). The version is the variable
    C(deploy_version), else C(backend_version), else C(frontend_version), else C(unknown). No other variable is
    read. Both are resolved the way a task sees them: through Ansible''s variable manager for the play and a host
    of the play (the first host that ran a task in it, else the first inventory host of the play), so extra vars,
    C(set_fact) and registered results, play vars and vars files, role defaults of the play''s roles and inventory
    host and group vars all count, with Ansible''s precedence, and templates in the value are rendered.'
  - The environment is looked up at each play start until one play has it, and is then kept for the whole run (so
    the C(in_progress) series written at the start is the one cleared at the end); the version is looked up when
    the run ends, from the last play back to the first, so a version set during the run with C(set_fact) counts.
  - The playbook is the first playbook file's name without its directory and C(.yml)/C(.yaml) suffix.
  - Failures to write or send are warnings; this callback never fails a playbook. The Grafana token is only ever
    put into the request's C(Authorization) header, never displayed or written.
author:
  - textbook.deploy maintainers (!UNKNOWN)
requirements:
  - prometheus_client (Python library on the controller), for O(textfile_dir) and O(pushgateway_url).
options:
  textfile_dir:
    description:
      - Directory of node exporter's textfile collector; C(textbook_deploy.prom) is written there. Created when
        missing. Empty or unset - no textfile.
    type: str
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_TEXTFILE_DIR
    ini:
      - section: callback_deploy_metrics
        key: textfile_dir
  pushgateway_url:
    description:
      - Base URL of a Prometheus Pushgateway, for example C(http://pushgateway.example:9091).
    type: str
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_PUSHGATEWAY_URL
    ini:
      - section: callback_deploy_metrics
        key: pushgateway_url
  audit_log:
    description:
      - File that gets one JSON line per run - C(time) and C(started) (ISO 8601, UTC), C(environment),
        C(playbook), C(result), C(duration_seconds), C(counts) (C(ok), C(changed), C(failed), C(unreachable)),
        C(version), C(user) (the controller's C($USER)), C(hosts), C(interrupted) and C(check_mode).
      - Empty or unset - no audit log.
    type: str
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_AUDIT_LOG
    ini:
      - section: callback_deploy_metrics
        key: audit_log
  grafana_url:
    description:
      - Base URL of Grafana; an annotation with the tags C(deploy), the environment, the playbook and the result is
        created for each run. Needs O(grafana_token).
    type: str
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_GRAFANA_URL
    ini:
      - section: callback_deploy_metrics
        key: grafana_url
  grafana_token:
    description:
      - Grafana service account token (sent as the C(Authorization) header, C(Bearer <token>)). A secret - prefer the environment
        variable to the ini file.
    type: str
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_GRAFANA_TOKEN
    ini:
      - section: callback_deploy_metrics
        key: grafana_token
  timeout:
    description:
      - Seconds to wait for the Pushgateway and for Grafana.
    type: float
    default: 5
    env:
      - name: TEXTBOOK_DEPLOY_METRICS_TIMEOUT
    ini:
      - section: callback_deploy_metrics
        key: timeout
notes:
  - Enable it with C(callbacks_enabled = textbook.deploy.deploy_metrics) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=textbook.deploy.deploy_metrics).
  - The Pushgateway group is replaced on each push. Its C(textbook_deploy_runs_total) and
    C(textbook_deploy_last_success_timestamp_seconds) carry the values kept in the textfile when O(textfile_dir) is
    set; without it they only describe the pushed run.
  - With several playbooks on one command line the run is recorded once, under the first playbook's name.
"""

import atexit
import datetime
import fcntl
import getpass
import json
import os
import tempfile
import time
import urllib.parse

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url
from ansible.plugins.callback import CallbackBase

try:
    from ansible import context
except ImportError:  # pragma: no cover
    context = None

try:
    from ansible.template import Templar
except ImportError:  # pragma: no cover
    Templar = None

try:
    from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.parser import text_string_to_metric_families
    HAS_PROMETHEUS_CLIENT = True
except ImportError:
    HAS_PROMETHEUS_CLIENT = False

TEXTFILE = "textbook_deploy.prom"
UNKNOWN = "unknown"
ENVIRONMENT_VARS = ("deploy_environment",)
VERSION_VARS = ("deploy_version", "backend_version", "frontend_version")
SERIES = ("environment", "playbook")

# sample name -> (type, help, label names); the counter's family name is the sample name without _total
METRICS = {
    "textbook_deploy_runs_total": (
        "counter", "Playbook runs ended, by result (succeeded or failed).", SERIES + ("result",)),
    "textbook_deploy_in_progress": (
        "gauge", "1 while a run of the playbook in the environment is in progress, else 0.", SERIES),
    "textbook_deploy_started_timestamp_seconds": (
        "gauge", "Start of the latest run, in seconds since the epoch.", SERIES),
    "textbook_deploy_last_duration_seconds": (
        "gauge", "Duration of the latest ended run, in seconds.", SERIES),
    "textbook_deploy_last_success_timestamp_seconds": (
        "gauge", "End of the latest succeeded run, in seconds since the epoch.", SERIES),
    "textbook_deploy_last_changed": (
        "gauge", "Changed tasks of the latest ended run, summed over hosts.", SERIES),
    "textbook_deploy_last_failed": (
        "gauge", "Failed tasks of the latest ended run, summed over hosts (unreachable hosts not included).", SERIES),
    "textbook_deploy_info": (
        "gauge", "Always 1; the version of the latest run of the playbook in the environment.", SERIES + ("version",)),
    "textbook_deploy_canary_verdicts_total": (
        "counter", "Verdicts of the rollout steps' canary analyses (one per host and step), by outcome (passed, "
        "failed, inconclusive) and the metric that decided (none when passed).", SERIES + ("outcome", "metric")),
}
CANARY_ACTIONS = ("textbook.deploy.canary_analysis", "canary_analysis")


def _labels_key(labels):
    return tuple(sorted(labels.items()))


def _iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


def _safe_url(url):
    """The URL without any user:password part, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += ":%d" % parts.port
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_textfile(text):
    """Our samples from a textfile: {sample name: {labels key: value}}; other lines are dropped."""
    state = dict((name, {}) for name in METRICS)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in METRICS and set(sample.labels) == set(METRICS[sample.name][2]):
                state[sample.name][_labels_key(sample.labels)] = sample.value
    return state


def render(state):
    """The exposition text (prometheus_client's text format) of a state as parse_textfile returns it."""
    registry = CollectorRegistry(auto_describe=False)

    class _Collector(object):
        def collect(self):
            for name, (kind, doc, labels) in METRICS.items():
                if kind == "counter":
                    family = CounterMetricFamily(name[:-len("_total")], doc, labels=labels)
                else:
                    family = GaugeMetricFamily(name, doc, labels=labels)
                for key, value in sorted(state.get(name, {}).items()):
                    values = dict(key)
                    family.add_metric([values[label] for label in labels], value)
                if family.samples:
                    yield family

    registry.register(_Collector())
    return registry, generate_latest(registry).decode("utf-8")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "textbook.deploy.deploy_metrics"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._started = None
        self._finished = False
        self._playbook = None
        self._environment = None
        self._plays = []  # [(play, [Host that ran a task in it])]
        self._in_progress = set()  # (environment, playbook) series set to 1 by this run
        self._tally = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0}
        self._hosts = set()
        self._verdicts = {}  # (outcome, metric) -> canary steps judged so
        self._pid = os.getpid()

    # --- events ---------------------------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        if self._started is not None:  # a second playbook on the same command line: one run, the first's name
            return
        self._started = time.time()
        name = os.path.basename(to_native(getattr(playbook, "_file_name", None) or "playbook"))
        for suffix in (".yml", ".yaml"):
            if name.endswith(suffix):
                name = name[:-len(suffix)]
                break
        self._playbook = name
        atexit.register(self._at_exit)

    def v2_playbook_on_play_start(self, play):
        self._plays.append((play, []))
        if self._environment is None:
            self._environment = self._play_var(play, ENVIRONMENT_VARS)
        environment = self._environment or UNKNOWN
        if (environment, self._playbook) not in self._in_progress:
            self._in_progress.add((environment, self._playbook))
            self._update_textfile(self._start_update(environment))

    def _record(self, result, status):
        host = getattr(result, "host", None) or getattr(result, "_host", None)
        if host is not None:
            self._hosts.add(host.get_name())
            if self._plays and status in ("ok", "changed"):
                hosts = self._plays[-1][1]
                if host not in hosts:
                    hosts.append(host)
        if status == "changed":
            self._tally["changed"] += 1
            self._tally["ok"] += 1
        elif status in self._tally:
            self._tally[status] += 1

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")
        self._canary_step(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ok" if ignore_errors else "failed")
        self._canary_step(result)

    def _canary_step(self, result):
        """A rollout step's verdict: counted for the metrics and annotated in Grafana at once."""
        task = getattr(result, "_task", None)
        verdict = result._result
        if getattr(task, "action", None) not in CANARY_ACTIONS or not verdict.get("outcome"):
            return
        key = (verdict["outcome"], verdict.get("metric") or "none")
        self._verdicts[key] = self._verdicts.get(key, 0) + 1
        host = getattr(result, "_host", None)
        ended = time.time()
        text = "%s: %s %% step %s: %s" % (host.get_name() if host else UNKNOWN, verdict.get("percent", "?"),
                                          verdict["outcome"], verdict.get("detail", ""))
        self._post_annotation(int((ended - float(verdict.get("seconds") or 0)) * 1000), int(ended * 1000),
                              ["deploy", "canary", self._environment or UNKNOWN, verdict["outcome"]], text)

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        counts = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0}
        hosts = sorted(stats.processed)
        for host in hosts:
            summary = stats.summarize(host)
            counts["ok"] += summary.get("ok", 0)
            counts["changed"] += summary.get("changed", 0)
            counts["failed"] += summary.get("failures", 0)
            counts["unreachable"] += summary.get("unreachable", 0)
        self._finish(counts, hosts, interrupted=False)

    def _at_exit(self):
        # also inherited by forked workers, which must not record anything
        if os.getpid() == self._pid and self._started is not None and not self._finished:
            self._finish(dict(self._tally), sorted(self._hosts), interrupted=True)

    # --- variables ------------------------------------------------------------------------------------------------

    def _candidate_hosts(self, play, ran):
        hosts = list(ran)
        try:
            inventory = play.get_variable_manager()._inventory
            for host in inventory.get_hosts(play.hosts, order=getattr(play, "order", None)):
                if host not in hosts:
                    hosts.append(host)
                if len(hosts) >= 3:
                    break
        except Exception:  # pylint: disable=broad-except
            pass
        return hosts[:3] or [None]

    def _play_var(self, play, names, ran=()):
        """The first of names set for the play (as a task on one of its hosts sees it), rendered; else None."""
        variable_manager = play.get_variable_manager()
        if variable_manager is None:
            return None
        for host in self._candidate_hosts(play, ran):
            try:
                variables = variable_manager.get_vars(play=play, host=host, include_hostvars=False)
            except Exception as exc:  # pylint: disable=broad-except
                self._display.vvv("deploy_metrics: cannot read the play's variables: %s" % to_native(exc))
                continue
            for name in names:
                if name not in variables:
                    continue
                value = variables[name]
                try:
                    if Templar is not None:
                        value = Templar(loader=play.get_loader(), variables=variables).template(value)
                except Exception as exc:  # pylint: disable=broad-except
                    self._display.vvv("deploy_metrics: cannot render %s: %s" % (name, to_native(exc)))
                    continue
                if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
                    return str(value).strip()
        return None

    # --- the end of a run -----------------------------------------------------------------------------------------

    def _finish(self, counts, hosts, interrupted):
        self._finished = True
        ended = time.time()
        if self._environment is None:
            for play, ran in self._plays:
                self._environment = self._play_var(play, ENVIRONMENT_VARS, ran)
                if self._environment:
                    break
        version = None
        for play, ran in reversed(self._plays):
            version = self._play_var(play, VERSION_VARS, ran)
            if version:
                break
        failed = interrupted or counts["failed"] > 0 or counts["unreachable"] > 0
        run = {
            "environment": self._environment or UNKNOWN,
            "playbook": self._playbook,
            "result": "failed" if failed else "succeeded",
            "started": self._started,
            "ended": ended,
            "duration": max(ended - self._started, 0.0),
            "counts": counts,
            "version": version or UNKNOWN,
            "hosts": hosts,
            "interrupted": interrupted,
        }
        state = self._update_textfile(self._end_update(run))
        self._push(run, state)
        self._audit(run)
        self._annotate(run)

    def _path_option(self, name):
        # a str option, not a path one: Ansible turns an empty path into the current directory
        value = (self.get_option(name) or "").strip()
        return os.path.abspath(os.path.expanduser(value)) if value else None

    # --- textfile -------------------------------------------------------------------------------------------------

    def _start_update(self, environment):
        def update(state):
            series = _labels_key({"environment": environment, "playbook": self._playbook})
            state["textbook_deploy_in_progress"][series] = 1
            state["textbook_deploy_started_timestamp_seconds"][series] = self._started
        return update

    def _end_update(self, run):
        def update(state):
            series = _labels_key({"environment": run["environment"], "playbook": run["playbook"]})
            for environment, playbook in self._in_progress | {(run["environment"], run["playbook"])}:
                state["textbook_deploy_in_progress"][
                    _labels_key({"environment": environment, "playbook": playbook})] = 0
            runs = _labels_key({"environment": run["environment"], "playbook": run["playbook"],
                                "result": run["result"]})
            state["textbook_deploy_runs_total"][runs] = state["textbook_deploy_runs_total"].get(runs, 0) + 1
            state["textbook_deploy_started_timestamp_seconds"][series] = run["started"]
            state["textbook_deploy_last_duration_seconds"][series] = round(run["duration"], 3)
            if run["result"] == "succeeded":
                state["textbook_deploy_last_success_timestamp_seconds"][series] = run["ended"]
            state["textbook_deploy_last_changed"][series] = run["counts"]["changed"]
            state["textbook_deploy_last_failed"][series] = run["counts"]["failed"]
            info = state["textbook_deploy_info"]
            for key in [key for key in info if dict(key)["environment"] == run["environment"]
                        and dict(key)["playbook"] == run["playbook"]]:
                del info[key]
            info[_labels_key({"environment": run["environment"], "playbook": run["playbook"],
                              "version": run["version"]})] = 1
            verdicts = state["textbook_deploy_canary_verdicts_total"]
            for (outcome, metric), count in self._verdicts.items():
                key = _labels_key({"environment": run["environment"], "playbook": run["playbook"],
                                   "outcome": outcome, "metric": metric})
                verdicts[key] = verdicts.get(key, 0) + count
        return update

    def _update_textfile(self, update):
        """Apply update to the state read from the textfile and write it back; returns the new state (or None)."""
        directory = self._path_option("textfile_dir")
        if not directory:
            return None
        if not HAS_PROMETHEUS_CLIENT:
            self._display.warning("deploy_metrics: textfile_dir needs the Python library prometheus_client on the "
                                  "controller; no metrics written")
            return None
        path = os.path.join(directory, TEXTFILE)
        try:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, ".%s.lock" % TEXTFILE), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    with open(path) as handle:
                        state = parse_textfile(handle.read())
                except FileNotFoundError:
                    state = parse_textfile("")
                except ValueError as exc:
                    self._display.warning("deploy_metrics: %s is not in the Prometheus text format (%s); starting "
                                          "it afresh" % (path, to_native(exc)))
                    state = parse_textfile("")
                update(state)
                text = render(state)[1]
                fd, temporary = tempfile.mkstemp(prefix=".%s." % TEXTFILE, suffix=".tmp", dir=directory)
                try:
                    with os.fdopen(fd, "w") as handle:
                        handle.write(text)
                        handle.flush()
                        os.fchmod(handle.fileno(), 0o644)
                        os.fsync(handle.fileno())
                    os.replace(temporary, path)
                except BaseException:
                    os.unlink(temporary)
                    raise
            return state
        except OSError as exc:
            self._display.warning("deploy_metrics: cannot write %s: %s" % (path, to_native(exc)))
            return None

    # --- Pushgateway ----------------------------------------------------------------------------------------------

    def _push(self, run, state):
        url = self.get_option("pushgateway_url")
        if not url:
            return
        if not HAS_PROMETHEUS_CLIENT:
            self._display.warning("deploy_metrics: pushgateway_url needs the Python library prometheus_client on "
                                  "the controller; nothing pushed")
            return
        if state is None:  # no textfile: this run's series only
            state = dict((name, {}) for name in METRICS)
            self._end_update(run)(state)
        group = {"environment": run["environment"], "playbook": run["playbook"]}
        mine = dict((name, dict((key, value) for key, value in values.items()
                                if dict(key)["environment"] == group["environment"]
                                and dict(key)["playbook"] == group["playbook"]))
                    for name, values in state.items())
        registry = render(mine)[0]
        try:
            push_to_gateway(url, job="textbook_deploy", registry=registry, grouping_key=group,
                            timeout=self.get_option("timeout"))
        except Exception as exc:  # pylint: disable=broad-except
            self._display.warning("deploy_metrics: pushing to the Pushgateway at %s failed: %s"
                                  % (_safe_url(url), to_native(exc)))

    # --- audit log ------------------------------------------------------------------------------------------------

    def _audit(self, run):
        path = self._path_option("audit_log")
        if not path:
            return
        try:
            user = os.environ.get("USER") or getpass.getuser()
        except Exception:  # pylint: disable=broad-except
            user = UNKNOWN
        check_mode = False
        if context is not None:
            check_mode = bool(context.CLIARGS.get("check", False))
        record = {
            "time": _iso(run["ended"]),
            "started": _iso(run["started"]),
            "environment": run["environment"],
            "playbook": run["playbook"],
            "result": run["result"],
            "duration_seconds": round(run["duration"], 3),
            "counts": run["counts"],
            "version": run["version"],
            "user": user,
            "hosts": run["hosts"],
            "interrupted": run["interrupted"],
            "check_mode": check_mode,
        }
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        try:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            created = not os.path.exists(path)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                if created:
                    os.fchmod(fd, 0o640)
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            self._display.warning("deploy_metrics: cannot append to the audit log %s: %s" % (path, to_native(exc)))

    # --- Grafana --------------------------------------------------------------------------------------------------

    def _annotate(self, run):
        counts = run["counts"]
        self._post_annotation(
            int(run["started"] * 1000), int(run["ended"] * 1000),
            ["deploy", run["environment"], run["playbook"], run["result"]],
            "%s %s in %s: version %s, %.1f s, ok=%d changed=%d failed=%d unreachable=%d%s" % (
                run["playbook"], run["result"], run["environment"], run["version"], run["duration"], counts["ok"],
                counts["changed"], counts["failed"], counts["unreachable"],
                " (interrupted)" if run["interrupted"] else ""))

    def _post_annotation(self, start_ms, end_ms, tags, text):
        url = self.get_option("grafana_url")
        if not url:
            return
        token = self.get_option("grafana_token")
        if not token:
            self._display.warning("deploy_metrics: grafana_url is set but grafana_token is not; no annotation")
            return
        body = {"time": start_ms, "timeEnd": end_ms, "tags": tags, "text": text}
        endpoint = url.rstrip("/") + "/api/annotations"
        try:
            response = open_url(endpoint, method="POST", data=json.dumps(body),
                                headers={"Authorization": "Bearer %s" % token,
                                         "Content-Type": "application/json", "Accept": "application/json"},
                                timeout=self.get_option("timeout"), follow_redirects="none")
            response.read()
        except Exception as exc:  # pylint: disable=broad-except
            message = to_native(exc).replace(token, "********")
            self._display.warning("deploy_metrics: the Grafana annotation at %s failed: %s"
                                  % (_safe_url(endpoint), message))
