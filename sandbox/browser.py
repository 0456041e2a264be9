"""`python -m sandbox browser`: the deployed textbook in Debian's Chromium, trusting the environment's CA.

The chat widget calls the API over HTTPS with a certificate of the environment's own CA. A browser that does not
trust that CA blocks the call, so this opens Chromium with a throwaway HOME whose NSS store ($HOME/.pki/nssdb, made
with certutil) trusts the CA; the user's own browser profile is not touched. The tests' browser
(tests/browser/browser.py) builds its NSS store with nss_home() too.
"""
import os
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CERTUTIL = "/usr/bin/certutil"
# Chromium's calls home fail on this machine's closed network; these keep it quiet and quick
QUIET_FLAGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-quic"]


def nss_home(home, ca_files=()):
    """Make `home`/.pki/nssdb, an NSS store that trusts each CA file in `ca_files` for TLS servers; returns home."""
    home = Path(home)
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    _certutil("-N", "--empty-password", "-d", "sql:%s" % db)
    for number, ca in enumerate(ca_files):
        _certutil("-d", "sql:%s" % db, "-A", "-t", "C,,", "-n", "env-ca-%d" % number, "-i", str(ca))
    return home


def _certutil(*args):
    run = subprocess.run([CERTUTIL, *args], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError("certutil %s failed: %s" % (" ".join(args), (run.stderr or run.stdout).strip()))


def trust_commands(ca):
    """What a user runs to trust the environment's CA in their own browsers (Chromium's and Firefox's NSS store,
    and the system's store for curl and the like)."""
    return ["certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n textbook-local-ca -i %s" % ca,
            "cp %s /usr/local/share/ca-certificates/textbook-local-ca.crt && update-ca-certificates" % ca]


def open_textbook(url, ca, headless=False, screenshot=None):
    """Run Chromium on `url` with a throwaway profile trusting `ca`; returns Chromium's exit status."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError("%s is missing: `make deps` installs Debian's chromium" % CHROMIUM)
    if not Path(ca).is_file():
        raise RuntimeError("%s is missing: `make demo` makes the environment's CA" % ca)
    with tempfile.TemporaryDirectory(prefix="textbook-browser-") as scratch:
        home = nss_home(Path(scratch) / "home", [ca])
        command = [CHROMIUM, "--user-data-dir=%s" % (Path(scratch) / "profile"), *QUIET_FLAGS]
        if os.geteuid() == 0:
            command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        if headless or not os.environ.get("DISPLAY"):
            command += ["--headless=new", "--screenshot=%s" % (screenshot or Path.cwd() / "textbook.png"),
                        "--window-size=1280,900", "--virtual-time-budget=5000"]
        return subprocess.call(command + [url], env=dict(os.environ, HOME=str(home)))
