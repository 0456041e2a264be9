# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reader's journey, checked the way a browser meets the platform: the published page, the API URL baked into
its JavaScript, the CORS preflight from the site's origin, and questions that must be answered from the textbook.

Standard library and ansible.module_utils only, so the same steps run on the controller (after a deploy) and on an
app host (a release's pre-traffic smoke test against its own port). Each step returns a dict
``{"step", "ok", "ms", "detail", ...}``; run_journey() collects them and never raises for a failed step.
"""

import json
import re
import time

from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlsplit

from ansible.module_utils.urls import open_url

CHAT_PATH = "/api/chat"
# the widget's API URL as Docusaurus bakes customFields into the client bundle (minified or not)
API_URL_IN_JS = re.compile(r"""["']?chatApiUrl["']?\s*:\s*["']([^"']*)["']""")
SCRIPT_SRC = re.compile(r"""<script[^>]*\ssrc=["']([^"']+)["']""", re.IGNORECASE)


class Http:
    """One place for the journey's HTTP requests: TLS settings, timeout, and answers for every status."""

    def __init__(self, timeout=10, validate_certs=True, ca_path=None):
        self.timeout, self.validate_certs, self.ca_path = timeout, validate_certs, ca_path

    def request(self, method, url, body=None, headers=None):
        """(status, headers as a lower-case dict, body bytes, milliseconds); status None when unreachable,
        with the reason in place of the body."""
        started = time.monotonic()
        data = json.dumps(body).encode("utf-8") if body is not None else None
        try:
            response = open_url(url, method=method, data=data, headers=headers or {}, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path or None,
                                follow_redirects="safe", use_proxy=False)
            status, raw_headers, content = response.status, response.headers, response.read()
        except HTTPError as err:
            status, raw_headers, content = err.code, err.headers, err.read() if err.fp else b""
        except (URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            return None, {}, "%s" % reason, _ms(started)
        lowered = dict((name.lower(), value) for name, value in (raw_headers or {}).items())
        return status, lowered, content, _ms(started)


def question_entries(items):
    """([{question, expect_url}], None) of a list of question strings or dicts with a 'question' (and optionally
    'expect_url'), or (None, message naming the first bad entry)."""
    questions = []
    for number, item in enumerate(items, 1):
        if isinstance(item, str):
            item = {"question": item}
        if not isinstance(item, dict) or not str(item.get("question") or "").strip():
            return None, ("questions[%d] must be a question string or a dict with a non-empty 'question' (and "
                          "optionally 'expect_url'), got %r." % (number, item))
        questions.append({"question": str(item["question"]).strip(), "expect_url": item.get("expect_url")})
    return questions, None


def _ms(started):
    return int(round((time.monotonic() - started) * 1000))


def origin_of(url):
    """scheme://host[:port] of a URL, as a browser sends it in Origin (default ports dropped)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        host = "%s:%d" % (host, parts.port)
    return "%s://%s" % (parts.scheme.lower(), host)


def _step(name, ok, ms, detail, **extra):
    return dict(step=name, ok=ok, ms=ms, detail=detail, **extra)


def _unreachable(status, content):
    return "unreachable (%s)" % content if status is None else "HTTP %d" % status


def check_page(http, page_url, expected_api_url):
    """The page loads, and the API URL in its JavaScript is the expected one."""
    status, _headers, content, ms = http.request("GET", page_url)
    if status != 200:
        return _step("page", False, ms, "the published page %s answered %s" % (page_url, _unreachable(status, content)))
    html = content.decode("utf-8", "replace")
    found = set()
    for src in SCRIPT_SRC.findall(html):
        script_url = urljoin(page_url, src)
        if origin_of(script_url) != origin_of(page_url):
            continue
        script_status, _headers, script, script_ms = http.request("GET", script_url)
        ms += script_ms
        if script_status == 200:
            found.update(API_URL_IN_JS.findall(script.decode("utf-8", "replace")))
    wanted = expected_api_url.rstrip("/")
    urls = sorted(url.rstrip("/") for url in found)
    if urls != [wanted]:
        detail = ("the page's JavaScript calls %s, not %s: rebuild the site with CHAT_API_URL=%s"
                  % (", ".join(urls), wanted, wanted) if urls
                  else "no chat API URL found in the JavaScript of %s (is the chat widget in the build?)" % page_url)
        return _step("page", False, ms, detail, api_urls=urls)
    return _step("page", True, ms, "%s loads and its JavaScript calls %s" % (page_url, wanted), api_urls=urls)


def check_preflight(http, api_url, origin):
    """The browser's CORS preflight for the widget's POST passes from the site's origin."""
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    status, answer, content, ms = http.request("OPTIONS", api_url.rstrip("/") + CHAT_PATH, headers=headers)
    problems = []
    if status not in (200, 204):
        problems.append("answered %s" % _unreachable(status, content))
    elif answer.get("access-control-allow-origin") != origin:
        problems.append("Access-Control-Allow-Origin is %r, not %r (the service's CHAT_ALLOWED_ORIGINS)"
                        % (answer.get("access-control-allow-origin"), origin))
    else:
        if "POST" not in answer.get("access-control-allow-methods", "").upper():
            problems.append("POST is not among Access-Control-Allow-Methods")
        if "content-type" not in answer.get("access-control-allow-headers", "").lower():
            problems.append("Content-Type is not among Access-Control-Allow-Headers")
    max_age = answer.get("access-control-max-age")
    if problems:
        return _step("preflight", False, ms, "the preflight from %s %s" % (origin, "; ".join(problems)))
    return _step("preflight", True, ms, "the preflight from %s passes (max-age %s)" % (origin, max_age),
                 max_age=int(max_age) if (max_age or "").isdigit() else None)


def _answer_problems(status, answer, data, origin, expect_url, require_passages=True):
    if status != 200:
        return ["answered HTTP %d" % status]
    if origin and answer.get("access-control-allow-origin") != origin:
        return ["the answer has no Access-Control-Allow-Origin for %s, so a browser may not read it" % origin]
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str) or not isinstance(
            data.get("passages"), list):
        return ["the body is not {answer, passages}"]
    if not data["passages"] and require_passages:
        return ["no passage from the textbook (is the textbook indexed?)"]
    urls = [passage.get("url") for passage in data["passages"] if isinstance(passage, dict)]
    if expect_url and expect_url not in urls:
        return ["the passages come from %s, not %s" % (", ".join(str(url) for url in urls), expect_url)]
    return []


def ask(http, api_url, question, origin=None, expect_url=None, latency_budget_ms=2000, require_passages=True):
    """One question through POST /api/chat: status, body shape, passages (from expect_url; with require_passages,
    at least one) and latency."""
    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    status, answer, content, ms = http.request("POST", api_url.rstrip("/") + CHAT_PATH, {"question": question},
                                               headers)
    name = "question %r" % question
    if status is None:
        return _step(name, False, ms, "unreachable (%s)" % content)
    try:
        data = json.loads(content.decode("utf-8"))
    except ValueError:
        data = None
    problems = _answer_problems(status, answer, data, origin, expect_url, require_passages)
    if not problems and ms > latency_budget_ms:
        problems.append("took %d ms, over the budget of %d ms" % (ms, latency_budget_ms))
    sources = [p.get("url") or p.get("source") for p in (data or {}).get("passages") or [] if isinstance(p, dict)]
    if problems:
        return _step(name, False, ms, "; ".join(problems), sources=sources)
    return _step(name, True, ms, "answered from %s" % sources[0] if sources else "answered (no passage)",
                 sources=sources)


def run_journey(http, api_url, questions, page_url=None, expected_api_url=None, origin=None,
                latency_budget_ms=2000, require_passages=True):
    """Every step of the journey, in a browser's order; a step that cannot work without the one before still runs
    (each says what it found), so one run names every broken link."""
    steps = []
    if page_url:
        steps.append(check_page(http, page_url, expected_api_url or api_url))
        origin = origin or origin_of(page_url)
    if origin:
        steps.append(check_preflight(http, api_url, origin))
    for item in questions:
        steps.append(ask(http, api_url, item["question"], origin, item.get("expect_url"), latency_budget_ms,
                         require_passages))
    return steps
