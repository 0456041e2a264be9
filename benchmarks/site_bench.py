"""The whole platform: playbooks/site.yml against inventories/local on the sandbox (the world `make demo` deploys
into: the stand-ins and four Debian hosts), a first run on fresh stand-ins and hosts, then the idempotent re-run.

    .venv/bin/python benchmarks/site_bench.py                  # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/site_bench.py --cold           # without the controller's build caches (below)
    .venv/bin/python benchmarks/site_bench.py --log-dir DIR    # keep each run's timed output in DIR

Before the first run: `python -m sandbox down`, `up` and `hosts up 4`, so every stage has everything to do on the
hosts and the stand-ins (new Neon project and Qdrant collections, bare hosts, an empty Pages site, no GitHub
environment). The controller's caches are kept as the machine has them unless --cold: the backend's wheelhouse
(backend_wheelhouse_root) and Docusaurus' node_modules in examples/textbook (--cold removes both: pip's and npm's own
download caches stay, as on any team laptop or CI cache); what was there is printed. The environment's CA
(.sandbox/ca, which `python -m sandbox down` keeps) is kept: it is made once per environment, not per deploy.

Per run: wall time of the ansible-playbook command; controller peak memory (sum of VmRSS, and of Pss, of
ansible-playbook and all its descendants, sampled every 0.1 s: benchmarks/playbook_run.py); each play's time (from
its PLAY header to the next); changed counts per host. The re-run must change nothing (exit 1 otherwise). Other
ansible-playbook/pytest/molecule processes seen during a run are printed: the figures are skewed then.

The reader's side of the first run: a reader thread asks the load balancer `POST /api/chat` a question from the
textbook every 0.5 s (over HTTPS, the environment's CA) and notes when the first answer from the right page came,
and when the published site's JavaScript first called the API; both in seconds from the start of site.yml. The
journey checks' own task times (frontend and backend) and the content stage's time are printed for both runs.

Targets (issue 7 and the platform's budget): controller under 2 GB; p95 under 10 minutes for the frontend and 30
minutes for the backend; the idempotent re-run under 60 s. Issue 14: the journey check adds under 3 s to a deploy.
"""
import argparse
import os
import re
import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from playbook_run import Run, foreign_work, mib  # noqa: E402

SITE = ROOT / "playbooks" / "site.yml"
INVENTORY = ROOT / "inventories" / "local"
PYTHON = ROOT / ".venv" / "bin" / "python"
CACHES = {
    "wheelhouse": Path(os.path.expanduser("~/.cache/textbook-deploy/wheelhouses")),
    "node_modules": ROOT / "examples" / "textbook" / "node_modules",
}


CA = ROOT / ".sandbox" / "ca" / "ca.crt"  # inventories/local's security_ca_dir
API = "https://10.77.0.11/api/chat"     # the load balancer of inventories/local
SITE_PAGE = "textbook/textbook/"        # under the Pages host
QUESTION = ("The zero-moment point", "/docs/locomotion-and-control/")
JOURNEY_TASKS = ("Check the reader's journey on the live site", "Check the reader's journey through the public API")


