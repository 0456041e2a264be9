"""A real browser for the textbook's chat widget: Debian's chromium, headless, driven by selenium through Debian's
chromedriver (helpers only; the tests are test_widget.py and test_sandbox_journey.py).

    with Browser(ca_files=[ca_crt], workdir=tmp_path / "browser") as browser:
        browser.open_textbook("http://127.0.0.1:8481/textbook/textbook/docs/intro/")
        browser.open_widget()
        browser.ask("What is the zero-moment point?")
        result = browser.wait_for_result()          # {"status": "answered", "answer": ..., "sources": [...]}
        browser.screenshot(tmp_path, "answer")
        assert not browser.console_errors()

TLS is checked for real: the browser process gets a HOME of its own whose NSS store ($HOME/.pki/nssdb, made with
certutil) trusts only the CA files given, besides chromium's built-in roots. --ignore-certificate-errors is never
passed. Nothing is downloaded: chromedriver's path is given to Service(), so Selenium Manager is not run.

The widget's hooks (data-testid) are described in examples/textbook/src/components/ChatWidget.js.
"""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Selenium Manager must stay offline and quiet (it is skipped anyway when the driver's path is given).
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# the NSS store and Chromium's quiet flags are `python -m sandbox browser`'s, so both browsers trust the same way
from sandbox.browser import CERTUTIL, CHROMIUM, QUIET_FLAGS, nss_home  # noqa: E402

__all__ = ["Browser", "CHROMEDRIVER", "CHROMIUM", "contrast_ratio", "luminance", "missing_tools", "nss_home"]

CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", *QUIET_FLAGS, "--disable-dev-shm-usage",
         "--window-size=1280,900"]
TESTID = '[data-testid="%s"]'


def missing_tools():
    """The binaries this harness needs that are not installed (`make apt` installs them)."""
    return [path for path in (CHROMIUM, CHROMEDRIVER, CERTUTIL) if not os.access(path, os.X_OK)]


def _channel(value):
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def luminance(rgb):
    """WCAG relative luminance of an (r, g, b) tuple of 0..255 values."""
    r, g, b = (_channel(c / 255) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground, background):
    """WCAG contrast ratio (1..21) of two (r, g, b) colours."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# The colour an element's text is painted in, and the first opaque background behind it (walking up the tree),
# each as [r, g, b] (alpha blended over the next background down, which is enough for Infima's colours).
_COLOURS_JS = """
const el = arguments[0];
const parse = (value) => {
  const m = value.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const parts = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
};
const layers = [];
for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
  const bg = parse(getComputedStyle(node).backgroundColor);
  if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
}
let background = [255, 255, 255];
for (const layer of layers.reverse()) {
  background = background.map((c, i) => layer[i] * layer[3] + c * (1 - layer[3]));
}
const fg = parse(getComputedStyle(el).color) || [0, 0, 0, 1];
const color = background.map((c, i) => fg[i] * fg[3] + c * (1 - fg[3]));
return {color: color.map(Math.round), background: background.map(Math.round)};
"""

# Set a React-controlled input's value the way typing does (React listens for the input event), for long texts
# that would take seconds to type key by key.
_FILL_JS = """
const [el, value] = arguments;
const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
setter.call(el, value);
el.dispatchEvent(new Event('input', {bubbles: true}));
"""

# Records, from now on, every state the Ask button goes through (disabled, aria-busy, its text).
_WATCH_SUBMIT_JS = """
const button = document.querySelector('[data-testid="chat-submit"]');
window.__chatSubmitStates = [];
const record = () => window.__chatSubmitStates.push(
  {disabled: button.disabled, busy: button.getAttribute('aria-busy'), text: button.textContent.trim()});
