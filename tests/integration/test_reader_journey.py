"""The reader's journey as a deploy stage and a gate: the content stage (playbooks/index_content.yml) against the
Qdrant stand-in, the journey_check module against the real chat service (uvicorn, real PostgreSQL, CORS) and a
published page, and the frontend's rollback of the site and its index together (GitHub stand-in).

The real browser on the deployed sandbox is tests/browser/test_sandbox_journey.py (molecule's site scenario).
"""
import json
import re
import threading
import urllib.request
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, run_module, run_playbook
from npm_textbook import npm_textbook, write

INVENTORY = ROOT / "inventories" / "local"
CONTENT = ROOT / "playbooks" / "index_content.yml"
PAGES = {
    "intro.md": "---\nid: intro\ntitle: Introduction\nslug: /intro\n---\n\n# Welcome\n\nThis book teaches robots.\n",
    "balance.md": """---
id: balance
title: "1. Balance"
---

# Balance

## The zero-moment point

The zero-moment point is where the ground reaction force acts with no tipping moment.
""",
    "vision/cameras.md": """---
title: "2. Cameras"
---

# Cameras

## Stereo depth

Two cameras side by side recover depth from disparity between the images.
""",
}


def recap(output, host="localhost"):
    match = re.search(r"%s\s+:\s+(.*)" % re.escape(host), output.split("PLAY RECAP")[-1])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def writes(qdrant):
    """The requests that changed Qdrant (searches are POSTs that change nothing)."""
    return [entry for entry in qdrant.requests()
            if entry["method"] != "GET" and not entry["path"].endswith("/points/query")]


def alias_target(qdrant, alias):
    return qdrant.aliases.get(alias)


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    for name, text in PAGES.items():
        write(root / name, text)
    return root


@pytest.fixture
def alias():
    return "journey_%s_passages" % uuid.uuid4().hex[:8]


def content_vars(qdrant, docs, alias, site="http://10.77.0.1:8481/textbook/textbook/docs/", **extra):
    values = {"content_docs_dir": str(docs), "content_alias": alias, "content_qdrant_url": qdrant.url,
              "content_qdrant_api_key": qdrant.api_key, "content_site_url": site}
    values.update(extra)
    return values


# -- the content stage ------------------------------------------------------------------------------------------

def test_content_stage_indexes_once_then_writes_nothing_and_check_mode_only_reads(qdrant, docs, alias):
    extra = content_vars(qdrant, docs, alias)
    first = run_playbook(CONTENT, INVENTORY, extra)
    assert first.returncode == 0, first.stdout
    assert recap(first.stdout)["changed"] == 1
    built = alias_target(qdrant, alias)
    assert re.fullmatch(re.escape(alias) + "-[0-9a-f]{12}", built)
    assert qdrant.collection(built).info()["points_count"] == 3

    qdrant.reset_log()
    again = run_playbook(CONTENT, INVENTORY, extra)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout
    assert writes(qdrant) == []

    write(docs / "balance.md", PAGES["balance.md"] + "\n## Falling safely\n\nA robot that falls tucks its arms.\n")
    qdrant.reset_log()
    preview = run_playbook(CONTENT, INVENTORY, extra, check=True, diff=True)
    assert preview.returncode == 0 and recap(preview.stdout)["changed"] == 1, preview.stdout
    assert "would move from %s" % built in preview.stdout
    assert writes(qdrant) == [] and alias_target(qdrant, alias) == built

    changed = run_playbook(CONTENT, INVENTORY, extra)
    assert changed.returncode == 0 and recap(changed.stdout)["changed"] == 1, changed.stdout
    rebuilt = alias_target(qdrant, alias)
    assert rebuilt not in (built, None)
    assert built in qdrant.collections, "the previous collection is kept to roll back to"
    assert qdrant.api_key not in first.stdout + changed.stdout


def index_args(qdrant, docs, alias, **extra):
    """The content_index module's options as the content role passes them."""
    values = {"docs_dir": str(docs), "service_src": str(ROOT / "examples" / "chat_api" / "src"), "alias": alias,
              "api_url": qdrant.url, "token": qdrant.api_key,
              "site_url": "http://10.77.0.1:8481/textbook/textbook/docs/"}
    values.update(extra)
    return values


