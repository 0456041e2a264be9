"""What a run left behind: its status, its outcome, and each failed task."""
from dataclasses import dataclass, field
from typing import Optional

SUCCEEDED, ROLLED_BACK, FAILED = "succeeded", "rolled_back", "failed"


@dataclass(frozen=True)
class Failure:
    """One failed (or unreachable) task on one host, from ansible-runner's runner_on_failed/runner_on_unreachable
    event. ``msg`` is the module's message with the run's secrets masked ("(hidden: no_log)" for a censored
    result); ``status`` the HTTP status a REST module reported, when it did."""

    task: str
    host: str
    action: str = ""
    msg: str = ""
    status: Optional[int] = None
    unreachable: bool = False
    role: str = ""
    task_path: str = ""
    play: str = ""

    def describe(self):
        where = "task '%s' on %s" % (self.task, self.host)
        if self.unreachable:
            return "%s: host unreachable: %s" % (where, self.msg)
        status = " (HTTP %s)" % self.status if self.status else ""
        return "%s%s: %s" % (where, status, self.msg)


@dataclass
class RunResult:
    """One playbook run through ansible-runner.

    ``ok``: the run succeeded (what the API functions return). ``outcome``: ``succeeded``, ``rolled_back`` (the
    deploy failed and the role put the previous release or site back) or ``failed``. ``status``/``rc``: ansible-
    runner's (``successful``, ``failed``, ``timeout``, ``canceled``). ``failures``: every failed task, in order
    (tasks a role rescued included: they say why it rolled back). ``stats``: the PLAY RECAP as ansible-runner
    reports it (``ok``, ``changed``, ``failures``, ``dark``, ``rescued``, ... each ``{host: count}``).
    ``artifact_dir``: ansible-runner's artifacts of this run when a ``private_data_dir`` was given (secrets
    masked), else None (the run's scratch directory is gone). ``error``: the exception the API raised, if any.
    """

    playbook: str
    status: str
    rc: Optional[int]
    outcome: str
    failures: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    artifact_dir: Optional[str] = None
    duration: float = 0.0
    message: str = ""
    error: Optional[BaseException] = None

    @property
    def ok(self):
        return self.outcome == SUCCEEDED

    @property
    def rolled_back(self):
        return self.outcome == ROLLED_BACK

    @property
    def changed(self):
        """How many tasks changed something, over every host."""
        return sum((self.stats.get("changed") or {}).values())

    @property
    def hosts(self):
        """The hosts the run processed."""
        return sorted(self.stats.get("processed") or {})
