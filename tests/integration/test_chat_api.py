"""The example chat service (examples/chat_api) against real PostgreSQL (a Neon stand-in project) and the Qdrant
stand-in, served for real by uvicorn in a subprocess; plus its wheel build."""
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.common.net import free_port

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat_api"
SRC = CHAT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from chat_api import __version__  # noqa: E402
from chat_api.config import ConfigError, Settings  # noqa: E402
from chat_api.embedding import embed  # noqa: E402
from chat_api.index import chunk_markdown, index_pages, load_pages, page_path  # noqa: E402
from chat_api.qdrant import Qdrant  # noqa: E402

DOCS = {
    "deploy/backend.md": """---
title: Backend deployment
---
# Deploying the backend

The backend runs on Linux hosts behind nginx.

## Blue-green releases

Every release goes to the idle colour first. The health gate polls readyz on the new colour, and only when it
answers 200 does nginx switch upstreams; the old colour keeps running so a rollback is one switch back.
""",
    "data/database.md": """# The database

Questions and feedback live in a Neon PostgreSQL branch. Migrations are plain SQL files applied in name order
and recorded in schema_migrations.
""",
    "frontend/site.md": """# The textbook site

The Docusaurus site is built once and published to GitHub Pages; only changed files are uploaded.
""",
}
ROLLOUT_ANSWER = DOCS["deploy/backend.md"].split("## Blue-green releases\n\n")[1].strip()
SITE = "http://10.77.0.1:8481/textbook/textbook/docs/"
TEXTBOOK = ROOT / "examples" / "textbook" / "docs"


# -- helpers ---------------------------------------------------------------------------------------------------

def _with_port(uri, port):
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].rsplit(":", 1)[0]
    netloc[-1] = "%s:%d" % (host, port)
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    for name, text in DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def alias():
    return "passages-" + uuid.uuid4().hex[:8]


def _env(database, qdrant, alias, **extra):
    env = {"CHAT_DATABASE_URL": database, "CHAT_QDRANT_URL": qdrant.url, "CHAT_QDRANT_API_KEY": qdrant.api_key,
           "CHAT_QDRANT_COLLECTION": alias}
    env.update(extra)
    return env


def _samples(metrics_text):
    samples = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def _secrets(database, qdrant):
    return [qdrant.api_key, urlsplit(database).password]


# -- the service -----------------------------------------------------------------------------------------------

def test_ready_chat_records_question_and_metrics(database, qdrant, docs, alias, start_server):
    server = start_server(**_env(database, qdrant, alias, CHAT_VERSION="2.3.4-test", CHAT_COMMIT="abc1234"))
    api = server.client

    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/version").json() == {"version": "2.3.4-test", "commit": "abc1234"}

    # Not ready until the alias exists: the body says which dependency failed.
    response = api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["qdrant"]
    assert response.json()["checks"]["postgres"] == "ok"

    # Index the docs with the CLI, as a deploy would.
    index_env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    index_env.update(_env(database, qdrant, alias), PYTHONPATH=str(SRC))
    run = subprocess.run([sys.executable, "-m", "chat_api.index", str(docs), "--json", "--site-url", SITE],
                         env=index_env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["changed"] and summary["alias"] == alias and summary["passages"] == 4

    response = api.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "failed": [], "checks": {"postgres": "ok", "qdrant": "ok"}}

    question = "How does the health gate switch colours in a blue-green release?"
    response = api.post("/api/chat", json={"question": question})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == ROLLOUT_ANSWER
    assert body["passages"][0]["id"] == "deploy/backend.md#2"
    assert body["passages"][0]["title"] == "Deploying the backend > Blue-green releases"
    assert body["passages"][0]["page_title"] == "Backend deployment"  # front matter title wins over the H1
    assert body["passages"][0]["url"] == SITE + "deploy/backend/"
    assert isinstance(body["question_id"], int)

    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT question, answer, passage_ids, latency_ms FROM questions WHERE id = %s",
                           (body["question_id"],)).fetchone()
    assert row[0] == question
    assert row[1] == ROLLOUT_ANSWER
    assert row[2] == [p["id"] for p in body["passages"]] and row[2][0] == "deploy/backend.md#2"
    assert row[3] == body["latency_ms"] >= 0

    bad = [{"question": ""}, {"question": "   "}, {"question": "x" * 2001}, {}, {"question": "hi", "extra": 1},
           {"question": 42}]
    for payload in bad:
        assert api.post("/api/chat", json=payload).status_code == 422, payload
    assert api.post("/api/chat", json={"question": "é" * 2000}).status_code == 200  # the limit is inclusive
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM questions").fetchone()[0] == 2

    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    chat_ok = dict(route="/api/chat", method="POST", status="200")
    assert _sample(samples, "chat_http_requests_total", **chat_ok) == 2
    assert _sample(samples, "chat_http_requests_total", route="/api/chat", method="POST", status="422") == len(bad)
    assert _sample(samples, "chat_http_requests_total", route="/readyz", method="GET", status="503") == 1
    assert _sample(samples, "chat_http_request_duration_seconds_count", **chat_ok) == 2
    assert _sample(samples, "chat_http_request_duration_seconds_bucket", le="+Inf", **chat_ok) == 2
    assert _sample(samples, "chat_http_request_duration_seconds_sum", **chat_ok) > 0
    assert _sample(samples, "chat_http_request_errors_total", route="/api/chat") is None  # no 5xx so far
    assert 'chat_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/chat",status="200"}' \
        in response.text

    log = server.log()
    assert "starting textbook-chat-api 2.3.4-test" in log
    assert not [v for v in qdrant.violations() if alias in v["path"]]  # every body met Qdrant's models
    for secret in _secrets(database, qdrant):
        assert secret not in log


