"""Fixtures for the example chat service (loaded by conftest.py): the service for real under uvicorn, and a database
with its migrations applied."""
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from sandbox.common.net import free_port

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "examples" / "chat_api"
SRC = CHAT / "src"


class ChatServer:
    """`uvicorn chat_api.app:app` in a subprocess on a free port, its output captured in a log file."""

    def __init__(self, env, log_path, tls=None, port=None):
        """`tls`: {"server.crt", "server.key", "ca.crt"} files to serve HTTPS with (the client trusts that CA);
        `port`: a fixed port (one baked into a built site), else a free one."""
        self.port = port or free_port()
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
        full_env.update(env)
        full_env["PYTHONPATH"] = str(SRC)
        command = [sys.executable, "-m", "uvicorn", "chat_api.app:app", "--host", "127.0.0.1", "--port", str(self.port),
                   # a browser keeps its connection alive, and uvicorn would wait for it when stopped
                   "--timeout-graceful-shutdown", "1"]
        if tls:
            command += ["--ssl-certfile", str(tls["server.crt"]), "--ssl-keyfile", str(tls["server.key"])]
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(CHAT))
        verify = ssl.create_default_context(cafile=str(tls["ca.crt"])) if tls else True
        self.client = httpx.Client(base_url=self.url, timeout=20, verify=verify)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("chat server exited (rc=%s):\n%s" % (self.proc.returncode, self.log()))
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("chat server did not come up:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(tls=None, **env):
        server = ChatServer(env, tmp_path / ("server-%d.log" % len(servers)), tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def database(neon_project):
    """The project's connection URI with the service's migrations applied (pg_trgm first, as the data role does)."""
    uri = neon_project["_connection_uri"]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for path in sorted((CHAT / "migrations").glob("*.sql")):
            with conn.transaction():
                conn.execute(path.read_text())
    return uri
