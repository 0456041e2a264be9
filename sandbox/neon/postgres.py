"""Real PostgreSQL for the Neon stand-in: one data directory (cluster) per branch, one postmaster per compute.

- A template cluster is made once per stand-in with initdb (superuser `cloud_admin`, as Neon names its own, reached
  only over a unix socket in a private directory; `neon_superuser` exists as on Neon and API-created roles are
  granted it). New projects copy the template; a branch copies its parent - with pg_basebackup from the running
  parent (a consistent copy of data, roles and databases), or a plain file copy of a stopped parent.
- A read_write endpoint is the branch's own postmaster listening on `public_host` (scram-sha-256 passwords; the
  superuser cannot log in over TCP). A read_only endpoint is a hot standby made by pg_basebackup -R, streaming from
  the branch's postmaster (which then runs socket-only if the branch has no read_write endpoint).
- A branch without an endpoint has no running postmaster; SQL for it (roles, databases) starts one socket-only
  for the duration, as Neon briefly activates an idle compute.
- PostgreSQL refuses to run as root: when the stand-in runs as root, every PostgreSQL program runs as the
  `postgres` user and the clusters live in a private directory under /tmp (the state directory, e.g. pytest's
  0700 tmp tree, may not be reachable by that user); it is removed by `PgHost.close()`.
- Durability is off (fsync, synchronous_commit, full_page_writes): these clusters are throwaway.
"""
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import psycopg

from sandbox.common.net import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "cloud_admin"
RUN_AS = "postgres"  # when we are root
SOCKET_PATH_MAX = 100  # unix socket paths are limited to 107 bytes; ".s.PGSQL.NNNNN" is added

CONF = """
# --- textbook.deploy Neon stand-in ---
listen_addresses = ''
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
wal_level = replica
max_wal_senders = 10
min_wal_size = 2MB
max_wal_size = 64MB
hot_standby = on
unix_socket_permissions = 0700
log_min_messages = warning
logging_collector = off
"""

HBA = """# textbook.deploy Neon stand-in: the superuser over the private socket only, everyone else with a password
local   all             %(su)s                                  trust
local   replication     %(su)s                                  trust
local   all             all                                     reject
host    all             %(su)s             0.0.0.0/0            reject
host    all             %(su)s             ::/0                 reject
host    replication     all                0.0.0.0/0            reject
host    replication     all                ::/0                 reject
host    all             all                0.0.0.0/0            scram-sha-256
host    all             all                ::/0                 scram-sha-256
""" % {"su": SUPERUSER}

TEMPLATE_SQL = [
    "CREATE ROLE neon_superuser NOLOGIN CREATEDB CREATEROLE",
    "GRANT pg_read_all_data, pg_write_all_data, pg_monitor, pg_signal_backend TO neon_superuser",
]


class PgError(RuntimeError):
    pass


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def quote_literal(value):
    return "'%s'" % value.replace("'", "''")


