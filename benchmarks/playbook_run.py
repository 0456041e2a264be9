"""Running one ansible-playbook command for a benchmark: wall time, the controller's peak memory (ansible-playbook and
all its descendants, sampled every 0.1 s), timestamped output lines, task spans and the recap. Shared by the
benchmarks in this directory (run as scripts: this directory is on their sys.path).
"""
import collections
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK_BIN = ROOT / ".venv" / "bin" / "ansible-playbook"


def mib(kib):
    return kib / 1024.0


# --- the controller's memory ------------------------------------------------------------------------------------

def _tree(pid):
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        try:
            tasks = os.listdir("/proc/%d/task" % current)
        except OSError:
            continue
        for task in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (current, task)) as handle:
                    stack.extend(int(child) for child in handle.read().split())
            except OSError:
                pass
    return pids


def _field_kib(path, name):
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def foreign_work(mine):
    """Other people's ansible-playbook, pytest and molecule processes on the machine (they skew the figures)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    words = handle.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            name = next((word for word in ("ansible-playbook", "pytest", "molecule") if any(
                word in arg for arg in words[:3])), None)
            if name:
                found[int(entry)] = name
    return found


def tree_memory(pid):
    """(sum of VmRSS, sum of Pss) in KiB of pid and all its descendants."""
    pids = _tree(pid)
    return (sum(_field_kib("/proc/%d/status" % p, "VmRSS:") for p in pids),
            sum(_field_kib("/proc/%d/smaps_rollup" % p, "Pss:") for p in pids))


# --- running a playbook -----------------------------------------------------------------------------------------

class Run:
    """One ansible-playbook command: wall time, peak memory, timestamped output lines, task headers."""

    def __init__(self, label, playbook, inventory, extra=None):
        self.label, self.playbook, self.inventory, self.extra = label, playbook, inventory, dict(extra or {})
        self.lines, self.peak_rss, self.peak_pss, self.proc = [], 0, 0, None
        self.foreign = {}

    def run(self):
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1",
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                   PYTHONPATH=os.pathsep.join([str(ROOT / ".collections"), str(ROOT),
                                               os.environ.get("PYTHONPATH", "")]))
        cmd = [str(PLAYBOOK_BIN), "-i", str(self.inventory)]
        if self.extra:
            cmd += ["-e", json.dumps(self.extra)]
        cmd.append(str(self.playbook))
        self.start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(ROOT),
                                     env=env)
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
        self.rc = self.proc.wait()
        self.end = time.monotonic()
        sampler.join()
        self.proc = None
        return self

    def _sample(self):
        proc, count = self.proc, 0
        while proc.poll() is None:
            rss, pss = tree_memory(proc.pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            if count % 10 == 0:
                self.foreign.update(foreign_work(set(_tree(proc.pid)) | {os.getpid()}))
            count += 1
            time.sleep(0.1)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()

    @property
    def seconds(self):
        return self.end - self.start

    @property
    def output(self):
        return "\n".join(line for _, line in self.lines)

    def tasks(self):
        """[(start, end, name)] from the TASK headers (a task ends when the next header or the recap comes)."""
        marks = [(t, re.match(r"(TASK|RUNNING HANDLER) \[(.*?)\]", line).group(2)) for t, line in self.lines
                 if re.match(r"(TASK|RUNNING HANDLER) \[", line)]
        ends = [t for t, line in self.lines if line.startswith(("PLAY RECAP", "PLAY ["))]
        spans = []
        for index, (start, name) in enumerate(marks):
            later = [t for t, _ in marks[index + 1:index + 2]] + [t for t in ends if t > start]
            spans.append((start, min(later) if later else self.end, name))
        return spans

    def task_at(self, moment):
        current = "(before the first task)"
        for start, _, name in self.tasks():
            if start <= moment:
                current = name
        return current

    def slowest(self, count=6):
        totals = collections.Counter()
        for start, end, name in self.tasks():
            totals[name] += end - start
        return totals.most_common(count)

    def recap(self):
        totals = {}
        for name, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", self.output, re.M):
            totals[name] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        return totals

    def save(self, directory, load=None):
        if not directory:
            return
        slug = re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")
        with open(os.path.join(directory, slug + ".log"), "w") as handle:
            for moment, line in self.lines:
                handle.write("%8.3f %s\n" % (moment - self.start, line))
        if load is not None:
            with open(os.path.join(directory, slug + ".requests.jsonl"), "w") as handle:
                for due, sent, latency, path, ok, status, version, error in sorted(load.records):
                    handle.write(json.dumps({"due": round(due - self.start, 4), "sent": round(sent - self.start, 4),
                                             "latency_ms": round(latency * 1000, 2), "path": path, "ok": ok,
                                             "status": status, "version": version, "error": error,
                                             "task": self.task_at(sent)}) + "\n")
