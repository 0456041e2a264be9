"""One run of a workflow: the event, the jobs in `needs:` order, their steps, and the conclusion.

Everything of a run lives in its own directory (printed at the start): event.json, one directory per job with
its workspace, temp, home and tools, a log per step under logs/, the artifacts, the step summaries (summary.md)
and result.json. See sandbox/workflows/__init__.py for what is and is not modelled.
"""
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import actions, events, steps
from .expressions import ExpressionError, MissingValue, Scope, Strict, lookup, split_template, to_string, truthy
from .github import Mirror
from .workflow import BadInput, check_event, dispatch_inputs, load, matches, mismatch

SUCCESS, FAILURE, SKIPPED, CANCELLED = "success", "failure", "skipped", "cancelled"
DEFAULT_TIMEOUT_MINUTES = 360  # GitHub's, for a job and for a step
NOT_MODELLED_JOB_KEYS = ("strategy", "services", "container", "uses")
REFERENCE = re.compile(r"\b(secrets|vars)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']+)'\s*\])", re.IGNORECASE)


@dataclass
class Options:
    workflow: Path
    event: str
    repo: Optional[str]
    standin: object  # github.StandIn
    runs_dir: Path
    ref: Optional[str] = None
    base: Optional[str] = None
    action: str = "opened"
    number: int = 1
    inputs: Dict[str, str] = field(default_factory=dict)
    out: object = sys.stdout
    # the running sandbox's directory, handed to jobs as TEXTBOOK_SANDBOX_DIR: inventories/local in a job's own
    # checkout finds the sandbox's state, SSH key and CA there (None: a stand-in given by URL, no sandbox)
    sandbox_dir: Optional[Path] = None


@dataclass
class StepResult:
    name: str
    outcome: str
    conclusion: str
    seconds: float = 0.0
    log: Optional[Path] = None


@dataclass
class JobResult:
    id: str
    name: str
    result: str
    outputs: Dict[str, str] = field(default_factory=dict)
    steps: List[StepResult] = field(default_factory=list)
    seconds: float = 0.0


class Levels:
    """Secrets and variables as a job sees them: its environment's over the repository's (GitHub's precedence),
    fetched from the stand-in once per level."""

    def __init__(self, standin, repo):
        self.standin, self.repo = standin, repo
        self.repository = (standin.secrets(repo), standin.variables(repo))
        self.environments = {}

    def of(self, environment):
        if environment and environment not in self.environments:
            found = (self.standin.secrets(self.repo, environment), self.standin.variables(self.repo, environment))
            self.environments[environment] = found
        return self.environments.get(environment) if environment else (None, None)

    def contexts(self, environment=None):
        """(secrets, vars) contexts; a name set at no level is an error that says where it was looked for."""
        env_secrets, env_vars = self.of(environment)
        secrets = {**self.repository[0], **(env_secrets or {}), "GITHUB_TOKEN": self.standin.token}
        variables = {**self.repository[1], **(env_vars or {})}
        return (Strict(secrets, lambda name: self.missing("secret", name, environment, env_secrets)),
                Strict(variables, lambda name: self.missing("variable", name, environment, env_vars)))

    def missing(self, kind, name, environment, env_level):
        where = "repository %s" % self.repo
        if environment:
            where = "environment %r%s and %s" % (environment, "" if env_level is not None else
                                                 " (which does not exist on the stand-in)", where)
        return ("%s %s is referenced but not set: searched %s (GitHub would substitute an empty string; the "
                "runner stops instead)" % (kind, name, where))

    def secret_values(self):
        levels = [self.repository[0]] + [found[0] for found in self.environments.values()]
        return [value for level in levels if level for value in level.values()] + [self.standin.token]