def test_readyz_names_the_failing_dependency_and_hides_secrets(database, qdrant, docs, alias, start_server):
    index_pages(Qdrant(qdrant.url, qdrant.api_key), load_pages(docs), alias)
    closed = free_port()  # nothing listens there once the probe socket is closed

    down_qdrant = start_server(**_env(database, qdrant, alias, CHAT_QDRANT_URL="http://127.0.0.1:%d" % closed,
                                      CHAT_TIMEOUT_SECONDS="1"))
    response = down_qdrant.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["qdrant"]
    assert response.json()["checks"] == {"postgres": "ok", "qdrant": "failed (unreachable)"}
    response = down_qdrant.client.post("/api/chat", json={"question": "blue-green release"})
    assert response.status_code == 503
    assert response.json() == {"detail": "passage search is unavailable"}
    samples = _samples(down_qdrant.client.get("/metrics").text)
    assert _sample(samples, "chat_http_request_errors_total", route="/api/chat") == 1
    assert _sample(samples, "chat_http_request_errors_total", route="/readyz") == 1
    assert _sample(samples, "chat_dependency_errors_total", dependency="qdrant", operation="get_collection") == 1

    down_db = start_server(**_env(_with_port(database, closed), qdrant, alias, CHAT_TIMEOUT_SECONDS="1"))
    response = down_db.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["postgres"]
    assert response.json()["checks"]["qdrant"] == "ok"
    # Passages still answer; the question just is not recorded.
    response = down_db.client.post("/api/chat", json={"question": "How are database migrations applied?"})
    assert response.status_code == 200
    assert response.json()["question_id"] is None
    assert response.json()["passages"][0]["id"] == "data/database.md#1"
    samples = _samples(down_db.client.get("/metrics").text)
    assert _sample(samples, "chat_dependency_errors_total", dependency="postgres", operation="record_question") == 1

    for server, body in ((down_qdrant, down_qdrant.client.get("/readyz").text),
                         (down_db, down_db.client.get("/readyz").text)):
        log = server.log()
        assert "failed" in log  # the failure is logged ...
        for secret in _secrets(database, qdrant):
            assert secret not in body and secret not in log  # ... without the secrets


# -- the indexer -------------------------------------------------------------------------------------------------

def _index(qdrant, docs, alias, *args, api_key=None):
    """`python -m chat_api.index DOCS --collection ALIAS ...` as the deploy's content stage runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(CHAT_QDRANT_URL=qdrant.url, CHAT_QDRANT_API_KEY=api_key or qdrant.api_key, PYTHONPATH=str(SRC))
    return subprocess.run([sys.executable, "-m", "chat_api.index", str(docs), "--collection", alias, *args],
                          env=env, capture_output=True, text=True, timeout=120)


def _report(qdrant, docs, alias, *args):
    run = _index(qdrant, docs, alias, "--json", *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _writes(qdrant):
    """The requests that changed the stand-in's state (all but GETs and the read-only POSTs)."""
    return [(r["method"], r["path"]) for r in qdrant.requests()
            if r["method"] != "GET" and not r["path"].endswith(("/points/query", "/points/count"))]


def _collections(client, alias):
    return sorted(name for name in client.collection_names() if name.startswith(alias))


