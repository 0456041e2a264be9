"""docusaurus_build on the real examples/textbook (Docusaurus 3): one real build, then a no-op.

Needs examples/textbook/node_modules (`make deps` runs `npm ci` there before the integration tests).
"""
import re
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_module

TEXTBOOK = ROOT / "examples" / "textbook"
CHAPTERS = ["intro", "embodied-intelligence", "sensors-and-perception", "locomotion-and-control", "humanoid-systems"]
ENV = {
    "SITE_URL": "http://127.0.0.1:8481",
    "BASE_URL": "/it-owner/it-textbook/",
    "CHAT_API_URL": "http://chat.integration.invalid:8123",
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (TEXTBOOK / "node_modules").is_dir(),
                       reason="examples/textbook/node_modules is absent: run `make deps` (npm ci in examples/textbook) first"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("textbook") / "site"
    args = {"project_dir": str(TEXTBOOK), "out_dir": str(out), "env": ENV}
    started = time.monotonic()
    first = run_module("docusaurus_build", args, diff=True)
    first["_seconds"] = time.monotonic() - started
    assert not first.get("failed"), first.get("msg")
    return args, out, first


def test_first_run_builds_the_textbook(site):
    _, out, first = site
    assert first["changed"] and first["built"]
    assert first["build_dir"] == str(out)
    assert first["file_count"] > 10 and first["bytes"] > 100000
    assert re.fullmatch(r"[0-9a-f]{64}", first["content_hash"])
    assert first["diff"]["after"] == {"content_hash": first["content_hash"], "file_count": first["file_count"]}


def test_pages_exist_with_the_base_url_in_their_links(site):
    _, out, _ = site
    index = (out / "index.html").read_text()
    for chapter in CHAPTERS:
        assert (out / "docs" / chapter / "index.html").is_file(), chapter
        assert 'href="/it-owner/it-textbook/docs/%s/"' % chapter in index, chapter
    assert "<title" in index and "Physical AI &amp; Humanoid Robotics" in index
    page = (out / "docs" / "locomotion-and-control" / "index.html").read_text()
    assert "zero-moment point" in page
    assert 'href="/it-owner/it-textbook/docs/humanoid-systems/"' in page
    assert "/textbook/textbook/" not in index, "the default BASE_URL leaked into a build given another one"


def test_chat_api_url_is_in_the_output(site):
    _, out, _ = site
    assert 'data-chat-api-url="http://chat.integration.invalid:8123"' in (out / "index.html").read_text()
    bundles = [path for path in Path(out, "assets", "js").glob("*.js")
               if "http://chat.integration.invalid:8123" in path.read_text(errors="replace")]
    assert bundles, "customFields.chatApiUrl is not in any JS bundle"


def test_second_run_changes_nothing(site):
    args, _, first = site
    started = time.monotonic()
    second = run_module("docusaurus_build", args)
    elapsed = time.monotonic() - started
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False and not second["built"] and not second["installed"], second["reasons"]
    assert second["content_hash"] == first["content_hash"]
    assert (second["file_count"], second["bytes"]) == (first["file_count"], first["bytes"])
    assert elapsed < 5, "the no-op run took %.1f s" % elapsed
    check = run_module("docusaurus_build", args, check=True)
    assert check["changed"] is False
