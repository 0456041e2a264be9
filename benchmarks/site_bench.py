"""The whole platform: playbooks/site.yml against inventories/local on the sandbox (the world `make demo` deploys
into: the stand-ins and four Debian hosts), a first run on fresh stand-ins and hosts, then the idempotent re-run.

    .venv/bin/python benchmarks/site_bench.py                  # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/site_bench.py --cold           # without the controller's build caches (below)
    .venv/bin/python benchmarks/site_bench.py --log-dir DIR    # keep each run's timed output in DIR

Before the first run: `python -m sandbox down`, `up` and `hosts up 4`, so every stage has everything to do on the
hosts and the stand-ins (new Neon project and Qdrant collections, bare hosts, an empty Pages site, no GitHub
environment). The controller's caches are kept as the machine has them unless --cold: the backend's wheelhouse
(backend_wheelhouse_root) and Docusaurus' node_modules in examples/textbook (--cold removes both: pip's and npm's own
download caches stay, as on any team laptop or CI cache); what was there is printed. The environment's CA on the
controller (~/.cache/textbook-deploy/ca/local) is kept: it is made once per environment, not per deploy.

Per run: wall time of the ansible-playbook command; controller peak memory (sum of VmRSS, and of Pss, of
ansible-playbook and all its descendants, sampled every 0.1 s: benchmarks/playbook_run.py); each play's time (from
its PLAY header to the next); changed counts per host. The re-run must change nothing (exit 1 otherwise). Other
ansible-playbook/pytest/molecule processes seen during a run are printed: the figures are skewed then.

Targets (issue 7 and the platform's budget): controller under 2 GB; p95 under 10 minutes for the frontend and 30
minutes for the backend; the idempotent re-run under 60 s.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
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
        first = Run("first run", SITE, INVENTORY).run()
        first.save(args.log_dir)
        report(first)
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


if __name__ == "__main__":
    sys.exit(main())
