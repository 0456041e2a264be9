"""Backend deploy benchmark: playbooks/deploy_backend.yml and rollback_backend.yml on three sandbox hosts (a load
balancer and two app hosts, sandbox/backend_world.py): a good upgrade and five bad releases under a steady load
through the load balancer, each bad one to be aborted by the progressive delivery (the health gate, the smoke test
on the new color's own port, the canary steps) at the cost of (almost) no request.

    .venv/bin/python benchmarks/backend_bench.py                   # ~15 minutes on 2 cores
    .venv/bin/python benchmarks/backend_bench.py --wait-quiet 900  # first wait (each step) until no other
                                                                   # ansible-playbook/pytest/molecule runs
    .venv/bin/python benchmarks/backend_bench.py --rate 0          # the same steps without load
    .venv/bin/python benchmarks/backend_bench.py --log-dir DIR     # keep each playbook's timed output and every
                                                                   # request (JSON lines, with the task then
                                                                   # running) in DIR

Steps, in this order, on the same hosts (each starts from the state the one before left):
1. first deploy of 1.1.0 (examples/chat_api) with a cold wheelhouse (none built yet; pip's own cache as the machine
   has it), no load; then the same command again (idempotent re-run, expected changed=0), no load.
2. the wheelhouses of every release below (1.2.0 to 1.7.0) are built beforehand, so the deploys run with a warm
   wheelhouse: a tiny playbook of our own (written to the temp dir) runs the role's own build step, `include_role:
   textbook.deploy.backend tasks_from=build`, against the app hosts with backend_source=<release>; the role's build
   runs on the controller only (delegate_to localhost, run_once) and leaves `<package>-<version>.tar` in
   backend_wheelhouse_root, which the deploy then finds and reuses (the same path the deploy itself would take).
   Timed too, but not a target.
3. under load: the upgrade to 1.2.0 (warm wheelhouse): gate, smoke test, steps 10 / 50 / 100 %, must succeed.
4. under load, five bad releases built from the example (sandbox/backend_world.py), each with its own version (the
   integration tests' numbers), each expected to fail the playbook and leave the release before it (1.2.0, the
   most answered in the 10 s before) serving alone:
   1.3.0 `never_ready` (/readyz never succeeds: the health gate fails after backend_gate_timeout);
   1.5.0 `chat_fails` (POST /api/chat answers 500, /readyz fine: the smoke test should stop it before any traffic);
   1.6.0 `chat_fails_sometimes` (30 % of /api/chat fail after its first 10: past the smoke test, a canary step's
   error ratio should abort it); 1.7.0 `chat_slow` (+0.8 s on /api/chat: a canary step's p95 latency should abort
   it); 1.4.0 `crashes_after_start` (dies 6 s after it starts, again after every restart: during a step).
5. under load: rollback_backend.yml without arguments (back to 1.1.0, the release before the live one).

The load: sandbox/load.py's open-loop generator (standard library only, shared with the integration tests): 10
threads (--threads), each with its own keep-alive http.client connection to the load balancer (http://<lb>:80/),
200 requests/s in total (--rate): one request in five a POST /api/chat (--chat-every; a POST is never retried on
the other color or host by nginx once sent, so it shows a request lost in a switch or a crash), one in ten GET
/readyz, the rest GET /version (which release answered). A request is failed when it gets a non-2xx status or a
connection error/timeout. Each loaded step has 10 s (--baseline) of load before ansible-playbook starts (the
"before" figures) and 5 s after it ends. The failed requests counted for a step are those sent from the playbook's
start to 5 s after its end (its "window"), in % of the window's requests; the versions "after" are the /version
answers of those last 5 s. Failed requests are grouped in bursts and attributed to the task running when they were
sent (every output line of ansible-playbook is timestamped on arrival). The time to abort is from the playbook's
start to the start of the first task taking the new color out that ran (ABORT_TASKS): after a failed canary step
"Take the new color out of every host's traffic at once when a host failed a step" where the role has that task,
else "Switch every host back when one host failed a step" (activate.yml; its revert.yml reloads nginx in "Put the old
color back live"); after a failed gate or smoke test (the new color never had traffic) "Take the new color down
on every host when one host failed its gate or smoke test". Printed beside it: when the first nginx reload taking the
new color out of traffic ended; noted too: when the failure itself showed (the first fatal line) and in which
stage (health gate, smoke test, step N % with the canary metric). After each loaded step the app hosts are read
over SSH: live link, active colors, nginx upstream ports; "old release alone" means the 5 s after served only the
release expected (after a bad release the one serving before it, after the rollback 1.1.0) and on every app host
the live color runs and nginx sends to it alone (the other color may run out of traffic: the warm standby). The
machine's CPU use (from /proc/stat) before and during, and other people's ansible-playbook/pytest/molecule processes
seen during a run ("NOT ALONE": the figures are skewed), are noted too.

Per playbook run: wall time of the whole ansible-playbook command; controller peak memory, sampled every 0.1 s as
the sum of VmRSS of ansible-playbook and all its descendants (shared copy-on-write pages of forked workers are
counted once per process, so this overstates; the sum of Pss is printed beside it); task durations from the task
headers (ansible.posix.profile_tasks is enabled as well; its summary is in the logs).

Inventory settings: the role's defaults for the rollout (backend_canary_steps [10, 50, 100], backend_canary_window
5 s per step, backend_watch_seconds 6 s for the 100 % step, the canary_analysis thresholds), with the integration
tests' gate and lock settings: backend_gate_interval 0.3, backend_gate_timeout 30 (a release never ready fails
after 30 s), backend_drain_seconds 1, backend_lock_timeout 2. Hosts: prefix "tbb", subnet 10.80.0 (the tests and the
demo use others).

Targets (from the issue), printed PASS/FAIL: failed requests in the window: good upgrade 0, never ready 0, main
endpoint broken <= 0.1 %, 30 % failing <= 1 %, slow 0 (and rolled back), crash <= 0.2 %; every bad release rolled
back by itself with the old release serving alone afterwards; the upgrade of two hosts with a warm wheelhouse under
60 s; the rollback under 10 s.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / ".collections")]

from sandbox.backend_world import (BackendWorld, chat_fails, chat_fails_sometimes, chat_slow,  # noqa: E402
                                   crashes_after_start, never_ready)
from sandbox.load import Load, summarize  # noqa: E402
from playbook_run import Run, foreign_work, mib  # noqa: E402

PREFIX, SUBNET = "tbb", "10.80.0"
SETTINGS = {"backend_gate_interval": 0.3, "backend_gate_timeout": 30, "backend_drain_seconds": 1,
            "backend_lock_timeout": 2}
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
ROLLBACK = ROOT / "playbooks" / "rollback_backend.yml"
AFTER = 5.0  # seconds of load after a playbook ends, counted in its window
PORTS = {"blue": "8001", "green": "8002"}  # the role's backend_ports

# (version, patch, label, target: the largest share of failed requests in % of the window's)
GOOD = ("1.2.0", None, "good upgrade", 0.0)
BAD = [("1.3.0", never_ready, "never ready", 0.0),
       ("1.5.0", chat_fails, "main endpoint broken", 0.1),
       ("1.6.0", chat_fails_sometimes, "30 % failing", 1.0),
       ("1.7.0", chat_slow, "slow (+0.8 s)", 0.0),
       ("1.4.0", crashes_after_start, "crash 6 s after start", 0.2)]
# the tasks that take the new color out of traffic: after a failed canary step (the first name is the role's task
# of that job in canary_step.yml where it has one; else activate.yml's switch back, whose nginx task follows), after a
# failed gate or smoke test (the new color had no traffic yet)
ABORT_TASKS = ("Take the new color out of every host's traffic at once when a host failed a step",
               "Switch every host back when one host failed a step",
               "Take the new color down on every host when one host failed its gate or smoke test")
# the nginx reloads that end a failed step's traffic to the new color
OUT_TASKS = ("Take the new color out of every host's traffic at once when a host failed a step",
             "Put the old color back live (the live link and nginx, checked and reloaded gracefully)")
UPGRADE_TARGET, ROLLBACK_TARGET = 60.0, 10.0

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


def cpu_times():
    """(busy, total, steal) jiffies of the whole machine, and this process's CPU seconds (the load generator's)."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields), fields[7], sum(os.times()[:2])


