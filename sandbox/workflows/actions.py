"""Local implementations of the actions the generated workflows use; any other `uses:` is refused before a run
starts (run.checked).

- actions/checkout: a clone from the stand-in's git server with its token, at the event's commit (or `ref`),
  with `fetch-depth` (default 1, 0 for all history), `path`, `repository`, `token` and `persist-credentials`
  (the token kept as http.<url>.extraheader, as the action does). Submodules, LFS, sparse checkout and `clean`
  are not modelled.
- actions/setup-python: the Python running the runner (the project's .venv) when it is the version asked for
  (`3`, `3.11`, `3.11.7`, `3.x` ...), else a clear failure: no other interpreter is downloaded. The job gets a
  virtualenv of its own (no pip inside: pip is the runner's, through a .pth, and `pip` commands in its bin
  point at the job's Python) that sees the runner's packages (a .pth) and the machine's (--system-site-packages),
  so `python -m pip install` of what is installed already is instant and anything new goes into the job's
  environment, never the machine's. Its bin, then the runner's bin (console scripts such as ansible-playbook),
  come first on PATH. `cache:` is ignored.
- actions/setup-node: the machine's node, checked against `node-version` (a major, major.minor or full version;
  lts/*, latest, current and node are accepted as they are). `cache:` and `cache-dependency-path` are ignored
  (no cache is kept between runs).
- actions/upload-pages-artifact: what the action does (its action.yml): `tar --dereference --hard-dereference
  --directory PATH -cvf $RUNNER_TEMP/artifact.tar --exclude=.git --exclude=.github .`, uploaded as the artifact
  `name` (default github-pages); as Pages requires, the artifact is one gzip archive holding that one tar file.
  It is kept in the run's directory (artifacts/<name>/artifact.tar.gz) and registered with the stand-in
  (POST /_sandbox/artifacts), which gives its artifact_id (output `artifact_id`).
- actions/deploy-pages: POST /repos/{owner}/{repo}/pages/deployments with the run's artifact of that name,
  `pages_build_version` = the commit and a placeholder `oidc_token` (OIDC is not modelled), then
  GET .../pages/deployments/{id} until `succeed` or a failure status; output `page_url`. The status is polled
  every 0.1 s instead of the action's `reporting_interval` (the stand-in's deployments take fractions of a
  second); `timeout` (ms) is honoured; `preview` and `error_count` are not modelled.
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from . import steps
from .workflow import BadInput

POLL_SECONDS = 0.1
FAILED_DEPLOYMENT = ("deployment_failed", "deployment_content_failed", "deployment_cancelled", "deployment_lost",
                     "deployment_attempt_error")


class ActionError(Exception):
    """The action failed; the message says why (it ends the step's log)."""


def action_name(uses):
    return str(uses).split("@", 1)[0].strip().lower()


def run_action(job, step, scope, step_env, log, timeout):
    """Run a step's `uses:` with its rendered `with:` (inputs are text, as on GitHub); its outputs."""
    name = action_name(step["uses"])
    implementation, known = LOCAL[name]
    inputs = {str(key): to_text(value) for key, value in (scope.render(step.get("with")) or {}).items()}
    log.write("Run %s\n" % step["uses"])
    for key in sorted(inputs):
        log.write("  with %s: %s\n" % (key, inputs[key]))
    unexpected = sorted(set(inputs) - set(known))
    if unexpected:
        log.write("Warning: Unexpected input(s) %s, valid inputs are %s\n" % (", ".join(unexpected),
                                                                             ", ".join(known)))
    log.flush()
    return implementation(job, inputs, log, timeout) or {}


def to_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def command(job, argv, log, timeout, cwd=None):
    """Run a helper command of an action into the step's log; ActionError when it fails."""
    log.write("$ %s\n" % " ".join(re.sub(r"(AUTHORIZATION: basic ).*", r"\1***", arg) for arg in argv))
    log.flush()
    env = job.base_env("action")
    status, timed_out = steps.run_process(argv, cwd or str(job.workspace), env, log, timeout, job.groups.append)
    if timed_out or status != 0:
        raise ActionError("%s %s" % (argv[0], "timed out" if timed_out else "exited with %d" % status))


# --- actions/checkout ------------------------------------------------------------------------------------------

def checkout(job, inputs, log, timeout):
    run, standin = job.run, job.run.options.standin
    repo = inputs.get("repository") or run.repo
    target, branch = checkout_target(job, inputs.get("ref", ""), repo)
    path = job.workspace / inputs.get("path", "")
    path.mkdir(parents=True, exist_ok=True)
    depth = int(inputs.get("fetch-depth") or 1)
    header = standin.auth_header(inputs.get("token"))
    git = ["git", "-C", str(path)]
    if not (path / ".git").exists():
        command(job, git + ["init", "-q"], log, timeout)
        command(job, git + ["remote", "add", "origin", standin.git_url(repo)], log, timeout)
    fetch = ["fetch", "--no-tags", "--prune"] + (["--depth=%d" % depth] if depth > 0 else []) + ["origin", target]
    command(job, git[:1] + ["-c", "http.extraheader=" + header] + git[1:] + fetch, log, timeout)
    command(job, git + (["checkout", "-q", "--force", "-B", branch, "FETCH_HEAD"] if branch else
                        ["checkout", "-q", "--force", "--detach", "FETCH_HEAD"]), log, timeout)
    if inputs.get("persist-credentials", "true").lower() == "true":
        command(job, git + ["config", "--local", "http.%s/.extraheader" % standin.base_url, header], log, timeout)
    sha = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    log.write("checked out %s at %s\n" % (repo, sha))
    return {"ref": branch or target, "commit": sha}


def checkout_target(job, ref, repo):
    """(what to fetch, the local branch to make or None): the event's commit, or the `ref` input's."""
    run = job.run
    if not ref:
        event = run.event
        branch = event.ref[len("refs/heads/"):] if event.ref.startswith("refs/heads/") else None
        return event.sha, branch
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref, None
    if repo != run.repo:
        return ref, ref if not ref.startswith("refs/") else None
    try:
        full, sha = run.mirror.resolve(ref)
    except BadInput as err:
        raise ActionError(str(err))
    return sha, full[len("refs/heads/"):] if full.startswith("refs/heads/") else None


# --- setup-python and setup-node -------------------------------------------------------------------------------

def version_matches(wanted, actual):
    """Whether a version spec such as 3, 3.11, 3.11.x or v20 names the version `actual` (a dotted string)."""
    spec = wanted.strip().lstrip("v")
    if not re.fullmatch(r"\d+(\.(\d+|x|\*))*", spec):
        raise ActionError("version %r is not a form the runner understands (3.11, 3.x, 20, 20.1.0)" % wanted)
    have = actual.split(".")
    return all(part in ("x", "*") or (i < len(have) and part == have[i]) for i, part in enumerate(spec.split(".")))


def setup_python(job, inputs, log, timeout):
    wanted = inputs.get("python-version") or read_version_file(job, inputs.get("python-version-file")
                                                               or ".python-version")
    actual = "%d.%d.%d" % sys.version_info[:3]
    if wanted and not version_matches(wanted, actual):
        raise ActionError("python-version %s was asked for, but the machine's Python here (the runner's, %s) is %s: "
                          "install that Python and run the runner with it, or ask for %d.%d"
                          % (wanted, sys.executable, actual, *sys.version_info[:2]))
    venv = job.tools / "python"
    if not venv.exists():
        command(job, [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], log,
                timeout)
        link_runner_packages(venv)
    bin_dir = venv / "bin"
    job.path = [str(bin_dir)] + ([runner_bin()] if runner_bin() else []) + job.path
    job.env.update({"pythonLocation": str(venv), "Python_ROOT_DIR": str(venv), "Python3_ROOT_DIR": str(venv),
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1"})  # no round trip to the index for pip itself
    if inputs.get("cache"):
        log.write("cache: %s is ignored (the runner keeps no cache)\n" % inputs["cache"])
    log.write("Python %s in %s (a virtualenv of this job's own)\n" % (actual, venv))
    return {"python-version": actual, "python-path": str(bin_dir / "python"), "cache-hit": "false"}


def runner_bin():
    """The bin directory of the runner's own virtualenv, if it runs in one."""
    return str(Path(sys.executable).parent) if sys.prefix != sys.base_prefix else None


def link_runner_packages(venv):
    """Let the job's Python see the runner's packages (after its own) and use the runner's pip, which installs
    into the job's environment (pip installs where the Python that runs it lives)."""
    site = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    with open("%s/_sandbox_runner.pth" % site, "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    for name in ("pip", "pip3", "pip%d.%d" % sys.version_info[:2]):
        script = venv / "bin" / name
        script.write_text("#!%s/bin/python\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"
                          % venv)
        script.chmod(0o755)


def read_version_file(job, name):
    path = job.workspace / name
    return path.read_text().split()[0] if path.is_file() and path.read_text().split() else ""


def setup_node(job, inputs, log, timeout):
    wanted = inputs.get("node-version") or read_version_file(job, inputs.get("node-version-file") or ".nvmrc")
    node = shutil.which("node", path=steps_path(job))
    if not node:
        raise ActionError("node-version %s was asked for, but this machine has no node on PATH" % wanted)
    actual = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    if wanted and wanted not in ("lts/*", "latest", "current", "node") and not version_matches(wanted, actual):
        raise ActionError("node-version %s was asked for, but the machine's node (%s) is %s" % (wanted, node,
                                                                                               actual))
    cache_hit = "false"
    if inputs.get("cache") == "npm":
        # actions/setup-node restores npm's cache from GitHub's cache service; the runner lends the job this
        # machine's own npm cache (content-addressed, safe to share), so `npm ci` fetches only what it lacks
        npm_cache = os.path.join(os.path.expanduser("~"), ".npm")
        job.env["npm_config_cache"] = npm_cache
        cache_hit = "true" if os.path.isdir(os.path.join(npm_cache, "_cacache")) else "false"
        log.write("cache: npm, this machine's %s\n" % npm_cache)
    elif inputs.get("cache"):
        log.write("cache: %s is ignored (the runner models npm's only)\n" % inputs["cache"])
    log.write("node %s (%s)\n" % (actual, node))
    return {"node-version": "v" + actual, "cache-hit": cache_hit}


def steps_path(job):
    return job.base_env("action")["PATH"]


# --- Pages -----------------------------------------------------------------------------------------------------

def upload_pages_artifact(job, inputs, log, timeout):
    name, site = inputs.get("name") or "github-pages", inputs.get("path") or "_site/"
    directory = job.workspace / site
    if not directory.is_dir():
        raise ActionError("path %s is not a directory of the workspace (no files were found to upload)" % site)
    tar = job.temp / "artifact.tar"
    command(job, ["tar", "--dereference", "--hard-dereference", "--directory", str(directory), "-cvf", str(tar),
                  "--exclude=.git", "--exclude=.github", "."], log, timeout)
    stored = job.run.dir / "artifacts" / name / "artifact.tar.gz"
    stored.parent.mkdir(parents=True, exist_ok=True)
    # gzip names the file inside after this one without .gz: artifact.tar
    with open(tar, "rb") as source, gzip.GzipFile(str(stored), "wb", mtime=0) as target:
        shutil.copyfileobj(source, target)
    artifact = job.run.options.standin.register_artifact(job.run.repo, name, stored.read_bytes())
    job.run.artifacts[name] = artifact
    log.write("artifact %s (id %s, %d bytes) kept in %s\n" % (name, artifact["id"], artifact["size_in_bytes"],
                                                             stored))
    return {"artifact_id": str(artifact["id"])}


def deploy_pages(job, inputs, log, timeout):
    run, standin = job.run, job.run.options.standin
    name = inputs.get("artifact_name") or "github-pages"
    artifact = run.artifacts.get(name)
    if artifact is None:
        raise ActionError("no artifact named %s in this run: upload it first (actions/upload-pages-artifact in a "
                          "job this one needs)" % name)
    status, deployment = standin.api("POST", "/repos/%s/pages/deployments" % run.repo, {
        "artifact_id": artifact["id"], "pages_build_version": run.event.sha,
        "oidc_token": "sandbox-oidc-token-for-run-%d" % run.id, "environment": job.environment or "github-pages"})
    if status != 200:
        raise ActionError("creating the Pages deployment failed: %s %s" % (status, (deployment or {}).get("message")))
    log.write("Pages deployment %s created: %s\n" % (deployment["id"], deployment["status_url"]))
    wait_for_deployment(job, deployment, log, min(timeout, float(inputs.get("timeout") or 600000) / 1000))
    return {"page_url": deployment["page_url"]}


def wait_for_deployment(job, deployment, log, timeout):
    standin, path = job.run.options.standin, "/repos/%s/pages/deployments/%s" % (job.run.repo, deployment["id"])
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        status, data = standin.api("GET", path)
        current = (data or {}).get("status") if status == 200 else "HTTP %s" % status
        if current != last:
            log.write("Current status: %s\n" % current)
            log.flush()
            last = current
        if current == "succeed":
            log.write("Reported success! %s\n" % deployment["page_url"])
            return
        if current in FAILED_DEPLOYMENT or status != 200:
            raise ActionError("the Pages deployment ended with %s" % current)
        time.sleep(POLL_SECONDS)
    raise ActionError("the Pages deployment did not finish within %.0f s (last status %s)" % (timeout, last))


# name -> (implementation, the inputs its action.yml declares)
LOCAL = {
    "actions/checkout": (checkout, ("repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict",
                                    "ssh-user", "persist-credentials", "path", "clean", "filter",
                                    "sparse-checkout", "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags",
                                    "show-progress", "lfs", "submodules", "set-safe-directory",
                                    "github-server-url")),
    "actions/setup-python": (setup_python, ("python-version", "python-version-file", "cache", "architecture",
                                            "check-latest", "token", "cache-dependency-path", "update-environment",
                                            "allow-prereleases", "freethreaded", "pip-version", "pip-install")),
    "actions/setup-node": (setup_node, ("always-auth", "node-version", "node-version-file", "architecture",
                                        "check-latest", "registry-url", "scope", "token", "cache",
                                        "package-manager-cache", "cache-dependency-path", "mirror",
                                        "mirror-token")),
    "actions/upload-pages-artifact": (upload_pages_artifact, ("name", "path", "retention-days")),
    "actions/deploy-pages": (deploy_pages, ("token", "timeout", "error_count", "reporting_interval",
                                            "artifact_name", "preview")),
}
