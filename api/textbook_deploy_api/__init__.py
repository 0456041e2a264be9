"""Python API of the textbook.deploy collection.

    from textbook_deploy_api import deploy_frontend, deploy_backend, setup_ci_cd, last_result

    ok = deploy_frontend("examples/textbook", {"environment": "staging", "vault_password_file": "~/.vault-pass"})
    if not ok:
        print(last_result().message)     # failed; the previous site is live (rolled back or never replaced)

Each function runs one of the collection's playbooks through ansible-runner and returns True when it succeeded.
Errors: ConfigurationError (bad config, nothing ran or nothing changed), AuthenticationError (GitHub refused or
lacks the token; the message says how to set one up), ProvisioningError (hosts unreachable, data services or APIs
failing). The config keys are documented in textbook_deploy_api.config; api/README.md has the whole picture.
"""
from .api import deploy_backend, deploy_frontend, last_result, setup_ci_cd
from .errors import AuthenticationError, ConfigurationError, DeployError, ProvisioningError
from .result import Failure, RunResult

__all__ = ["deploy_frontend", "deploy_backend", "setup_ci_cd", "last_result", "DeployError", "ConfigurationError",
           "AuthenticationError", "ProvisioningError", "RunResult", "Failure"]
__version__ = "1.0.0"
