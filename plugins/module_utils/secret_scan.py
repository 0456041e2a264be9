# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find secrets in files about to be published, without ever reporting the secret itself.

``Scanner(forbidden_values, patterns=True)`` checks content for

- literal forbidden values (the deployment's own secrets: API keys, database passwords ...), and
- well-known secret formats: GitHub tokens (ghp_/gho_/ghs_/ghu_/ghr_/github_pat_), AWS access key ids
  (AKIA/ASIA), PEM private keys, Slack tokens (xox?-), and postgres:// / postgresql:// URIs (Neon and others) that
  carry a password.

Findings name the file, the kind ("forbidden value #2", "GitHub token") and the line -- never the matched text.
Content is streamed in chunks (with an overlap so nothing is missed at a boundary); every pattern starts with a
literal, which the regex engine searches as fast as ``bytes in``. Binary content larger than ``max_binary_size`` is
checked for forbidden values only.
"""

import json
import re

CHUNK = 1 << 20
OVERLAP = 4096
BINARY_SNIFF = 8000
DEFAULT_MAX_BINARY_SIZE = 4 << 20
PLACEHOLDER_PASSWORDS = frozenset((
    "password", "passwd", "pass", "pwd", "secret", "changeme", "change-me", "example", "mypassword", "yourpassword",
    "your-password", "your_password", "<password>", "[password]", "...", "xxx", "xxxx", "xxxxxx", "****", "*****",
    "******", "********", "redacted", "placeholder", "dummy", "npg_xxx",
))
PLACEHOLDER_RE = re.compile(r"^(?:[x*._\-]+|\$\{?\w+\}?|%\(\w+\)s|\{\{?\s*[\w.]+\s*\}?\}|\$\w+|<[^>]*>)$", re.I)


WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _starts_word(window, match):
    return match.start() == 0 or window[match.start() - 1] not in WORD


def _token_is_random(secret):
    # Documentation placeholders (ghp_XXXX..., AKIAIOSFODNN7EXAMPLE) are not secrets.
    body = secret.split(b"_", 1)[-1]
    return len(set(body)) >= 8 and not secret.upper().endswith(b"EXAMPLE")


def _token(window, match):
    return _starts_word(window, match) and _token_is_random(match.group(0))


def _postgres_has_password(window, match):
    password = match.group("password").decode("utf-8", "replace")
    return password.lower() not in PLACEHOLDER_PASSWORDS and not PLACEHOLDER_RE.match(password)


# (kind, pattern, check(window, match) -> is it a real secret). Every pattern starts with a literal and has no
# look-behind, so the regex engine finds candidates with its fast literal search (about as fast as ``bytes in``).
PATTERNS = (
    ("GitHub token", re.compile(rb"gh[pousr]_[A-Za-z0-9]{36,}(?![A-Za-z0-9_])"), _token),
    ("GitHub token", re.compile(rb"github_pat_[A-Za-z0-9_]{22,}(?![A-Za-z0-9_])"), _token),
    ("AWS access key id", re.compile(rb"A(?:KIA|SIA)[0-9A-Z]{16}(?![A-Za-z0-9])"), _token),
    ("private key", re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), lambda window, match: True),
    ("Slack token", re.compile(rb"xox[abposr]-[0-9A-Za-z-]{10,}"),
     lambda window, match: _starts_word(window, match) and _token_is_random(match.group(0).replace(b"-", b"_"))),
    ("postgres URI with a password",
     re.compile(rb"postgres(?:ql)?://(?P<user>[^\s:/?#@'\"<>`]+):(?P<password>[^\s/?#@'\"<>`]+)@[^\s/?#'\"<>`]+"),
     _postgres_has_password),
)


class Finding(object):
    """One secret in one file: path, kind, 1-based line. Never holds the secret."""

    def __init__(self, path, kind, line):
        self.path = path
        self.kind = kind
        self.line = line

    def as_dict(self):
        return {"path": self.path, "kind": self.kind, "line": self.line}

    def __str__(self):
        return "%s (%s, line %d)" % (self.path, self.kind, self.line)

    def __repr__(self):
        return "Finding(%r, %r, %r)" % (self.path, self.kind, self.line)


def value_forms(value):
    """The byte strings a literal value may appear as in a built site: as is, and JSON-escaped."""
    forms = [value.encode("utf-8")]
    escaped = json.dumps(value)[1:-1].encode("utf-8")
    if escaped not in forms:
        forms.append(escaped)
    return forms


class Scanner(object):
    """Scans content for forbidden values and (optionally) known secret patterns."""

    def __init__(self, forbidden_values=(), patterns=True, max_binary_size=DEFAULT_MAX_BINARY_SIZE):
        self.values = []  # (kind, [forms])
        for index, value in enumerate(forbidden_values or (), start=1):
            if value is None:
                continue
            value = str(value)
            if not value.strip():
                continue  # an unset secret variable must not forbid everything
            self.values.append(("forbidden value #%d" % index, value_forms(value)))
        self.patterns = PATTERNS if patterns else ()
        self.max_binary_size = max_binary_size
        longest = max([len(form) for dummy, forms in self.values for form in forms] or [0])
        self.overlap = max(OVERLAP, longest)
        self.skipped = []  # paths of large binaries only checked for forbidden values

    @property
    def active(self):
        return bool(self.values or self.patterns)

    def scan_bytes(self, path, data):
        """Findings in ``data`` (bytes)."""
        chunks = iter((data,))
        return self.scan_stream(path, lambda count: next(chunks, b""), len(data))

    def scan_stream(self, path, read, size):
        """Findings in a stream: ``read(n)`` returns the next bytes (b"" at the end); ``size`` is the total."""
        found = {}
        first = read(CHUNK)
        binary = b"\0" in first[:BINARY_SNIFF]
        patterns = self.patterns
        if binary and size > self.max_binary_size and patterns:
            patterns = ()
            self.skipped.append(path)
        window, lines_before = first, 0
        while window:
            self._scan_window(path, window, lines_before, patterns, found)
            if len(found) == len(self.values) + len(set(kind for kind, dummy, dummy2 in patterns)):
                break  # everything that can be found was found
            more = read(CHUNK)
            if not more:
                break
            keep = min(self.overlap, len(window))
            lines_before += window.count(b"\n", 0, len(window) - keep)
            window = window[len(window) - keep:] + more
        return sorted(found.values(), key=lambda item: item.line)

    def _scan_window(self, path, window, lines_before, patterns, found):
        for kind, forms in self.values:
            if kind in found:
                continue
            positions = [pos for pos in (window.find(form) for form in forms) if pos >= 0]
            if positions:
                found[kind] = Finding(path, kind, lines_before + window.count(b"\n", 0, min(positions)) + 1)
        for kind, regex, check in patterns:
            if kind in found:
                continue
            for match in regex.finditer(window):
                if check(window, match):
                    found[kind] = Finding(path, kind, lines_before + window.count(b"\n", 0, match.start()) + 1)
                    break


def describe(findings, limit=20):
    """One sentence listing findings (path, kind, line), at most ``limit`` of them."""
    shown = "; ".join(str(finding) for finding in findings[:limit])
    if len(findings) > limit:
        shown += "; and %d more" % (len(findings) - limit)
    return shown
