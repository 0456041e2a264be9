"""REST endpoints for GitHub Actions settings: repository and environment secrets and variables, environments and
their deployment branch policies, and the user/team look-ups that environment reviewers need.

The state and the rules (with their sources) are in actions.py; RestApi (rest.py) authenticates, checks the
contract and dispatches here. Handlers return (status, data, headers). Behaviour and where it comes from:
- Secrets: PUT answers 201 on create and 204 on update, GET never shows a value, unknown names are 404
  (the description's responses for actions/create-or-update-repo-secret and its siblings).
- Variables: POST answers 201, or 409 "Already exists - Variable already exists" when the name is taken (as
  GitHub's API answers, quoted in nexthink-oss/terraform-provider-github issue #12); PATCH answers 204 and may
  rename (its body's `name`).
- Environments: PUT creates or updates (200) and changes only the fields it is given: an omitted field keeps
  its value, an explicit null / 0 / false / [] clears it (alchemy-run/alchemy PR #1373 relies on this).
  422 when protected_branches equals custom_branch_policies (the description's 422 for this operation), and
  "Failed to create or update the environment protection rule. Required reviewers must have at least one
  reviewer to set prevent_self_review." (github-community-projects/safe-settings issue #628).
- Deployment branch policies: only while the environment has custom_branch_policies; otherwise 404 (the
  description's 404 for POST, and for GET as reported in safe-settings issue #746 and terraform-provider-github
  PR #1820). POST answers 200, or 303 to the existing policy for a name and type already there (description).
  Turning custom_branch_policies off drops the environment's policies (our assumption).
"""
import time

from sandbox.common.routes import Route

from . import actions, objects
from .actions import BAD_ENCRYPTION, BranchPolicy, Environment, Secret, Variable
from .errors import DOCS, error, not_found

SECRETS_DOCS = DOCS + "/actions/secrets"
VARIABLES_DOCS = DOCS + "/actions/variables"
ENVIRONMENTS_DOCS = DOCS + "/deployments/environments"
POLICIES_DOCS = DOCS + "/deployments/branch-policies"
REPO = "/repos/{owner}/{repo}"
ENV = REPO + "/environments/{environment_name}"
SELF_REVIEW = ("Failed to create or update the environment protection rule. Required reviewers must have at "
               "least one reviewer to set prevent_self_review.")


def level_routes(prefix):
    """Secrets and variables of one level: the repository (prefix .../actions) or an environment."""
    return [
        Route("GET", prefix + "/secrets", "list_secrets"),
        Route("GET", prefix + "/secrets/public-key", "get_public_key"),
        Route("GET", prefix + "/secrets/{secret_name}", "get_secret"),
        Route("PUT", prefix + "/secrets/{secret_name}", "put_secret"),
        Route("DELETE", prefix + "/secrets/{secret_name}", "delete_secret"),
        Route("GET", prefix + "/variables", "list_variables"),
        Route("POST", prefix + "/variables", "create_variable"),
        Route("GET", prefix + "/variables/{name}", "get_variable"),
        Route("PATCH", prefix + "/variables/{name}", "update_variable"),
        Route("DELETE", prefix + "/variables/{name}", "delete_variable"),
    ]


POLICIES = ENV + "/deployment-branch-policies"
ROUTES = level_routes(REPO + "/actions") + [
    Route("GET", REPO + "/environments", "list_environments"),
    Route("GET", ENV, "get_environment"),
    Route("PUT", ENV, "put_environment"),
    Route("DELETE", ENV, "delete_environment"),
    Route("GET", POLICIES, "list_branch_policies"),
    Route("POST", POLICIES, "create_branch_policy"),
    Route("GET", POLICIES + "/{branch_policy_id}", "get_branch_policy"),
    Route("PUT", POLICIES + "/{branch_policy_id}", "update_branch_policy"),
    Route("DELETE", POLICIES + "/{branch_policy_id}", "delete_branch_policy"),
] + level_routes(ENV) + [
    Route("GET", "/users/{username}", "get_user"),
    Route("GET", "/orgs/{org}/teams/{team_slug}", "get_team"),
]
# Operations that need a classic token's `repo` scope (fragments of their path templates)
NEEDS_REPO_SCOPE = ("/actions/", "/environments")


