"""The textbook's chat widget in a real browser against a local platform on loopback.

Set up once for the module: a throw-away CA and a server certificate for 127.0.0.1; the chat service (uvicorn with
TLS) on real PostgreSQL (a Neon stand-in project) and the Qdrant stand-in, with the example textbook's docs indexed
by `python -m chat_api.index` and CHAT_ALLOWED_ORIGINS = the site's origin; the site built once (from a copy of
examples/textbook, so the checkout's build/ and .docusaurus/ are not touched) with CHAT_API_URL = the service and
served over http under /textbook/textbook/; one headless chromium that trusts the CA through its NSS store.

The cases run in file order and share the browser: the happy path first (its console must stay clean), the
failures last (503 restarts the service on a dead Qdrant, the network case stops it).
"""
import datetime
import http.server
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from fixtures_chat import ChatServer
from sandbox.common.net import free_port

from browser import Browser, contrast_ratio, missing_tools  # noqa: E402 (tests/browser is on sys.path)

ROOT = Path(__file__).resolve().parents[2]
TEXTBOOK = ROOT / "examples" / "textbook"
CHAT = ROOT / "examples" / "chat_api"
BASE_PATH = "/textbook/textbook/"
QUESTION = "What is the zero-moment point?"
LIMIT = 2000  # the service's default CHAT_MAX_QUESTION_CHARS

pytestmark = pytest.mark.skipif(bool(missing_tools()) or not (TEXTBOOK / "node_modules").is_dir(),
                                reason="needs chromium, chromedriver, certutil and examples/textbook/node_modules: "
                                       "run `make deps`")


# -- TLS --------------------------------------------------------------------------------------------------------

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls(directory):
    """A CA (ca.crt) and a certificate for 127.0.0.1 and localhost signed by it (server.crt, server.key)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("textbook browser test CA")).issuer_name(_name(
        "textbook browser test CA")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: directory / name for name in ("ca.crt", "server.crt", "server.key")}
    paths["ca.crt"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["server.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["server.key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return paths


# -- the chat service --------------------------------------------------------------------------------------------

class ChatService:
    """The chat service on a fixed loopback port (the one baked into the site), restartable with other settings on
    the same port."""

    def __init__(self, port, tls, env, log_dir):
        self.port, self.tls, self.env, self.log_dir = port, tls, env, log_dir
        self.url = "https://127.0.0.1:%d" % port
        self.server = self.current = None
        self.starts = 0

    def start(self, **overrides):
        self.stop()
        self.starts += 1
        self.server = ChatServer(dict(self.env, **overrides), self.log_dir / ("chat-%d.log" % self.starts), self.tls,
                                 self.port)
        self.current = overrides
        return self

    def ensure(self, **overrides):
        """Running with exactly these overrides (restarted only when it is not)."""
        if self.server is None or self.server.proc.poll() is not None or self.current != overrides:
            self.start(**overrides)
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
        self.server = self.current = None

    def log(self):
        return self.server.log()


# -- the site ------------------------------------------------------------------------------------------------------

def start_build(workdir, site_url, chat_api_url):
    """`docusaurus build` of a copy of examples/textbook (node_modules linked) into workdir/site, in the background."""
    project = workdir / "textbook"
    project.mkdir(parents=True)
    for name in ("docs", "src", "static"):
        shutil.copytree(TEXTBOOK / name, project / name)
    for name in ("docusaurus.config.js", "sidebars.js", "package.json"):
        shutil.copy2(TEXTBOOK / name, project / name)
    (project / "node_modules").symlink_to(TEXTBOOK / "node_modules", target_is_directory=True)
    out = workdir / "site"
    # no persistent webpack cache: it would be written into the checkout's node_modules/.cache (the link)
    env = dict(os.environ, SITE_URL=site_url, BASE_URL=BASE_PATH, CHAT_API_URL=chat_api_url,
               DOCUSAURUS_NO_PERSISTENT_CACHE="1")
    log = open(workdir / "build.log", "wb")
    proc = subprocess.Popen([str(project / "node_modules" / ".bin" / "docusaurus"), "build", "--out-dir", str(out)],
                            cwd=str(project), env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc, out


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the build under BASE_PATH (a 404 elsewhere), as GitHub Pages serves a project site."""

    def translate_path(self, path):
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if not clean.startswith(BASE_PATH):
            return str(Path(self.directory) / ".does-not-exist")
        return super().translate_path("/" + clean[len(BASE_PATH):])

    def log_message(self, *args):
        pass