class Reader(threading.Thread):
    """Asks the platform what a reader would, until it answers from the right page and the site calls the API."""

    def __init__(self, pages_base):
        super().__init__(daemon=True)
        self.pages_base, self.stop, self.answered, self.site_live = pages_base, threading.Event(), None, None

    def run(self):
        started = time.monotonic()
        while not self.stop.wait(0.5) and (self.answered is None or self.site_live is None):
            if self.answered is None and self._answers():
                self.answered = time.monotonic() - started
            if self.site_live is None and self._site_calls_api():
                self.site_live = time.monotonic() - started

    def _answers(self):
        if not CA.exists():  # the security stage makes it
            return False
        request = urllib.request.Request(API, data=json.dumps({"question": QUESTION[0]}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5, context=ssl.create_default_context(cafile=str(CA))) as r:
                passages = json.load(r).get("passages") or []
        except (OSError, ValueError):
            return False
        return bool(passages) and QUESTION[1] in (passages[0].get("url") or "")

    def _site_calls_api(self):
        """The published page carries the widget pre-rendered with the API it calls (data-chat-api-url)."""
        try:
            with urllib.request.urlopen(self.pages_base + SITE_PAGE, timeout=5) as response:
                return b'data-chat-api-url="https://10.77.0.11"' in response.read()
        except OSError:
            return False


def journey_seconds(run):
    """Seconds the journey checks and the content stage took in a run."""
    spent = {name: 0.0 for name in JOURNEY_TASKS}
    for start, end, name in run.tasks():
        if name.split(" : ")[-1] in spent:
            spent[name.split(" : ")[-1]] += end - start
    content = dict(plays(run)).get("Index the textbook's content", 0.0)
    return spent, content


def sandbox(*words):
    subprocess.run([str(PYTHON), "-m", "sandbox", *words], cwd=str(ROOT), check=True, stdout=subprocess.DEVNULL)


def plays(run):
    """[(play name, seconds)] from the PLAY headers' arrival times."""
    marks = [(moment, re.match(r"PLAY \[(.*?)\]", line).group(1)) for moment, line in run.lines
             if re.match(r"PLAY \[", line)]
    ends = [moment for moment, _ in marks[1:]] + [run.end]
    return [(name, end - start) for (start, name), end in zip(marks, ends)]


def report(run):
    print("\n%s: rc=%d in %.1f s, controller peak %.0f MiB RSS (%.0f MiB PSS)" % (
        run.label, run.rc, run.seconds, mib(run.peak_rss), mib(run.peak_pss)))
    for name, seconds in plays(run):
        print("  %6.1f s  %s" % (seconds, name))
    changed = {host: counts["changed"] for host, counts in run.recap().items()}
    print("  changed: %s" % ", ".join("%s=%d" % item for item in sorted(changed.items())))
    if run.foreign:
        print("  NOT ALONE: %s" % sorted(set(run.foreign.values())))
    journeys, content = journey_seconds(run)
    print("  content stage %.1f s; journey checks: %s" % (
        content, ", ".join("%s %.1f s" % (name, seconds) for name, seconds in journeys.items())))
    return changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove the wheelhouse and node_modules first")
    parser.add_argument("--log-dir", help="keep each run's timed output here")
    args = parser.parse_args()
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    for name, path in CACHES.items():
        if args.cold:
            shutil.rmtree(path, ignore_errors=True)
        print("%s cache: %s" % (name, "present" if path.exists() else "none"))
    if foreign_work({os.getpid()}):
        print("NOT ALONE before the start: %s" % sorted(set(foreign_work({os.getpid()}).values())))
    sandbox("down")
    sandbox("up")
    sandbox("hosts", "up", "4")
    try:
        reader = Reader(json.loads((ROOT / ".sandbox" / "sandbox.json").read_text())["github"]["pages_base"])
        reader.start()
        first = Run("first run", SITE, INVENTORY).run()
        reader.stop.set()
        first.save(args.log_dir)
        report(first)
        print("  a reader's first correct answer through the load balancer: %s s after the start; the published site"
              " with the chat widget: %s s" % (_seconds(reader.answered), _seconds(reader.site_live)))
        if first.rc != 0:
            print(first.output[-6000:])
            return 1
        again = Run("re-run", SITE, INVENTORY).run()
        again.save(args.log_dir)
        changed = report(again)
        if again.rc != 0 or any(changed.values()):
            print("the re-run changed something or failed:\n" + again.output[-6000:])
            return 1
        print("\n| run | wall time | controller peak (sum of RSS / PSS) |\n|---|---|---|")
        for run in (first, again):
            print("| %s | %.1f s | %.0f / %.0f MiB |" % (run.label, run.seconds, mib(run.peak_rss), mib(run.peak_pss)))
        return 0
    finally:
        sandbox("down")


def _seconds(value):
    return "never" if value is None else "%.1f" % value


if __name__ == "__main__":
    sys.exit(main())
