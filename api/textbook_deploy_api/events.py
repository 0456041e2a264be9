"""Reading ansible-runner's job events: what failed where, whether a role rolled back, and which error that is.

Only the events' data is read (runner_on_failed / runner_on_unreachable / runner_on_ok / playbook_on_stats: task
name, action, host, role, task path, ``res.msg``, ``res.status``), never the printed output; the one exception is a
run that failed before any task (ansible-playbook's own ERROR, e.g. a vault password that does not decrypt), whose
message can only come from its output.
"""
import re

from .errors import AuthenticationError, ConfigurationError, ProvisioningError
from .result import FAILED, ROLLED_BACK, SUCCEEDED, Failure, RunResult

GITHUB_MODULES = {"pages_publish", "github_pages", "github_secret", "github_variable", "github_environment",
                  "github_workflow"}
DATA_MODULE = re.compile(r"^(neon_|qdrant_|postgresql_)")
# the REST modules (textbook.deploy's ApiModule): their `status` is the API's answer. (health_gate's and uri's
# `status` is the probed service's, which is the deploy's verdict, not the infrastructure's.)
REST_MODULE = re.compile(r"^(github_(pages|secret|variable|environment)|neon_|qdrant_)")
PREFLIGHT_FILES = ("/tasks/preflight.yml", "/tasks/tls_check.yml", "/tasks/lookup.yml")
ROLE_VARIABLE = re.compile(r"\b((?:frontend|backend|cicd|data|deploy)_[a-z0-9_]+)")
CENSORED = "(hidden: the task has no_log)"
KEPT_EVENTS = {"runner_on_failed", "runner_on_unreachable", "runner_on_ok", "playbook_on_stats",
               "runner_item_on_failed"}

# What each API function needs from GitHub, for the instructions of an AuthenticationError.
TOKEN_SETUP = {
    "deploy_frontend": dict(
        variable="frontend_github_token",
        scopes="a classic personal access token with the scope `repo` (`public_repo` is enough for a public "
               "repository), or a fine-grained token on the repository with the permissions Contents (write) to "
               "push the Pages branch, Pages (write) and Administration (write) to configure the site"),
    "setup_ci_cd": dict(
        variable="cicd_github_token",
        scopes="a classic personal access token with the scope `repo` (plus `read:org` when a reviewer is a "
               "team), or a fine-grained token on the repository with the permissions Administration (write) and "
               "Environments (write), Secrets (write), Variables (write), Pages (write) when "
               "cicd_pages_from_workflow is on, and the organization permission Members (read) for team "
               "reviewers; pushing the generated workflows afterwards also needs `workflow` (classic) or "
               "Workflows (write)"),
}


def short_action(action):
    return (action or "").rsplit(".", 1)[-1]


def short_role(role):
    return (role or "").rsplit(".", 1)[-1]


class EventLog:
    """An ansible-runner ``event_handler``: keeps the events the classification needs (and lets every event be
    written to the artifacts as usual)."""

    def __init__(self):
        self.events = []
        self.stats = {}
        self.errors = []  # ansible-playbook's own ERROR lines (only read when no task failed)

    def __call__(self, event):
        kind = event.get("event")
        if kind in KEPT_EVENTS:
            if kind == "playbook_on_stats":
                data = event.get("event_data") or {}
                self.stats = {key: data.get(key) or {} for key in (
                    "ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")}
            else:
                self.events.append(event)
        elif kind in ("verbose", "error") and "ERROR!" in (event.get("stdout") or ""):
            self.errors.append(event.get("stdout"))
        return True  # keep writing the event to the artifacts


def failure_of(event, scrubber):
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    msg, status = _message_and_status(res)
    return Failure(
        task=data.get("task") or "", host=data.get("host") or "", action=data.get("resolved_action")
        or data.get("task_action") or "", msg=scrubber.scrub(msg), status=status,
        unreachable=event.get("event") == "runner_on_unreachable", role=data.get("role") or "",
        task_path=data.get("task_path") or "", play=data.get("play") or "")