def cpu_between(first, second):
    """Machine CPU busy in % of all cores (steal included), the hypervisor's steal alone in % of all cores, and this
    process's CPU in % of one core."""
    busy, total, steal = (second[index] - first[index] for index in range(3))
    own = 100.0 * (second[3] - first[3]) / max(total / os.cpu_count() / 100.0, 1e-9)
    return 100.0 * busy / max(total, 1), 100.0 * steal / max(total, 1), own


# --- reading a run ----------------------------------------------------------------------------------------------

def task_results(run):
    """[(start, name, result lines)] per task header (the name without its role's prefix), the result lines being
    those up to the next header."""
    tasks = []
    for moment, line in run.lines:
        match = re.match(r"(TASK|RUNNING HANDLER) \[(?:[\w.]+ : )?(.*?)\]", line)
        if match:
            tasks.append((moment, match.group(2), []))
        elif tasks and not line.startswith(("PLAY [", "PLAY RECAP")):
            tasks[-1][2].append(line)
    return tasks


def abort_moment(run):
    """(seconds from the playbook's start, task) of the first abort task that ran for a host, or (None, None);
    and the seconds at which the first nginx reload taking the new color out of traffic ended (None when none ran).
    """
    abort = task = out = None
    tasks = task_results(run)
    for index, (moment, name, lines) in enumerate(tasks):
        ran = any(re.match(r"(changed|ok|included): ", line) for line in lines)
        if ran and abort is None and name in ABORT_TASKS:
            abort, task = moment - run.start, name
        if ran and out is None and name in OUT_TASKS:
            out = (tasks[index + 1][0] if index + 1 < len(tasks) else run.end) - run.start
    return abort, task, out