class Run:
    def __init__(self, options):
        self.options, self.out = options, options.out
        self.workflow_file = Path(options.workflow)
        self.workflow = checked(self.workflow_file)
        self.settings = check_event(self.workflow, options.event, self.workflow_file.name)
        self.name = self.workflow.get("name") or self.workflow_file.name
        self.workflow_path = ".github/workflows/" + self.workflow_file.name
        self.order = job_order(self.workflow["jobs"])
        self.inputs = self.checked_inputs()
        self.id = int(time.time() * 1000) % 10 ** 12
        self.dir = Path(options.runs_dir) / ("%d-%s" % (self.id, self.workflow_file.stem))
        self.event_path = self.dir / "event.json"
        self.jobs: Dict[str, JobResult] = {}
        self.artifacts: Dict[str, dict] = {}  # name -> the stand-in's description (actions.upload_pages_artifact)

    def checked_inputs(self):
        if self.options.event != "workflow_dispatch":
            if self.options.inputs:
                raise BadInput("--input goes with --event workflow_dispatch (%s has no inputs)" % self.options.event)
            return {}
        return dispatch_inputs(self.settings, self.options.inputs)

    # --- start -------------------------------------------------------------------------------------------------

    def prepare(self):
        """Fetch the repository, make the event; None when `on:` filters it out (the reason is printed)."""
        options, standin = self.options, self.options.standin
        self.repo = options.repo
        self.repository = standin.repository(self.repo)
        while self.dir.exists():  # two runs started in the same millisecond
            self.id += 1
            self.dir = Path(options.runs_dir) / ("%d-%s" % (self.id, self.workflow_file.stem))
        self.event_path = self.dir / "event.json"
        self.dir.mkdir(parents=True)
        self.mirror = Mirror(standin, self.repo, self.dir / "repository.git")
        self.event = self.make_event()
        reason = mismatch(options.event, self.settings, self.event.ref, self.event.base_ref, self.event.changed,
                          self.event.action)
        if reason:
            self.say("%s does not run for this %s: %s" % (self.workflow_file.name, options.event, reason))
            return None
        self.event_path.write_text(json.dumps(self.event.payload, indent=2))
        self.github = events.github_context(self.event, self.repository, self, standin)
        self.levels = Levels(standin, self.repo)
        self.preflight()
        return self

    def make_event(self):
        options, default = self.options, self.repository["default_branch"]
        ref, sha = self.mirror.resolve(options.ref or default)
        if options.event == "push":
            return events.push_event(self.mirror, self.repository, ref, sha)
        if options.event == "pull_request":
            base = self.mirror.resolve(options.base or default)
            return events.pull_request_event(self.mirror, self.repository, options.action, options.number,
                                             (ref, sha), base)
        return events.dispatch_event(self.repository, ref, sha, self.inputs, self.workflow_path)

    def preflight(self):
        """Every secret and variable a job that will run refers to by name must exist, before any step runs."""
        problems = []
        for job_id in self.order:
            job = self.workflow["jobs"][job_id]
            scope = self.scope(job_id, status=lambda name: name not in ("failure", "cancelled"))  # all went well
            try:
                if not scope.condition(job.get("if")):
                    continue
                environment = self.environment_name(job, scope)
                secrets, variables = self.levels.contexts(environment)
            except ExpressionError:
                continue  # decided by what earlier jobs give: checked when the job runs
            for kind, name in references(self.workflow.get("env"), job):
                try:
                    lookup(secrets if kind == "secrets" else variables, name)
                except MissingValue as err:
                    problems.append("job %s: %s" % (job_id, err))
        if problems:
            raise BadInput("\n".join(sorted(set(problems))))

    # --- contexts ----------------------------------------------------------------------------------------------

    def scope(self, job_id, status, extra=None, environment=None):
        """The contexts a job's expressions see (steps add theirs through `extra`)."""
        secrets, variables = self.levels.contexts(environment)
        needs = {need: {"result": self.jobs[need].result if need in self.jobs else SKIPPED,
                        "outputs": self.jobs[need].outputs if need in self.jobs else {}}
                 for need in as_list(self.workflow["jobs"][job_id].get("needs"))}
        contexts = {"github": dict(self.github, job=job_id), "inputs": self.inputs, "vars": variables,
                    "secrets": secrets, "needs": needs, "env": {}, "strategy": {}, "matrix": {},
                    "job": {"status": SUCCESS}, "runner": {}, "steps": {}}
        contexts.update(extra or {})
        return Scope(contexts, status=status)

    def environment_name(self, job, scope):
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        return to_string(scope.render(environment)) if environment else None

    # --- jobs --------------------------------------------------------------------------------------------------

    def execute(self):
        started = time.monotonic()
        event = self.event
        self.say("%s (%s) on %s: %s at %s in %s\nrun directory: %s" % (
            self.name, self.workflow_file.name, event.name, event.ref, event.sha[:12], self.repo, self.dir))
        workflow_env = None
        for job_id in self.order:
            if workflow_env is None:
                workflow_env = self.render_env(self.workflow.get("env"), self.scope(job_id, status=None))
            self.jobs[job_id] = JobRun(self, job_id, workflow_env).execute()
        conclusion = FAILURE if any(job.result in (FAILURE, CANCELLED) for job in self.jobs.values()) else SUCCESS
        self.report(conclusion, time.monotonic() - started)
        return 0 if conclusion == SUCCESS else 1

    def render_env(self, env, scope):
        return {str(name): to_string(scope.render(value)) for name, value in (env or {}).items()}

    def ancestors(self, job_id):
        found, todo = [], list(as_list(self.workflow["jobs"][job_id].get("needs")))
        while todo:
            need = todo.pop()
            if need not in found:
                found.append(need)
                todo.extend(as_list(self.workflow["jobs"][need].get("needs")))
        return found

    def job_status(self, job_id):
        """success()/failure()/always()/cancelled() of a job's `if:`: over every job it needs, directly or not."""
        results = [self.jobs[need].result if need in self.jobs else SKIPPED for need in self.ancestors(job_id)]
        return lambda name: {"always": True, "cancelled": False, "failure": FAILURE in results,
                             "success": all(result == SUCCESS for result in results)}[name]

    # --- output ------------------------------------------------------------------------------------------------

    def say(self, text):
        print(text, file=self.out, flush=True)

    def report(self, conclusion, seconds):
        self.say("\nSummary of %s:" % self.name)
        for job in self.jobs.values():
            self.say("  %-10s %-28s %7.1f s" % (job.result, job.id, job.seconds))
        self.say("%s: %s in %.1f s (logs, artifacts and summary.md in %s)" % (self.name, conclusion, seconds,
                                                                            self.dir))
        result = {"workflow": self.workflow_path, "event": self.event.name, "ref": self.event.ref,
                  "sha": self.event.sha, "conclusion": conclusion, "seconds": round(seconds, 1),
                  "jobs": {job.id: {"result": job.result, "outputs": job.outputs, "seconds": round(job.seconds, 1),
                                    "steps": [{"name": s.name, "outcome": s.outcome, "conclusion": s.conclusion,
                                               "log": str(s.log) if s.log else None} for s in job.steps]}
                           for job in self.jobs.values()}}
        (self.dir / "result.json").write_text(json.dumps(result, indent=2))


