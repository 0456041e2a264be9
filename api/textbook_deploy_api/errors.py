"""The API's errors. Every message is scrubbed of the run's secrets before it is built into an exception.

    DeployError                  base class: anything the API raises on purpose
    ├── ConfigurationError       the inputs are wrong; nothing was changed (also a ValueError)
    ├── AuthenticationError      GitHub refused the token, or there is none; says how to set one up
    └── ProvisioningError        the infrastructure failed: hosts unreachable, data services, API outages

A deploy that ran, failed and left (or put back) the previous state is not an exception: the API function returns
False and ``last_result()`` says why.
"""


class DeployError(Exception):
    """Base class. ``result`` is the run's :class:`RunResult` when the error came out of a run (else None)."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.message = message
        self.result = result


class ConfigurationError(DeployError, ValueError):
    """The configuration is wrong. ``key`` names the config key (or role variable) to fix.

    ``stage`` is ``"api"`` when the API refused the config before anything ran, ``"preflight"`` when a role's
    preflight checks refused it (they run before any change, so nothing was changed either way).
    """

    def __init__(self, message, key=None, stage="api", result=None):
        super().__init__(message, result)
        self.key = key
        self.stage = stage


class AuthenticationError(DeployError):
    """GitHub refused the token (HTTP 401/403) or no token was given. The message carries the setup instructions.

    ``status`` is the HTTP status when GitHub answered (None for a missing token or a git-level refusal),
    ``task``/``host`` where it happened.
    """

    def __init__(self, message, status=None, task=None, host=None, result=None):
        super().__init__(message, result)
        self.status = status
        self.task = task
        self.host = host


class ProvisioningError(DeployError):
    """The infrastructure failed: unreachable hosts, Neon/Qdrant/PostgreSQL errors, an API that did not answer
    (5xx after retries, connection errors), or a run that timed out. ``failures`` lists each failed task
    (:class:`Failure`: task, host, action, msg, status)."""

    def __init__(self, message, failures=(), result=None):
        super().__init__(message, result)
        self.failures = list(failures)
