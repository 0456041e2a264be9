"""Shared pytest fixtures: the collection on sys.path, module and playbook runners, sandbox services."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The Neon and Qdrant stand-ins' fixtures live beside this file, one module per service.
pytest_plugins = ["fixtures_neon", "fixtures_qdrant", "fixtures_grafana", "fixtures_chat", "fixtures_github"]

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "textbook" / "deploy"


def _ensure_collection_link():
    """Expose the checkout as ansible_collections/textbook/deploy (what Ansible and imports expect)."""
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        LINK.symlink_to(ROOT, target_is_directory=True)


_ensure_collection_link()
for path in (str(COLLECTIONS), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)


def ansible_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(COLLECTIONS), str(ROOT), env.get("PYTHONPATH", "")])
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    env.update(extra or {})
    return env


def run_module(name, args, check=False, diff=False, env=None, timeout=600):
    """Run one of our modules the way Ansible does (JSON args file in, JSON result out).

    Returns the result dict; a failed module has ``failed: True`` and ``msg``.
    """
    import tempfile

    payload = dict(args)
    payload["_ansible_check_mode"] = check
    payload["_ansible_diff"] = diff
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
        args_file = handle.name
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.textbook.deploy.plugins.modules.{name}", args_file],
            capture_output=True, text=True, env=ansible_env(env), timeout=timeout, cwd=str(ROOT),
        )
    finally:
        os.unlink(args_file)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(f"module {name} printed no JSON (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result["_stdout"] = proc.stdout
    result["_stderr"] = proc.stderr
    return result


def run_playbook(playbook, inventory=None, extra_vars=None, verbosity=0, check=False, diff=False, env=None,
                 timeout=1200, limit=None):
    """Run ansible-playbook; returns the CompletedProcess (stdout and stderr merged into stdout)."""
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook") if (ROOT / ".venv").exists() else "ansible-playbook"]
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    cmd.append(str(playbook))
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ansible_env(env),
                          timeout=timeout, cwd=str(ROOT))


def run_adhoc(pattern, inventory, module, args, timeout=300):
    """`ansible <pattern> -m <module> -a <args as JSON> -o`; returns {host: result}, each with the status Ansible
    printed (SUCCESS, CHANGED, FAILED, UNREACHABLE) and `failed`."""
    cmd = [str(ROOT / ".venv" / "bin" / "ansible") if (ROOT / ".venv").exists() else "ansible", pattern,
           "-i", str(inventory), "-m", module, "-a", json.dumps(args), "-o"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ansible_env(),
                          timeout=timeout, cwd=str(ROOT))
    results = {}
    for line in proc.stdout.splitlines():
        host, separator, result = line.partition(" => ")
        if separator and " | " in host:
            name, status = host.split(" | ", 1)
            results[name] = dict(json.loads(result), status=status.rstrip("!"))
            results[name].setdefault("failed", status.startswith(("FAILED", "UNREACHABLE")))
    assert results, proc.stdout
    return results


@pytest.fixture(scope="session")
def github(tmp_path_factory):
    """A running GitHub stand-in (REST + git smart HTTP + Pages host) for the whole session."""
    from sandbox.github import GitHubStandIn

    server = GitHubStandIn(state_dir=str(tmp_path_factory.mktemp("github")))
    server.start()
    yield server
    server.stop()
