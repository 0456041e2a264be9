"""`python -m sandbox up|down|status|urls|browser|actions`: the stand-ins in the background for playbooks and `make
demo`, and a local runner of the generated workflows.

`up` starts fresh stand-ins in one detached process: GitHub (repository textbook/textbook, default branch main, a
token with scope repo), Neon (with its PostgreSQL servers) and Qdrant; writes <state-dir>/sandbox.json and returns
once they answer; it does nothing if the sandbox already runs. `down` stops them (and succeeds if nothing runs),
PostgreSQL servers included. `serve` is the detached process itself. `hosts up N|down|status` manages the
Debian test hosts (systemd-nspawn containers over SSH, sandbox/hosts.py). `browser` opens the deployed textbook in
Chromium trusting the environment's CA (sandbox/browser.py), so that its chat reaches the API. `actions run
WORKFLOW` runs a generated GitHub Actions workflow locally against the GitHub stand-in (sandbox/workflows/).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from sandbox.workflows import cli as workflows_cli

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = "sandbox.json"
SERVICES = ("github", "neon", "qdrant")
SECRET_KEYS = ("token", "api_key")
NOT_RUNNING = 3  # the exit status `status` uses when nothing runs, as init scripts do
# what site.yml deploys on the hosts of inventories/local: (host, what, URL with the host's address)
PLATFORM_URLS = (
    ("tb-host1", "Chat API", "https://%s/ (with the environment's CA, below)"),
    ("tb-host4", "Prometheus", "http://%s:9090/"),
    ("tb-host4", "Alertmanager", "http://%s:9093/"),
)


def environment_ca(state_dir):
    """The certificate of the environment's CA, which inventories/local keeps with the sandbox (security_ca_dir)."""
    return Path(state_dir).resolve() / "ca" / "ca.crt"


def state_path(state_dir):
    return Path(state_dir) / STATE_FILE


def read_state(state_dir):
    try:
        return json.loads(state_path(state_dir).read_text())
    except (OSError, ValueError):
        return None


def write_state(state_dir, state):
    path = state_path(state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)  # readers never see half a file


def is_ours(pid):
    """True if pid is a live `python -m sandbox serve` process (a recycled pid must not be killed)."""
    try:
        cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
    except OSError:
        return False
    return b"sandbox" in cmdline and b"serve" in cmdline


def answers(state):
    """True if the stand-in named in the state file answers on its admin URL, with the recorded pid."""
    github = state["github"]
    try:
        with urllib.request.urlopen(github["admin_url"] + "/", timeout=2) as response:
            return json.load(response).get("pid") == github["pid"]
    except (OSError, ValueError):
        return False


def running(state_dir):
    state = read_state(state_dir)
    return state if state and is_ours(state["github"]["pid"]) and answers(state) else None


def up(args):
    if running(args.state_dir):
        print("sandbox already running (%s)" % state_path(args.state_dir))
        return 0
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    state_path(state_dir).unlink(missing_ok=True)
    for service in SERVICES:  # every `up` starts from fresh services
        shutil.rmtree(state_dir / service, ignore_errors=True)
    # the data services listen on the hosts' bridge, where the controller and the hosts both reach them
    machines = sandbox_hosts(state_dir)
    machines.network()
    log_path = state_dir / "sandbox.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--state-dir", str(state_dir.resolve()),
             "--port", str(args.port), "--pages-port", str(args.pages_port), "--neon-port", str(args.neon_port),
             "--qdrant-port", str(args.qdrant_port), "--data-host", machines.gateway],
            cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return fail("the sandbox exited during start-up (status %s); %s says:\n%s"
                        % (proc.returncode, log_path, tail(log_path)))
        state = read_state(state_dir)
        if state and answers(state):
            make_checkout(state_dir / "checkout", state)
            print_urls(state, state_dir)
            return 0
        time.sleep(0.05)
    proc.kill()
    return fail("the sandbox did not answer within %ss; %s says:\n%s" % (args.timeout, log_path, tail(log_path)))