if (window.__chatSubmitObserver) window.__chatSubmitObserver.disconnect();
window.__chatSubmitObserver = new MutationObserver(record);
window.__chatSubmitObserver.observe(button, {attributes: true, childList: true, characterData: true, subtree: true});
"""


class Browser:
    """One headless chromium (a fresh profile and HOME, deleted on close) and the widget's journey as helpers."""

    def __init__(self, ca_files=(), workdir=None, timeout=20):
        self.timeout = timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="textbook-browser-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_files = [str(ca) for ca in ca_files]
        self.driver = None
        self._logs = []
        self._seen = 0

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self):
        missing = missing_tools()
        if missing:
            raise RuntimeError("missing %s: run `make apt` (chromium, chromium-driver, libnss3-tools)"
                               % ", ".join(missing))
        home = nss_home(self.workdir / "home", self.ca_files)
        profile = self.workdir / "profile"
        shutil.rmtree(profile, ignore_errors=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + ["--user-data-dir=%s" % profile]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # chromium inherits chromedriver's environment: HOME is where it finds the NSS store
        env = {key: value for key, value in os.environ.items() if key not in ("HOME", "SSLKEYLOGFILE")}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
        service = Service(executable_path=CHROMEDRIVER, env=env,
                          log_output=str(self.workdir / "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(self.timeout * 2)
        return self

    def close(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except WebDriverException:
                pass
            self.driver = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- small helpers ----------------------------------------------------------------------------------------

    def find(self, testid):
        return self.driver.find_element(By.CSS_SELECTOR, TESTID % testid)

    def find_all(self, testid):
        return self.driver.find_elements(By.CSS_SELECTOR, TESTID % testid)

    def wait(self, condition, timeout=None, message=""):
        return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.05).until(
            lambda driver: condition(), message)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def active_testid(self):
        """data-testid of the focused element (None when it has none)."""
        return self.js("return document.activeElement && document.activeElement.getAttribute('data-testid')")

    def press(self, key):
        """Press a key where the focus is (as a reader does)."""
        webdriver.ActionChains(self.driver).send_keys(key).perform()

    # -- the journey --------------------------------------------------------------------------------------------

    def open_textbook(self, url):
        """Load a page of the textbook and wait until the widget is hydrated (React listens to it)."""
        self.driver.get(url)
        self.wait(lambda: self.js("return document.readyState") == "complete", message="page did not load: " + url)
        try:
            self.wait(lambda: self.js("const w = document.querySelector('[data-chat-ready]');"
                                      "return !!w && w.dataset.chatReady === 'true'"))
        except TimeoutException:
            widget = self.js("const w = document.querySelector('[data-chat-api-url]');"
                             "return w ? w.outerHTML.slice(0, 200) : null")
            raise AssertionError(
                "the chat widget did not start on %s within %ss: %s; console errors: %s"
                % (url, self.timeout, "no widget on the page" if widget is None else
                   "the page has a widget without data-chat-ready (a build older than the widget?) or its "
                   "JavaScript did not run: %s" % widget, self.console_errors(since_last=False))) from None
        return self

    def is_open(self):
        return self.find("chat-toggle").get_attribute("aria-expanded") == "true"

    def open_widget(self):
        """Open the panel with the toggle (unless open) and wait for the focus to land on the question field."""
        if not self.is_open():
            self.find("chat-toggle").click()
        self.wait(lambda: self.find("chat-panel").is_displayed(), message="the chat panel did not open")
        self.wait(lambda: self.active_testid() == "chat-question", message="the question field did not get focus")
        return self

    def ask(self, question, type_it=None):
        """Put `question` in the field and press Enter. Short questions are typed key by key; long ones are filled
        in at once (`type_it` forces either)."""
        field = self.find("chat-question")
        field.clear()
        self.js(_FILL_JS, field, "")
        if type_it if type_it is not None else len(question) <= 200:
            field.send_keys(question)
        else:
            self.js(_FILL_JS, field, question)
        self.js(_WATCH_SUBMIT_JS)
        field.send_keys(Keys.ENTER)
        return self

    def submit_states(self):
        """The Ask button's states seen since the last ask(): [{disabled, busy, text}, ...]."""
        return self.js("return window.__chatSubmitStates || []")

    def wait_for_result(self, timeout=None):
        """Wait for an answer or an error (the widget's timeout is 20 s) and return what the reader sees:
        {status, answer, found, error, error_kind, sources: [{text, href}]}."""
        def settled():
            status = self.find("chat-status").get_attribute("data-status")
            return status if status in ("answered", "error") else None
        try:
            status = self.wait(settled, timeout or self.timeout + 5)
        except TimeoutException:
            raise AssertionError("no answer or error within %ss; the widget shows %r (status %s, question %d chars)"
                                 % (timeout or self.timeout + 5, self.find("chat-status").text,
                                    self.find("chat-status").get_attribute("data-status"),
                                    len(self.find("chat-question").get_attribute("value") or ""))) from None
        result = {"status": status, "answer": None, "found": None, "error": None, "error_kind": None,
                  "sources": self.sources()}
        if status == "answered":
            answer = self.find("chat-answer")
            result.update(answer=answer.text, found=answer.get_attribute("data-found") == "true")
        else:
            error = self.find("chat-error")
            result.update(error=error.text, error_kind=error.get_attribute("data-error"))
        return result

    def sources(self):
        """The source links under the answer, in order: [{text, href}] (href absolute, as the browser resolves it)."""
        return [{"text": link.text, "href": link.get_attribute("href")}
                for link in self.driver.find_elements(By.CSS_SELECTOR, TESTID % "chat-sources" + " a")]

    def colours(self, element):
        """{color, background} of `element` as [r, g, b], the background being the first opaque one behind it."""
        return self.js(_COLOURS_JS, element)

    def contrast(self, element):
        found = self.colours(element)
        return contrast_ratio(found["color"], found["background"])

    def set_theme(self, theme):
        """Switch the site's colour mode with the navbar's toggle (Docusaurus cycles light/dark/system)."""
        for _ in range(4):
            if self.js("return document.documentElement.dataset.theme") == theme:
                return self
            toggle = self.driver.find_element(By.CSS_SELECTOR, "nav.navbar button[title*='mode'], "
                                                               "nav.navbar button[aria-label*='mode']")
            toggle.click()
            time.sleep(0.1)
        raise AssertionError("the navbar toggle did not switch to %s mode" % theme)

    def screenshot(self, directory, name):
        """Save a PNG of the viewport as <directory>/<name>.png; returns its path."""
        path = Path(directory) / ("%s.png" % name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def console(self):
        """Every browser console entry so far ({level, message, source, timestamp})."""
        self._logs.extend(self.driver.get_log("browser"))
        return list(self._logs)

    def console_errors(self, since_last=True):
        """The SEVERE console entries (JavaScript errors, failed requests, CORS refusals): by default only those
        logged since the previous call."""
        entries = self.console()
        start = self._seen if since_last else 0
        self._seen = len(entries)
        return [entry for entry in entries[start:] if entry.get("level") == "SEVERE"]
