# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small JSON REST client shared by the collection's API modules (GitHub, Neon, Qdrant).

- one error type, ApiError: method, path, HTTP status, the API's own message and a hint that says how to fix it;
- retries with full-jitter exponential backoff that honour Retry-After / X-RateLimit-Reset, bounded by max_wait;
- the token is sent in a header only, and never formatted into a message.
"""

import email.utils
import json
import random
import socket
import time

from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# GitHub: "If you exceed a secondary rate limit and there is no retry-after or x-ratelimit-* header, wait at least
# one minute before retrying."
SECONDARY_LIMIT_WAIT = 60.0
SECONDARY_LIMIT_TEXT = "secondary rate limit"


def _header(headers, name, default=None):
    """Case-insensitive header lookup in a plain dict."""
    if not headers:
        return default
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return default


def api_message(data):
    """The API's own error text from a decoded body, whatever the API's convention.

    Understands ``message`` (GitHub, plus its ``errors[]`` details), ``error`` (string or ``{message: ..}``),
    ``error.message``, ``detail`` (string or a FastAPI-style list of ``{loc, msg}``) and Qdrant's
    ``{"status": {"error": ..}}``.
    """
    if data is None:
        return ""
    if isinstance(data, (str, bytes)):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        text = " ".join(text.split())
        return text[:300] + ("..." if len(text) > 300 else "")
    if isinstance(data, list):
        return "; ".join(filter(None, (api_message(item) for item in data)))
    if not isinstance(data, dict):
        return str(data)

    if data.get("loc") and data.get("msg"):  # one FastAPI/pydantic validation entry
        return "%s: %s" % (".".join(str(part) for part in data["loc"]), data["msg"])

    if isinstance(data.get("status"), dict) and data["status"].get("error"):  # Qdrant's envelope
        return str(data["status"]["error"])

    message = ""
    for key in ("message", "error", "detail", "msg", "error_description"):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("detail") or value.get("msg") or api_message(value)
        elif isinstance(value, list):
            value = api_message(value)
        if value:
            message = str(value)
            break

    details = []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            text = item.get("message") or ""
            if not text:
                where = ".".join(str(part) for part in (item.get("resource"), item.get("field")) if part)
                text = ("%s: %s" % (where, item.get("code"))) if where else (item.get("code") or "")
            elif item.get("field") and item["field"] not in text:
                text = "%s: %s" % (item["field"], text)
        else:
            text = str(item)
        if text:
            details.append(text)
    if details:
        message = "%s (%s)" % (message, "; ".join(details)) if message else "; ".join(details)
    return message


class Response:
    """One HTTP response: status, headers (a dict) and data (decoded JSON, text, or None when empty)."""

    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers or {}
        self.data = data

    def header(self, name, default=None):
        return _header(self.headers, name, default)

    def __repr__(self):
        return "Response(status=%r)" % (self.status,)


class ApiError(Exception):
    """Any failed API call. ``str()`` reads ``"PUT /repos/o/r/pages failed: HTTP 403: <API message>. <hint>"``.

    ``status`` is None when no HTTP response was received (connection error or timeout).
    """

    def __init__(self, status, api_message, method, path, hint=None, response=None, attempts=1, reason=None):
        self.status = status
        self.api_message = api_message or ""
        self.method = method
        self.path = path
        self.hint = hint or ""
        self.response = response
        self.attempts = attempts
        self.reason = reason
        super().__init__(self._format())

    def _format(self):
        if self.status is None:
            what = self.reason or "no response"
        else:
            what = "HTTP %s" % self.status
        text = "%s %s failed: %s" % (self.method, self.path, what)
        if self.api_message:
            text += ": " + self.api_message.rstrip(".")
        text += "."
        if self.hint:
            text += " " + self.hint
        return text

    def to_result(self):
        """The fields a module puts into its failure result."""
        return dict(status=self.status, api_message=self.api_message, method=self.method, path=self.path,
                    hint=self.hint, attempts=self.attempts)


class RestClient:
    """JSON over HTTP(S) with retries.

    :arg base_url: e.g. ``https://api.github.com``; request paths are appended to it.
    :arg token: sent as ``<auth_header>: <auth_scheme> <token>`` (no scheme when ``auth_scheme`` is empty).
    :arg retries: how many times a failed request is retried (so at most ``retries + 1`` attempts).
    :arg max_wait: bound on the seconds slept between attempts of one request; when the next wait would exceed it,
        the request fails at once with the last error.
    :arg headers: default headers of every request (e.g. GitHub's ``Accept: application/vnd.github+json``).
    :arg scope_hint: what the token needs, quoted in 403 errors.
    :arg unapplied_statuses: statuses the API documents as "nothing was done, try again" (Neon: 423 Locked while
        another operation runs, 503), retried for every method, POST included.
    :arg token_option / token_env: named in the hint of 401 errors.
    :arg sleep / clock / rand: injectable for tests (``time.sleep``, ``time.time``, ``random.random``).
    """

    def __init__(self, base_url, token=None, auth_scheme="Bearer", timeout=30, retries=5, max_wait=120,
                 validate_certs=True, scope_hint=None, sleep=time.sleep, clock=time.time, rand=random.random,
                 headers=None, auth_header="Authorization", token_option="token", token_env=None,
                 user_agent="textbook.deploy", backoff_base=BACKOFF_BASE, backoff_cap=BACKOFF_CAP,
                 secondary_limit_wait=SECONDARY_LIMIT_WAIT, unapplied_statuses=()):
        self.base_url = (base_url or "").rstrip("/")
        self.token = token
        self.auth_scheme = auth_scheme
        self.auth_header = auth_header
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.max_wait = max_wait
        self.validate_certs = validate_certs
        self.scope_hint = scope_hint
        self.headers = dict(headers or {})
        self.token_option = token_option
        self.token_env = [token_env] if isinstance(token_env, str) else list(token_env or [])
        self.user_agent = user_agent
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.secondary_limit_wait = secondary_limit_wait
        self.unapplied_statuses = frozenset(unapplied_statuses)
        self.sleep = sleep
        self.clock = clock
        self.rand = rand
        # Counters for tests and benchmarks: HTTP requests sent (each retry counts), seconds slept, and a log of
        # (method, path, status-or-None) per attempt.
        self.calls = 0
        self.slept = 0.0
        self.history = []

    # -- public API -------------------------------------------------------------------------------------------

    def request(self, method, path, body=None, params=None, ok=None, retry_post=False, missing_ok=False,
                headers=None):
        """Send one request (retrying as the policy allows) and return a Response.

        :arg ok: statuses that count as success (default: any 2xx).
        :arg retry_post: the API says repeating this POST/PATCH is safe (retry it on 5xx and connection errors too).
        :arg missing_ok: return None instead of raising on 404.
        :raises ApiError: on any other status, or when the retries or max_wait are exhausted.
        """
        method = method.upper()
        url = self._url(path, params)
        data = None
        req_headers = {"Accept": "application/json"}
        req_headers.update(self.headers)
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            req_headers["Content-Type"] = "application/json"
        req_headers.update(headers or {})
        if self.token:
            req_headers[self.auth_header] = ("%s %s" % (self.auth_scheme, self.token)) if self.auth_scheme else self.token
        idempotent = method in IDEMPOTENT_METHODS or retry_post

        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            response, reason = self._send(method, url, data, req_headers)
            self.history.append((method, path, response.status if response else None))

            if response is not None:
                if response.status == 404 and missing_ok:
                    return None
                if (ok is None and 200 <= response.status < 300) or (ok is not None and response.status in ok):
                    return response
                limited = self._rate_limited(response)
                retryable = (limited or response.status in self.unapplied_statuses
                             or (response.status >= 500 and idempotent))
            else:
                limited = False
                retryable = idempotent

            if not retryable:
                note = None
                if not idempotent and (response is None or response.status >= 500):
                    note = ("%s is not retried: the server may have processed it (pass retry_post=True when repeating "
                            "it is safe)." % method)
                raise self._error(method, path, response, reason, attempt, note)
            if attempt > self.retries:
                raise self._error(method, path, response, reason, attempt,
                                  "Gave up after %d attempt%s (retries=%d)."
                                  % (attempt, "" if attempt == 1 else "s", self.retries))
            delay = self._delay(response, attempt, limited)
            if delay is None or waited + delay > self.max_wait:
                raise self._error(method, path, response, reason, attempt,
                                  "Gave up: the next wait (%s) would exceed max_wait=%ss (waited %.1fs so far)."
                                  % (self._describe_delay(delay), self.max_wait, waited))
            if delay > 0:
                self.sleep(delay)
                self.slept += delay
                waited += delay

    def get(self, path, params=None, missing_ok=False, **kwargs):
        return self.request("GET", path, params=params, missing_ok=missing_ok, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def paginate(self, path, params=None, **kwargs):
        """Yield the items of every page of a list endpoint, following ``Link: <..>; rel="next"``."""
        next_path = path
        while next_path:
            response = self.get(next_path, params=params, **kwargs)
            params = None  # the next link carries them
            data = response.data if response is not None else None
            if isinstance(data, dict):  # e.g. {"total_count": .., "workflow_runs": [..]}
                data = next((value for value in data.values() if isinstance(value, list)), [])
            yield from data or []
            next_path = self._next_link(response.header("Link") if response is not None else None)

    # -- internals ----------------------------------------------------------------------------------------------

    def _url(self, path, params):
        if path.startswith("http://") or path.startswith("https://"):
            url = path
        else:
            url = self.base_url + "/" + path.lstrip("/")
        if params:
            pairs = [(key, value) for key, value in sorted(params.items()) if value is not None]
            if pairs:
                url += ("&" if "?" in url else "?") + urlencode(pairs, doseq=True)
        return url

    def _send(self, method, url, data, headers):
        """One HTTP exchange: (Response, None) when a status came back, (None, reason) when none did."""
        self.calls += 1
        try:
            handle = open_url(url, data=data, headers=headers, method=method, timeout=self.timeout,
                              validate_certs=self.validate_certs, http_agent=self.user_agent, use_netrc=False)
            with handle:
                return self._response(handle.getcode(), handle.headers, handle.read()), None
        except HTTPError as err:
            try:
                raw = err.read()
            except (OSError, HTTPException):
                raw = b""
            return self._response(err.code, err.headers, raw), None
        except socket.timeout:
            return None, "timed out after %ss (option timeout)" % (self.timeout,)
        except URLError as err:
            reason = err.reason
            if isinstance(reason, socket.timeout) or "timed out" in str(reason):
                return None, "timed out after %ss (option timeout)" % (self.timeout,)
            return None, "cannot connect to %s: %s" % (self.base_url or url.split("?")[0], self._scrub(str(reason)))
        except (OSError, HTTPException) as err:
            return None, "connection error talking to %s: %s" % (self.base_url, self._scrub(str(err) or type(err).__name__))

    @staticmethod
    def _response(status, headers, raw):
        header_dict = dict(headers.items()) if headers is not None else {}
        data = None
        if raw:
            text = raw.decode("utf-8", "replace")
            try:
                data = json.loads(text)
            except ValueError:
                data = text
        return Response(status, header_dict, data)

    @staticmethod
    def _message_of(response):
        return api_message(response.data) if response is not None else ""

    def _rate_limited(self, response):
        """429, GitHub's secondary rate limit, or an exhausted primary limit (403/429 + X-RateLimit-Remaining: 0)."""
        if response.status == 429:
            return True
        if response.status == 403:
            if response.header("X-RateLimit-Remaining") == "0":
                return True
            return SECONDARY_LIMIT_TEXT in self._message_of(response).lower()
        return False

    def _delay(self, response, attempt, limited):
        """Seconds to wait before the next attempt (None: no sensible wait)."""
        if response is not None:
            retry_after = self._retry_after(response.header("Retry-After"))
            if retry_after is not None:
                return retry_after
            if limited and response.header("X-RateLimit-Remaining") == "0":
                try:
                    return max(0.0, float(response.header("X-RateLimit-Reset")) - self.clock()) + 1.0
                except (TypeError, ValueError):
                    pass  # no usable reset time: back off as below
            if limited and response.status == 403:
                return self.secondary_limit_wait
        # full jitter: uniform(0, min(cap, base * 2^(attempt-1)))
        return self.rand() * min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))

    def _retry_after(self, value):
        if value is None:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - self.clock())

    @staticmethod
    def _describe_delay(delay):
        return "unknown" if delay is None else "%.1fs" % delay

    @staticmethod
    def _next_link(link):
        for part in (link or "").split(","):
            section = part.split(";")
            if len(section) > 1 and any(p.strip() in ('rel="next"', "rel=next") for p in section[1:]):
                return section[0].strip().strip("<>")
        return None

    def _scrub(self, text):
        if self.token and text:
            text = text.replace(self.token, "********")
        return text

    def _token_hint(self):
        where = "the `%s` option" % self.token_option
        if self.token_env:
            where += " or the %s environment variable" % " or ".join(self.token_env)
        if not self.token:
            return "No token was sent: set %s." % where
        return "The token is missing, invalid or expired: set a valid one with %s." % where

    def _hint(self, response):
        if response is None:
            return "Check the API URL, the network and the option timeout."
        status = response.status
        if self._rate_limited(response):
            hint = "The API rate limit was hit"
            reset = response.header("X-RateLimit-Reset")
            if response.header("X-RateLimit-Remaining") == "0" and reset:
                try:
                    hint += "; it resets at %s" % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(reset)))
                except ValueError:
                    pass
            return hint + ". Retry later, or raise the option retries."
        if status == 401:
            return self._token_hint()
        if status == 403:
            parts = []
            if self.scope_hint:
                parts.append("The token needs %s" % self.scope_hint)
            accepted = response.header("X-Accepted-OAuth-Scopes")
            if accepted is not None and accepted.strip():
                parts.append("the API accepts the OAuth scopes: %s" % accepted.strip())
            granted = response.header("X-OAuth-Scopes")
            if granted is not None:
                parts.append("the token has: %s" % (granted.strip() or "no scopes"))
            return ("; ".join(parts) + ".") if parts else "The token lacks a permission this request needs."
        if status == 404:
            return ("The resource does not exist, or the token cannot see it (GitHub and most APIs answer 404 "
                    "rather than 403 to a token without access).")
        return ""

    def _error(self, method, path, response, reason, attempts, note=None):
        if response is None:
            hint = " ".join(filter(None, (note, self._hint(None))))
            return ApiError(None, "", method, path, self._scrub(hint), attempts=attempts, reason=reason)
        hint = " ".join(filter(None, (self._hint(response), note)))
        return ApiError(response.status, self._scrub(self._message_of(response)), method, path, self._scrub(hint),
                        response=response, attempts=attempts)
