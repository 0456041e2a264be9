"""A reader's journey on the DEPLOYED sandbox, in a real browser: the published textbook (the GitHub stand-in's Pages
host, <pages_base>textbook/textbook/) asks the chat API through the load balancer (inventories/local: the first
host of group loadbalancer, over HTTPS with the environment's CA, trusted in the browser's NSS store).

Run after `make demo` (or molecule's site scenario, whose verify step runs this file):

    .venv/bin/pytest -q -p no:cacheprovider tests/browser/test_sandbox_journey.py

It fails, rather than skips, when the sandbox was not deployed: a verify step that skips proves nothing. For that
reason tests/browser is not part of the main pytest run (scripts/run-tests.sh).
"""
import json
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from browser import Browser, missing_tools  # noqa: E402 (tests/browser is on sys.path)

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".sandbox" / "sandbox.json"
ENV_CA = ROOT / ".sandbox" / "ca" / "ca.crt"  # inventories/local's security_ca_dir
INVENTORY = ROOT / "inventories" / "local"
# a question a reader of chapter 3 asks, and what the answer and its source must show
QUESTION = "What is the zero-moment point?"
ANSWER_WORDS = "zero-moment point"
SOURCE_PAGE = "docs/locomotion-and-control/"


def _load_balancer():
    """ansible_host of the first host of group loadbalancer in inventories/local, as the inventory resolves it."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(INVENTORY)])
    hosts = inventory.get_groups_dict().get("loadbalancer") or []
    assert hosts, "inventories/local has no host in group loadbalancer"
    host = inventory.get_host(hosts[0])
    hostvars = VariableManager(loader=loader, inventory=inventory).get_vars(host=host, include_hostvars=False)
    return hostvars.get("ansible_host") or host.name


def deployed_sandbox():
    """The published site's and the API's URLs; fails (in the test, not a fixture: a FAILED test, not an ERROR or a
    skip) when the sandbox was not deployed."""
    problems = missing_tools()
    if problems:
        pytest.fail("missing %s: run `make deps` (the apt target installs chromium, chromium-driver, "
                    "libnss3-tools)" % ", ".join(problems))
    if not STATE.is_file():
        pytest.fail("%s does not exist: the sandbox is not deployed. Run `make demo` first (or molecule's site "
                    "scenario), then this test." % STATE.relative_to(ROOT))
    if not ENV_CA.is_file():
        pytest.fail("%s does not exist: the environment's CA is made by the deploy. Run `make demo` first." % ENV_CA)
    state = json.loads(STATE.read_text())
    return state["github"]["pages_base"].rstrip("/") + "/textbook/textbook/", "https://%s" % _load_balancer()


def test_reader_asks_the_published_textbook(tmp_path):
    site, api = deployed_sandbox()
    with Browser(ca_files=[ENV_CA], workdir=tmp_path / "browser") as browser:
        try:
            browser.open_textbook(site + "docs/intro/")
        finally:
            browser.screenshot(tmp_path, "textbook")
        baked = browser.js("return document.querySelector('[data-chat-api-url]').dataset.chatApiUrl")
        assert baked == api, "the published site calls %r, the inventory's API is %s" % (baked, api)

        browser.open_widget()
        browser.ask(QUESTION)
        result = browser.wait_for_result()
        browser.screenshot(tmp_path, "answer")
        errors = browser.console_errors(since_last=False)
        assert result["status"] == "answered", (
            "the widget shows %r instead of an answer; browser console: %s" % (result["error"], errors))
        assert result["found"] and ANSWER_WORDS in result["answer"].lower(), result
        assert result["sources"], "the answer has no source link: %s" % result
        assert any(source["href"] == site + SOURCE_PAGE for source in result["sources"]), result["sources"]
        assert not errors, "browser console errors on the published textbook: %s" % errors

        # the source link opens the page on the Pages host
        link = next(element for element in browser.driver.find_elements(
            By.CSS_SELECTOR, '[data-testid="chat-sources"] a') if element.get_attribute("href") == site + SOURCE_PAGE)
        assert httpx.get(site + SOURCE_PAGE, timeout=10).status_code == 200
        link.click()
        browser.wait(lambda: browser.driver.current_url == site + SOURCE_PAGE)
        browser.wait(lambda: ANSWER_WORDS in browser.driver.find_element(By.TAG_NAME, "article").text.lower())
        browser.screenshot(tmp_path, "source-page")
        errors = browser.console_errors()
        assert not errors, "browser console errors on %s: %s" % (site + SOURCE_PAGE, errors)
