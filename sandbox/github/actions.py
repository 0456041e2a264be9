"""GitHub Actions settings of a repository: secrets, variables, environments and deployment branch policies.

This module holds the state and GitHub's rules; actions_api.py serves them over REST. Where a rule comes from
(docs.github.com unless said otherwise; the github/docs repository holds the same text):
- Secret and variable names: alphanumeric or `_`, no leading digit, no `GITHUB_` prefix, not case-sensitive,
  stored upper-case, unique per level. /actions/reference/security/secrets#naming-your-secrets and
  /actions/reference/workflows-and-actions/variables#naming-conventions-for-configuration-variables (both use
  data/reusables/actions/actions-secrets-and-variables-naming.md). GitHub answers a bad name with 422 and
  "Secret names must not start with GITHUB_." (reported from the REST API) or the web UI's "Secret names can
  only contain alphanumeric characters ... Must start with a letter ([a-z], [A-Z]) or underscores (_)."
  (community discussion #113375); the variable messages say "Variable" instead (our wording).
- Limits: a secret is at most 48 KB; 100 repository and 100 environment secrets
  (/actions/reference/security/secrets#limits-for-secrets); a variable is at most 48 KB; 500 repository and 100
  environment variables (/actions/reference/workflows-and-actions/variables#limits-for-configuration-variables).
  The stand-in words the 422 messages for going over them itself.
- Secret values arrive as a libsodium sealed box for the level's Curve25519 public key
  (/rest/guides/encrypting-secrets-for-the-rest-api); GitHub rejects a value it cannot open with 422
  "Bad request - validation failed due to an improperly encrypted secret" (integrations/terraform-provider-github
  issue #2315, rollthecloudinc/hedge issue #256). A key_id other than the current one gets the same answer here.
- Environments: names are not case-sensitive, at most 255 characters, unique in the repository
  (/actions/how-tos/deploy/configure-and-manage-deployments/manage-environments#creating-an-environment);
  deleting one deletes its secrets (same page, "Deleting an environment") and here also its variables and
  branch policies. Up to six reviewers (/actions/reference/workflows-and-actions/deployments-and-environments
  #required-reviewers); wait_timer 0..43200 minutes (the description's `wait-timer` schema; the docs page says
  1..43,200 for the UI, where 0 means no timer).
"""
import base64
import itertools
import re
import secrets as random
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_PREFIX = "GITHUB_"
VALUE_LIMIT = 48 * 1024  # bytes, for a secret (decrypted) and a variable alike
SECRET_LIMITS = {"repository": 100, "environment": 100}
VARIABLE_LIMITS = {"repository": 500, "environment": 100}
ENVIRONMENT_NAME_LIMIT = 255
WAIT_TIMER_MAX = 43200
MAX_REVIEWERS = 6
BAD_ENCRYPTION = "Bad request - validation failed due to an improperly encrypted secret"

_ids = itertools.count(4000)  # environments, protection rules and branch policies share one id space here


def next_id():
    return next(_ids)


def name_problem(kind, name):
    """GitHub's complaint about a secret or variable name (kind "Secret" or "Variable"), or None."""
    if not NAME_RE.match(name):
        return ("%s names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). "
                "Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_)." % kind)
    if name.upper().startswith(RESERVED_PREFIX):
        return "%s names must not start with %s." % (kind, RESERVED_PREFIX)
    return None


class KeyPair:
    """The Curve25519 key pair of one level (a repository or an environment); key_id is a decimal string as
    GitHub's are (e.g. "568250167242549743")."""

    def __init__(self):
        self.private = PrivateKey.generate()
        self.key_id = str(random.randbelow(9 * 10 ** 17) + 10 ** 17)
        self.created = time.time()

    @property
    def public_key(self):
        return base64.b64encode(bytes(self.private.public_key)).decode()

    def open(self, key_id, encrypted_value):
        """The plaintext bytes of a sealed box sent for this key, or None (wrong key id, not a sealed box)."""
        if key_id != self.key_id:
            return None
        try:
            return SealedBox(self.private).decrypt(base64.b64decode(encrypted_value, validate=True))
        except (CryptoError, ValueError, TypeError):
            return None


@dataclass
class Secret:
    name: str
    value: bytes  # decrypted: only the admin API shows it
    created: float
    updated: float


@dataclass
class Variable:
    name: str
    value: str
    created: float
    updated: float


@dataclass
class BranchPolicy:
    id: int
    name: str
    type: str  # "branch" or "tag"


@dataclass
class Level:
    """What a repository and an environment both have: a key pair, secrets and variables (keyed upper-case)."""
    kind: str  # "repository" or "environment"
    keys: KeyPair = field(default_factory=KeyPair)
    secrets: Dict[str, Secret] = field(default_factory=dict)
    variables: Dict[str, Variable] = field(default_factory=dict)

    def rotate_key(self):
        self.keys = KeyPair()
        return self.keys


@dataclass
class Environment(Level):
    kind: str = "environment"
    id: int = field(default_factory=next_id)
    name: str = ""
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    wait_timer: int = 0
    prevent_self_review: bool = False
    reviewers: List[tuple] = field(default_factory=list)  # ("User" | "Team", id)
    branch_policy: Optional[dict] = None  # {"protected_branches": bool, "custom_branch_policies": bool} or None
    policies: List[BranchPolicy] = field(default_factory=list)
    rule_ids: Dict[str, int] = field(default_factory=lambda: {
        "wait_timer": next_id(), "required_reviewers": next_id(), "branch_policy": next_id()})

    def __post_init__(self):
        self.updated = self.updated or self.created

    @property
    def custom_policies(self):
        return bool(self.branch_policy and self.branch_policy.get("custom_branch_policies"))

    def policy(self, policy_id):
        found = [p for p in self.policies if p.id == policy_id]
        return found[0] if found else None


@dataclass
class RepoActions(Level):
    kind: str = "repository"
    environments: Dict[str, Environment] = field(default_factory=dict)  # keyed by lower-case name

    def environment(self, name):
        return self.environments.get(name.lower())


def environment_name_problem(name):
    if not name.strip():
        return "Name can't be blank"
    if len(name) > ENVIRONMENT_NAME_LIMIT:
        return "Name is too long (maximum is %d characters)" % ENVIRONMENT_NAME_LIMIT
    return None