def test_indexer_writes_nothing_for_unchanged_docs_and_keeps_the_previous_collection(qdrant, docs, alias):
    client = Qdrant(qdrant.url, qdrant.api_key)
    first = _report(qdrant, docs, alias)
    assert first["changed"] and first["previous"] is None and first["removed"] == [] and not first["dry_run"]
    assert (first["pages"], first["passages"]) == (3, 4)
    assert first["sources"] == ["data/database.md", "deploy/backend.md", "frontend/site.md"]
    assert client.aliases()[alias] == first["collection"]

    qdrant.reset_log()
    again = _report(qdrant, docs, alias)
    assert again == dict(first, changed=False, previous=first["collection"])
    assert _writes(qdrant) == []

    original = (docs / "frontend" / "site.md").read_text()
    (docs / "frontend" / "site.md").write_text("# The textbook site\n\nNow with search.\n")
    second = _report(qdrant, docs, alias)
    assert second["changed"] and second["previous"] == first["collection"] and second["removed"] == []
    assert client.aliases()[alias] == second["collection"]
    assert _collections(client, alias) == sorted([first["collection"], second["collection"]])  # previous kept

    # Rolling the docs back finds the previous collection complete: one alias switch and nothing else.
    (docs / "frontend" / "site.md").write_text(original)
    qdrant.reset_log()
    back = _report(qdrant, docs, alias)
    assert back["collection"] == first["collection"] and back["previous"] == second["collection"]
    assert _writes(qdrant) == [("POST", "/collections/aliases")]

    # A collection another alias points at is never pruned, even when it is named like ours.
    pinned = alias + "-0123456789ab"
    client.create_collection(pinned, 384)
    client.point_alias(alias + "-pinned", pinned)
    (docs / "frontend" / "site.md").write_text("# The textbook site\n\nNow with search and dark mode.\n")
    third = _report(qdrant, docs, alias)
    assert third["previous"] == first["collection"] and third["removed"] == [second["collection"]]
    assert _collections(client, alias) == sorted([first["collection"], third["collection"], pinned])
    info = client.collection(alias)
    assert info["points_count"] == 4 and info["config"]["params"]["vectors"]["size"] == 384
    client.close()
    assert not [v for v in qdrant.violations() if alias in v["path"]]