def make_checkout(path, state):
    """The team's checkout of textbook/textbook, where site.yml's CI/CD stage writes the workflows (cicd_repo_path
    of inventories/local); kept across `up`s, like a developer's clone."""
    if (path / ".git").is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    for command in (["init", "-q", "-b", "main"],
                    ["remote", "add", "origin", "%s/textbook/textbook.git" % state["github"]["git_base"]]):
        subprocess.run(["git", "-C", str(path)] + command, check=True)


def down(args):
    state = read_state(args.state_dir)
    pid = state["github"]["pid"] if state else None
    if pid and is_ours(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while is_ours(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_ours(pid):
            os.kill(pid, signal.SIGKILL)
        print("sandbox stopped")
    else:
        print("sandbox not running")
    stop_leftover_postgres(Path(args.state_dir) / "neon")
    sandbox_hosts(args.state_dir).down()
    state_path(args.state_dir).unlink(missing_ok=True)
    return 0


def sandbox_hosts(state_dir):
    from sandbox.hosts import Hosts

    return Hosts(Path(state_dir) / "hosts", ROOT / ".cache" / "sandbox")


def stop_leftover_postgres(neon_dir):
    """Stop any PostgreSQL server of the Neon stand-in still running (its serve process was killed)."""
    for pid_file in neon_dir.glob("**/postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
            if b"postgres" in Path("/proc/%d/cmdline" % pid).read_bytes():
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the sandbox's data is thrown away anyway
        except (OSError, ValueError, IndexError):
            continue


def status(args):
    state = running(args.state_dir)
    if not state:
        print("sandbox not running")
        return NOT_RUNNING
    # status output ends up in logs; the tokens and keys must not
    shown = {service: {key: "<%d characters, in %s>" % (len(value), state_path(args.state_dir))
                       if key in SECRET_KEYS else value for key, value in state[service].items()}
             for service in SERVICES}
    print(json.dumps(shown, indent=2))
    return 0


def urls(args):
    state = running(args.state_dir)
    if not state:
        print("sandbox not running")
        return NOT_RUNNING
    print_urls(state, args.state_dir, sandbox_hosts(args.state_dir).status())
    return 0


def print_urls(state, state_dir, hosts=()):
    """The stand-ins' URLs, and the platform's on the running hosts (named as in inventories/local)."""
    github = state["github"]
    print("GitHub API:    %s" % github["api_url"])
    print("git:           %s/textbook/textbook.git" % github["git_base"])
    print("Pages:         %s" % github["pages_base"])
    print("Textbook site: %stextbook/textbook/" % github["pages_base"])
    print("Neon API:      %s" % state["neon"]["api_url"])
    print("Qdrant:        %s" % state["qdrant"]["url"])
    address = {host["name"]: host["address"] for host in hosts}
    for name, role, url in PLATFORM_URLS:
        if name in address:
            print("%-14s %s" % (role + ":", url % address[name]))
    if address:
        print_browser_hint(environment_ca(state_dir))


def print_browser_hint(ca):
    """How to open the textbook so that its chat works: the API's certificate is the environment's CA's."""
    from sandbox.browser import trust_commands

    print("\nOpen the textbook in a browser that trusts the environment's CA (%s), or its chat cannot reach the API:"
          % ca)
    print("  ready to use:  .venv/bin/python -m sandbox browser   (Chromium with a throwaway profile trusting it;")
    print("                 without a display it saves a screenshot, textbook.png)")
    print("  or trust it in your own Chromium/Firefox profile, and system-wide:")
    for command in trust_commands(ca):
        print("    " + command)


def browser(args):
    from sandbox.browser import open_textbook

    state = running(args.state_dir)
    if not state:
        print("sandbox not running: `make demo` first")
        return NOT_RUNNING
    url = args.url or state["github"]["pages_base"] + "textbook/textbook/"
    try:
        return open_textbook(url, environment_ca(args.state_dir), headless=args.headless, screenshot=args.screenshot)
    except RuntimeError as err:
        return fail(str(err))


def serve(args):
    from sandbox.github import GitHubStandIn
    from sandbox.neon import NeonStandIn
    from sandbox.qdrant import QdrantStandIn

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # on the hosts' bridge, where the controller reaches it too: the monitoring host probes the Pages site
    github = GitHubStandIn(os.path.join(args.state_dir, "github"), host=args.data_host, port=args.port,
                           pages_port=args.pages_port)
    neon = NeonStandIn(os.path.join(args.state_dir, "neon"), port=args.neon_port, public_host=args.data_host)
    qdrant = QdrantStandIn(os.path.join(args.state_dir, "qdrant"), host=args.data_host, port=args.qdrant_port)
    started = []
    try:
        for service in (github, neon, qdrant):
            service.start()
            started.append(service)
        github.create_repo("textbook", "textbook", default_branch="main")
        write_state(args.state_dir, {
            "github": {"api_url": github.api_url, "git_base": github.base_url, "pages_base": github.pages_base,
                       "token": github.token, "pid": os.getpid(), "admin_url": github.admin_url},
            "neon": {"api_url": neon.api_url, "api_key": neon.api_key},
            "qdrant": {"url": qdrant.url, "api_key": qdrant.api_key},
        })
        print("serving: %s, pages %s, neon %s, qdrant %s" % (github.api_url, github.pages_base, neon.api_url,
                                                             qdrant.url), flush=True)
        while not stop.wait(1):
            pass
    finally:
        for service in reversed(started):  # Neon's PostgreSQL servers must not outlive the sandbox
            service.stop()
    return 0


def hosts(args):
    """`hosts up N`, `hosts down`, `hosts status`: the Debian test hosts (sandbox/hosts.py)."""
    machines = sandbox_hosts(args.state_dir)
    if args.action == "up":
        shown = machines.up(args.count)
    elif args.action == "down":
        machines.down()
        shown = []
    else:
        shown = machines.status()
    print(json.dumps(shown, indent=2))
    return 0


def tail(path, lines=20):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def fail(message):
    print("sandbox: " + message, file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", up), ("down", down), ("status", status), ("urls", urls), ("serve", serve),
                       ("hosts", hosts), ("browser", browser)):
        command = commands.add_parser(name)
        command.set_defaults(func=func)
        command.add_argument("--state-dir", default=str(ROOT / ".sandbox"),
                             help="where sandbox.json, logs and repositories live (default: <checkout>/.sandbox)")
        if name in ("up", "serve"):
            command.add_argument("--port", type=int, default=8480, help="REST API, git and admin (0: any free port)")
            command.add_argument("--pages-port", type=int, default=8481, help="the Pages host (0: any free port)")
            command.add_argument("--neon-port", type=int, default=8482, help="the Neon API (0: any free port)")
            command.add_argument("--qdrant-port", type=int, default=8483, help="the Qdrant API (0: any free port)")
        if name == "serve":
            command.add_argument("--data-host", default="127.0.0.1",
                                 help="the address Qdrant and Neon's databases listen on (up: the hosts' bridge)")
        if name == "up":
            command.add_argument("--timeout", type=float, default=60, help="seconds to wait for it to answer")
        if name == "browser":
            command.add_argument("url", nargs="?", help="default: the textbook on the sandbox's Pages host")
            command.add_argument("--headless", action="store_true", help="save a screenshot instead of a window")
            command.add_argument("--screenshot", help="where --headless saves it (default: ./textbook.png)")
        if name == "hosts":
            command.add_argument("action", choices=["up", "down", "status"])
            command.add_argument("count", type=int, nargs="?", default=1, help="with up: how many hosts")
    workflows_cli.add_parser(commands, ROOT)
    args = parser.parse_args(argv)
    return args.func(args)
