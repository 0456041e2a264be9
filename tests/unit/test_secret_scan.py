"""The secret scanner shared by publishing modules (plugins/module_utils/secret_scan.py)."""
import io

import pytest

from ansible_collections.textbook.deploy.plugins.module_utils import secret_scan
from ansible_collections.textbook.deploy.plugins.module_utils.secret_scan import Scanner, describe

# Built at run time so this file itself does not look like it leaks anything.
GITHUB = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz"
FINE_GRAINED = "github_pat_" + "11AB2CD3EF0gHiJkLmNoPq_rStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567"
AWS = "AKIA" + "Q3ZT7N2LXK4R8VW5"
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----"
SLACK = "xoxb-" + "2048193726-5501938467-q8Zr1pL0sYt4"
NEON = "postgresql://neondb_owner:" + "npg_8hKq2ZxLp4Ws@ep-cool-fog-123.eu-central-1.aws.neon.tech/neondb?sslmode=require"
POSTGRES = "postgres://app:" + "Tr0ub4dor&3@db.internal:5432/app"


def kinds(text, values=(), patterns=True):
    data = text.encode() if isinstance(text, str) else text
    return [finding.kind for finding in Scanner(values, patterns=patterns).scan_bytes("f", data)]


@pytest.mark.parametrize("secret,kind", [
    (GITHUB, "GitHub token"),
    ("gho_" + GITHUB[4:], "GitHub token"),
    ("ghs_" + GITHUB[4:], "GitHub token"),
    (FINE_GRAINED, "GitHub token"),
    (AWS, "AWS access key id"),
    (PEM, "private key"),
    ("-----BEGIN " + "PRIVATE KEY-----", "private key"),
    ("-----BEGIN OPENSSH " + "PRIVATE KEY-----", "private key"),
    (SLACK, "Slack token"),
    (NEON, "postgres URI with a password"),
    (POSTGRES, "postgres URI with a password"),
])
def test_known_secret_formats_are_found(secret, kind):
    assert kinds("<script>const x = \"%s\";</script>" % secret) == [kind]


@pytest.mark.parametrize("text", [
    "ghp_" + "X" * 36,                                  # documentation placeholder
    "xghp_" + GITHUB[4:],                               # part of a longer word
    "AKIAIOSFODNN7EXAMPLE",                             # AWS's documented example key
    "AKIA" + "Q3ZT7N2LXK4R8VW5X",                        # too long to be a key id
    "postgresql://user:password@localhost:5432/db",     # placeholder password
    "postgres://app:${PGPASSWORD}@db/app",
    "postgres://app:<password>@db/app",
    "postgres://app@db/app",                            # no password at all
    "-----BEGIN PUBLIC KEY-----",
    "xoxo hugs and kisses",
    "a plain page about tokens and keys",
])
def test_placeholders_and_look_alikes_are_not_findings(text):
    assert kinds(text) == []


def test_secret_patterns_can_be_switched_off_but_forbidden_values_cannot():
    assert kinds(GITHUB, patterns=False) == []
    assert kinds("key=hunter2-secret", values=["hunter2-secret"], patterns=False) == ["forbidden value #1"]


def test_forbidden_values_are_numbered_and_empty_ones_ignored():
    found = Scanner(["", "  ", "alpha-secret", "beta-secret"]).scan_bytes("a.js", b"x\ny beta-secret\n")
    assert [(item.path, item.kind, item.line) for item in found] == [("a.js", "forbidden value #4", 2)]
    assert kinds("anything at all", values=["", None]) == []


def test_forbidden_value_is_found_json_escaped():
    value = 'pa"ss\\word/1'
    assert kinds('{"k": %s}' % __import__("json").dumps(value), values=[value]) == ["forbidden value #1"]


def test_findings_never_carry_the_secret():
    found = Scanner(["topsecretvalue"]).scan_bytes("p.html", ("topsecretvalue %s" % GITHUB).encode())
    assert len(found) == 2
    for finding in found:
        text = str(finding) + repr(finding) + str(finding.as_dict())
        assert "topsecretvalue" not in text and GITHUB not in text and GITHUB[4:20] not in text
    assert "p.html (forbidden value #1, line 1)" in describe(found)


def test_line_numbers_and_one_finding_per_kind():
    text = "a\nb\n%s\nc\n%s\n" % (AWS, AWS)
    found = Scanner().scan_bytes("x", text.encode())
    assert [(item.kind, item.line) for item in found] == [("AWS access key id", 3)]


def stream(data, piece=7):
    """read(n) over data, returning at most ``piece`` bytes per call (chunk boundaries everywhere)."""
    handle = io.BytesIO(data)
    return lambda count: handle.read(min(count, piece))


def test_secrets_across_chunk_boundaries_are_found(monkeypatch):
    monkeypatch.setattr(secret_scan, "CHUNK", 64)
    monkeypatch.setattr(secret_scan, "OVERLAP", 80)
    filler = b"x" * 50 + b"\n"
    data = filler * 10 + GITHUB.encode() + b"\n" + filler * 10 + b"forbidden-value-here" + b"\n"
    scanner = Scanner(["forbidden-value-here"])
    found = scanner.scan_stream("big.txt", stream(data, piece=64), len(data))
    assert [(item.kind, item.line) for item in found] == [("GitHub token", 11), ("forbidden value #1", 22)]


def test_large_binaries_are_only_checked_for_forbidden_values(monkeypatch):
    data = b"\0binary" + b"\1" * 100 + AWS.encode() + b"\0secret-in-binary"
    scanner = Scanner(["secret-in-binary"], max_binary_size=50)
    found = scanner.scan_bytes("video.mp4", data)
    assert [item.kind for item in found] == ["forbidden value #1"]
    assert scanner.skipped == ["video.mp4"]
    small = Scanner(["secret-in-binary"], max_binary_size=10 << 20)
    assert sorted(item.kind for item in small.scan_bytes("logo.png", data)) == ["AWS access key id",
                                                                                 "forbidden value #1"]
    assert small.skipped == []


def test_describe_caps_the_list():
    found = [secret_scan.Finding("f%d" % n, "GitHub token", 1) for n in range(25)]
    text = describe(found, limit=20)
    assert text.count("GitHub token") == 20 and text.endswith("and 5 more")


def test_active():
    assert not Scanner([], patterns=False).active
    assert Scanner(["x"], patterns=False).active and Scanner([]).active
