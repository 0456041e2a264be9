"""Running one of the collection's playbooks through ansible-runner, with the secrets kept out of its artifacts."""
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from . import config as config_module
from .errors import ConfigurationError
from .events import EventLog, classify
from .secrets import TOKEN_ENV, Scrubber

log = logging.getLogger("textbook_deploy_api")


def load_inventory(settings, path):
    """(hosts by group, all host names) of the inventory, parsed in-process with Ansible's InventoryManager (no
    variables are templated and no vault is needed: group_vars are not read)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.display import Display

    display = Display()
    verbosity = display.verbosity
    try:
        manager = InventoryManager(loader=DataLoader(), sources=[str(path)])
    except Exception as exc:  # an inventory Ansible cannot parse
        raise ConfigurationError("config['inventory'] cannot be parsed: %s" % exc, key="inventory")
    finally:
        display.verbosity = verbosity
    groups = {name: sorted(host.name for host in group.get_hosts()) for name, group in manager.groups.items()}
    return groups, sorted(manager.hosts)


class Job:
    """One API call: a checked config, the playbook, its extra variables and limit."""

    def __init__(self, api, playbook, config, extra_vars=None, limit=None):
        self.api = api
        self.settings = config_module.check(config)
        self.playbook = self.settings.collection / "playbooks" / playbook
        if not self.playbook.is_file():
            raise ConfigurationError("The collection at %s has no playbooks/%s: config['collection_dir'] must be "
                                     "the textbook.deploy collection." % (self.settings.collection, playbook),
                                     key="collection_dir")
        self.extra_vars = dict(self.settings.extra_vars)
        for key, value in (extra_vars or {}).items():
            given = self.extra_vars.get(key)
            if given is not None and given != value:
                raise ConfigurationError(
                    "config['extra_vars'][%r] differs from what %s sets from its arguments (repo_path, "
                    "config['github_token']): leave it out of extra_vars." % (key, api), key="extra_vars")
            self.extra_vars[key] = value
        if self.settings.environment:
            self.extra_vars.setdefault("deploy_environment", self.settings.environment)
        self.limit = limit
        self.scrubber = Scrubber()
        self.scrubber.add(self.settings.github_token)
        self.scrubber.add(self.settings.vault_password)
        if self.settings.vault_password_file and not os.access(self.settings.vault_password_file, os.X_OK):
            self.scrubber.add(self.settings.vault_password_file.read_text(errors="replace"))
        self.scrubber.add_tree(self.extra_vars)
        self.scrubber.add_environment(os.environ)
        self.scrubber.add_environment(self.settings.env)
        if isinstance(self.settings.inventory, dict):
            self.scrubber.add_tree(self.settings.inventory)
        self.token_given = bool(self.settings.github_token or any(
            os.environ.get(name) or self.settings.env.get(name) for name in TOKEN_ENV[:2]))
        self._scratch = None

    # --- before the run ---------------------------------------------------------------------------------

    def scratch(self):
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="textbook-deploy-"))  # 0700
        return self._scratch

    def _private_file(self, name, text):
        path = self.scratch() / name
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def inventory_path(self):
        if isinstance(self.settings.inventory, dict):
            if not hasattr(self, "_inventory_file"):
                self._inventory_file = self._private_file("inventory.json", json.dumps(self.settings.inventory))
            return self._inventory_file
        return self.settings.inventory

    def require_hosts(self, pattern_groups, what):
        """Fail (ConfigurationError) unless the inventory has a host in one of ``pattern_groups``."""
        groups, _hosts = load_inventory(self.settings, self.inventory_path())
        if not any(groups.get(name) for name in pattern_groups):
            raise ConfigurationError(
                "config['inventory'] has no host in the group%s %s, which %s runs on: add %s to the inventory."
                % ("s" if len(pattern_groups) > 1 else "", " or ".join(pattern_groups), self.api, what),
                key="inventory")
        return groups

    def collections_path(self):
        root = self.settings.collection
        if root.parent.name == "textbook" and root.parent.parent.name == "ansible_collections":
            return root.parent.parent.parent
        link = root / ".collections" / "ansible_collections" / "textbook" / "deploy"
        if link.exists() and link.resolve() == root:
            return root / ".collections"
        target = self.scratch() / "collections" / "ansible_collections" / "textbook"
        target.mkdir(parents=True, exist_ok=True)
        (target / "deploy").symlink_to(root, target_is_directory=True)
        return self.scratch() / "collections"

    def envvars(self):
        root = self.settings.collection
        env = {
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(
                [str(self.collections_path())] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(
                    os.pathsep) if p]),
            # ansible-playbook and the tools the roles call (npm, git, pip) from this Python's environment first
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # never print a task's arguments into the events (no_log tasks' arguments included)
            "ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
        }
        if (root / "ansible.cfg").is_file():
            env["ANSIBLE_CONFIG"] = str(root / "ansible.cfg")
        env.update(self.settings.env)
        return env

    def cmdline(self):
        args = []
        if self.extra_vars:
            args += ["-e", "@" + str(self._private_file("extravars.json", json.dumps(self.extra_vars)))]
        if self.settings.vault_password is not None:
            args += ["--vault-password-file", str(self._private_file("vault-password", self.settings.vault_password))]
        elif self.settings.vault_password_file is not None:
            args += ["--vault-password-file", str(self.settings.vault_password_file)]
        if self.settings.check:
            args.append("--check")
        if self.settings.diff:
            args.append("--diff")
        return " ".join(shlex.quote(arg) for arg in args)

    # --- the run ----------------------------------------------------------------------------------------

    def run(self):
        """Run the playbook; returns the classified RunResult (``error`` set when the API must raise)."""
        import ansible_runner

        keep = self.settings.private_data_dir is not None
        private_data_dir = self.settings.private_data_dir or (self.scratch() / "runner")
        ident = "%s-%s" % (self.api, uuid.uuid4().hex[:12])
        events = EventLog()
        started = time.monotonic()
        log.info("%s: running %s (inventory %s%s)", self.api, self.playbook.name,
                 "dict" if isinstance(self.settings.inventory, dict) else self.settings.inventory,
                 ", limit %s" % self.limit if self.limit else "")
        try:
            os.makedirs(str(private_data_dir), mode=0o700, exist_ok=True)
            runner = ansible_runner.run(
                private_data_dir=str(private_data_dir), ident=ident, playbook=str(self.playbook),
                inventory=str(self.inventory_path()), limit=self.limit, verbosity=self.settings.verbosity or None,
                cmdline=self.cmdline() or None, envvars=self.envvars(), quiet=True, event_handler=events,
                timeout=self.settings.timeout,
                settings={"suppress_ansible_output": True, "pexpect_use_poll": True})
            artifact_dir = os.path.join(str(private_data_dir), "artifacts", ident)
            if keep:
                self.scrubber.scrub_directory(artifact_dir)
            result = classify(self.api, runner.status, runner.rc, events, self.scrubber, self.playbook.name,
                              environment=self.settings.environment, token_given=self.token_given,
                              artifact_dir=artifact_dir if keep else None, duration=time.monotonic() - started)
        finally:
            if self._scratch is not None:
                shutil.rmtree(str(self._scratch), ignore_errors=True)
        if result.ok:
            log.info("%s: %s succeeded in %.1f s (%d changed)", self.api, self.playbook.name, result.duration,
                     result.changed)
        else:
            log.warning("%s: %s", self.api, result.message)
        return result
