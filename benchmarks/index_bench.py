"""Content indexing benchmark: `python -m chat_api.index` (the deploy's content stage) into the Qdrant stand-in.

Two doc sets: examples/textbook/docs, and a generated Docusaurus textbook of --pages pages (default 2,000:
deterministic Markdown with front matter, numbered chapter directories, H1/H2/H3 headings, paragraphs, lists and
code blocks, 5-10 passages a page). For each: a first index, a re-run with unchanged docs, and a run after one
page changed. The indexer runs as the subprocess CLI, exactly as the deploy runs it; for each run: wall time,
the indexer's peak RSS and CPU time (GNU time), the stand-in's CPU time (this process, which only
waits meanwhile), and the stand-in's write requests.

    .venv/bin/python benchmarks/index_bench.py [--pages 2000] [--keep DIR]

Targets: 2,000 pages in < 60 s and < 500 MB peak RSS; an unchanged re-run makes 0 writes.
"""
import argparse
import collections
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]
CHAT_SRC = os.path.join(ROOT, "examples", "chat_api", "src")
TEXTBOOK = os.path.join(ROOT, "examples", "textbook", "docs")
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
SITE = "http://127.0.0.1:8481/textbook/textbook/docs/"
CONTENT = """robot humanoid joint torque motor actuator gearbox sensor camera depth lidar encoder gyroscope
accelerometer balance gait step foot leg arm hand grasp gripper finger contact slip force impedance compliance
controller loop rate latency policy learning reward simulation transfer model state estimate filter kalman noise
drift calibration frame pose trajectory planner footstep terrain stair obstacle map localisation odometry vision
segmentation object scene language instruction skill task safety fault stop speed limit battery power thermal
compute gpu middleware message topic node driver firmware bus network timing clock real-time kernel thread
schedule priority inertia mass center polygon moment pivot ankle hip knee spine wrist elbow shoulder head torso
design test benchmark dataset episode demonstration teleoperation imitation reinforcement value gradient network
layer feature embedding attention transformer token action space observation horizon discount exploration
stability margin error feedback gain tuning damping stiffness spring friction ground reaction surface material
weight payload reach workspace kinematics dynamics jacobian inverse forward solver optimisation constraint cost
""".split()
STOP = "the a of and to in is that for with as on by this it from at which be are can an or when each its".split()
ZIPF = [1.0 / (rank + 1) for rank in range(len(CONTENT))]  # word frequencies in real text fall off like this


# -- the generated textbook ------------------------------------------------------------------------------------

def sentence(rng):
    words = [rng.choice(STOP) if rng.random() < 0.4 else rng.choices(CONTENT, weights=ZIPF)[0]
             for _ in range(rng.randint(8, 22))]
    return " ".join(words).capitalize() + "."


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def section(rng, level):
    title = " ".join(rng.choices(CONTENT[:120], k=rng.randint(2, 4))).capitalize()
    parts = ["%s %s" % ("#" * level, title)] + [paragraph(rng) for _ in range(rng.randint(1, 3))]
    roll = rng.random()
    if roll < 0.2:
        parts.append("\n".join("- **%s**: %s" % (rng.choice(CONTENT[:120]), sentence(rng)) for _ in range(4)))
    elif roll < 0.3:
        parts.append("```python\ndef %s(x):\n    return x * %d\n```" % (rng.choice(CONTENT[:120]), rng.randint(2, 9)))
    return "\n\n".join(parts)


def page_text(rng, chapter, number, revision=0):
    title = "%d.%d %s" % (chapter, number, " ".join(rng.choices(CONTENT[:120], k=3)).capitalize())
    sections = [section(rng, 2 if i % 3 == 0 else 3) for i in range(rng.randint(5, 10))]
    front = "---\nid: page-%d-%d\ntitle: \"%s\"\nsidebar_position: %d\n---\n" % (chapter, number, title, number)
    return "%s\n# %s\n\n%s\n\n%s\n" % (front, title, paragraph(rng) + (" Revised." * revision), "\n\n".join(sections))