def scratch_dir():
    """Where throwaway clusters go when the state directory will not do: /dev/shm (memory: copies and
    pg_basebackup are several times faster than on this machine's disk) when present, else the temp dir."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


class PgHost:
    """Where the clusters live, and how PostgreSQL programs are run."""

    def __init__(self, state_dir, public_host):
        self.public_host = public_host
        self.as_root = os.geteuid() == 0
        self._lock = threading.Lock()
        self.clusters = {}  # name -> Cluster
        self._made_root = None
        if self.as_root:
            user = pwd.getpwnam(RUN_AS)
            self.uid, self.gid = user.pw_uid, user.pw_gid
            self.root = tempfile.mkdtemp(prefix="neon-standin-", dir=scratch_dir())
            self._made_root = self.root
            os.chown(self.root, self.uid, self.gid)
        else:
            self.uid = self.gid = None
            self.root = os.path.join(state_dir, "pg")
            os.makedirs(self.root, exist_ok=True)
            if len(self.root) > SOCKET_PATH_MAX - 20:
                self.root = tempfile.mkdtemp(prefix="neon-standin-", dir=scratch_dir())
                self._made_root = self.root
        with open(os.path.join(state_dir, "pg-root"), "w") as handle:
            handle.write(self.root + "\n")
        self.sockdir = os.path.join(self.root, "s")
        self._mkdir(self.sockdir)
        self.template = None
        atexit.register(self.close)  # an interpreter that exits without stop() still stops its postmasters

    # --- running programs ----------------------------------------------------------------------------------

    def _mkdir(self, path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        if self.as_root:
            os.chown(path, self.uid, self.gid)

    def run(self, *args, timeout=120):
        kwargs = {}
        if self.as_root:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        env = {"PATH": "%s:/usr/bin:/bin" % PG_BIN, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"}
        proc = subprocess.run([os.path.join(PG_BIN, args[0])] + list(args[1:]), cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=timeout, **kwargs)
        if proc.returncode:
            raise PgError("%s failed (%d): %s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc.stdout

    # --- clusters ------------------------------------------------------------------------------------------

    def ensure_template(self):
        with self._lock:
            if self.template:
                return self.template
            data = os.path.join(self.root, "template")
            self.run("initdb", "-D", data, "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8",
                     "--locale=C.UTF-8", "--wal-segsize=1", timeout=300)
            with open(os.path.join(data, "postgresql.conf"), "a") as handle:
                handle.write(CONF)
            with open(os.path.join(data, "pg_hba.conf"), "w") as handle:
                handle.write(HBA)
            template = Cluster(self, "template", data)
            template.start(listen=False)
            try:
                template.execute(TEMPLATE_SQL)
            finally:
                template.stop()
            self.template = template
            return template

    def new_cluster(self, name):
        """A fresh cluster copied from the template (stopped)."""
        template = self.ensure_template()
        data = os.path.join(self.root, name)
        self._copy(template.data, data)
        return self._register(Cluster(self, name, data))

    def clone(self, parent, name, standby=False):
        """A copy of parent's data: pg_basebackup when the parent runs (required for a standby), else a file copy."""
        data = os.path.join(self.root, name)
        if parent.running:
            args = ["pg_basebackup", "-D", data, "-h", self.sockdir, "-p", str(parent.port), "-U", SUPERUSER,
                    "-X", "stream", "-c", "fast", "--no-sync"]
            if standby:
                args.append("-R")
            self.run(*args, timeout=300)
        elif standby:
            raise PgError("a standby needs a running primary")
        else:
            self._copy(parent.data, data)
        return self._register(Cluster(self, name, data, standby=standby))

    def _copy(self, source, target):
        # cp -a keeps ownership and modes (PostgreSQL insists on a 0700 data directory)
        subprocess.run(["cp", "-a", source, target], check=True, capture_output=True, timeout=300)
        pid = os.path.join(target, "postmaster.pid")
        if os.path.exists(pid):
            os.unlink(pid)

    def _register(self, cluster):
        with self._lock:
            self.clusters[cluster.name] = cluster
        return cluster

    def remove(self, cluster):
        cluster.stop()
        with self._lock:
            self.clusters.pop(cluster.name, None)
        shutil.rmtree(cluster.data, ignore_errors=True)

    def close(self):
        """Stop every postmaster we started and remove what we made outside the state directory.

        pg_ctl detaches the postmasters: a process killed with SIGKILL leaves them running (find them by the
        path in <state_dir>/pg-root)."""
        atexit.unregister(self.close)
        with self._lock:
            clusters = list(self.clusters.values())
            if self.template:
                clusters.append(self.template)
        for cluster in clusters:
            cluster.stop(mode="immediate")
        if self._made_root:
            shutil.rmtree(self._made_root, ignore_errors=True)

    def postmaster_pids(self):
        """Pids of live postmasters started by this host (for checks)."""
        with self._lock:
            clusters = list(self.clusters.values())
        return [c.pid for c in clusters if c.pid and _alive(c.pid)]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


class Cluster:
    def __init__(self, host, name, data, standby=False):
        self.host, self.name, self.data, self.standby = host, name, data, standby
        self.port = None
        self.listening = False  # on public_host (True) or socket-only (False)
        self.pid = None
        self._lock = threading.RLock()

    @property
    def running(self):
        return self.pid is not None and _alive(self.pid)

    def start(self, listen, port=None):
        """Start (or restart with other listen settings); returns the port."""
        with self._lock:
            if self.running and self.listening == listen and (port is None or port == self.port):
                return self.port
            self.stop()
            last = None
            for _ in range(5):
                self.port = port or free_port(self.host.public_host)
                options = "-p %d -k %s -c listen_addresses='%s'" % (
                    self.port, self.host.sockdir, self.host.public_host if listen else "")
                try:
                    self.host.run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-s", "-l",
                                  self.data + ".log", "-o", options, "start", timeout=90)
                except PgError as exc:
                    last = exc
                    if port:
                        break
                    continue
                with open(os.path.join(self.data, "postmaster.pid")) as handle:
                    self.pid = int(handle.readline())
                self.listening = listen
                return self.port
            raise PgError("could not start cluster %s: %s" % (self.name, last))

    def stop(self, mode="fast"):
        with self._lock:
            if self.pid is None:
                return
            if _alive(self.pid):
                try:
                    self.host.run("pg_ctl", "-D", self.data, "-w", "-t", "30", "-s", "-m", mode, "stop", timeout=60)
                except (PgError, subprocess.TimeoutExpired):
                    pass
                deadline = time.monotonic() + 10
                while _alive(self.pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
                if _alive(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None

    def connect(self, dbname="postgres"):
        return psycopg.connect(host=self.host.sockdir, port=self.port, user=SUPERUSER, dbname=dbname,
                               autocommit=True, connect_timeout=10)

    def execute(self, statements, dbname="postgres"):
        with self.connect(dbname) as conn:
            for statement in statements:
                conn.execute(statement)

    def query(self, sql, params=None, dbname="postgres"):
        with self.connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()
