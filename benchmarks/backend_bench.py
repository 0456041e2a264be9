"""Backend deploy benchmark: playbooks/deploy_backend.yml and rollback_backend.yml on three sandbox hosts (a load
balancer and two app hosts, sandbox/backend_world.py), with and without a steady load through the load balancer.

    .venv/bin/python benchmarks/backend_bench.py                   # 5-7 minutes on 2 cores
    .venv/bin/python benchmarks/backend_bench.py --wait-quiet 900  # first wait (each step) until no other
                                                                   # ansible-playbook/pytest/molecule runs
    .venv/bin/python benchmarks/backend_bench.py --rate 0          # the same steps without load
    .venv/bin/python benchmarks/backend_bench.py --log-dir DIR     # keep each playbook's timed output and every
                                                                   # request (JSON lines, with the task then
                                                                   # running) in DIR

Steps, in this order, on the same hosts (each starts from the state the one before left):
1. first deploy of 1.1.0 (examples/chat_api) with a cold wheelhouse (none built yet; pip's own cache as the machine
   has it), no load; then the same command again (idempotent re-run, expected changed=0), no load.
2. the 1.2.0 and 1.3.0 wheelhouses are built beforehand, so the deploys below run with a warm wheelhouse: a tiny
   playbook of our own (written to the temp dir) runs the role's own build step, `include_role:
   textbook.deploy.backend tasks_from=build`, against the app hosts with backend_source=<release>; the role's build
   runs on the controller only (delegate_to localhost, run_once) and leaves `<package>-<version>.tar` in
   backend_wheelhouse_root, which the deploy then finds and reuses (the same path the deploy itself would take).
   Timed too, but not a target.
3. under load: the upgrade to 1.2.0 (warm wheelhouse).
4. under load: a failed release, 1.3.0 built with `never_ready` (its /readyz never succeeds): the playbook must
   fail at the health gate and the old release keep serving.
5. under load: rollback_backend.yml (back to 1.1.0, the release the idle color still points at).

The load: an open-loop generator in this script (standard library only): 10 threads (--threads), each with its
own keep-alive http.client connection to the load balancer (http://<lb>:80/), sending GET /version (every 10th
request GET /readyz, and every 10th POST /api/chat: a POST is never retried on the other host by the load
balancer, so it shows a request lost in a switch) on a fixed schedule, 200 requests/s in total (--rate). A request is failed when it gets a
non-2xx status or a connection error/timeout (the connection is then reopened for the next one). Per request:
scheduled time, send time, latency (send to end of body), ok, status, which version answered (/version), error.
Latency is measured from the send; "send lag" (send time minus scheduled time) says whether the generator kept
its schedule. Each loaded step has 10 s (--baseline) of load before ansible-playbook starts (the "before"
figures) and 3 s after it ends; the failed requests counted are those of all three windows. p50/p99 are of the
mix; /readyz (a Postgres query and a Qdrant request, ~20 ms) and /api/chat set the p99, so the notes also give
each path alone. The machine's CPU use (from /proc/stat) before and during, and other people's
ansible-playbook/pytest/molecule processes seen during a run ("NOT ALONE": the figures are skewed), are noted too.

Per playbook run: wall time of the whole ansible-playbook command; controller peak memory, sampled every 0.1 s as
the sum of VmRSS of ansible-playbook and all its descendants (children found through /proc/<pid>/task/*/children;
shared copy-on-write pages of forked workers are counted once per process, so this overstates; the sum of Pss is
printed beside it). Every output line of ansible-playbook is timestamped on arrival, so each failed request is
matched to the task that was running when it was sent, and task durations come from the task headers
(ansible.posix.profile_tasks is enabled as well; its summary is in the logs).

Inventory settings (the integration tests', but a 5 s watch window where they have 8 s; the watch window adds
directly to deploy and rollback time):
backend_gate_interval 0.3, backend_gate_timeout 30 (a release never ready fails after 30 s), backend_watch_seconds
5, backend_drain_seconds 1, backend_lock_timeout 2; everything else is the role's default (backend_gate_successes
3, backend_watch_failures 2). Hosts: prefix "tbb", subnet 10.80.0 (the tests and the demo use others).

Targets (from the issue): 0 failed requests; a new version to two hosts with a warm wheelhouse in under 60 s;
rollback in under 10 s; controller peak under 2 GB; p99 during the switch reported against before.
"""
import argparse
import collections
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / ".collections")]

