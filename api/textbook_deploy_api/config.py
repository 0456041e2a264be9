"""The ``config`` dict every API function takes, checked before anything runs.

Keys (all optional but one of ``inventory``/``environment``):

``inventory``
    The Ansible inventory: a path (file or directory, e.g. ``inventories/staging``) or a dict in Ansible's YAML/JSON
    inventory shape (``{"all": {"hosts": {...}, "vars": {...}}, "backend": {...}}``). A dict is written to a 0600
    file in the run's scratch directory, never into the kept artifacts. Default: the collection's
    ``inventories/<environment>``.
``environment``
    The environment's name (``local``, ``staging``, ``production``, ...), passed as ``deploy_environment`` (the
    GitHub environment, the data role's branch, ...; unless ``extra_vars`` sets it). Without ``inventory`` it also
    picks ``inventories/<environment>``. Letters, digits, ``.``, ``_`` and ``-``.
``extra_vars``
    A dict of variables with the highest precedence (``-e``), e.g. ``{"backend_source": "/src/chat_api"}``.
    Written to a 0600 file outside the artifacts and deleted after the run.
``github_token``
    The GitHub token, passed as ``frontend_github_token`` (deploy_frontend) or ``cicd_github_token``
    (setup_ci_cd); deploy_backend does not talk to GitHub and ignores it. Without it the inventory's value is used
    (``vault_github_token`` in staging/production, the ``GITHUB_TOKEN`` environment variable by default).
``vault_password`` / ``vault_password_file``
    The inventory's vault password (a value, written to a 0600 file for the run and deleted after), or a file
    holding it (or a script printing it). Required when the inventory has vault-encrypted files. Never logged.
``verbosity``
    0-5, like ``-v`` ... ``-vvvvv`` (no_log results stay hidden at every level).
``private_data_dir``
    ansible-runner's private data directory. When given, the run's artifacts (job events, stdout, status) are
    kept in ``<private_data_dir>/artifacts/<ident>`` with every secret masked; by default the run uses a scratch
    directory that is removed afterwards.
``env``
    Environment variables for the run (e.g. ``{"HOME": ...}``). Values of names that look secret are masked in the
    artifacts.
``check`` / ``diff``
    Run in check mode (nothing is changed) / report differences.
``timeout``
    Seconds after which the run is stopped (a ProvisioningError).
``collection_dir``
    The textbook.deploy collection to run (a checkout or an installed ``ansible_collections/textbook/deploy``).
    Default: the checkout this package lives in, else the collection found on ANSIBLE_COLLECTIONS_PATH.
"""
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .errors import ConfigurationError

KEYS = ("inventory", "environment", "extra_vars", "github_token", "vault_password", "vault_password_file",
        "verbosity", "private_data_dir", "env", "check", "diff", "timeout", "collection_dir")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VAULT_HEADER = "$ANSIBLE_VAULT;"


@dataclass
class Settings:
    """A checked config."""

    collection: Path
    inventory: object  # Path or dict
    environment: Optional[str] = None
    extra_vars: dict = field(default_factory=dict)
    github_token: Optional[str] = None
    vault_password: Optional[str] = None
    vault_password_file: Optional[Path] = None
    verbosity: int = 0
    private_data_dir: Optional[Path] = None
    env: dict = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    timeout: Optional[int] = None


def fail(key, problem, fix):
    raise ConfigurationError("config[%r] %s. %s" % (key, problem, fix), key=key)


def _path(config, key, must_exist=True):
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        fail(key, "must be a path (got %s)" % type(value).__name__, "Give a path as a string.")
    path = Path(value).expanduser()
    if must_exist and not path.exists():
        fail(key, "names %s, which does not exist" % path, "Give an existing path.")
    return path.resolve()


def find_collection(config):
    """The collection's root: config['collection_dir'], the checkout around this package, or an installed one."""
    given = _path(config, "collection_dir")
    candidates = [given] if given else []
    if not given:
        candidates.append(Path(__file__).resolve().parents[2])
        for entry in (os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS")
                      or "").split(os.pathsep) + ["~/.ansible/collections", "/usr/share/ansible/collections"]:
            if entry:
                candidates.append(Path(entry).expanduser() / "ansible_collections" / "textbook" / "deploy")
    for candidate in candidates:
        if _is_collection(candidate):
            return candidate.resolve()
    if given:
        fail("collection_dir", "is not the textbook.deploy collection (%s has no galaxy.yml or MANIFEST.json naming "
             "textbook.deploy, or no playbooks/)" % given, "Point it at the collection's checkout or its installed "
             "ansible_collections/textbook/deploy directory.")
    fail("collection_dir", "is not set and no textbook.deploy collection was found",
         "Install the collection (ansible-galaxy collection install) or set config['collection_dir'].")


def _is_collection(path):
    if not (path / "playbooks").is_dir():
        return False
    for name in ("galaxy.yml", "MANIFEST.json"):
        meta = path / name
        if meta.is_file():
            text = meta.read_text(errors="replace")
            return bool(re.search(r"namespace\W+textbook\b", text) and re.search(r"\bname\W+deploy\b", text))
    return False