def _message_and_status(res):
    if "censored" in res:
        return CENSORED, None
    items = [item for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    if items:
        msgs = []
        for item in items:
            text = CENSORED if "censored" in item else str(item.get("msg") or item.get("stderr") or "")
            label = item.get("item")
            msgs.append("%s: %s" % (label, text) if isinstance(label, (str, int)) else text)
        status = next((item.get("status") for item in items if isinstance(item.get("status"), int)), None)
        return "; ".join(msgs), status
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if isinstance(msg, (list, dict)):
        msg = str(msg)
    status = res.get("status") if isinstance(res.get("status"), int) else None
    return str(msg), status


def _is_rollback(event):
    """A role put the previous state back: the frontend republished the previous commit, or the backend switched
    every host back to its previous color."""
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    if short_action(data.get("resolved_action") or data.get("task_action")) == "pages_publish":
        args = (res.get("invocation") or {}).get("module_args") or {}
        return bool(res.get("changed") and args.get("rollback_to"))
    return (res.get("ansible_facts") or {}).get("_backend_result") == "rolled_back"


def _github_auth(failure):
    """'missing' | 'refused' | 'forbidden' when the failure is GitHub refusing (or lacking) the token, else None."""
    action = short_action(failure.action)
    msg = failure.msg.lower()
    if action in GITHUB_MODULES:
        if failure.status == 401:
            return "refused"
        if failure.status == 403 and "rate limit" not in msg:
            return "forbidden"
        if msg.startswith("no github token given"):
            return "missing"
        if "authentication was refused" in msg:
            return "refused"
        if "token is not allowed" in msg:
            return "forbidden"
    if short_action(failure.action) == "assert" and _is_preflight(failure) and (
            "frontend_github_token" in failure.msg or "cicd_github_token" in failure.msg):
        return "missing"
    return None


def _is_preflight(failure):
    return any(name in failure.task_path for name in PREFLIGHT_FILES)


def _is_infrastructure(failure):
    action = short_action(failure.action)
    if failure.unreachable or DATA_MODULE.match(action) or short_role(failure.role) == "data":
        return True
    # an API that did not answer: 5xx or rate limits after every retry
    return bool(REST_MODULE.match(action)) and failure.status is not None and (
        failure.status >= 500 or failure.status == 429)


def auth_message(api, kind, failure, environment):
    setup = TOKEN_SETUP.get(api) or TOKEN_SETUP["deploy_frontend"]
    if kind == "missing":
        head = "No usable GitHub token for %s (task '%s' on %s): %s" % (api, failure.task, failure.host, failure.msg)
    elif kind == "forbidden":
        head = ("GitHub refused the token's permissions%s in task '%s' on %s: %s"
                % (" (HTTP %s)" % failure.status if failure.status else "", failure.task, failure.host, failure.msg))
    else:
        head = ("GitHub refused the token%s in task '%s' on %s: %s"
                % (" (HTTP %s)" % failure.status if failure.status else "", failure.task, failure.host, failure.msg))
    vault = "inventories/%s/group_vars/all/vault.yml" % environment if environment else "the inventory's vault.yml"
    return ("%s\nTo set up GitHub authentication: create %s; then give it to %s as config['github_token'] (passed "
            "as %s, never logged), or export GITHUB_TOKEN, or store it as vault_github_token in %s (ansible-vault "
            "edit) and pass the vault password as config['vault_password_file']. A token that worked before may "
            "have expired or been revoked."
            % (head.rstrip(), setup["scopes"], api, setup["variable"], vault))


def classify(api, runner_status, rc, log, scrubber, playbook, environment=None, token_given=False,
             artifact_dir=None, duration=0.0):
    """The RunResult of a finished run, with ``error`` set to the exception the API raises (or None)."""
    failures = []
    rolled_back = False
    for event in log.events:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "runner_on_ok":
            rolled_back = rolled_back or _is_rollback(event)
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failures.append(failure_of(event, scrubber))
    result = RunResult(playbook=playbook, status=runner_status, rc=rc, outcome=SUCCEEDED, failures=failures,
                       stats=log.stats, artifact_dir=artifact_dir, duration=duration)
    if runner_status == "successful" and rc == 0:
        if not result.hosts:
            result.outcome = FAILED
            result.message = "%s matched no host of the inventory: nothing was deployed" % playbook
            result.error = ConfigurationError(result.message + ": check config['inventory'] (and the services).",
                                              key="inventory", stage="ansible", result=result)
        return result

    result.outcome = ROLLED_BACK if rolled_back else FAILED
    last = failures[-1].describe() if failures else ""
    if runner_status in ("timeout", "canceled"):
        result.message = "%s %s after %.0f s%s" % (playbook, "timed out" if runner_status == "timeout"
                                                   else "was canceled", duration, (": last failure: " + last)
                                                   if last else "")
        result.error = ProvisioningError(result.message, failures, result)
        return result

    unreachable = [f for f in failures if f.unreachable]
    if unreachable:
        result.message = "Hosts unreachable during %s: %s" % (playbook, "; ".join(f.describe() for f in unreachable))
        result.error = ProvisioningError(result.message + ". Check that they are up and that SSH (user, key, "
                                         "address) works from the controller.", failures, result)
        return result

    for failure in failures:
        kind = _github_auth(failure)
        if kind == "missing" and short_action(failure.action) == "assert" and token_given:
            continue  # the API was given a token; the assertion failed on something else
        if kind:
            result.message = failure.describe()
            result.error = AuthenticationError(auth_message(api, kind, failure, environment), status=failure.status,
                                               task=failure.task, host=failure.host, result=result)
            return result
    # setup_ci_cd checks its token together with its secrets, under no_log
    for failure in failures:
        if (failure.msg == CENSORED and _is_preflight(failure) and short_role(failure.role) == "cicd"
                and "token" in failure.task.lower() and not token_given):
            result.message = failure.describe()
            result.error = AuthenticationError(auth_message(api, "missing", failure, environment) + (
                " (If a token is set, check cicd_secrets instead: it must hold DEPLOY_SSH_KEY and "
                "ANSIBLE_VAULT_PASSWORD for deploy-backend.yml, not the placeholder REPLACE_ME.)"),
                task=failure.task, host=failure.host, result=result)
            return result

    preflight = [f for f in failures if _is_preflight(f)]
    if preflight:
        first = preflight[0]
        match = ROLE_VARIABLE.search(first.msg) or ROLE_VARIABLE.search(first.task)
        key = match.group(1) if match else None
        if first.msg == CENSORED and short_role(first.role) == "cicd":
            key = "cicd_secrets"
        result.message = first.describe()
        result.error = ConfigurationError(
            "%s refused its inputs before changing anything: %s\nFix %s (in config['extra_vars'] or the inventory) "
            "and run again." % (playbook, first.describe(), key or "the variable the message names"),
            key=key, stage="preflight", result=result)
        return result

    if rolled_back:
        result.message = "%s failed and was rolled back: %s" % (playbook, last)
        return result

    infrastructure = [f for f in failures if _is_infrastructure(f)]
    if infrastructure:
        result.message = "Provisioning failed during %s: %s" % (
            playbook, "; ".join(f.describe() for f in infrastructure[:5]))
        result.error = ProvisioningError(result.message, failures, result)
        return result

    if not failures:
        # ansible-playbook stopped before any task: a playbook, inventory or vault error (its ERROR text)
        text = scrubber.scrub(" ".join(" ".join(line.split()) for line in log.errors)) or "rc=%s" % rc
        key = "vault_password" if "vault" in text.lower() else None
        result.message = "%s did not start: %s" % (playbook, text)
        result.error = ConfigurationError(result.message, key=key, stage="ansible", result=result)
        return result

    result.message = "%s failed: %s" % (playbook, last)
    return result
