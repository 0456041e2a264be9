"""The platform's published contracts, each running one of the collection's playbooks through ansible-runner."""
import os
import re
import threading
from pathlib import Path

from .errors import ConfigurationError
from .run import Job

_local = threading.local()
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def last_result():
    """The :class:`RunResult` of this thread's last API call that ran a playbook (None before any).

    After a call returned False it says why: ``outcome`` (``rolled_back`` or ``failed``), ``message`` and
    ``failures`` (task, host, module message). An exception carries the same object as ``err.result``.
    """
    return getattr(_local, "result", None)


def _finish(job):
    _local.result = None
    result = job.run()
    _local.result = result
    if result.error is not None:
        raise result.error
    return result.ok


def _directory(repo_path, what):
    if not isinstance(repo_path, (str, os.PathLike)) or not str(repo_path):
        raise ConfigurationError("repo_path must be the path of %s (got %r)." % (what, repo_path), key="repo_path")
    path = Path(repo_path).expanduser()
    if not path.is_dir():
        raise ConfigurationError("repo_path %s is not a directory: give the path of %s." % (path, what),
                                 key="repo_path")
    return path.resolve()


def deploy_frontend(repo_path: str, config: dict) -> bool:
    """Build the Docusaurus project at ``repo_path``, publish it to GitHub Pages, verify the live site; the role
    rolls back to the previous site when a step after the publish fails.

    Runs ``playbooks/deploy_frontend.yml`` with ``frontend_project_dir = repo_path`` (and ``frontend_github_token =
    config['github_token']`` when given) on the inventory's ``frontend`` group (the controller).

    Returns True when the new site is live (or was already), False when the deploy failed and the previous site
    is served (rolled back, or nothing was published): see :func:`last_result`. Raises ConfigurationError (bad
    config, before anything runs, or refused by the role's preflight), AuthenticationError (GitHub refused the
    token, or there is none) or ProvisioningError (the controller unreachable, GitHub not answering).
    """
    project = _directory(repo_path, "the Docusaurus project (the folder with package.json)")
    if not (project / "package.json").is_file():
        raise ConfigurationError("repo_path %s has no package.json: give the Docusaurus project's folder." % project,
                                 key="repo_path")
    extra = {"frontend_project_dir": str(project)}
    if isinstance(config, dict) and config.get("github_token"):
        extra["frontend_github_token"] = config["github_token"]
    job = Job("deploy_frontend", "deploy_frontend.yml", config, extra_vars=extra)
    job.require_hosts(["frontend"], "a group 'frontend' holding the controller (localhost, ansible_connection: "
                                    "local)")
    return _finish(job)


def deploy_backend(services: list, config: dict) -> bool:
    """Deploy the chat service blue-green to the app hosts and put the load balancer in front of them.

    ``services`` names what to deploy to: inventory groups or hosts of ``backend`` (the app hosts) and
    ``loadbalancer``, e.g. ``["backend", "loadbalancer"]`` for the whole environment, ``["backend"]`` for the app
    hosts alone (the load balancer is left as it is), or single host names. It becomes the run's ``--limit``. The
    release is the source at ``config['extra_vars']['backend_source']`` (default: the collection's
    examples/chat_api) and its version; the service's settings and secrets come from the inventory (vault) or
    ``extra_vars`` (``backend_database_url``, ``backend_qdrant_url``, ``backend_qdrant_api_key``).

    Returns True when the release serves on every host, False when the deploy failed and every host serves the
    previous release (its health gate failed, or it failed after the switch and every host was switched back):
    see :func:`last_result`. Raises ConfigurationError (bad config or services, before anything runs, or refused
    by the role's preflight: nothing changed), ProvisioningError (a host unreachable, a data service failing).
    """
    if isinstance(services, (str, bytes)) or not isinstance(services, (list, tuple)) or not services:
        raise ConfigurationError("services must be a non-empty list of inventory groups or hosts (got %r), e.g. "
                                 "['backend', 'loadbalancer']." % (services,), key="services")
    for name in services:
        if not isinstance(name, str) or not PLAIN_NAME.match(name):
            raise ConfigurationError("services holds %r, which is not a group or host name (patterns are not "
                                     "accepted): e.g. ['backend', 'loadbalancer']." % (name,), key="services")
    job = Job("deploy_backend", "deploy_backend.yml", config, limit=":".join(services))
    groups = job.require_hosts(["backend"], "a group 'backend' with the app hosts (and 'loadbalancer')")
    hosts = set(host for members in groups.values() for host in members)
    targets = set(groups.get("backend", [])) | set(groups.get("loadbalancer", []))
    chosen = set()
    for name in services:
        if name in groups:
            chosen.update(groups[name])
        elif name in hosts:
            chosen.add(name)
        else:
            raise ConfigurationError(
                "services names %r, which is neither a group nor a host of the inventory (groups: %s)."
                % (name, ", ".join(sorted(g for g in groups if g not in ("all", "ungrouped")))), key="services")
    if not chosen & targets:
        raise ConfigurationError("services %s holds no host of the groups backend or loadbalancer: nothing would be "
                                 "deployed." % ", ".join(services), key="services")
    return _finish(job)


def setup_ci_cd(repo_path: str, config: dict) -> bool:
    """Set up the inventory's GitHub environment (protection, secrets, variables), the repository variables, and
    generate ci.yml, deploy-frontend.yml and deploy-backend.yml into the git checkout at ``repo_path``.

    Runs ``playbooks/setup_ci_cd.yml`` on the controller with ``cicd_repo_path = repo_path`` (and
    ``cicd_github_token = config['github_token']`` when given); the repository is ``cicd_repo`` of the inventory
    or ``extra_vars``. Returns True when everything is in place, False when a step failed (``last_result()``).
    Raises ConfigurationError (bad config, before anything runs, or refused by the role's preflight),
    AuthenticationError (GitHub refused the token or its permissions, or there is none) or ProvisioningError
    (GitHub not answering).
    """
    checkout = _directory(repo_path, "the repository's git checkout")
    if not (checkout / ".git").exists():
        raise ConfigurationError("repo_path %s is not a git checkout (no .git): clone the repository there, or "
                                 "`git init` it." % checkout, key="repo_path")
    extra = {"cicd_repo_path": str(checkout)}
    if isinstance(config, dict) and config.get("github_token"):
        extra["cicd_github_token"] = config["github_token"]
    job = Job("setup_ci_cd", "setup_ci_cd.yml", config, extra_vars=extra)
    return _finish(job)
