"""Test hosts: real Debian 12 machines with systemd as PID 1, reachable over SSH, as systemd-nspawn containers.

A base is built once with debootstrap (from the mirror in this machine's own apt configuration) and cached; each
host boots an overlay clone of it with a fresh machine id, in a network namespace of its own, joined by a veth to
a bridge of ours (hosts at <subnet>.11, .12, ...; the controller at <subnet>.1). `up N` is idempotent; `down`
leaves no process, namespace, mount or link behind, and also cleans what a killed run left (it works from the
state file and from the names it gives things).

    hosts = Hosts(state_dir, cache_dir)
    hosts.up(2)          # [{"name": "tb-host1", "address": "10.77.0.11", ...}, ...]
    hosts.down()
"""
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

SUITE = "bookworm"
# What the roles expect to find installed: hosts have no package mirror of their own (apt tasks on them are no-ops
# that check the package is there). nginx is the backend's, ca-certificates, nftables and python3-cryptography
# (community.crypto's modules; its cffi backend named because debootstrap does not resolve virtual packages) the
# security role's, the prometheus* packages the monitoring role's; the base is rebuilt when this changes.
PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,sudo,iproute2,nginx,procps,ca-certificates,python3-cryptography,python3-cffi-backend,nftables,prometheus,prometheus-alertmanager,prometheus-blackbox-exporter,prometheus-node-exporter"
NSPAWN_RUN = "/run/systemd/nspawn"  # systemd-nspawn wants it; without systemd as PID 1 nobody else makes it