def failure_moment(run):
    """(seconds from the start, task, stage) of the first failed task (its fatal line), the stage in words."""
    step = None
    for moment, name, lines in task_results(run):
        percent = re.match(r"Give the new color its share of the requests \(.*\), (\d+) %$", name)
        if percent:
            step = percent.group(1)
        bad = [line for line in lines if re.match(r"(fatal|failed): \[", line)]
        if bad:
            when = next(t for t, line in run.lines if t >= moment and re.match(r"(fatal|failed): \[", line))
            if name.startswith("Wait until the idle color is ready"):
                stage = "health gate"
            elif name.startswith("Ask the new color the textbook's questions"):
                stage = "smoke test"
            elif name.startswith("Judge the step") and step:
                metric = re.search(r"Canary analysis failed on ([\w-]+)", run.output)
                stage = "step %s %%%s" % (step, " (%s)" % metric.group(1) if metric else "")
            else:
                stage = name
            return when - run.start, name, stage
    return None, None, None


def describe_failures(run, records):
    """Failed requests grouped into bursts (gap under 1 s), each with the task that ran when they were sent."""
    failed = sorted(r for r in records if not r.ok)
    bursts, lines = [], []
    for record in failed:
        if bursts and record.sent - bursts[-1][-1].sent < 1.0:
            bursts[-1].append(record)
        else:
            bursts.append([record])
    for burst in bursts:
        errors = collections.Counter("%s %s" % (r.path, r.error) for r in burst)
        tasks = collections.Counter(run.task_at(r.sent) for r in burst)
        lines.append("  %d failed from %+.2f s to %+.2f s of the playbook; tasks: %s; errors: %s" % (
            len(burst), burst[0].sent - run.start, burst[-1].sent - run.start,
            "; ".join("%s (%d)" % item for item in tasks.most_common()),
            "; ".join("%s (%d)" % item for item in errors.most_common())))
    return lines