def paginate(url, items, query, default, maximum):
    """(the page of items, headers with GitHub's Link) for per_page/page."""
    per_page = max(1, min(int(query.get("per_page", default)), maximum))
    page = max(int(query.get("page", 1)), 1)
    last = max(1, -(-len(items) // per_page))
    links = []
    if page < last:
        links += ['<%s?per_page=%d&page=%d>; rel="next"' % (url, per_page, page + 1),
                  '<%s?per_page=%d&page=%d>; rel="last"' % (url, per_page, last)]
    if page > 1:
        links += ['<%s?per_page=%d&page=%d>; rel="prev"' % (url, per_page, min(page - 1, last)),
                  '<%s?per_page=%d&page=1>; rel="first"' % (url, per_page)]
    return items[(page - 1) * per_page:page * per_page], ([("Link", ", ".join(links))] if links else [])


class ActionsApi:
    def __init__(self, app):
        self.app = app

    def _url(self, path):
        return self.app.api_url + path

    @staticmethod
    def _level(repo, params):
        """The repository's settings, or those of the environment in the path (None if there is none)."""
        name = params.get("environment_name")
        return repo.actions if name is None else repo.actions.environment(name)

    # --- secrets -------------------------------------------------------------------------------------------

    def list_secrets(self, repo, params, query, path, **_):
        level = self._level(repo, params)
        if level is None:
            return not_found(SECRETS_DOCS)
        secrets = [level.secrets[name] for name in sorted(level.secrets)]
        shown, headers = paginate(self._url(path), secrets, query, 30, 100)
        return 200, {"total_count": len(secrets), "secrets": [objects.secret_json(s) for s in shown]}, headers

    def get_public_key(self, repo, params, **_):
        level = self._level(repo, params)
        if level is None:
            return not_found(SECRETS_DOCS)
        return 200, objects.public_key_json(level.keys), []

    def get_secret(self, repo, params, **_):
        level = self._level(repo, params)
        secret = level.secrets.get(params["secret_name"].upper()) if level else None
        return (200, objects.secret_json(secret), []) if secret else not_found(SECRETS_DOCS)

    def put_secret(self, repo, params, data, **_):
        level = self._level(repo, params)
        if level is None:
            return not_found(SECRETS_DOCS)
        name = params["secret_name"]
        problem = actions.name_problem("Secret", name)
        if problem:
            return error(422, problem, SECRETS_DOCS)
        value = level.keys.open(data["key_id"], data["encrypted_value"])
        if value is None:
            return error(422, BAD_ENCRYPTION, SECRETS_DOCS)
        if len(value) > actions.VALUE_LIMIT:
            return error(422, "Secret value is too large: secrets are limited to 48 KB.", SECRETS_DOCS)
        key, now = name.upper(), time.time()
        existing = level.secrets.get(key)
        if existing:
            existing.value, existing.updated = value, now
            return 204, None, []
        if len(level.secrets) >= actions.SECRET_LIMITS[level.kind]:
            return error(422, "You can store up to %d %s secrets." % (actions.SECRET_LIMITS[level.kind], level.kind),
                         SECRETS_DOCS)
        level.secrets[key] = Secret(key, value, now, now)
        return 201, {}, []

    def delete_secret(self, repo, params, **_):
        level = self._level(repo, params)
        if level is None or level.secrets.pop(params["secret_name"].upper(), None) is None:
            return not_found(SECRETS_DOCS)
        return 204, None, []

    # --- variables -----------------------------------------------------------------------------------------

    def list_variables(self, repo, params, query, path, **_):
        level = self._level(repo, params)
        if level is None:
            return not_found(VARIABLES_DOCS)
        variables = [level.variables[name] for name in sorted(level.variables)]
        shown, headers = paginate(self._url(path), variables, query, 10, 30)
        return 200, {"total_count": len(variables), "variables": [objects.variable_json(v) for v in shown]}, headers

    def get_variable(self, repo, params, **_):
        level = self._level(repo, params)
        variable = level.variables.get(params["name"].upper()) if level else None
        return (200, objects.variable_json(variable), []) if variable else not_found(VARIABLES_DOCS)

    @staticmethod
    def _variable_problem(name=None, value=None):
        """An error response for a bad variable name or value, else None."""
        problem = actions.name_problem("Variable", name) if name is not None else None
        if problem:
            return error(422, problem, VARIABLES_DOCS)
        if value is not None and len(value.encode()) > actions.VALUE_LIMIT:
            return error(422, "Variable value is too large: variables are limited to 48 KB.", VARIABLES_DOCS)
        return None

    @staticmethod
    def _taken():
        return error(409, "Already exists - Variable already exists", VARIABLES_DOCS)

    def create_variable(self, repo, params, data, **_):
        level = self._level(repo, params)
        if level is None:
            return not_found(VARIABLES_DOCS)
        problem = self._variable_problem(data["name"], data["value"])
        if problem:
            return problem
        key = data["name"].upper()
        if key in level.variables:
            return self._taken()
        limit = actions.VARIABLE_LIMITS[level.kind]
        if len(level.variables) >= limit:
            return error(422, "You can store up to %d %s variables." % (limit, level.kind), VARIABLES_DOCS)
        now = time.time()
        level.variables[key] = Variable(key, data["value"], now, now)
        return 201, {}, []

    def update_variable(self, repo, params, data, **_):
        level = self._level(repo, params)
        variable = level.variables.get(params["name"].upper()) if level else None
        if variable is None:
            return not_found(VARIABLES_DOCS)
        problem = self._variable_problem(data.get("name"), data.get("value"))
        if problem:
            return problem
        new_key = data.get("name", variable.name).upper()
        if new_key != variable.name:
            if new_key in level.variables:
                return self._taken()
            del level.variables[variable.name]
            variable.name = new_key
            level.variables[new_key] = variable
        if "value" in data:
            variable.value = data["value"]
        variable.updated = time.time()
        return 204, None, []

    def delete_variable(self, repo, params, **_):
        level = self._level(repo, params)
        if level is None or level.variables.pop(params["name"].upper(), None) is None:
            return not_found(VARIABLES_DOCS)
        return 204, None, []

    # --- environments --------------------------------------------------------------------------------------

    def list_environments(self, repo, query, path, **_):
        envs = sorted(repo.actions.environments.values(), key=lambda e: e.id)
        shown, headers = paginate(self._url(path), envs, query, 30, 100)
        return 200, {"total_count": len(envs),
                     "environments": [objects.environment_json(self.app, repo, e) for e in shown]}, headers

    def get_environment(self, repo, params, **_):
        env = repo.actions.environment(params["environment_name"])
        return (200, objects.environment_json(self.app, repo, env), []) if env else not_found(ENVIRONMENTS_DOCS)

    def _reviewers(self, items):
        """[(type, id)] for the PUT body's reviewers, or an error response."""
        reviewers = []
        for item in items:
            kind, reviewer_id = item.get("type"), item.get("id")
            if kind is None or reviewer_id is None:
                return error(422, "Each reviewer needs a type (User or Team) and an id.", ENVIRONMENTS_DOCS)
            found = self.app.user_by_id(reviewer_id) if kind == "User" else self.app.team_by_id(reviewer_id)
            if found is None:
                return error(422, "Failed to create or update the environment protection rule. The %s with id %d "
                             "does not exist or cannot review deployments." % (kind.lower(), reviewer_id),
                             ENVIRONMENTS_DOCS)
            if (kind, reviewer_id) not in reviewers:
                reviewers.append((kind, reviewer_id))
        if len(reviewers) > actions.MAX_REVIEWERS:
            return error(422, "Failed to create or update the environment protection rule. You can list up to %d "
                         "users or teams as reviewers." % actions.MAX_REVIEWERS, ENVIRONMENTS_DOCS)
        return reviewers

    def put_environment(self, repo, params, data, **_):
        name = params["environment_name"]
        problem = actions.environment_name_problem(name)
        if problem:
            return error(422, problem, ENVIRONMENTS_DOCS)
        body = data or {}
        env = repo.actions.environment(name)
        current = env or Environment(name=name)
        wait_timer = body.get("wait_timer", current.wait_timer)
        if not 0 <= wait_timer <= actions.WAIT_TIMER_MAX:
            return error(422, "Failed to create or update the environment protection rule. The wait timer must be "
                         "between 0 and %d minutes." % actions.WAIT_TIMER_MAX, ENVIRONMENTS_DOCS)
        reviewers = current.reviewers
        if "reviewers" in body:
            reviewers = self._reviewers(body["reviewers"] or [])
            if not isinstance(reviewers, list):
                return reviewers
        prevent_self_review = body.get("prevent_self_review", current.prevent_self_review)
        if prevent_self_review and not reviewers:
            return error(422, SELF_REVIEW, ENVIRONMENTS_DOCS)
        branch_policy = body.get("deployment_branch_policy", current.branch_policy)
        if branch_policy is not None and branch_policy["protected_branches"] == branch_policy["custom_branch_policies"]:
            return error(422, "Only one of protected_branches and custom_branch_policies can be true: set the other "
                         "to false, or deployment_branch_policy to null to allow every branch.", ENVIRONMENTS_DOCS)
        if env is None:
            env = repo.actions.environments[name.lower()] = current
        env.wait_timer, env.reviewers, env.prevent_self_review = wait_timer, reviewers, prevent_self_review
        env.branch_policy = dict(branch_policy) if branch_policy is not None else None
        if not env.custom_policies:
            env.policies = []
        env.updated = time.time()
        return 200, objects.environment_json(self.app, repo, env), []

    def delete_environment(self, repo, params, **_):
        if repo.actions.environments.pop(params["environment_name"].lower(), None) is None:
            return not_found(ENVIRONMENTS_DOCS)
        return 204, None, []  # its secrets, variables and branch policies go with it

    # --- deployment branch policies ------------------------------------------------------------------------

    @staticmethod
    def _policy_env(repo, params):
        env = repo.actions.environment(params["environment_name"])
        return env if env and env.custom_policies else None

    def _policy(self, repo, params):
        env = self._policy_env(repo, params)
        return env, env.policy(int(params["branch_policy_id"])) if env else None

    def list_branch_policies(self, repo, params, query, path, **_):
        env = self._policy_env(repo, params)
        if env is None:
            return not_found(POLICIES_DOCS)
        shown, headers = paginate(self._url(path), env.policies, query, 30, 100)
        return 200, {"total_count": len(env.policies),
                     "branch_policies": [objects.branch_policy_json(p) for p in shown]}, headers

    def create_branch_policy(self, repo, params, data, path, **_):
        env = self._policy_env(repo, params)
        if env is None:
            return not_found(POLICIES_DOCS)
        kind = data.get("type", "branch")
        for policy in env.policies:
            if (policy.name, policy.type) == (data["name"], kind):
                return 303, None, [("Location", "%s/%d" % (self._url(path), policy.id))]
        policy = BranchPolicy(actions.next_id(), data["name"], kind)
        env.policies.append(policy)
        return 200, objects.branch_policy_json(policy), []

    def get_branch_policy(self, repo, params, **_):
        _, policy = self._policy(repo, params)
        return (200, objects.branch_policy_json(policy), []) if policy else not_found(POLICIES_DOCS)

    def update_branch_policy(self, repo, params, data, **_):
        _, policy = self._policy(repo, params)
        if policy is None:
            return not_found(POLICIES_DOCS)
        policy.name = data["name"]
        return 200, objects.branch_policy_json(policy), []

    def delete_branch_policy(self, repo, params, **_):
        env, policy = self._policy(repo, params)
        if policy is None:
            return not_found(POLICIES_DOCS)
        env.policies.remove(policy)
        return 204, None, []

    # --- users and teams (to resolve reviewers) ------------------------------------------------------------

    def get_user(self, repo, params, **_):
        user = self.app.user(params["username"])
        return (200, objects.public_user_json(self.app, user), []) if user else not_found(DOCS + "/users/users")

    def get_team(self, repo, params, **_):
        team = self.app.team(params["org"], params["team_slug"])
        return (200, objects.team_full_json(self.app, team), []) if team else not_found(DOCS + "/teams/teams")