class JobRun:
    """One job on a fresh "runner": its own workspace, temp, home and tools under the run's directory."""

    def __init__(self, run, job_id, workflow_env):
        self.run, self.id, self.workflow_env = run, job_id, workflow_env
        self.job = run.workflow["jobs"][job_id]
        self.root = run.dir / "jobs" / job_id
        self.workspace, self.temp, self.tools = (self.root / name for name in ("workspace", "temp", "tools"))
        # HOME is short, as a runner's /home/runner is: OpenSSH's control sockets (Ansible's ~/.ansible/cp) must fit
        # in a Unix socket path (108 bytes); the run's directory keeps a link to it. Removed when the job ends,
        # with whatever the workflow wrote there (an SSH key, say).
        self.home = None
        self.logs = run.dir / "logs" / job_id
        self.env: Dict[str, str] = {}  # what steps wrote to $GITHUB_ENV
        self.path: List[str] = []  # what steps wrote to $GITHUB_PATH, newest first
        self.steps: Dict[str, dict] = {}  # the `steps` context
        self.failed = self.cancelled = False
        self.groups: List[int] = []  # process groups started by its steps
        self.environment = None
        self.job_env: Dict[str, str] = {}  # the job's env:, rendered once its environment is known

    # --- the job -----------------------------------------------------------------------------------------------

    def execute(self):
        started = time.monotonic()
        run = self.run
        scope = run.scope(self.id, run.job_status(self.id))
        name = to_string(scope.render(self.job.get("name") or self.id))
        result = JobResult(self.id, name, SKIPPED)
        try:
            if not scope.condition(self.job.get("if")):
                run.say("\njob %s (%s): skipped (its if: is false, or a job it needs did not succeed)"
                        % (self.id, name))
                return result
            self.environment = run.environment_name(self.job, scope)
            run.say("\njob %s (%s)%s" % (self.id, name, " in environment %s" % self.environment
                                         if self.environment else ""))
            self.job_env = run.render_env(self.job.get("env"), run.scope(
                self.id, self.status, {"env": dict(self.workflow_env)}, self.environment))
            self.prepare_dirs()
            result.steps = self.run_steps()
            result.outputs = self.outputs()
            result.result = CANCELLED if self.cancelled else FAILURE if self.failed else SUCCESS
            self.show_environment_url()
        except MissingValue as err:
            raise BadInput("job %s: %s" % (self.id, err))
        except ExpressionError as err:
            run.say("  error: %s" % err)
            result.result = FAILURE
        finally:
            for group in self.groups:
                steps.kill_group(group, grace=1)
            if self.home:
                shutil.rmtree(self.home, ignore_errors=True)
            result.seconds = time.monotonic() - started
        run.say("  => %s (%.1f s)" % (result.result, result.seconds))
        return result

    def prepare_dirs(self):
        for directory in (self.workspace, self.temp, self.tools, self.logs):
            directory.mkdir(parents=True, exist_ok=True)
        self.home = Path(tempfile.mkdtemp(prefix="runner-home-"))
        (self.root / "home").symlink_to(self.home)

    def outputs(self):
        scope = self.scope()
        return {name: to_string(scope.render(value)) for name, value in (self.job.get("outputs") or {}).items()}

    def show_environment_url(self):
        environment = self.job.get("environment")
        if isinstance(environment, dict) and environment.get("url"):
            self.run.say("  environment %s: %s" % (self.environment, to_string(self.scope().render(
                environment["url"]))))

    # --- contexts ----------------------------------------------------------------------------------------------

    def status(self, name):
        return {"always": True, "cancelled": self.cancelled, "failure": self.failed,
                "success": not self.failed and not self.cancelled}[name]

    def scope(self, step_env=None):
        run = self.run
        env = {**self.workflow_env, **self.job_env, **self.env, **(step_env or {})}
        extra = {"steps": self.steps, "env": env, "runner": self.runner_context(),
                 "job": {"status": FAILURE if self.failed else CANCELLED if self.cancelled else SUCCESS}}
        extra["github"] = dict(run.github, job=self.id, workspace=str(self.workspace))
        scope = run.scope(self.id, self.status, extra, self.environment)
        scope.hash_files = self.hash_files
        return scope

    def runner_context(self):
        return {"os": "Linux", "arch": "X64", "name": "sandbox-runner", "environment": "self-hosted",
                "temp": str(self.temp), "tool_cache": str(self.tools), "debug": ""}

    def hash_files(self, patterns):
        """hashFiles(): the SHA-256 of the SHA-256 digests of the files the patterns match, in path order ('' when
        none does), as the runner computes it."""
        files = sorted(str(path.relative_to(self.workspace)) for path in self.workspace.rglob("*")
                       if path.is_file() and ".git" not in path.relative_to(self.workspace).parts)
        chosen = [path for path in files if matches(patterns, path)]
        if not chosen:
            return ""
        outer = hashlib.sha256()
        for path in chosen:
            outer.update(hashlib.sha256((self.workspace / path).read_bytes()).digest())
        return outer.hexdigest()

    def base_env(self, step_id):
        """The environment every step starts from: the runner's variables, not the caller's (a test's or a
        developer's own variables do not leak into the job)."""
        run, event, github = self.run, self.run.event, self.run.github
        path = os.pathsep.join(self.path + [os.environ.get("PATH", os.defpath)])
        env = {"PATH": path, "HOME": str(self.home), "LANG": os.environ.get("LANG", "C.UTF-8"), "CI": "true",
               "USER": os.environ.get("USER", "runner"), "GITHUB_ACTIONS": "true",
               "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_EVENT_PATH": str(run.event_path),
               "GITHUB_EVENT_NAME": event.name, "GITHUB_SHA": event.sha, "GITHUB_REF": event.ref,
               "GITHUB_REF_NAME": github["ref_name"], "GITHUB_REF_TYPE": github["ref_type"],
               "GITHUB_HEAD_REF": event.head_ref, "GITHUB_BASE_REF": event.base_ref,
               "GITHUB_REPOSITORY": run.repo, "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
               "GITHUB_RUN_ID": str(run.id), "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
               "GITHUB_ACTOR": events.ACTOR, "GITHUB_TRIGGERING_ACTOR": events.ACTOR,
               "GITHUB_WORKFLOW": run.name, "GITHUB_WORKFLOW_REF": github["workflow_ref"], "GITHUB_JOB": self.id,
               "GITHUB_ACTION": step_id, "GITHUB_SERVER_URL": github["server_url"],
               "GITHUB_API_URL": github["api_url"], "GITHUB_GRAPHQL_URL": github["graphql_url"],
               "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_NAME": "sandbox-runner",
               "RUNNER_ENVIRONMENT": "self-hosted", "RUNNER_TEMP": str(self.temp),
               "RUNNER_TOOL_CACHE": str(self.tools), "RUNNER_WORKSPACE": str(self.root)}
        if run.options.sandbox_dir:
            env["TEXTBOOK_SANDBOX_DIR"] = str(run.options.sandbox_dir)
        return env

    # --- steps -------------------------------------------------------------------------------------------------

    def run_steps(self):
        timeout = minutes(self.scope().render(self.job.get("timeout-minutes", DEFAULT_TIMEOUT_MINUTES)))
        deadline = time.monotonic() + timeout * 60
        results = []
        for number, step in enumerate(self.job.get("steps") or [], 1):
            results.append(self.run_step(number, step, deadline))
        return results

    def run_step(self, number, step, deadline):
        step_id = str(step.get("id") or "__run_%d" % number)
        scope = self.scope()
        name = self.step_name(step, scope)
        if not scope.condition(step.get("if")):
            return self.record(step_id, StepResult(name, SKIPPED, SKIPPED), {})
        log_path = self.logs / ("%02d-%s.log" % (number, slug(name)))
        started = time.monotonic()
        outcome, outputs = self.attempt(step, step_id, name, log_path, deadline)
        steps.mask_file(log_path, self.run.levels.secret_values())
        conclusion = SUCCESS if outcome == FAILURE and truthy(scope.render(step.get("continue-on-error", False))) \
            else outcome
        if conclusion == FAILURE:
            self.failed = True
        return self.record(step_id, StepResult(name, outcome, conclusion, time.monotonic() - started, log_path),
                           outputs)

    def attempt(self, step, step_id, name, log_path, deadline):
        """(outcome, outputs) of a step that runs; its log says why it failed."""
        with open(log_path, "w") as log:
            try:
                step_env = self.run.render_env(step.get("env"), self.scope())
                scope = self.scope(step_env)
                remaining = deadline - time.monotonic()
                timeout = min(minutes(scope.render(step.get("timeout-minutes", DEFAULT_TIMEOUT_MINUTES))) * 60,
                              remaining)
                if "uses" in step:
                    outputs = actions.run_action(self, step, scope, step_env, log, timeout)
                    return SUCCESS, outputs
                return self.run_script(step, step_id, scope, step_env, log, timeout, remaining)
            except (steps.StepError, actions.ActionError, ExpressionError) as err:
                if isinstance(err, MissingValue):
                    raise
                log.write("\nError: %s\n" % err)
                return FAILURE, {}

    def run_script(self, step, step_id, scope, step_env, log, timeout, job_remaining):
        shell = step.get("shell") or self.default("shell")
        script = to_string(scope.render(step["run"]))
        cwd = self.working_directory(step, scope)
        files = steps.command_files(str(self.temp))
        env = {**self.base_env(step_id), **self.workflow_env, **self.job_env, **self.env, **step_env, **files}
        argv = steps.shell_argv(shell, steps.write_script(str(self.temp), shell, script))
        log.write("Run %s\n%s\nshell: %s\n\n" % (script.splitlines()[0] if script.strip() else "", script,
                                               " ".join(argv)))
        log.flush()
        status, timed_out = steps.run_process(argv, cwd, env, log, timeout, self.groups.append)
        outputs = self.collect(files)
        if timed_out:
            if timeout >= job_remaining:
                self.cancelled = True
            log.write("\nError: the %s has exceeded its timeout-minutes; its processes were killed\n"
                      % ("job" if self.cancelled else "step"))
            return FAILURE, outputs
        if status != 0:
            log.write("\nError: Process completed with exit code %d.\n" % status)
        return (SUCCESS if status == 0 else FAILURE), outputs

    def collect(self, files):
        """Apply a step's file commands: outputs returned; $GITHUB_ENV and $GITHUB_PATH kept for later steps;
        the summary appended to the run's summary.md."""
        outputs = steps.read_key_values(files["GITHUB_OUTPUT"])
        self.env.update(steps.read_key_values(files["GITHUB_ENV"]))
        added = [line.strip() for line in steps.read_text(files["GITHUB_PATH"]).splitlines() if line.strip()]
        self.path = list(reversed(added)) + self.path
        summary = steps.read_text(files["GITHUB_STEP_SUMMARY"])
        if summary:
            with open(self.run.dir / "summary.md", "a") as handle:
                handle.write(summary if summary.endswith("\n") else summary + "\n")
        return outputs

    def default(self, key):
        """defaults.run.<key>: the job's, else the workflow's."""
        for owner in (self.job, self.run.workflow):
            value = ((owner.get("defaults") or {}).get("run") or {}).get(key)
            if value is not None:
                return value
        return None

    def working_directory(self, step, scope):
        relative = step.get("working-directory") or self.default("working-directory") or "."
        directory = self.workspace / to_string(scope.render(relative))
        if not directory.is_dir():
            raise steps.StepError("working-directory %s does not exist in the workspace" % relative)
        return str(directory)

    def step_name(self, step, scope):
        if step.get("name"):
            return to_string(scope.render(step["name"]))
        if "uses" in step:
            return "Run %s" % step["uses"]
        first = next((line for line in str(step.get("run", "")).splitlines() if line.strip()), "")
        return "Run %s" % first.strip()

    def record(self, step_id, result, outputs):
        self.steps[step_id] = {"outputs": outputs, "outcome": result.outcome, "conclusion": result.conclusion}
        where = "  log: %s" % result.log if result.log else ""
        self.run.say("  %-9s %-52s %6.1f s%s" % (result.conclusion if result.outcome == result.conclusion else
                                                 "%s (continue-on-error)" % result.outcome, result.name[:52],
                                                 result.seconds, where))
        if result.outcome == FAILURE and result.log:
            for line in steps.read_text(result.log).splitlines()[-15:]:
                self.run.say("      | " + line)
        return result