def test_indexer_dry_run_writes_nothing_and_says_what_it_would_do(qdrant, docs, alias):
    run = _index(qdrant, docs, alias, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("would index 3 pages, 4 passages into %s-" % alias)
    planned = _report(qdrant, docs, alias, "--dry-run")
    assert planned["changed"] and planned["dry_run"] and planned["previous"] is None
    assert _writes(qdrant) == [] and alias not in Qdrant(qdrant.url, qdrant.api_key).aliases()

    built = _report(qdrant, docs, alias)
    assert built["collection"] == planned["collection"]  # the dry run named the collection the real run built
    (docs / "data" / "database.md").write_text("# The database\n\nNow on PostgreSQL 17.\n")
    qdrant.reset_log()
    planned = _report(qdrant, docs, alias, "--dry-run")
    assert planned["changed"] and planned["previous"] == built["collection"]
    assert planned["collection"] != built["collection"]
    assert _writes(qdrant) == [] and Qdrant(qdrant.url, qdrant.api_key).aliases()[alias] == built["collection"]


BAD_INPUT = {
    "front matter that does not parse": ("deploy/backend.md", "---\ntitle: x\nid: [unclosed\n---\n# A\n\nText.\n",
                                         [], "deploy/backend.md: front matter is not valid YAML at line 4"),
    "front matter that is not a mapping": ("data/database.md", "---\n- a\n- b\n---\n# A\n\nText.\n", [],
                                           "data/database.md: front matter must be a mapping"),
    "a page over the size limit": ("frontend/big.md", "# Big\n\n" + "word " * 400, ["--max-page-bytes", "1000"],
                                   "frontend/big.md: 2007 bytes, over the limit of 1000 (--max-page-bytes)"),
    "a site URL without a trailing slash": (None, None, ["--site-url", "http://h/docs"], "--site-url must be"),
    "a site URL that is not http(s)": (None, None, ["--site-url", "ftp://h/docs/"], "--site-url must be"),
    "a bad number": (None, None, ["--questions", "many"], "argument --questions: invalid int value"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_indexer_bad_input_exits_2_naming_the_file_or_option_before_any_qdrant_call(qdrant, docs, alias, case):
    name, text, args, message = BAD_INPUT[case]
    if text is not None:
        (docs / name).write_text(text)
    run = _index(qdrant, docs, alias, *args)
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    assert run.stderr.startswith("chat_api.index: ") and message in run.stderr, run.stderr
    assert qdrant.requests() == []


def test_indexer_refuses_a_missing_or_empty_docs_directory(qdrant, tmp_path, alias):
    (tmp_path / "empty" / "img").mkdir(parents=True)
    (tmp_path / "empty" / "_partial.md").write_text("# Not a page\n")  # Docusaurus does not publish _ files
    for directory, message in ((tmp_path / "missing", "is not a directory"),
                               (tmp_path / "empty", "has no Markdown pages (*.md, *.mdx)")):
        run = _index(qdrant, directory, alias)
        assert run.returncode == 2 and run.stderr == "chat_api.index: DOCS_DIR %s %s\n" % (directory, message)
    assert qdrant.requests() == []


def test_indexer_refuses_a_collection_as_alias_and_reports_qdrant_failures(qdrant, docs, alias):
    client = Qdrant(qdrant.url, qdrant.api_key)
    client.create_collection(alias, 384)
    run = _index(qdrant, docs, alias)
    assert run.returncode == 2 and "--collection %s is a collection, not an alias" % alias in run.stderr
    assert _writes(qdrant) == [("PUT", "/collections/%s" % alias)]  # ours, above; the indexer wrote nothing
    client.close()

    run = _index(qdrant, docs, alias + "-x", api_key="wrong-key-value")
    assert run.returncode == 1 and "answered 401" in run.stderr and "wrong-key-value" not in run.stderr


def test_indexer_rebuilds_a_half_built_target(qdrant, docs, alias):
    target = _report(qdrant, docs, alias, "--dry-run")["collection"]
    client = Qdrant(qdrant.url, qdrant.api_key)
    client.create_collection(target, 384)
    client.upsert(target, [{"id": str(uuid.uuid4()), "vector": embed("stray", 384), "payload": {"text": "stray"}}])
    report = _report(qdrant, docs, alias)
    assert report["collection"] == target and client.collection(alias)["points_count"] == 4
    client.close()


def test_indexer_urls_titles_and_questions_of_the_example_textbook(qdrant, alias):
    pages = {page.source: page for page in load_pages(TEXTBOOK, SITE)}
    # the routes of the built site (examples/textbook/build/sitemap.xml): intro.md has slug /intro, others an id
    assert {source: page.url for source, page in pages.items()} == {
        "embodied-intelligence.md": SITE + "embodied-intelligence/", "humanoid-systems.md": SITE + "humanoid-systems/",
        "intro.md": SITE + "intro/", "locomotion-and-control.md": SITE + "locomotion-and-control/",
        "sensors-and-perception.md": SITE + "sensors-and-perception/"}
    assert pages["intro.md"].title == "Introduction"
    passage = pages["locomotion-and-control.md"].passages[1]
    assert (passage["page_title"], passage["url"]) == ("3. Locomotion and control", SITE + "locomotion-and-control/")
    assert passage["title"] == "Locomotion and control > The zero-moment point"

    report = _report(qdrant, TEXTBOOK, alias, "--site-url", SITE, "--questions", "3", "--dry-run")
    assert report["pages"] == 5 and report["sources"] == sorted(pages)
    assert report["questions"] == [  # each page's first H2, in page order; intro.md has none
        {"question": "From disembodied to embodied AI", "source": "embodied-intelligence.md",
         "url": SITE + "embodied-intelligence/", "page_title": "1. Embodied intelligence"},
        {"question": "Anatomy of a humanoid", "source": "humanoid-systems.md", "url": SITE + "humanoid-systems/",
         "page_title": "4. Humanoid systems"},
        {"question": "The zero-moment point", "source": "locomotion-and-control.md",
         "url": SITE + "locomotion-and-control/", "page_title": "3. Locomotion and control"}]
    assert [p.url for p in load_pages(TEXTBOOK)] == [None] * 5  # no --site-url, no URLs


@pytest.mark.parametrize("source, front, path", [
    ("intro.md", {"slug": "/intro"}, "intro"),
    ("guide/setup.md", {"slug": "start"}, "guide/start"),  # a relative slug is relative to the directory
    ("guide/setup.md", {"slug": "../start"}, "start"),
    ("guide/setup.md", {"slug": "/"}, ""),
    ("01-guide/02-setup.md", {}, "guide/setup"),  # number prefixes go, from directories too
    ("01-guide/02-setup.md", {"id": "install"}, "guide/install"),
    ("guide/index.md", {"id": "ignored"}, "guide"),
    ("guide/README.mdx", {}, "guide"),
    ("guide/Guide.md", {}, "guide"),  # a file named like its directory is the category index
    ("index.md", {}, ""),
    ("notes/2024-01-31-release.md", {}, "notes/2024-01-31-release"),  # a date is not a number prefix
])
def test_page_routes_follow_docusaurus(source, front, path):
    assert page_path(source, front) == path


def test_chunking_and_embedding():
    passages = chunk_markdown("---\nid: x\n---\nimport X from 'y';\n\n# A\n\nOne.\n\n## B\n\n```sh\nrun\n\nthis\n```\n"
                              "\nTwo " + "word " * 300 + "\n", "a.md", max_chars=400)
    assert [p["passage_id"] for p in passages][:2] == ["a.md#1", "a.md#2"]
    assert passages[0] == {"passage_id": "a.md#1", "source": "a.md", "title": "A", "text": "One."}
    assert passages[1]["title"] == "A > B" and passages[1]["text"].startswith("```sh\nrun\n\nthis\n```")
    assert all(len(p["text"]) <= 400 for p in passages) and len(passages) >= 4

    vector = embed("Blue-green releases behind nginx", 384)
    assert vector == embed("Blue-green releases behind nginx", 384) and len(vector) == 384
    assert abs(sum(x * x for x in vector) - 1) < 1e-9
    assert not any(embed("the and of", 384))


def test_settings_from_env_need_urls_and_hide_secrets():
    with pytest.raises(ConfigError, match="CHAT_DATABASE_URL"):
        Settings.from_env({"CHAT_QDRANT_URL": "http://q:6333"})
    with pytest.raises(ConfigError, match="CHAT_EMBEDDING_SIZE"):
        Settings.from_env({"CHAT_DATABASE_URL": "postgresql://u:p@h/d", "CHAT_QDRANT_URL": "http://q",
                           "CHAT_EMBEDDING_SIZE": "big"})
    settings = Settings.from_env({"CHAT_DATABASE_URL": "postgresql://u:pw%2Fsecret@db:5433/app",
                                  "CHAT_QDRANT_URL": "http://q:6333/", "CHAT_QDRANT_API_KEY": "key-secret"})
    assert (settings.collection, settings.embedding_size, settings.version) == ("passages", 384, __version__)
    for text in (repr(settings), settings.describe()):
        assert "secret" not in text
    assert "postgres=db:5433/app" in settings.describe()


# -- packaging ---------------------------------------------------------------------------------------------------

def test_wheel_builds_offline_and_contains_the_package(tmp_path):
    source = tmp_path / "chat_api"  # build from a copy: setuptools writes build/ and *.egg-info into the source
    shutil.copytree(CHAT, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    out = tmp_path / "wheels"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-q", "-w", str(out), str(source)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = list(out.glob("*.whl"))
    assert [w.name for w in wheels] == ["textbook_chat_api-1.1.0-py3-none-any.whl"]
    assert __version__ == "1.1.0"
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("textbook_chat_api-1.1.0.dist-info/METADATA").decode()
        entry_points = wheel.read("textbook_chat_api-1.1.0.dist-info/entry_points.txt").decode()
    for module in ("__init__", "app", "config", "cors", "db", "embedding", "index", "metrics", "qdrant"):
        assert "chat_api/%s.py" % module in names
    assert "Name: textbook-chat-api" in metadata and "Version: 1.1.0" in metadata
    for dependency in ("fastapi", "uvicorn", "prometheus-client", "psycopg[binary]", "httpx", "PyYAML"):
        assert "Requires-Dist: %s" % dependency in metadata
    assert "chat-api-index = chat_api.index:main" in entry_points

    # Installed from the wheel (not the source tree), the app imports and reports the package's version.
    target = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                          str(target), str(wheels[0])], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    probe = ("import chat_api, chat_api.app as app; from chat_api.config import Settings; "
             "s = Settings.from_env({'CHAT_DATABASE_URL': 'postgresql://h/d', 'CHAT_QDRANT_URL': 'http://q'}); "
             "print(chat_api.__file__, s.version, callable(app.app))")
    run = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ, PYTHONPATH=str(target)),
                         capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    path, version, app_ok = run.stdout.split()
    assert path.startswith(str(target)) and version == "1.1.0" and app_ok == "True"