def generate(out, pages, per_chapter=50):
    rng = random.Random(20261128)
    for index in range(pages):
        chapter, number = index // per_chapter + 1, index % per_chapter + 1
        path = os.path.join(out, "%02d-chapter-%d" % (chapter, chapter), "%02d-page-%d.md" % (number, number))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(page_text(rng, chapter, number))
    return os.path.join(out, "01-chapter-1", "01-page-1.md")


def touch(path):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\nOne more paragraph about balance.\n")


# -- one run ---------------------------------------------------------------------------------------------------

def index(qdrant, docs, alias, work):
    """Run the indexer CLI once; (report, wall s, peak RSS MiB, indexer CPU s, stand-in CPU s, writes by method).

    /usr/bin/time reports the indexer's own peak RSS: a child forked straight from this process would count this
    process's memory (the stand-in's) as its own, since Linux keeps the pre-exec high-water mark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(CHAT_QDRANT_URL=qdrant.url, CHAT_QDRANT_API_KEY=qdrant.api_key, PYTHONPATH=CHAT_SRC)
    usage_path = os.path.join(work, "usage.txt")
    cmd = [TIME, "-f", "%M %U %S", "-o", usage_path, sys.executable, "-m", "chat_api.index", docs,
           "--collection", alias, "--site-url", SITE, "--json"]
    qdrant.reset_log()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    if proc.returncode:
        raise RuntimeError("indexer failed (%d): %s" % (proc.returncode, proc.stderr[-2000:]))
    with open(usage_path, encoding="utf-8") as handle:
        max_kib, user, system = handle.read().split()[-3:]
    writes = collections.Counter(r["method"] for r in qdrant.requests()
                                 if r["method"] != "GET" and not r["path"].endswith(("/query", "/count")))
    standin_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (json.loads(proc.stdout), seconds, int(max_kib) / 1024.0, float(user) + float(system), standin_cpu,
            writes)


def row(label, result):
    report, seconds, rss, cpu, standin_cpu, writes = result
    methods = ", ".join("%s %d" % (method, writes[method]) for method in sorted(writes)) or "none"
    return "| %s | %d | %d | %.1f s | %.0f MiB | %.1f s | %.1f s | %d (%s) |" % (
        label, report["pages"], report["passages"], seconds, rss, cpu, standin_cpu, sum(writes.values()), methods)


def bench(qdrant, label, docs, alias, work, changed_page):
    rows = [row("%s, first index" % label, index(qdrant, docs, alias, work))]
    again = index(qdrant, docs, alias, work)
    if sum(again[5].values()):
        raise RuntimeError("unchanged re-run of %s wrote to Qdrant: %s" % (label, dict(again[5])))
    rows.append(row("%s, unchanged re-run" % label, again))
    touch(changed_page)
    rows.append(row("%s, one page changed" % label, index(qdrant, docs, alias, work)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the generated textbook (default 2000)")
    parser.add_argument("--keep", help="generate the textbook here and keep it (default: a temporary directory)")
    args = parser.parse_args()
    from sandbox.qdrant import QdrantStandIn

    work = tempfile.mkdtemp(prefix="index-bench-")
    generated = args.keep or os.path.join(work, "generated")
    textbook = os.path.join(work, "textbook")
    shutil.copytree(TEXTBOOK, textbook)  # a copy: the "one page changed" run edits it
    changed = generate(generated, args.pages)
    qdrant = QdrantStandIn(os.path.join(work, "qdrant")).start()
    try:
        rows = bench(qdrant, "examples/textbook", textbook, "bench-textbook", work,
                     os.path.join(textbook, "intro.md"))
        rows += bench(qdrant, "generated", generated, "bench-generated", work, changed)
    finally:
        qdrant.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("| run | pages | passages | wall time | indexer peak RSS | indexer CPU | stand-in CPU | Qdrant writes |\n"
          "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