def serve(directory, port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(SiteHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- the platform, once for the module ------------------------------------------------------------------------------

def _database(neon):
    project = neon.create_project("browser-" + uuid.uuid4().hex[:10], full=True)
    uri = project["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for path in sorted((CHAT / "migrations").glob("*.sql")):
            with conn.transaction():
                conn.execute(path.read_text())
    return project["project"]["id"], uri


@pytest.fixture(scope="module")
def platform(tmp_path_factory, neon, qdrant):
    work = tmp_path_factory.mktemp("browser-platform")
    timings = {}
    started = time.monotonic()
    site_port, api_port = free_port(), free_port()
    origin = "http://127.0.0.1:%d" % site_port
    api_url = "https://127.0.0.1:%d" % api_port
    build, out = start_build(work, origin, api_url + "/")  # a trailing slash, which the widget strips

    tls = make_tls(work / "tls")
    project_id, database = _database(neon)
    alias = "browser-" + uuid.uuid4().hex[:8]
    env = {"CHAT_DATABASE_URL": database, "CHAT_QDRANT_URL": qdrant.url, "CHAT_QDRANT_API_KEY": qdrant.api_key,
           "CHAT_QDRANT_COLLECTION": alias, "CHAT_ALLOWED_ORIGINS": origin}
    index_env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    index_env.update(env, PYTHONPATH=str(CHAT / "src"))
    run = subprocess.run([sys.executable, "-m", "chat_api.index", str(TEXTBOOK / "docs"), "--collection", alias,
                          "--site-url", origin + BASE_PATH + "docs/", "--json"],
                         env=index_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    service = ChatService(api_port, tls, env, work).start()
    timings["service"] = time.monotonic() - started

    browser = Browser(ca_files=[tls["ca.crt"]], workdir=work / "browser").start()
    timings["browser"] = time.monotonic() - started
    try:
        assert build.wait(180) == 0, (work / "build.log").read_text(errors="replace")
    except BaseException:
        if build.poll() is None:
            build.kill()
            build.wait()
        browser.close()
        service.stop()
        neon.delete_project(project_id)
        raise
    timings["build"] = time.monotonic() - started
    server = serve(out, site_port)
    (work / "timings.json").write_text(json.dumps(timings))
    print("\nbrowser platform ready: %s" % ", ".join("%s %.1fs" % item for item in timings.items()))
    try:
        yield {"origin": origin, "site": origin + BASE_PATH, "api": api_url, "service": service, "browser": browser,
               "out": out, "index": json.loads(run.stdout), "timings": timings, "work": work}
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
        service.stop()
        neon.delete_project(project_id)


@pytest.fixture
def browser(platform):
    return platform["browser"]


def _page(platform, path="docs/intro/"):
    return platform["site"] + path


# -- the cases ---------------------------------------------------------------------------------------------------

def test_question_gets_an_answer_with_a_source_link(platform, browser, tmp_path):
    platform["service"].ensure()
    browser.open_textbook(_page(platform))
    assert browser.find("chat-toggle").is_displayed()
    browser.console_errors()  # start counting from the loaded page
    browser.open_widget()
    browser.ask(QUESTION)
    result = browser.wait_for_result()
    browser.screenshot(tmp_path, "answer")
    assert result["status"] == "answered", result
    assert result["found"] is True
    assert "zero-moment point" in result["answer"].lower()
    assert "{" not in result["answer"] and "**" not in result["answer"]

    target = platform["site"] + "docs/locomotion-and-control/"
    assert result["sources"], result
    assert result["sources"][0]["href"] == target, result["sources"]
    assert result["sources"][0]["text"] == "3. Locomotion and control"
    hrefs = [source["href"] for source in result["sources"]]
    assert len(hrefs) == len(set(hrefs)), "sources are not de-duplicated: %s" % hrefs
    assert all(href.startswith(platform["site"] + "docs/") for href in hrefs), hrefs

    # The Ask button said it was busy while the request was in flight, and is usable again.
    states = browser.submit_states()
    assert {"disabled": True, "busy": "true", "text": "Asking…"} in states, states
    assert browser.find("chat-submit").is_enabled()

    # The service was asked once, from the site's origin, through the CORS preflight.
    log = platform["service"].log()
    assert "OPTIONS /api/chat" in log and "POST /api/chat" in log, log

    errors = browser.console_errors()
    assert not errors, errors

    # The link leads to the page the answer came from.
    assert httpx.get(target).status_code == 200
    browser.driver.find_element(By.CSS_SELECTOR, '[data-testid="chat-sources"] a').click()
    browser.wait(lambda: browser.driver.current_url == target, message="the source link did not open " + target)
    browser.wait(lambda: "zero-moment point" in browser.driver.find_element(By.TAG_NAME, "article").text.lower())
    browser.screenshot(tmp_path, "source-page")
    assert not browser.console_errors()


def test_keyboard_only(platform, browser, tmp_path):
    platform["service"].ensure()
    browser.open_textbook(_page(platform, "docs/sensors-and-perception/"))
    toggle = browser.find("chat-toggle")
    panel_id = toggle.get_attribute("aria-controls")
    assert panel_id and browser.find("chat-panel").get_attribute("id") == panel_id
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not browser.find("chat-panel").is_displayed()

    browser.js("arguments[0].focus()", toggle)
    browser.press(Keys.ENTER)
    browser.wait(lambda: browser.active_testid() == "chat-question", message="focus did not move to the field")
    assert toggle.get_attribute("aria-expanded") == "true"
    label = browser.driver.find_element(By.CSS_SELECTOR, "label[for='%s']"
                                        % browser.find("chat-question").get_attribute("id"))
    assert label.is_displayed() and label.text.strip()
    assert browser.find("chat-status").get_attribute("aria-live") == "polite"
    assert browser.find("chat-question").tag_name == "input"
    assert browser.driver.find_element(By.CSS_SELECTOR, "#%s form" % panel_id)

    browser.press("How do joint encoders and torque sensors work?")
    browser.press(Keys.ENTER)
    result = browser.wait_for_result()
    assert result["status"] == "answered" and result["found"], result
    assert any(s["href"].endswith("/docs/sensors-and-perception/") for s in result["sources"]), result
    browser.screenshot(tmp_path, "keyboard-answer")

    browser.press(Keys.ESCAPE)
    browser.wait(lambda: not browser.find("chat-panel").is_displayed(), message="Escape did not close the panel")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert browser.active_testid() == "chat-toggle"

    # Opening again keeps the last answer and puts the focus back in the field.
    browser.press(Keys.SPACE)
    browser.wait(lambda: browser.active_testid() == "chat-question")
    assert browser.find("chat-answer").text == result["answer"]
    assert not browser.console_errors()


def test_question_without_an_answer_says_so(platform, browser, tmp_path):
    platform["service"].ensure()
    browser.open_textbook(_page(platform)).open_widget()
    browser.ask("Why would you do that?")  # no content words: nothing to search for
    result = browser.wait_for_result()
    browser.screenshot(tmp_path, "no-answer")
    assert result["status"] == "answered" and result["found"] is False, result
    assert result["answer"].startswith("No answer found"), result
    assert result["sources"] == []


def test_too_long_question_says_the_limit(platform, browser, tmp_path):
    platform["service"].ensure()
    browser.open_textbook(_page(platform)).open_widget()
    browser.ask("zero-moment point " * (LIMIT // 18 + 5))
    result = browser.wait_for_result()
    browser.screenshot(tmp_path, "too-long")
    assert result["status"] == "error" and result["error_kind"] == "invalid", result
    assert "too long" in result["error"] and str(LIMIT) in result["error"], result
    assert "detail" not in result["error"] and "{" not in result["error"]
    assert browser.find("chat-submit").is_enabled()


def test_dark_mode_is_readable(platform, browser, tmp_path):
    platform["service"].ensure()
    browser.open_textbook(_page(platform)).open_widget()
    browser.ask(QUESTION)
    assert browser.wait_for_result()["status"] == "answered"
    checked = {}
    for theme in ("light", "dark"):
        browser.set_theme(theme)
        panel = browser.find("chat-panel")
        elements = {"panel": panel, "answer": browser.find("chat-answer"), "toggle": browser.find("chat-toggle"),
                    "question": browser.find("chat-question"), "submit": browser.find("chat-submit"),
                    "label": panel.find_element(By.TAG_NAME, "label"),
                    "source": browser.driver.find_element(By.CSS_SELECTOR, '[data-testid="chat-sources"] a')}
        checked[theme] = {name: browser.colours(element) for name, element in elements.items()}
        browser.screenshot(tmp_path, "theme-" + theme)
        for name, colours in checked[theme].items():
            ratio = contrast_ratio(colours["color"], colours["background"])
            assert ratio >= 4.5, "%s mode: %s has contrast %.2f (%s)" % (theme, name, ratio, colours)
    assert checked["light"]["panel"]["background"] != checked["dark"]["panel"]["background"]
    assert checked["dark"]["panel"]["background"][0] < 80, checked["dark"]  # a dark panel, not a white one
    # The error message too, in dark mode.
    browser.ask("   ")
    result = browser.wait_for_result()
    assert result["status"] == "error" and result["error_kind"] == "empty", result
    ratio = browser.contrast(browser.find("chat-error"))
    assert ratio >= 4.5, ratio
    browser.js("localStorage.removeItem('theme')")
    browser.set_theme("light")


def test_qdrant_down_says_the_assistant_is_unavailable(platform, browser, tmp_path):
    dead = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    platform["service"].ensure(CHAT_QDRANT_URL=dead, CHAT_TIMEOUT_SECONDS="1")
    browser.open_textbook(_page(platform)).open_widget()
    browser.ask(QUESTION)
    result = browser.wait_for_result()
    browser.screenshot(tmp_path, "qdrant-down")
    assert result["status"] == "error" and result["error_kind"] == "unavailable", result
    assert "temporarily unavailable" in result["error"] and "try again" in result["error"], result
    assert "passage search" not in result["error"]
    assert result["sources"] == []


def test_service_down_says_it_cannot_reach_the_assistant(platform, browser, tmp_path):
    platform["service"].stop()
    browser.open_textbook(_page(platform)).open_widget()
    browser.ask(QUESTION)
    result = browser.wait_for_result()
    browser.screenshot(tmp_path, "service-down")
    assert result["status"] == "error" and result["error_kind"] == "network", result
    assert "Cannot reach the assistant" in result["error"] and "connection" in result["error"], result
    assert "TypeError" not in result["error"] and "fetch" not in result["error"].lower()
    errors = browser.console_errors()
    assert any("ERR_CONNECTION_REFUSED" in e["message"] for e in errors), errors  # the browser's own record