from sandbox.backend_world import BackendWorld, never_ready  # noqa: E402
from playbook_run import Run, foreign_work, mib  # noqa: E402

PREFIX, SUBNET = "tbb", "10.80.0"
SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_watch_seconds": 5,
            "backend_drain_seconds": 1, "backend_lock_timeout": 2}
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
ROLLBACK = ROOT / "playbooks" / "rollback_backend.yml"
AFTER = 3.0  # seconds of load after a playbook ends

BUILD_PLAYBOOK = """\
---
# Build a release's wheelhouse on the controller only, with the role's own build step (what a deploy does first).
- name: Build the wheelhouse
  hosts: backend
  gather_facts: false
  tasks:
    - name: Build it
      ansible.builtin.include_role:
        name: textbook.deploy.backend
        tasks_from: build
"""


# --- the load ---------------------------------------------------------------------------------------------------

class Load:
    """Open-loop load: request n is due at start + n / rate; thread i sends requests i, i + threads, ..."""

    QUESTION = json.dumps({"question": "What does a health gate check before the switch?"})

    def __init__(self, host, rate, threads, readyz_every=10, timeout=10.0):
        self.host, self.rate, self.threads = host, rate, threads
        self.readyz_every, self.timeout = readyz_every, timeout
        self.records = []  # (due, sent, latency, path, ok, status, version, error)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []

    def start(self):
        self.started = time.monotonic() + 0.2
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self):
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)

    def _run(self, index):
        conn, mine, number = None, [], index
        while not self._stop.is_set():
            due = self.started + number / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            path = {self.readyz_every - 1: "/readyz", self.readyz_every // 2 - 1: "/api/chat"}.get(
                number % self.readyz_every, "/version")
            sent = time.monotonic()
            status = version = error = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, 80, timeout=self.timeout)
                if path == "/api/chat":
                    conn.request("POST", path, self.QUESTION, {"Content-Type": "application/json"})
                else:
                    conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if 200 <= status < 300 and path == "/version":
                    version = json.loads(body).get("version")
                if response.will_close:
                    conn.close()
                    conn = None
            except Exception as err:  # any connection error or timeout fails the request
                error = "%s: %s" % (type(err).__name__, err)
                if conn is not None:
                    conn.close()
                conn = None
            ok = error is None and 200 <= status < 300
            if error is None and not ok:
                error = "HTTP %d" % status
            mine.append((due, sent, time.monotonic() - sent, path, ok, status, version, error))
            number += self.threads
        if conn is not None:
            conn.close()
        with self._lock:
            self.records.extend(mine)

    def window(self, start, end):
        return [r for r in self.records if start <= r[1] < end]


def cpu_times():
    """(busy, total) jiffies of the whole machine, and this process's CPU seconds (the load generator's)."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields), sum(os.times()[:2])


def cpu_between(first, second):
    """Machine CPU busy in % of all cores, and this process's CPU in % of one core."""
    busy, total = second[0] - first[0], second[1] - first[1]
    return 100.0 * busy / max(total, 1), 100.0 * (second[2] - first[2]) / max(total / os.cpu_count() / 100.0, 1e-9)


def percentile(values, fraction):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def summary(records):
    latencies = [r[2] for r in records]
    lags = [r[1] - r[0] for r in records]
    return {"requests": len(records), "failed": sum(1 for r in records if not r[4]),
            "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "lag_p99_ms": percentile(lags, 0.99) * 1000,
            "versions": dict(collections.Counter(r[6] for r in records if r[6]))}


