"""Data provisioning benchmark: a whole environment through playbooks/provision_data.yml against the stand-ins.

One environment: the Neon project (created), its branch, role and database, the chat service's extensions and
migrations, three Qdrant collections with payload indexes, each behind an alias; then an idempotent re-run, and a
reindex (one collection's version raised: a new collection and one atomic alias switch). For each run: wall time
of ansible-playbook, and the API requests the stand-ins served, by method.

    .venv/bin/python benchmarks/data_bench.py
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

COLLECTIONS = [
    {"name": "passages", "version": 1, "vectors": {"size": 384, "distance": "Cosine"},
     "payload_indexes": [{"field": "doc_id", "schema": "keyword"}, {"field": "chapter", "schema": "keyword"}]},
    {"name": "glossary", "version": 1, "vectors": {"size": 384, "distance": "Cosine"},
     "payload_indexes": [{"field": "term", "schema": "keyword"}]},
    {"name": "questions", "version": 1, "vectors": {"size": 384, "distance": "Dot"},
     "payload_indexes": [{"field": "asked_at", "schema": "datetime"}]},
]


def run(neon, qdrant, extra):
    neon.reset_log()
    qdrant.reset_log()
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
           os.path.join(ROOT, "inventories", "local"), "-e", json.dumps(extra),
           os.path.join(ROOT, "playbooks", "provision_data.yml")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(proc.stdout[-4000:] + proc.stderr[-2000:])
    calls = collections.Counter(r["method"] for r in neon.requests() + qdrant.requests())
    return seconds, calls


def row(label, seconds, calls):
    methods = ", ".join("%s %d" % (method, calls[method]) for method in sorted(calls))
    return "| %s | %.1f s | %d (%s) |" % (label, seconds, sum(calls.values()), methods)


def main():
    from sandbox.neon import NeonStandIn
    from sandbox.qdrant import QdrantStandIn

    work = tempfile.mkdtemp(prefix="data-bench-")
    neon = NeonStandIn(os.path.join(work, "neon"))
    qdrant = QdrantStandIn(os.path.join(work, "qdrant"))
    neon.start()
    qdrant.start()
    try:
        extra = {"deploy_environment": "staging", "data_neon_api_url": neon.api_url,
                 "data_neon_api_key": neon.api_key, "data_neon_project": "bench",
                 "data_qdrant_url": qdrant.url, "data_qdrant_api_key": qdrant.api_key,
                 "data_qdrant_collections": COLLECTIONS}
        rows = [row("first run", *run(neon, qdrant, extra)), row("re-run", *run(neon, qdrant, extra))]
        reindexed = [dict(COLLECTIONS[0], version=2)] + COLLECTIONS[1:]
        rows.append(row("reindex passages (v2, alias switch)",
                        *run(neon, qdrant, dict(extra, data_qdrant_collections=reindexed))))
    finally:
        qdrant.stop()
        neon.stop()
    print("| provision_data.yml, staging | wall time | API requests |\n|---|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
