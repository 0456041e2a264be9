#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_variable
short_description: Set or delete GitHub Actions variables of a repository or an environment
version_added: 1.0.0
description:
  - Creates, updates or deletes GitHub Actions configuration variables of a repository
    (C(/repos/{owner}/{repo}/actions/variables)) or of one of its environments
    (C(/repos/{owner}/{repo}/environments/{environment_name}/variables)).
  - One variable (O(name), O(value), O(state)) or several at once (O(variables)), optionally deleting the variables
    of the scope that are not listed (O(purge)).
  - The scope's variables are read once; only the variables whose value differs are sent.
  - Variables are not secret (GitHub shows their values to anyone who can read the repository's settings, and in
    workflow logs); use M(textbook.deploy.github_secret) for credentials.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.github
  - textbook.deploy.github_actions
options:
  name:
    description:
      - Name of the variable. Letters, digits and underscores only, not starting with a digit nor with C(GITHUB_).
        Names are case-insensitive; GitHub stores them in upper case.
      - Give either O(name) or O(variables).
    type: str
  value:
    description:
      - Value of the variable O(name). Required with O(state=present).
    type: str
  variables:
    description:
      - Several variables of the scope at once, each with its O(variables[].name) and O(variables[].value).
      - With O(state=absent), the variables named are deleted (their values are not needed).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the variable (same rules as O(name)).
        type: str
        required: true
      value:
        description:
          - Value of the variable. Required with O(state=present).
        type: str
  purge:
    description:
      - With O(variables) and O(state=present), also delete the variables of the scope that O(variables) does not
        list.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or updates the variables; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports what would be created, updated or deleted, and sends only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the variables (names and values) before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope; a fine-grained token needs the
    repository permission Variables (write), and for environment variables Environments (write)."
seealso:
  - module: textbook.deploy.github_secret
  - module: textbook.deploy.github_environment
  - name: GitHub REST API for Actions variables
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/actions/variables
"""

EXAMPLES = r"""
- name: Tell the workflows where the textbook is published
  textbook.deploy.github_variable:
    repo: octo-org/textbook
    name: SITE_URL
    value: https://docs.example.com/

- name: The staging environment's variables, and no others
  textbook.deploy.github_variable:
    repo: octo-org/textbook
    environment: staging
    variables:
      - name: API_URL
        value: https://api.staging.example.com
      - name: QDRANT_COLLECTION
        value: staging_passages
    purge: true

- name: Delete a variable
  textbook.deploy.github_variable:
    repo: octo-org/textbook
    name: OLD_SETTING
    state: absent
"""

RETURN = r"""
created:
  description: Names of the variables created (in check mode, that would be created).
  returned: always
  type: list
  elements: str
  sample: [API_URL]
updated:
  description: Names of the variables whose value changed (in check mode, would change).
  returned: always
  type: list
  elements: str
  sample: [QDRANT_COLLECTION]
deleted:
  description: Names of the variables deleted (in check mode, that would be deleted).
  returned: always
  type: list
  elements: str
  sample: []
variables:
  description:
    - The variables of the scope after the task, as GitHub lists them. In check mode, as they are now.
  returned: always
  type: list
  elements: dict
  sample:
    - name: API_URL
      value: https://api.staging.example.com
      created_at: "2024-06-01T12:00:00Z"
      updated_at: "2024-06-01T12:00:00Z"
"""

from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import (
    ActionsScope,
    actions_module,
    plan_changes,
    wanted_items,
)

REPO_HINT = "the classic scope `repo`, or for a fine-grained token the repository permission Variables (write)"
ENVIRONMENT_HINT = ("the classic scope `repo`, or for a fine-grained token the repository permissions Variables "
                    "(write) and Environments (write)")
MAX_VALUE_BYTES = 48 * 1024
PER_PAGE = 30  # the most GitHub lists per page of variables


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            environment=dict(type="str"),
            name=dict(type="str"),
            value=dict(type="str"),
            variables=dict(type="list", elements="dict", options=dict(
                name=dict(type="str", required=True),
                value=dict(type="str"),
            )),
            purge=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        scope_hint=REPO_HINT,
        required_one_of=[("name", "variables")],
        mutually_exclusive=[("name", "variables"), ("value", "variables")],
    )
    params = module.params
    present = params["state"] == "present"

    scope = ActionsScope(module)
    if scope.environment is not None:
        module.client.scope_hint = ENVIRONMENT_HINT
    wanted = wanted_items(module, "variable", "variables")
    for name, value in wanted.items():
        if value is not None and len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            module.fail_json(msg="The value of variable %s is larger than GitHub's limit of 48 KB." % name)
    module.require_token()

    current = scope.list_items("variables", "list the variables of", per_page=PER_PAGE)
    plan = plan_changes(current, wanted, present, params["purge"],
                        lambda name, item, value: item.get("value") != value)
    relevant = set(current) | set(wanted) if params["purge"] else set(wanted)
    before = dict((name, current[name].get("value")) for name in current if name in relevant)
    after = dict(before)
    for name in plan.create + plan.update:
        after[name] = wanted[name]
    for name in plan.delete:
        after.pop(name, None)

    if plan.changed and not module.check_mode:
        for name in plan.create:
            scope.request("POST", scope.path("variables"), "create variable %s of" % name,
                          body=dict(name=name, value=wanted[name]), ok=(201,))
        for name in plan.update:
            scope.request("PATCH", scope.path("variables", current[name]["name"]), "update variable %s of" % name,
                          body=dict(value=wanted[name]), ok=(204,), retry_post=True)
        for name in plan.delete:
            scope.request("DELETE", scope.path("variables", current[name]["name"]), "delete variable %s of" % name,
                          ok=(204,), missing_ok=True)
        current = scope.list_items("variables", "list the variables (after the change) of", per_page=PER_PAGE)
    module.exit_resource(plan.changed, before, after, variables=[current[name] for name in sorted(current)],
                         **plan.as_result())


if __name__ == "__main__":
    main()