# --- the benchmark ----------------------------------------------------------------------------------------------

def describe_failures(run, records):
    """Failed requests grouped into bursts (gap under 1 s), each with the task that ran when they were sent."""
    failed = sorted(r for r in records if not r[4])
    bursts, lines = [], []
    for record in failed:
        if bursts and record[1] - bursts[-1][-1][1] < 1.0:
            bursts[-1].append(record)
        else:
            bursts.append([record])
    for burst in bursts:
        errors = collections.Counter(r[7] for r in burst)
        tasks = collections.Counter(run.task_at(r[1]) for r in burst)
        lines.append("  %d failed from %+.2f s to %+.2f s of the playbook; tasks: %s; errors: %s" % (
            len(burst), burst[0][1] - run.start, burst[-1][1] - run.start,
            "; ".join("%s (%d)" % item for item in tasks.most_common()),
            "; ".join("%s (%d)" % item for item in errors.most_common())))
    return lines


def switch_moments(run, records):
    """When the last answer of another version and the first of the new one came, relative to the playbook."""
    ordered = sorted((r for r in records if r[6]), key=lambda r: r[1])
    if not ordered:
        return ""
    final = ordered[-1][6]
    first_new = next((r[1] for r in ordered if r[6] == final), None)
    last_old = max((r[1] for r in ordered if r[6] != final), default=None)
    if last_old is None:
        return "only %s answered" % final
    return "first %s answer at %+.2f s, last other-version answer at %+.2f s (playbook ended at %+.2f s)" % (
        final, first_new - run.start, last_old - run.start, run.end - run.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0,
                        help="requests per second through the load balancer (0: the same steps without load)")
    parser.add_argument("--threads", type=int, default=10, help="load threads (one keep-alive connection each)")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of load before each loaded playbook")
    parser.add_argument("--log-dir", help="keep playbook outputs and request records here")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each step, wait up to SECONDS until no other ansible-playbook, pytest or "
                             "molecule process runs on the machine (a shared machine skews the figures)")
    args = parser.parse_args()
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    # a SIGTERM tears down too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
    head = subprocess.run(["git", "log", "-1", "--format=%h %cd", "--date=iso"], cwd=str(ROOT), capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "roles", "playbooks", "plugins", "sandbox"],
                           cwd=str(ROOT), capture_output=True, text=True).stdout.split("\n")
    print("checkout: %s%s" % (head, "; uncommitted changes in " + ", ".join(
        sorted({line[3:] for line in dirty if line.strip()})) if any(line.strip() for line in dirty) else ""),
          flush=True)
    rows, notes, failures = [], [], []
    current = {"run": None, "load": None}
    work = tempfile.mkdtemp(prefix="backend-bench-")
    world = BackendWorld(work, PREFIX, SUBNET, SETTINGS)
    try:
        started = time.monotonic()
        world.start()
        print("world up in %.1f s (lb %s, apps %s)" % (time.monotonic() - started, world.lb["address"],
                                                       ", ".join(h["address"] for h in world.apps)), flush=True)
        sources = {"1.2.0": world.release("1.2.0"), "1.3.0": world.release("1.3.0", never_ready)}
        build_playbook = Path(work) / "build_wheelhouse.yml"
        build_playbook.write_text(BUILD_PLAYBOOK)

        def wait_quiet(label):
            """Wait (up to --wait-quiet seconds) until no one else's playbook or test runs on the machine."""
            waited = time.monotonic()
            while args.wait_quiet and foreign_work({os.getpid()}) and time.monotonic() - waited < args.wait_quiet:
                time.sleep(5)
            if time.monotonic() - waited > 1:
                notes.append("%s: waited %.0f s for other work on the machine to end" % (
                    label, time.monotonic() - waited))

        def playbook(label, path, extra=None, expect_ok=True, expect_text=None, quiet=True):
            if quiet:
                wait_quiet(label)
            run = Run(label, path, world.inventory, extra)
            current["run"] = run
            run.run()
            current["run"] = None
            good = (run.rc == 0) if expect_ok else (run.rc != 0 and (expect_text or "") in run.output)
            if not good:
                failures.append("%s: rc=%d, unexpected; last output:\n%s" % (label, run.rc, run.output[-3000:]))
            print("%s: rc=%d in %.1f s, peak %.0f MiB RSS (%.0f MiB PSS)" % (
                label, run.rc, run.seconds, mib(run.peak_rss), mib(run.peak_pss)), flush=True)
            if run.foreign:
                kinds = collections.Counter(run.foreign.values())
                notes.append("%s: NOT ALONE: other processes ran meanwhile (%s); the times are skewed" % (
                    label, ", ".join("%d %s" % (n, kind) for kind, n in sorted(kinds.items()))))
            return run, good

        def loaded(label, path, extra=None, expect_ok=True, expect_text=None):
            if not args.rate:
                run, good = playbook(label, path, extra, expect_ok, expect_text)
                return run, good, None, None, None
            wait_quiet(label)
            load = Load(world.lb["address"], args.rate, args.threads).start()
            current["load"] = load
            time.sleep(1.2)
            cpu_start = cpu_times()
            time.sleep(args.baseline - 1)
            cpu_before = cpu_times()
            try:
                run, good = playbook(label, path, extra, expect_ok, expect_text, quiet=False)
                cpu_during = cpu_times()
                time.sleep(AFTER)
            finally:
                load.stop()
                current["load"] = None
            notes.append("%s: machine CPU busy %.0f %% of %d cores before (this process, the load generator: %.0f %% "
                         "of a core), %.0f %% during (%.0f %%)" % (
                             label, cpu_between(cpu_start, cpu_before)[0], os.cpu_count(),
                             cpu_between(cpu_start, cpu_before)[1], cpu_between(cpu_before, cpu_during)[0],
                             cpu_between(cpu_before, cpu_during)[1]))
            before = summary(load.window(load.started, run.start))
            during = summary(load.window(run.start, run.end))
            after = summary(load.window(run.end, run.end + AFTER + 1))
            everything = load.records
            run.save(args.log_dir, load)
            notes.append("%s: %s" % (label, switch_moments(run, load.window(run.start - 1, run.end + AFTER + 1))))
            notes.append("%s: achieved %.0f req/s; send lag p99 before %.0f ms, during %.0f ms; slowest request "
                         "during %.0f ms; versions during %s, after %s" % (
                             label, len(everything) / (max(r[1] for r in everything) - load.started),
                             before["lag_p99_ms"], during["lag_p99_ms"], during["max_ms"], during["versions"],
                             after["versions"]))
            for path in ("/version", "/readyz", "/api/chat"):
                first = summary([r for r in load.window(load.started, run.start) if r[3] == path])
                second = summary([r for r in load.window(run.start, run.end) if r[3] == path])
                notes.append("%s: %s alone: p50 / p99 %.1f / %.1f ms before, %.1f / %.1f ms during" % (
                    label, path, first["p50_ms"], first["p99_ms"], second["p50_ms"], second["p99_ms"]))
            bad = describe_failures(run, everything)
            if bad:
                notes.append("%s: failed requests:" % label)
                notes.extend(bad)
            return run, good, before, during, after

        def row(label, run, good, before=None, during=None, after=None):
            status = ("ok" if run.rc == 0 else "failed (rc=%d)" % run.rc) + ("" if good else ", UNEXPECTED")
            changed = sum(counts.get("changed", 0) for counts in run.recap().values())
            cells = [label, status + ", changed=%d" % changed, "%.1f s" % run.seconds,
                     "%.0f MiB (PSS %.0f)" % (mib(run.peak_rss), mib(run.peak_pss))]
            if during:
                failed = during["failed"] + before["failed"] + after["failed"]
                cells += ["%d / %d" % (failed, before["requests"] + during["requests"] + after["requests"]),
                          "%.1f / %.1f ms" % (before["p50_ms"], before["p99_ms"]),
                          "%.1f / %.1f ms" % (during["p50_ms"], during["p99_ms"])]
            else:
                cells += ["no load", "", ""]
            rows.append("| " + " | ".join(cells) + " |")
            slow = ", ".join("%s %.1f s" % item for item in run.slowest())
            notes.append("%s: slowest tasks: %s" % (label, slow))
            run.save(args.log_dir)

        loaded_suffix = ", under load" if args.rate else ", no load (--rate 0)"
        run, good = playbook("first deploy 1.1.0, cold wheelhouse", DEPLOY)
        row("first deploy 1.1.0 (cold wheelhouse)", run, good)
        run, good = playbook("re-run 1.1.0", DEPLOY)
        row("re-run 1.1.0 (idempotent)", run, good)
        if any(counts.get("changed") for counts in run.recap().values()):
            failures.append("re-run changed something: %s" % run.recap())
        for version in ("1.2.0", "1.3.0"):
            run, good = playbook("build wheelhouse %s" % version, build_playbook,
                                 {"backend_source": str(sources[version])})
            row("build the %s wheelhouse (controller only)" % version, run, good)
        run, good, before, during, after = loaded("upgrade to 1.2.0, warm wheelhouse", DEPLOY,
                                                  {"backend_source": str(sources["1.2.0"])})
        row("upgrade to 1.2.0 (warm wheelhouse)" + loaded_suffix, run, good, before, during, after)
        upgrade = run
        run, good, before, during, after = loaded("failed release 1.3.0", DEPLOY,
                                                  {"backend_source": str(sources["1.3.0"])}, expect_ok=False,
                                                  expect_text="failed its health gate")
        row("failed release 1.3.0 (never ready)" + loaded_suffix, run, good, before, during, after)
        run, good, before, during, after = loaded("rollback to 1.1.0", ROLLBACK)
        row("rollback to 1.1.0" + loaded_suffix, run, good, before, during, after)
        rollback = run
        # requests the load balancer retried on the other app host fail nobody, but show in nginx's error logs
        for host in [world.lb] + world.apps:
            log = world.ssh(host, "cat /var/log/nginx/error.log", check=False).stdout.splitlines()
            kinds = collections.Counter(re.sub(r"^\S+ \S+ (\[\w+\]).*?: (?:\*\d+ )?([^,(]*).*$", r"\1 \2", line)
                                        for line in log)
            notes.append("nginx error log on %s (whole run): %s" % (
                host["name"], "; ".join("%s (%d)" % item for item in kinds.most_common(6)) or "empty"))
    finally:
        if current["run"]:
            current["run"].kill()
        if current["load"]:
            current["load"].stop()
        world.stop()
        shutil.rmtree(work, ignore_errors=True)  # the hosts' files, stand-ins' state, sources and wheelhouses

    print()
    print("Settings: %s; load %.0f req/s over %d keep-alive connections (every 10th GET /readyz, else GET /version); "
          "load average after: %s" % (", ".join("%s=%s" % item for item in SETTINGS.items()), args.rate,
                                      args.threads, " ".join(open("/proc/loadavg").read().split()[:3])))
    print()
    print("| step | result | wall time | controller peak (sum of RSS) | failed / requests | p50 / p99 before "
          "| p50 / p99 during |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("Targets: upgrade with a warm wheelhouse < 60 s: %.1f s; rollback < 10 s: %.1f s" % (
        upgrade.seconds, rollback.seconds))
    print()
    print("\n".join(notes))
    if failures:
        print("\nUNEXPECTED:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