def check(config):
    """Settings from a config dict, or ConfigurationError naming the key and the fix."""
    if not isinstance(config, dict):
        raise ConfigurationError("config must be a dict (got %s): e.g. {'environment': 'staging'}."
                                 % type(config).__name__, key=None)
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        fail(unknown[0], "is not a config key", "Valid keys: %s. Role variables go into config['extra_vars']."
             % ", ".join(KEYS))
    collection = find_collection(config)

    environment = config.get("environment")
    if environment is not None and (not isinstance(environment, str) or not ENVIRONMENT_NAME.match(environment)):
        fail("environment", "must be an environment name (got %r)" % (environment,),
             "Use letters, digits, '.', '_' and '-', e.g. 'staging'.")

    inventory = config.get("inventory")
    if inventory is None:
        if environment is None:
            fail("inventory", "is missing (and so is config['environment'])",
                 "Give an inventory path or dict, or an environment whose inventory is in %s/inventories/ (%s)."
                 % (collection, ", ".join(sorted(p.name for p in (collection / "inventories").iterdir()
                                                 if p.is_dir())) if (collection / "inventories").is_dir() else ""))
        inventory = collection / "inventories" / environment
        if not inventory.is_dir():
            fail("environment", "names %r, which has no inventory (%s does not exist)" % (environment, inventory),
                 "Add the inventory or give config['inventory'].")
    elif isinstance(inventory, dict):
        if not inventory or not all(isinstance(group, str) for group in inventory):
            fail("inventory", "is an empty dict or has non-string group names",
                 "Give groups as in a YAML inventory: {'all': {'hosts': {'localhost': {...}}}}.")
        for name, group in inventory.items():
            if group is not None and not isinstance(group, dict):
                fail("inventory", "group %r must be a dict with hosts/vars/children (got %s)"
                     % (name, type(group).__name__), "See Ansible's YAML inventory format.")
    else:
        inventory = _path(config, "inventory")

    extra_vars = config.get("extra_vars") or {}
    if not isinstance(extra_vars, dict) or not all(isinstance(key, str) and key for key in extra_vars):
        fail("extra_vars", "must be a dict with variable names as keys", "e.g. {'backend_source': '/src/chat_api'}.")

    token = config.get("github_token")
    if token is not None and (not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token)):
        fail("github_token", "must be a non-empty token without whitespace",
             "Pass the token string itself (never a placeholder), or leave the key out.")

    vault_password = config.get("vault_password")
    vault_file = _path(config, "vault_password_file")
    if vault_password is not None and vault_file is not None:
        fail("vault_password", "and config['vault_password_file'] are both set", "Give one of them.")
    if vault_password is not None and (not isinstance(vault_password, str) or not vault_password):
        fail("vault_password", "must be a non-empty string", "Or give config['vault_password_file'].")
    if vault_file is not None and not (vault_file.is_file() and os.access(vault_file, os.R_OK)):
        fail("vault_password_file", "is not a readable file", "Give the file holding the vault password.")

    verbosity = config.get("verbosity", 0)
    if isinstance(verbosity, bool) or not isinstance(verbosity, int) or not 0 <= verbosity <= 5:
        fail("verbosity", "must be an integer from 0 to 5 (got %r)" % (verbosity,), "e.g. 0, or 3 for -vvv.")

    env = config.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        fail("env", "must be a dict of strings", "e.g. {'HOME': '/home/deploy'}.")

    for key in ("check", "diff"):
        if not isinstance(config.get(key, False), bool):
            fail(key, "must be True or False (got %r)" % (config.get(key),), "")

    timeout = config.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
        fail("timeout", "must be a positive number of seconds (got %r)" % (timeout,), "e.g. 1800.")

    private_data_dir = _path(config, "private_data_dir", must_exist=False)
    if private_data_dir is not None and private_data_dir.exists() and not private_data_dir.is_dir():
        fail("private_data_dir", "is not a directory", "Give a directory (it is created when missing).")

    settings = Settings(collection=collection, inventory=inventory, environment=environment,
                        extra_vars=dict(extra_vars), github_token=token, vault_password=vault_password,
                        vault_password_file=vault_file, verbosity=verbosity, private_data_dir=private_data_dir,
                        env=dict(env), check=config.get("check", False), diff=config.get("diff", False),
                        timeout=timeout)
    if (isinstance(inventory, Path) and vault_password is None and vault_file is None
            and not os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE") and not env.get("ANSIBLE_VAULT_PASSWORD_FILE")):
        encrypted = vaulted_files(inventory)
        if encrypted:
            fail("vault_password", "is missing, and the inventory has vault-encrypted files (%s)"
                 % ", ".join(str(p) for p in encrypted[:3]),
                 "Give config['vault_password_file'] (or config['vault_password']).")
    return settings


def vaulted_files(inventory):
    """Vault-encrypted files of an inventory (its group_vars/host_vars and the inventory file itself)."""
    root = inventory if inventory.is_dir() else inventory.parent
    found = []
    candidates = [inventory] if inventory.is_file() else []
    for sub in ("group_vars", "host_vars"):
        if (root / sub).is_dir():
            candidates += sorted(p for p in (root / sub).rglob("*") if p.is_file())
    if inventory.is_dir():
        candidates += sorted(p for p in inventory.iterdir() if p.is_file())
    for path in candidates:
        try:
            with open(path, "rb") as handle:
                if handle.read(len(VAULT_HEADER)) == VAULT_HEADER.encode():
                    found.append(path)
        except OSError:
            continue
    return found