# --- helpers ---------------------------------------------------------------------------------------------------

def as_list(value):
    return [value] if isinstance(value, str) else list(value or [])


def minutes(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExpressionError("timeout-minutes must be a number, not %r" % (value,))
    if number <= 0:
        raise ExpressionError("timeout-minutes must be above 0, not %r" % (value,))
    return number


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "step"


def checked(path):
    """The workflow, refused before anything runs when a job or step uses what the runner does not model."""
    workflow = load(path)
    for job_id, job in workflow["jobs"].items():
        unsupported = [key for key in NOT_MODELLED_JOB_KEYS if isinstance(job, dict) and key in job]
        if unsupported:
            raise BadInput("%s: job %s uses %s, which the runner does not model (see python -m sandbox actions "
                           "run --help)" % (path, job_id, ", ".join(unsupported)))
        for number, step in enumerate((job or {}).get("steps") or [], 1):
            if "uses" in step and actions.action_name(step["uses"]) not in actions.LOCAL:
                raise BadInput("%s: step %s of job %s uses %s, which the runner does not implement (it has %s)"
                               % (path, step.get("name") or step.get("id") or number, job_id, step["uses"],
                                  ", ".join(sorted(actions.LOCAL))))
            if "uses" not in step and "run" not in step:
                raise BadInput("%s: step %s of job %s has neither run: nor uses:" % (path, number, job_id))
    return workflow


def job_order(jobs):
    """Job ids in an order that puts every job after those it needs (file order otherwise); an unknown need or a
    cycle is BadInput."""
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            raise BadInput("job %s is not a mapping" % job_id)
        unknown = [need for need in as_list(job.get("needs")) if need not in jobs]
        if unknown:
            raise BadInput("job %s needs %s, which the workflow does not define" % (job_id, ", ".join(unknown)))
    order, placed = [], set()
    while len(order) < len(jobs):
        ready = [job_id for job_id, job in jobs.items() if job_id not in placed
                 and all(need in placed for need in as_list(job.get("needs")))]
        if not ready:
            raise BadInput("the jobs' needs: form a cycle among %s" % ", ".join(j for j in jobs if j not in placed))
        order.append(ready[0])
        placed.add(ready[0])
    return order


def references(*values):
    """(secrets|vars, NAME) for each name that expressions in these values (and `if:`s) refer to literally."""
    found = set()
    for text in expression_texts(values):
        for match in REFERENCE.finditer(text):
            found.add((match.group(1).lower(), match.group(2) or match.group(3)))
    return sorted(found)


def expression_texts(value, key=None):
    if isinstance(value, dict):
        return [text for name, item in value.items() for text in expression_texts(item, name)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in expression_texts(item)]
    if isinstance(value, str):
        if key == "if":
            return [value]
        try:
            return [source for kind, source in split_template(value) if kind == "expr"]
        except ExpressionError:
            return []
    return []