@pytest.mark.parametrize("case", ["front matter", "empty", "too large"])
def test_bad_content_fails_naming_the_file_and_switches_nothing(qdrant, docs, alias, case, tmp_path):
    assert not run_module("content_index", index_args(qdrant, docs, alias)).get("failed")
    live = alias_target(qdrant, alias)
    args = index_args(qdrant, docs, alias)
    if case == "front matter":
        write(docs / "vision" / "cameras.md", "---\ntitle: [unclosed\n---\n# Cameras\n")
        named = "vision/cameras.md"
    elif case == "empty":
        args["docs_dir"] = str(tmp_path / "nothing")
        (tmp_path / "nothing").mkdir()
        named = "nothing"
    else:
        args["max_page_bytes"] = 100
        named = "over the limit of 100 (max_page_bytes)"
    qdrant.reset_log()
    result = run_module("content_index", args)
    assert result["failed"]
    assert named in result["msg"] and "Nothing was indexed or switched" in result["msg"], result["msg"]
    assert qdrant.api_key not in json.dumps(result)
    assert writes(qdrant) == [] and alias_target(qdrant, alias) == live


# -- the journey check ------------------------------------------------------------------------------------------

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class StaticSite:
    """A directory served over HTTP on loopback (a published site as a browser loads it)."""

    def __init__(self, root):
        handler = partial(QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def page_calling(root, api_url):
    """A built page whose JavaScript bundle calls `api_url`, the way Docusaurus bakes customFields in."""
    write(root / "book" / "index.html", '<html><script src="/book/assets/main.js"></script></html>')
    write(root / "book" / "assets" / "main.js", 'var e={customFields:{chatApiUrl:"%s"},title:"Book"};' % api_url)


@pytest.fixture
def platform(database, qdrant, docs, alias, tmp_path, start_server):
    """The example service with CORS for a site on loopback, and that site's page calling it."""
    site = StaticSite(tmp_path / "site")
    index = run_playbook(CONTENT, INVENTORY, content_vars(qdrant, docs, alias, site=site.origin + "/book/docs/"))
    assert index.returncode == 0, index.stdout
    server = start_server(CHAT_DATABASE_URL=database, CHAT_QDRANT_URL=qdrant.url, CHAT_QDRANT_API_KEY=qdrant.api_key,
                          CHAT_QDRANT_COLLECTION=alias, CHAT_ALLOWED_ORIGINS=site.origin)
    page_calling(tmp_path / "site", server.url)
    yield {"site": site, "server": server, "page": site.origin + "/book/", "docs": site.origin + "/book/docs/"}
    site.stop()


def journey(platform, **args):
    values = {"page_url": platform["page"], "api_url": platform["server"].url,
              "questions": [{"question": "The zero-moment point", "expect_url": platform["docs"] + "balance/"},
                            "stereo depth from two cameras"]}
    values.update(args)
    return run_module("journey_check", values)


def test_journey_passes_when_the_reader_gets_answers_from_the_textbook(platform):
    result = journey(platform)
    assert not result.get("failed"), result["msg"]
    assert [step["step"] for step in result["steps"]] == [
        "page", "preflight", "question 'The zero-moment point'", "question 'stereo depth from two cameras'"]
    assert result["steps"][1]["max_age"] == 600
    assert result["steps"][3]["sources"][0] == platform["docs"] + "vision/cameras/"
    assert result["changed"] is False


def test_journey_names_each_broken_link(platform, tmp_path):
    page_calling(tmp_path / "site", "https://api.elsewhere.example")
    result = journey(platform, origin="https://not-the-site.example",
                     questions=[{"question": "The zero-moment point", "expect_url": platform["docs"] + "intro/"}])
    assert result["failed"]
    assert result["failed_steps"] == ["page", "preflight", "question 'The zero-moment point'"]
    assert "calls https://api.elsewhere.example, not %s" % platform["server"].url in result["msg"]
    assert "the preflight from https://not-the-site.example answered HTTP 400" in result["msg"]


def test_journey_fails_when_the_answer_is_not_from_the_expected_page_or_too_slow(platform):
    wrong_page = journey(platform, questions=[{"question": "The zero-moment point",
                                               "expect_url": platform["docs"] + "intro/"}])
    assert "the passages come from %sbalance/" % platform["docs"] in wrong_page["msg"]
    slow = journey(platform, latency_budget_ms=1, questions=["The zero-moment point"])
    assert "over the budget of 1 ms" in slow["msg"]


def test_journey_fails_when_nothing_is_indexed(platform, qdrant, alias):
    qdrant.remove_collection(qdrant.aliases[alias])
    result = journey(platform, questions=["The zero-moment point"])
    assert result["failed"] and "HTTP 503" in result["msg"], result["msg"]


def test_an_empty_question_list_fails_before_any_request(platform):
    result = run_module("journey_check", {"api_url": "http://127.0.0.1:9", "questions": []})
    assert result["failed"] and "questions is empty" in result["msg"]
    assert "steps" not in result


# -- the frontend rolls back the site and its index together -----------------------------------------------------

def tiny_textbook(root, api_url):
    """The tiny npm textbook: a page whose bundle calls `api_url`, and the docs the content stage indexes."""
    npm_textbook(root, '<html><script src="main.js"></script><h1>Book</h1></html>')
    write(root / "src" / "main.js", 'var e={customFields:{chatApiUrl:"%s"}};' % api_url)
    for name, text in PAGES.items():
        write(root / "docs" / name, text)


def live(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode())


def test_a_failed_journey_rolls_back_the_site_and_its_index_together(github, database, qdrant, alias, tmp_path,
                                                                    start_server):
    repo = "book-journey-%s" % uuid.uuid4().hex[:6]
    github.create_repo("textbook", repo)
    site = github.pages_base.rstrip("/")
    base = "/textbook/%s/" % repo
    server = start_server(CHAT_DATABASE_URL=database, CHAT_QDRANT_URL=qdrant.url, CHAT_QDRANT_API_KEY=qdrant.api_key,
                          CHAT_QDRANT_COLLECTION=alias,
                          CHAT_ALLOWED_ORIGINS=re.match(r"https?://[^/]+", site).group(0))
    book = tmp_path / "book"
    tiny_textbook(book, server.url)
    playbook = tmp_path / "content_and_frontend.yml"
    write(playbook, "- import_playbook: %s\n- import_playbook: %s\n"
          % (CONTENT, ROOT / "playbooks" / "deploy_frontend.yml"))
    extra = content_vars(qdrant, book / "docs", alias, site=site + base + "docs/")
    extra.update({"frontend_repo": "textbook/%s" % repo, "frontend_git_url": github.git_url("textbook", repo),
                  "frontend_github_api_url": github.api_url, "frontend_github_token": github.token,
                  "frontend_site_url": site, "frontend_base_url": base, "frontend_project_dir": str(book),
                  "frontend_build_dir": str(book / "build"), "frontend_chat_api_url": server.url,
                  "frontend_journey_ca_path": "", "frontend_pages_build_timeout": 30, "frontend_verify_timeout": 10,
                  "frontend_verify_interval": 1})

    first = run_playbook(playbook, INVENTORY, extra)
    assert first.returncode == 0, first.stdout
    good = live(site + base + "build-info.json")
    good_index = alias_target(qdrant, alias)
    assert good["index"] == {"alias": alias, "collection": good_index}

    # The second edition changes a page (a new index) and ships a bundle calling the wrong API: the journey fails.
    write(book / "docs" / "balance.md", PAGES["balance.md"] + "\n## Falling safely\n\nA falling robot tucks in.\n")
    write(book / "src" / "main.js", 'var e={customFields:{chatApiUrl:"http://127.0.0.1:9"}};')
    second = run_playbook(playbook, INVENTORY, extra)
    assert second.returncode != 0
    assert "calls http://127.0.0.1:9, not %s" % server.url in second.stdout, second.stdout
    assert "Rolled back" in second.stdout and "points at %s again" % good_index in second.stdout, second.stdout
    assert live(site + base + "build-info.json") == good
    assert alias_target(qdrant, alias) == good_index
    assert len([name for name in qdrant.collections if name.startswith(alias + "-")]) == 2
    assert github.violations() == []


def test_an_allowed_origin_that_is_not_an_origin_stops_the_backend_before_any_change(tmp_path):
    """The role's preflight refuses it on the controller: no host is contacted (this one does not exist)."""
    inventory = tmp_path / "hosts.yml"
    write(inventory, "backend:\n  hosts:\n    app1:\n      ansible_host: 192.0.2.1\n")
    result = run_playbook(ROOT / "playbooks" / "deploy_backend.yml", inventory, {
        "backend_database_url": "postgresql://chat@db.example/chat", "backend_qdrant_url": "https://q.example",
        "backend_allowed_origins": ["https://textbook.example", "*"]})
    assert result.returncode != 0
    assert "backend_allowed_origins: '*' is not an origin" in result.stdout, result.stdout
    assert "UNREACHABLE" not in result.stdout
