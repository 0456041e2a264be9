"""A world to deploy the backend into: three sandbox hosts (a load balancer and two app hosts), the Neon stand-in
(its databases) and the Qdrant stand-in on the hosts' bridge with the chat service's database (its migrations
applied) and collection, and an Ansible inventory for deploy_backend.yml and rollback_backend.yml. Used by the
backend tests and benchmark.

    with BackendWorld(work_dir, prefix="tbd", subnet="10.79.0") as world:
        world.inventory            # path of the inventory (JSON)
        world.lb, world.apps       # host descriptions (name, address, key, ...)
        world.ssh(world.lb, "...") # CompletedProcess

With monitoring=True a fourth host, world.monitor, is up too, in the inventory's group `monitoring`
(playbooks/monitoring.yml); without it the world is the three hosts above, as before.
"""
import json
import re
import shutil
import urllib.request
from pathlib import Path

from sandbox.hosts import Hosts

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "examples" / "chat_api"


class BackendWorld:
    def __init__(self, work_dir, prefix, subnet, settings=None, monitoring=False, environment="local"):
        self.work = Path(work_dir)
        self.hosts = Hosts(self.work / "hosts", ROOT / ".cache" / "sandbox", prefix=prefix, subnet=subnet)
        self.settings = dict(settings or {})
        self.neon = self.qdrant = None
        self.monitoring = monitoring
        self.monitor = None
        self.environment = environment  # the deploy_environment the tests deploy with

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        from sandbox.neon import NeonStandIn
        from sandbox.qdrant import QdrantStandIn
        from ansible_collections.textbook.deploy.plugins.filter.platform import index_alias

        if self.monitoring:
            self.lb, *self.apps, self.monitor = self.hosts.up(4)
        else:
            self.lb, *self.apps = self.hosts.up(3)
        self.neon = NeonStandIn(str(self.work / "neon"), public_host=self.hosts.gateway)
        self.qdrant = QdrantStandIn(str(self.work / "qdrant"), host=self.hosts.gateway)
        self.neon.start()
        self.qdrant.start()
        project = self.neon.create_project("chat", full=True)
        self.project = project  # what POST /projects answered: project, branch, databases, roles
        # the collection the backend searches by default (the content stage fills it in a real deploy)
        self._qdrant("PUT", "/collections/" + index_alias(self.environment),
                     {"vectors": {"size": 384, "distance": "Cosine"}})
        self.secrets = {"backend_database_url": self.neon.connection_uri(project["project"]["id"]),
                        "backend_qdrant_api_key": self.qdrant.api_key}
        self._migrate(self.secrets["backend_database_url"])
        self.wheelhouses = self.work / "wheelhouses"
        self.inventory = self.write_inventory(self.work / "inventory.json")

    def stop(self):
        for service in (self.qdrant, self.neon):
            if service:
                service.stop()
        self.hosts.down()

    def write_inventory(self, path, extra_app_hosts=(), data_settings=None):
        """The inventory; extra_app_hosts: more (name, address) app hosts, e.g. one that does not exist. With
        data_settings (a dict, may be empty) the service's settings are not given: the inventory has a `data` host
        (the controller) with the Neon and Qdrant settings instead, updated with data_settings, as a stage run alone
        finds them in a real inventory."""
        machines = [(host["name"], host["address"]) for host in self.apps] + list(extra_app_hosts)
        given = (self._data_vars(data_settings) if data_settings is not None
                 else dict(self.secrets, backend_qdrant_url=self.qdrant.url))
        inventory = {
            "all": {"vars": dict(given, backend_wheelhouse_root=str(self.wheelhouses), **self.settings)},
            "backend": {"hosts": {name: self._host_vars(address) for name, address in machines}},
            "loadbalancer": {"hosts": {self.lb["name"]: self._host_vars(self.lb["address"])}},
        }
        if data_settings is not None:
            inventory["data"] = {"hosts": {"localhost": {"ansible_connection": "local",
                                                         "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
        if self.monitor:
            inventory["monitoring"] = {"hosts": {self.monitor["name"]: self._host_vars(self.monitor["address"])}}
        Path(path).write_text(json.dumps(inventory))
        return Path(path)

    def _data_vars(self, overrides):
        """The data role's settings for the world's Neon project (its default branch, database and owner)."""
        database = self.project["databases"][0]
        return dict({"data_neon_api_url": self.neon.api_url, "data_neon_api_key": self.neon.api_key,
                     "data_neon_project": self.project["project"]["id"], "data_neon_branch": self.project["branch"]["name"],
                     "data_database_name": database["name"], "data_database_owner": database["owner_name"],
                     "data_qdrant_url": self.qdrant.url, "data_qdrant_api_key": self.qdrant.api_key}, **overrides)

    def _host_vars(self, address):
        return {"ansible_host": address, "ansible_user": "root", "ansible_ssh_private_key_file": str(self.hosts.key),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}

    def ssh(self, host, command, check=True):
        return self.hosts.ssh(host, command, check=check)

    def release(self, version, patch=None):
        """A copy of the example service with another version (and, with patch, a change to its app module);
        returns the source directory to deploy with backend_source."""
        copy = self.work / ("chat_api-" + version)
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        pyproject = copy / "pyproject.toml"
        pyproject.write_text(re.sub(r'(?m)^version = ".*"$', 'version = "%s"' % version, pyproject.read_text()))
        if patch:
            app = copy / "src" / "chat_api" / "app.py"
            patched = patch(app.read_text())
            if patched == app.read_text():
                raise ValueError("%s did not change %s: update it to the service's code" % (patch.__name__, app))
            app.write_text(patched)
        return copy

    @staticmethod
    def _migrate(database_url):
        """The service's tables, so /api/chat records questions (the data role does this in a real deploy)."""
        import psycopg

        with psycopg.connect(database_url, connect_timeout=10) as connection:
            connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for migration in sorted((SOURCE / "migrations").glob("*.sql")):
                connection.execute(migration.read_text())

    def _qdrant(self, method, path, body):
        request = urllib.request.Request(self.qdrant.url + path, method=method, data=json.dumps(body).encode(),
                                         headers={"api-key": self.qdrant.api_key,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def never_ready(source):
    """A release whose readiness check always fails (a broken dependency check shipped)."""
    return source.replace('failed = sorted(name for name, result in checks.items() if result != "ok")',
                          'failed = ["postgres"]')


CHAT_HANDLER = '    def chat(request: ChatRequest):\n        current = state["settings"]\n'


def _in_chat(source, code):
    """The release with `code` run first in POST /api/chat's handler."""
    return source.replace(CHAT_HANDLER, CHAT_HANDLER.replace("        current", code + "        current"), 1)


def crashes_after_start(source, seconds=6):
    """A release that serves for a few seconds, then dies (and again after every restart)."""
    return source.replace('        try:\n            yield\n',
                          '        import os, threading\n'
                          '        threading.Timer(%d, os._exit, [1]).start()\n'
                          '        try:\n            yield\n' % seconds, 1)


def chat_fails(source):
    """A release whose main endpoint answers 500 while /readyz is fine."""
    return _in_chat(source, '        return JSONResponse(status_code=500, content={"detail": "broken"})\n')


def chat_fails_sometimes(source):
    """A release failing 30 % of its POST /api/chat answers: 3 of every 10 after its first 10, so it passes a short
    smoke test and only real traffic shows it."""
    return _in_chat(source, '        state["asked"] = state.get("asked", 0) + 1\n'
                            '        if state["asked"] > 10 and state["asked"] % 10 < 3:\n'
                            '            return JSONResponse(status_code=500, content={"detail": "flaky"})\n')


def chat_slow(source):
    """A release whose POST /api/chat answers 0.8 s later than it would."""
    return _in_chat(source, '        time.sleep(0.8)\n')