def run(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def debian_mirror():
    """The Debian mirror of this machine's own apt configuration."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["deb"] and "security" not in line:
            return parts[1]
    raise RuntimeError("no Debian mirror in this machine's apt configuration")


class Hosts:
    def __init__(self, state_dir, cache_dir, prefix="tb", subnet="10.77.0"):
        self.state_dir = Path(state_dir).resolve()
        packages = hashlib.sha256(PACKAGES.encode()).hexdigest()[:8]
        self.base = Path(cache_dir).resolve() / ("base-%s-%s" % (SUITE, packages))
        self.prefix, self.subnet = prefix, subnet
        self.bridge = "%sbr0" % prefix
        self.gateway = subnet + ".1"  # the controller's address on the bridge: what the hosts reach it at
        self.key = self.state_dir / "id_ed25519"
        self.state_file = self.state_dir / "hosts.json"

    # --- the cached base ---------------------------------------------------------------------------------

    def ensure_base(self):
        """Build the base once (a few minutes); a half-built one is never used. Processes that need it at the same
        time (pytest's workers) wait for the one that builds it, under a lock next to it."""
        if self._base_ready():
            return
        self.base.parent.mkdir(parents=True, exist_ok=True)
        with open(self.base.with_name(self.base.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._base_ready():
                self._build_base()

    def _base_ready(self):
        return (self.base / "usr" / "sbin" / "sshd").exists()

    def _build_base(self):
        partial = self.base.with_name(self.base.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        run("debootstrap", "--variant=minbase", "--include=" + PACKAGES, SUITE, str(partial), debian_mirror())
        # hosts get a fresh machine id each; logins are by key only
        (partial / "etc" / "machine-id").write_text("")
        (partial / "etc" / "ssh" / "sshd_config.d" / "sandbox.conf").write_text(
            "PasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n")
        partial.rename(self.base)

    # --- up / down ---------------------------------------------------------------------------------------

    def up(self, count):
        """Make hosts 1..count run (those already running are kept); returns their descriptions."""
        self.ensure_base()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sandbox", "-f", str(self.key))
        self.network()
        state = self._state()
        for number in range(1, count + 1):
            name = "%s-host%d" % (self.prefix, number)
            if name not in state or not self._alive(state[name]["pid"]):
                self._stop(name, state.get(name))
                state[name] = self._boot(name, number)
                self._save(state)
        for host in state.values():
            self._wait_for_ssh(host)
        return [state[name] for name in sorted(state)]

    def down(self):
        """Stop every host and remove what it used, including leftovers of a killed run. Hosts of the same names
        that another state directory runs (a developer's `make demo` while a test's sandbox comes and goes) are
        left alone, and so is the bridge they use."""
        state = self._state()
        theirs = set(self._namespaces(others=True))
        names = (set(state) | set(self._namespaces())) - theirs
        for name in sorted(names):
            self._stop(name, state.get(name))
        if not theirs:
            run("ip", "link", "del", self.bridge, check=False)
        if self.state_file.exists():
            self.state_file.unlink()

    def status(self):
        return [host for name, host in sorted(self._state().items()) if self._alive(host["pid"])]

    # --- one host ----------------------------------------------------------------------------------------

    def _veth(self, name):
        """The bridge side of a host's veth pair: tb-host2 -> tbv2."""
        return "%sv%s" % (self.prefix, name.rsplit("host", 1)[1])

    def _paths(self, name):
        root = self.state_dir / name
        return root, root / "upper", root / "work", root / "root"

    def _boot(self, name, number):
        top, upper, work, root = self._paths(name)
        for path in (upper, work, root):
            path.mkdir(parents=True, exist_ok=True)
        run("mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=%s,upperdir=%s,workdir=%s" % (self.base, upper, work), str(root))
        (root / "etc" / "machine-id").unlink()
        run("systemd-machine-id-setup", "--root=%s" % root)
        (root / "etc" / "hostname").write_text(name + "\n")
        ssh_dir = root / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        address = "%s.%d" % (self.subnet, 10 + number)
        veth = self._veth(name)
        run("ip", "netns", "add", name)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "host0", "netns", name)
        run("ip", "link", "set", veth, "master", self.bridge, "up")
        run("ip", "-n", name, "addr", "add", address + "/24", "dev", "host0")
        run("ip", "-n", name, "link", "set", "host0", "up")
        run("ip", "-n", name, "link", "set", "lo", "up")
        run("ip", "-n", name, "route", "add", "default", "via", self.gateway)
        log = open(top / "console.log", "wb")
        proc = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", str(root), "-M", name, "-b",
             "--network-namespace-path=/run/netns/%s" % name,
             # nspawn grants CAP_NET_ADMIN only with --private-network; the namespace is the host's own, so its
             # firewall (nft) may change it
             "--capability=CAP_NET_ADMIN"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return {"name": name, "address": address, "pid": proc.pid, "user": "root", "key": str(self.key)}

    def _stop(self, name, host):
        """Stop the container (SIGTERM powers it off), then unmount and delete its namespace and files."""
        pid = host and host.get("pid")
        if pid and self._alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(pid):
                os.killpg(pid, signal.SIGKILL)
        # a killed systemd-nspawn leaves the container's own processes running inside the namespace
        for leftover in run("ip", "netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(leftover), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        top, upper, work, root = self._paths(name)
        if os.path.ismount(root):
            run("umount", "-l", str(root), check=False)
        run("ip", "link", "del", self._veth(name), check=False)
        run("ip", "netns", "del", name, check=False)
        shutil.rmtree(top, ignore_errors=True)

    def _wait_for_ssh(self, host, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ssh(host, "systemctl is-system-running --wait", check=False).stdout.strip() in (
                    "running", "degraded"):
                return
            time.sleep(0.3)
        raise RuntimeError("host %s did not come up within %ss; see %s"
                           % (host["name"], timeout, self._paths(host["name"])[0] / "console.log"))

    def ssh(self, host, command, check=True):
        return run("ssh", "-i", host["key"], "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                   "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", "%s@%s" % (host["user"], host["address"]),
                   command, check=check)

    # --- shared plumbing ---------------------------------------------------------------------------------

    def network(self):
        """The bridge (with the controller's address) and the nspawn runtime directory; idempotent."""
        if not os.path.ismount(NSPAWN_RUN):
            os.makedirs(NSPAWN_RUN, exist_ok=True)
            run("mount", "-t", "tmpfs", "tmpfs", NSPAWN_RUN)
        if run("ip", "link", "show", self.bridge, check=False).returncode != 0:
            run("ip", "link", "add", self.bridge, "type", "bridge")
            run("ip", "addr", "add", self.gateway + "/24", "dev", self.bridge)
            run("ip", "link", "set", self.bridge, "up")

    def _namespaces(self, others=False):
        """The network namespaces of our hosts' names; with others=True only those a live systemd-nspawn of another
        state directory runs, which this one must not stop."""
        out = run("ip", "netns", "list", check=False).stdout
        names = [line.split()[0] for line in out.splitlines() if line.startswith(self.prefix + "-host")]
        return [name for name in names if self._runs_elsewhere(name) == others]

    def _runs_elsewhere(self, name):
        """True when a live systemd-nspawn runs the container `name` from a root outside this state directory
        (read from its command line: the container's own processes see only their own mount namespace)."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    argv = handle.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if argv[0].endswith("systemd-nspawn") and "-M" in argv and "-D" in argv:
                if argv[argv.index("-M") + 1] == name:
                    return not argv[argv.index("-D") + 1].startswith(str(self.state_dir) + os.sep)
        return False

    def _state(self):
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state):
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    @staticmethod
    def _alive(pid):
        try:
            return b"systemd-nspawn" in Path("/proc/%d/cmdline" % pid).read_bytes()
        except OSError:
            return False