def failures_by_task(run, records):
    return collections.Counter(run.task_at(r.sent) for r in records if not r.ok)


def version_moments(run, records):
    """When each version answered first and last, relative to the playbook's start."""
    spans = {}
    for record in records:
        if record.version:
            first, last = spans.get(record.version, (record.sent, record.sent))
            spans[record.version] = (min(first, record.sent), max(last, record.sent))
    return ", ".join("%s from %+.2f s to %+.2f s" % (version, first - run.start, last - run.start)
                     for version, (first, last) in sorted(spans.items(), key=lambda item: item[1]))


def hosts_state(world):
    """Per app host: (live color, active colors, the ports nginx's upstream sends to)."""
    state = {}
    for host in world.apps:
        out = world.ssh(host, "readlink /opt/chat-api/live; echo --; for c in blue green; do "
                              "systemctl is-active -q chat-api@$c && echo $c; done; echo --; "
                              "grep -E '^\\s*server 127\\.0\\.0\\.1:' /etc/nginx/conf.d/chat-api.conf",
                        check=False).stdout
        live, active, site = (out.split("--\n") + ["", "", ""])[:3]
        state[host["name"]] = (live.strip(), active.split(),
                               re.findall(r"server 127\.0\.0\.1:(\d+)([^;]*);", site))
    return state


def serves_alone(state):
    """Every host: its live color runs and nginx sends to it alone (no backup, no share); the other color may run,
    out of traffic, as the warm standby."""
    return all(live in active and [port for port, _ in upstream] == [PORTS.get(live)]
               for live, active, upstream in state.values())


