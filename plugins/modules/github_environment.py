#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_environment
short_description: Create, configure or delete a GitHub deployment environment and its protection rules
version_added: 1.0.0
description:
  - Creates or updates a deployment environment of a repository
    (C(PUT /repos/{owner}/{repo}/environments/{environment_name})) with its wait timer, required reviewers and
    deployment branch policy, or deletes it.
  - Reviewers are given by user login or C(org/team-slug) and looked up (C(GET /users/{username}),
    C(GET /orgs/{org}/teams/{team_slug})) to the ids GitHub needs.
  - With O(deployment_branch_policy=custom), the branch name patterns are managed through
    C(/deployment-branch-policies) of the environment; missing ones are created, unlisted ones deleted.
  - The settings are compared with what GitHub returns (the environment's C(protection_rules) and
    C(deployment_branch_policy)); nothing is sent when they already match. Options left unset keep their current
    value (GitHub's default for a new environment).
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.github
  - textbook.deploy.github_actions.repo
options:
  environment:
    description:
      - Name of the environment, for example V(production). At most 255 characters, without control characters,
        quotes, backticks, commas, semicolons, backslashes or surrounding spaces.
      - Environment names are case-insensitive.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - V(present) creates the environment when needed and applies the settings given.
      - V(absent) deletes the environment, with its secrets, variables and protection rules.
    type: str
    choices: [present, absent]
    default: present
  wait_timer:
    description:
      - Minutes to wait before a job that references the environment may proceed, 0 to 43200 (30 days).
        V(0) removes the timer.
    type: int
  prevent_self_review:
    description:
      - Whether the user who started a deployment is kept from approving it. Needs at least one reviewer.
    type: bool
  reviewers:
    description:
      - Users or teams of which one must approve jobs that reference the environment; at most 6. An empty list
        removes the required reviewers.
      - Each must have at least read access to the repository.
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - Whether O(reviewers[].name) is a user or a team.
        type: str
        choices: [User, Team]
        default: User
      name:
        description:
          - A user's login (V(octocat)), or a team as C(org/team-slug) (V(octo-org/release-managers)).
        type: str
        required: true
  deployment_branch_policy:
    description:
      - Which branches may deploy to the environment.
      - V(none) lets any branch deploy; V(protected_branches) only branches with branch protection rules;
        V(custom) only branches that match O(branch_patterns).
    type: str
    choices: [none, protected_branches, custom]
  branch_patterns:
    description:
      - With O(deployment_branch_policy=custom), the branch name patterns (for example V(main), V(release/*)) that may
        deploy. Patterns follow Ruby's C(File.fnmatch); C(*) does not match C(/).
      - Patterns not listed are deleted. Tag patterns (added elsewhere) are left as they are.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reports what would change and sends only C(GET) requests.
  diff_mode:
    support: full
    description:
      - Returns the settings (wait timer, reviewers, prevent_self_review, branch policy and patterns) before and
        after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope (and C(read:org) to look up team
    reviewers); a fine-grained token needs the repository permission Administration (write), and the organization
    permission Members (read) for team reviewers."
  - Wait timers and required reviewers of private repositories need a GitHub plan that offers them; GitHub refuses
    them otherwise, and the module fails with GitHub's message.
seealso:
  - module: textbook.deploy.github_secret
  - module: textbook.deploy.github_variable
  - name: GitHub REST API for deployment environments
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/deployments/environments
  - name: GitHub REST API for deployment branch policies
    description: How branch patterns are managed.
    link: https://docs.github.com/en/rest/deployments/branch-policies
"""

EXAMPLES = r"""
- name: Production deploys from main and release branches, after a release manager approves
  textbook.deploy.github_environment:
    repo: octo-org/textbook
    environment: production
    wait_timer: 5
    prevent_self_review: true
    reviewers:
      - name: octocat
      - type: Team
        name: octo-org/release-managers
    deployment_branch_policy: custom
    branch_patterns:
      - main
      - release/*

- name: Staging deploys from protected branches only, no approval
  textbook.deploy.github_environment:
    repo: octo-org/textbook
    environment: staging
    reviewers: []
    deployment_branch_policy: protected_branches

- name: Delete an environment (with its secrets and variables)
  textbook.deploy.github_environment:
    repo: octo-org/textbook
    environment: preview
    state: absent
"""

RETURN = r"""
environment:
  description:
    - The environment as GitHub returns it (C(GET /repos/{owner}/{repo}/environments/{environment_name})), after the
      change. In check mode, as it is now. Null when absent.
  returned: always
  type: dict
  sample:
    id: 161088068
    name: production
    url: https://api.github.com/repos/octo-org/textbook/environments/production
    html_url: https://github.com/octo-org/textbook/deployments/activity_log?environments_filter=production
    created_at: "2024-06-01T12:00:00Z"
    updated_at: "2024-06-01T12:00:00Z"
    protection_rules:
      - id: 3736
        node_id: MDQ6R2F0ZTM3MzY=
        type: wait_timer
        wait_timer: 5
    deployment_branch_policy:
      protected_branches: false
      custom_branch_policies: true
branch_policies:
  description:
    - The deployment branch (and tag) policies of the environment after the change, as GitHub lists them. Empty
      unless its policy is V(custom).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 361471
      node_id: MDE2OkdhdGVCcmFuY2hQb2xpY3kzNjE0NzE=
      name: release/*
      type: branch
settings:
  description: The settings the module manages, after the change (what the diff shows as after).
  returned: always
  type: dict
  sample:
    wait_timer: 5
    prevent_self_review: true
    reviewers:
      - type: User
        name: octocat
    deployment_branch_policy: custom
    branch_patterns: [main, release/*]
"""

import re

from urllib.parse import quote, urlsplit

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import ApiError
from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import (
    OWNER_RE,
    ActionsScope,
    actions_module,
)

SCOPE_HINT = ("the classic scope `repo` (plus `read:org` to look up team reviewers), or for a fine-grained token the "
              "repository permission Administration (write) and, for team reviewers, the organization permission "
              "Members (read)")
MAX_WAIT_TIMER = 43200
MAX_REVIEWERS = 6
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
TEAM_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
POLICIES = {
    "none": None,
    "protected_branches": dict(protected_branches=True, custom_branch_policies=False),
    "custom": dict(protected_branches=False, custom_branch_policies=True),
}


def check_options(module):
    """Everything that can be checked before the first request."""
    params = module.params
    if params["wait_timer"] is not None and not 0 <= params["wait_timer"] <= MAX_WAIT_TIMER:
        module.fail_json(msg="wait_timer must be 0 to %d minutes (30 days), got %s."
                             % (MAX_WAIT_TIMER, params["wait_timer"]))
    reviewers = params["reviewers"]
    if reviewers is not None:
        if len(reviewers) > MAX_REVIEWERS:
            module.fail_json(msg="reviewers lists %d reviewers; GitHub allows at most %d users or teams."
                                 % (len(reviewers), MAX_REVIEWERS))
        seen = set()
        for index, reviewer in enumerate(reviewers):
            where = "reviewers[%d]" % index
            name = reviewer["name"] or ""
            if reviewer["type"] == "User" and not LOGIN_RE.match(name):
                module.fail_json(msg="%s: %r is not a GitHub user login (letters, digits and hyphens); for a team use "
                                     "type: Team and name: org/team-slug." % (where, name))
            if reviewer["type"] == "Team":
                parts = name.split("/")
                if len(parts) != 2 or not OWNER_RE.match(parts[0]) or not TEAM_SLUG_RE.match(parts[1]):
                    module.fail_json(msg="%s: a team is named org/team-slug (for example octo-org/release-managers), "
                                         "got %r." % (where, name))
            key = (reviewer["type"], name.lower())
            if key in seen:
                module.fail_json(msg="%s: %s %s is listed twice." % (where, reviewer["type"], name))
            seen.add(key)
    policy, patterns = params["deployment_branch_policy"], params["branch_patterns"]
    if patterns is not None and policy != "custom":
        module.fail_json(msg="branch_patterns goes with deployment_branch_policy=custom.")
    if policy == "custom":
        if not patterns:
            module.fail_json(msg="deployment_branch_policy=custom needs branch_patterns: the branch name patterns "
                                 "that may deploy (for example main, release/*).")
        for index, pattern in enumerate(patterns):
            if not pattern or pattern != pattern.strip():
                module.fail_json(msg="branch_patterns[%d] must be a branch name pattern without surrounding spaces, "
                                     "got %r." % (index, pattern))
        if len(set(patterns)) != len(patterns):
            module.fail_json(msg="branch_patterns lists a pattern twice.")


def team_org(team, owner):
    """The organization of a team object (from its html_url, else the repository's owner)."""
    path = urlsplit(team.get("html_url") or "").path.strip("/").split("/")
    if len(path) >= 4 and path[0] == "orgs" and path[2] == "teams":
        return path[1]
    return owner


def reviewer_of(kind, obj, owner):
    """{type, id, name} of a reviewer object (a user or a team)."""
    if kind == "Team":
        return dict(type="Team", id=obj.get("id"), name="%s/%s" % (team_org(obj, owner), obj.get("slug")))
    return dict(type="User", id=obj.get("id"), name=obj.get("login"))


def settings_of(env, owner):
    """The settings this module manages, from an Environment object (None when there is none)."""
    if env is None:
        return None
    settings = dict(wait_timer=0, prevent_self_review=False, reviewers=[])
    for rule in env.get("protection_rules") or []:
        if rule.get("type") == "wait_timer":
            settings["wait_timer"] = rule.get("wait_timer") or 0
        elif rule.get("type") == "required_reviewers":
            settings["prevent_self_review"] = bool(rule.get("prevent_self_review"))
            settings["reviewers"] = [reviewer_of(item.get("type"), item.get("reviewer") or {}, owner)
                                     for item in rule.get("reviewers") or []]
    policy = env.get("deployment_branch_policy")
    if not policy:
        settings["deployment_branch_policy"] = "none"
    elif policy.get("custom_branch_policies"):
        settings["deployment_branch_policy"] = "custom"
    else:
        settings["deployment_branch_policy"] = "protected_branches"
    return settings


def reviewer_ids(reviewers):
    return sorted((item["type"], item["id"]) for item in reviewers)


def shown(settings, patterns):
    """A settings dict as the diff and the result show it (reviewers without ids, patterns sorted)."""
    if settings is None:
        return {}
    result = dict(settings, reviewers=sorted((dict(type=item["type"], name=item["name"])
                                              for item in settings["reviewers"]),
                                             key=lambda item: (item["type"], item["name"].lower())))
    if not result["reviewers"]:
        result["prevent_self_review"] = False  # GitHub keeps it only with reviewers
    if settings["deployment_branch_policy"] == "custom":
        result["branch_patterns"] = sorted(patterns)
    return result


class Environment:
    def __init__(self, module):
        self.module = module
        self.scope = ActionsScope(module)
        self.path = self.scope.path()

    def read(self, check_repo=False):
        """The environment (None when absent); with check_repo, fails when the repository itself is missing (so
        check mode does not promise to create an environment in a repository that is not there)."""
        response = self.scope.request("GET", self.path, "read", missing_ok=True)
        if response is None and check_repo:
            if self.scope.request("GET", self.scope.repo_path, "read", missing_ok=True) is None:
                self.module.fail_json(msg="Repository %s does not exist or the token cannot see it: check the option "
                                          "repo and the token's access." % self.scope.repo)
        return response.data if response is not None else None

    def branch_policies(self):
        policies = []
        try:
            for item in self.scope.client.paginate(self.path + "/deployment-branch-policies",
                                                   params={"per_page": 100}):
                policies.append(item)
        except ApiError as err:
            self.scope.fail(err, "list the deployment branch policies of")
        return policies

    def resolve(self, reviewers):
        """[{type, id, name}] of the reviewers option, looked up by login or org/team-slug."""
        resolved = []
        for index, reviewer in enumerate(reviewers):
            if reviewer["type"] == "User":
                path = "/users/%s" % quote(reviewer["name"], safe="")
                what = "user %s" % reviewer["name"]
            else:
                org, slug = reviewer["name"].split("/")
                path = "/orgs/%s/teams/%s" % (quote(org, safe=""), quote(slug, safe=""))
                what = "team %s" % reviewer["name"]
            response = self.scope.request("GET", path, "look up reviewer %s (reviewers[%d]) for" % (what, index),
                                          missing_ok=True)
            if response is None:
                hint = "check the login" if reviewer["type"] == "User" else (
                    "check org/team-slug; a classic token also needs the scope read:org to see teams")
                self.module.fail_json(msg="reviewers[%d]: %s does not exist or the token cannot see it (%s)."
                                          % (index, what, hint), changed=self.scope.changed)
            resolved.append(reviewer_of(reviewer["type"], response.data, self.scope.owner))
        return resolved


def desired_settings(params, current, resolved):
    base = current or dict(wait_timer=0, prevent_self_review=False, reviewers=[], deployment_branch_policy="none")
    want = dict(base)
    if params["wait_timer"] is not None:
        want["wait_timer"] = params["wait_timer"]
    if resolved is not None:
        want["reviewers"] = resolved
    if params["prevent_self_review"] is not None:
        want["prevent_self_review"] = params["prevent_self_review"]
    if params["deployment_branch_policy"] is not None:
        want["deployment_branch_policy"] = params["deployment_branch_policy"]
    if not want["reviewers"]:
        want["prevent_self_review"] = False
    return want


def settings_differ(current, want):
    if current is None:
        return True
    return (current["wait_timer"] != want["wait_timer"]
            or reviewer_ids(current["reviewers"]) != reviewer_ids(want["reviewers"])
            or (bool(want["reviewers"]) and current["prevent_self_review"] != want["prevent_self_review"])
            or current["deployment_branch_policy"] != want["deployment_branch_policy"])


def put_body(want):
    return dict(
        wait_timer=want["wait_timer"],
        prevent_self_review=want["prevent_self_review"],
        reviewers=[dict(type=item["type"], id=item["id"]) for item in want["reviewers"]],
        deployment_branch_policy=POLICIES[want["deployment_branch_policy"]],
    )


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            environment=dict(type="str", required=True, aliases=["name"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait_timer=dict(type="int"),
            prevent_self_review=dict(type="bool"),
            reviewers=dict(type="list", elements="dict", options=dict(
                type=dict(type="str", choices=["User", "Team"], default="User"),
                name=dict(type="str", required=True),
            )),
            deployment_branch_policy=dict(type="str", choices=list(POLICIES)),
            branch_patterns=dict(type="list", elements="str"),
        ),
        scope_hint=SCOPE_HINT,
    )
    params = module.params
    env = Environment(module)  # checks repo and environment
    check_options(module)
    module.require_token()
    scope = env.scope

    found = env.read(check_repo=params["state"] == "present")
    current = settings_of(found, scope.owner)
    current_policies = env.branch_policies() if current and current["deployment_branch_policy"] == "custom" else []
    current_patterns = [item["name"] for item in current_policies if item.get("type", "branch") == "branch"]
    before = shown(current, current_patterns)

    if params["state"] == "absent":
        if found is not None and not module.check_mode:
            scope.request("DELETE", env.path, "delete", ok=(204,), missing_ok=True)
        module.exit_resource(found is not None, before, {}, environment=None, branch_policies=[], settings={})

    if params["prevent_self_review"] and params["reviewers"] == []:
        module.fail_json(msg="prevent_self_review=true needs at least one reviewer (reviewers is empty).")
    resolved = env.resolve(params["reviewers"]) if params["reviewers"] is not None else None
    want = desired_settings(params, current, resolved)
    if params["prevent_self_review"] and not want["reviewers"]:
        module.fail_json(msg="prevent_self_review=true needs at least one reviewer: set reviewers.")
    if current is not None and reviewer_ids(current["reviewers"]) == reviewer_ids(want["reviewers"]):
        want["reviewers"] = current["reviewers"]  # same reviewers: show them as GitHub names them
    custom = want["deployment_branch_policy"] == "custom"
    if custom and params["branch_patterns"] is not None:
        want_patterns = list(params["branch_patterns"])
    else:
        want_patterns = current_patterns if custom else []
    put_needed = settings_differ(current, want)
    patterns_differ = custom and sorted(set(want_patterns)) != sorted(set(current_patterns))
    after = shown(want, want_patterns)
    changed = put_needed or patterns_differ

    if module.check_mode or not changed:
        module.exit_resource(changed, before, after, environment=found, branch_policies=current_policies,
                             settings=after)

    if put_needed:
        scope.request("PUT", env.path, "create or update" if found is None else "update", body=put_body(want),
                      ok=(200,))
    policies = current_policies
    if custom:
        if put_needed and (current or {}).get("deployment_branch_policy") != "custom":
            policies = env.branch_policies()  # GitHub may keep the patterns of an earlier custom policy
        have = dict((item["name"], item) for item in policies if item.get("type", "branch") == "branch")
        for pattern in want_patterns:
            if pattern not in have:
                scope.request("POST", env.path + "/deployment-branch-policies",
                              "add branch pattern %s to" % pattern, body=dict(name=pattern, type="branch"),
                              ok=(200, 201, 303))
        for pattern, item in sorted(have.items()):
            if pattern not in want_patterns:
                scope.request("DELETE", "%s/deployment-branch-policies/%s" % (env.path, item["id"]),
                              "delete branch pattern %s of" % pattern, ok=(204,), missing_ok=True)
        policies = env.branch_policies()
    found = env.read()
    final = settings_of(found, scope.owner)
    final_patterns = [item["name"] for item in policies if item.get("type", "branch") == "branch"] if custom else []
    if final is not None and reviewer_ids(final["reviewers"]) == reviewer_ids(want["reviewers"]):
        final["reviewers"] = want["reviewers"]
    module.exit_resource(True, before, shown(final, final_patterns), environment=found,
                         branch_policies=policies if custom else [], settings=shown(final, final_patterns))


if __name__ == "__main__":
    main()