# --- the benchmark ----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0,
                        help="requests per second through the load balancer (0: the same steps without load)")
    parser.add_argument("--threads", type=int, default=10, help="load threads (one keep-alive connection each)")
    parser.add_argument("--chat-every", type=int, default=5, help="one request in N is a POST /api/chat")
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
    rows, loaded_rows, targets, notes, failures = [], [], [], [], []
    current = {"run": None, "load": None}
    work = tempfile.mkdtemp(prefix="backend-bench-")
    world = BackendWorld(work, PREFIX, SUBNET, SETTINGS)
    try:
        started = time.monotonic()
        world.start()
        print("world up in %.1f s (lb %s, apps %s)" % (time.monotonic() - started, world.lb["address"],
                                                       ", ".join(h["address"] for h in world.apps)), flush=True)
        sources = {version: world.release(version, patch) for version, patch, _, _ in [GOOD] + BAD}
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

        def playbook(label, path, extra=None, expect_ok=True, expect_text=(), quiet=True):
            if quiet:
                wait_quiet(label)
            run = Run(label, path, world.inventory, extra)
            current["run"] = run
            run.run()
            current["run"] = None
            good = (run.rc == 0) if expect_ok else (run.rc != 0 and any(text in run.output for text in expect_text))
            if not good:
                failures.append("%s: rc=%d, unexpected; last output:\n%s" % (label, run.rc, run.output[-3000:]))
            print("%s: rc=%d in %.1f s, peak %.0f MiB RSS (%.0f MiB PSS)" % (
                label, run.rc, run.seconds, mib(run.peak_rss), mib(run.peak_pss)), flush=True)
            if run.foreign:
                kinds = collections.Counter(run.foreign.values())
                notes.append("%s: NOT ALONE: other processes ran meanwhile (%s); the times are skewed" % (
                    label, ", ".join("%d %s" % (n, kind) for kind, n in sorted(kinds.items()))))
            return run, good

        def row(label, run, good):
            status = ("ok" if run.rc == 0 else "failed (rc=%d)" % run.rc) + ("" if good else ", UNEXPECTED")
            changed = sum(counts.get("changed", 0) for counts in run.recap().values())
            rows.append("| %s | %s, changed=%d | %.1f s | %.0f MiB (PSS %.0f) |" % (
                label, status, changed, run.seconds, mib(run.peak_rss), mib(run.peak_pss)))
            notes.append("%s: slowest tasks: %s" % (label, ", ".join("%s %.1f s" % item for item in run.slowest())))
            run.save(args.log_dir)

        def loaded(label, path, extra, expect_ok, expect_text, serves):
            """One playbook under load; returns its figures (a dict)."""
            load = None
            if args.rate:
                wait_quiet(label)
                load = Load(world.lb["address"], args.rate, args.threads, chat_every=args.chat_every).start()
                current["load"] = load
                time.sleep(1.2)
                cpu_start = cpu_times()
                time.sleep(max(args.baseline - 1, 0))
                cpu_before = cpu_times()
            try:
                run, good = playbook(label, path, extra, expect_ok, expect_text, quiet=not args.rate)
                if load:
                    cpu_during = cpu_times()
                    time.sleep(AFTER)
            finally:
                if load:
                    load.stop()
                    current["load"] = None
            row(label, run, good)
            state = hosts_state(world)
            abort, abort_task, out = abort_moment(run)
            failed_at, failed_task, stage = failure_moment(run)
            figures = {"label": label, "run": run, "good": good, "state": state, "abort": abort, "out": out,
                       "stage": stage,
                       "alone": serves_alone(state), "serves": serves, "load": load}
            notes.append("%s: app hosts after (live, running, upstream ports): %s" % (label, "; ".join(
                "%s %s %s %s" % (name, live, "+".join(active) or "none",
                                 ",".join(port + ("(backup)" if "backup" in options else "")
                                          for port, options in upstream))
                for name, (live, active, upstream) in sorted(state.items()))))
            if failed_at is not None:
                notes.append("%s: the failure showed at %+.2f s (%s: %s); abort from %s%s" % (
                    label, failed_at, stage, failed_task,
                    "%+.2f s (%s)" % (abort, abort_task) if abort is not None else "never (no abort task ran)",
                    "; nginx sent no more to the new color from %+.2f s" % out if out is not None else ""))
                verdict = re.search(r"Canary analysis failed on [^\n]*", run.output)
                if verdict:
                    notes.append("%s: %s" % (label, verdict.group(0).strip()[:400]))
            if not load:
                figures.update(window=None, after=None)
                return figures
            run.save(args.log_dir, load)
            before = load.summary(load.started, run.start)
            during = load.summary(run.start, run.end)
            window = load.summary(run.start, run.end + AFTER)
            after = load.summary(run.end, run.end + AFTER)
            figures.update(before=before, during=during, window=window, after=after)
            if serves is None:  # a bad release: the release that served before it (1.2.0 unless its upgrade failed)
                serves = max(before["versions"], key=before["versions"].get) if before["versions"] else None
                figures["serves"] = serves
            figures["alone"] = figures["alone"] and set(after["versions"]) == {serves}
            before_cpu, during_cpu = cpu_between(cpu_start, cpu_before), cpu_between(cpu_before, cpu_during)
            notes.append("%s: machine CPU busy %.0f %% of %d cores before, of which the hypervisor's steal %.0f %% "
                         "(this process, the load generator: %.0f %% of a core), %.0f %% during, steal %.0f %% (%.0f %%)"
                         % ((label, before_cpu[0], os.cpu_count()) + before_cpu[1:] + during_cpu))
            notes.append("%s: versions answering: %s (playbook ended at %+.2f s)" % (
                label, version_moments(run, load.window(run.start - 1, run.end + AFTER)), run.seconds))
            notes.append("%s: achieved %.0f req/s (%s); send lag p99 before %.0f ms, during %.0f ms; slowest request "
                         "during %.0f ms; failed before the playbook: %d of %d" % (
                             label, load.achieved_rate(), ", ".join("%s %d" % item for item in sorted(
                                 window["paths"].items())), before["lag_p99_ms"], during["lag_p99_ms"],
                             during["max_ms"], before["failed"], before["requests"]))
            for kind in ("/version", "/readyz", "/api/chat"):
                first, second = load.summary(load.started, run.start, kind), load.summary(run.start, run.end, kind)
                notes.append("%s: %s alone: p50 / p99 %.1f / %.1f ms before, %.1f / %.1f ms during; failed in the "
                             "window %d of %d" % (label, kind, first["p50_ms"], first["p99_ms"], second["p50_ms"],
                                                  second["p99_ms"], *(lambda s: (s["failed"], s["requests"]))(
                                                      load.summary(run.start, run.end + AFTER, kind))))
            bad = describe_failures(run, load.window(load.started, run.end + AFTER))
            if bad:
                notes.append("%s: failed requests:" % label)
                notes.extend(bad)
            return figures

        def loaded_row(name, figures):
            run, window, after = figures["run"], figures["window"], figures["after"]
            status = ("ok" if run.rc == 0 else "failed (rc=%d)" % run.rc) + ("" if figures["good"] else
                                                                               ", UNEXPECTED")
            abort = "" if figures["abort"] is None else "%.1f s" % figures["abort"]
            if figures["out"] is not None:
                abort += " (nginx off it at %.1f s)" % figures["out"]
            cells = [name, status, figures["stage"] or "", abort, "%.1f s" % run.seconds]
            if window:
                cells += ["%d / %d (%.3f %%)" % (window["failed"], window["requests"], window["failed_percent"]),
                          ", ".join("%s (%d)" % item for item in sorted(after["versions"].items())) or "none",
                          "yes" if figures["alone"] else "NO",
                          "%.1f / %.1f ms" % (figures["before"]["p50_ms"], figures["before"]["p99_ms"]),
                          "%.1f / %.1f ms" % (figures["during"]["p50_ms"], figures["during"]["p99_ms"])]
            else:
                cells += ["no load", "", "yes" if figures["alone"] else "NO", "", ""]
            loaded_rows.append("| " + " | ".join(cells) + " |")

        def target(text, figure, passed):
            targets.append("| %s | %s | %s |" % (text, figure, "n/a" if passed is None else
                                                 "PASS" if passed else "FAIL"))

        def failed_target(name, figures, limit, rolled_back=False):
            window = figures["window"]
            if window is None:
                target("%s: failed requests %s" % (name, "0" if not limit else "<= %g %%" % limit), "no load", None)
                return
            passed = window["failed"] == 0 if not limit else window["failed_percent"] <= limit
            text = "%s: %s" % (name, "0 failed requests" if not limit else "<= %g %% failed requests" % limit)
            figure = "%d of %d (%.3f %%)" % (window["failed"], window["requests"], window["failed_percent"])
            if rolled_back:
                text += ", rolled back"
                passed = passed and figures["run"].rc != 0 and figures["alone"]
                figure += ", %s" % ("rolled back" if figures["run"].rc != 0 and figures["alone"] else
                                    "NOT rolled back")
            target(text, figure, passed)

        suffix = ", under load" if args.rate else ", no load (--rate 0)"
        run, good = playbook("first deploy 1.1.0, cold wheelhouse", DEPLOY)
        row("first deploy 1.1.0 (cold wheelhouse)", run, good)
        run, good = playbook("re-run 1.1.0", DEPLOY)
        row("re-run 1.1.0 (idempotent)", run, good)
        if any(counts.get("changed") for counts in run.recap().values()):
            failures.append("re-run changed something: %s" % run.recap())
        for version, _, _, _ in [GOOD] + BAD:
            run, good = playbook("build wheelhouse %s" % version, build_playbook,
                                 {"backend_source": str(sources[version])})
            row("build the %s wheelhouse (controller only)" % version, run, good)

        version, _, name, limit = GOOD
        upgrade = loaded("upgrade to 1.2.0, warm wheelhouse", DEPLOY, {"backend_source": str(sources[version])},
                         True, (), "1.2.0")
        loaded_row("upgrade to 1.2.0 (warm wheelhouse)" + suffix, upgrade)
        failed_target(name, upgrade, limit)
        bad_runs = []
        for version, patch, name, limit in BAD:
            figures = loaded("%s %s (%s)" % (name, version, patch.__name__), DEPLOY,
                             {"backend_source": str(sources[version])}, False,
                             ("failed before getting any traffic", "failed its rollout"), None)
            loaded_row("%s: %s (%s)%s" % (version, name, patch.__name__, suffix), figures)
            failed_target(name, figures, limit, rolled_back=patch is chat_slow)
            bad_runs.append((version, name, figures))
        rolled = [(version, figures["run"].rc != 0 and figures["good"] and figures["alone"])
                  for version, _, figures in bad_runs]
        target("every bad release rolled back by itself, the old release then serving alone",
               ", ".join("%s %s (%s)" % (version, "yes" if ok else "NO",
                                         figures["serves"] or "hosts read only: no load")
                         for (version, ok), (_, _, figures) in zip(rolled, bad_runs)),
               all(ok for _, ok in rolled))
        target("upgrade of two hosts, warm wheelhouse, < %.0f s" % UPGRADE_TARGET, "%.1f s" % upgrade["run"].seconds,
               upgrade["run"].rc == 0 and upgrade["run"].seconds < UPGRADE_TARGET)
        rollback = loaded("rollback to 1.1.0", ROLLBACK, None, True, (), "1.1.0")
        loaded_row("rollback_backend.yml (to 1.1.0)" + suffix, rollback)
        target("rollback < %.0f s" % ROLLBACK_TARGET, "%.1f s" % rollback["run"].seconds,
               rollback["run"].rc == 0 and rollback["run"].seconds < ROLLBACK_TARGET)
        if rollback["window"] is not None:
            target("rollback: 0 failed requests, 1.1.0 then serving alone", "%d of %d, %s" % (
                rollback["window"]["failed"], rollback["window"]["requests"],
                "alone" if rollback["alone"] else "NOT alone"),
                rollback["window"]["failed"] == 0 and rollback["alone"])
        totals = [figures["window"] for figures in [upgrade] + [f for _, _, f in bad_runs] + [rollback]
                  if figures["window"]]
        if totals:
            every = [r for figures in [upgrade] + [f for _, _, f in bad_runs] + [rollback] if figures["load"]
                     for r in figures["load"].window(figures["run"].start, figures["run"].end + AFTER)]
            by_task = collections.Counter()
            for figures in [upgrade] + [f for _, _, f in bad_runs] + [rollback]:
                if figures["load"]:
                    by_task.update(failures_by_task(figures["run"], figures["load"].window(
                        figures["run"].start, figures["run"].end + AFTER)))
            whole = summarize(every)
            notes.append("all loaded windows: %d failed of %d requests (%.3f %%); by task: %s" % (
                whole["failed"], whole["requests"], whole["failed_percent"],
                "; ".join("%s (%d)" % item for item in by_task.most_common()) or "none"))
        # requests nginx retried on the other color or host fail nobody, but show in nginx's error logs
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
    print("Settings: %s, the rest the role's defaults; load %.0f req/s over %d keep-alive connections (1 in %d POST "
          "/api/chat, 1 in 10 GET /readyz, else GET /version); load average after: %s" % (
              ", ".join("%s=%s" % item for item in SETTINGS.items()), args.rate, args.threads, args.chat_every,
              " ".join(open("/proc/loadavg").read().split()[:3])))
    print()
    print("| step | result | wall time | controller peak (sum of RSS) |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| step | result | aborted at | time to abort | wall time | failed / requests (playbook + %.0f s) "
          "| versions in the %.0f s after | old release alone after | p50 / p99 before | p50 / p99 during |" % (
              AFTER, AFTER))
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(loaded_rows))
    print()
    print("| target | figure | |")
    print("|---|---|---|")
    print("\n".join(targets))
    print()
    print("\n".join(notes))
    if failures:
        print("\nUNEXPECTED:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
