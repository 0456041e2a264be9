#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_project
short_description: Create or delete a Neon project, found by name
version_added: 1.0.0
description:
  - Makes sure a Neon project exists (or not), through the Neon API v2 (C(/projects)).
  - The project is found by name (or id), so a re-run only reads. Neon creates a new project with its default
    branch, a read-write compute, an owner role and a database.
  - The region and the Postgres version of an existing project cannot change; a difference fails the task
    instead of being ignored.
  - After each change the module waits for the operations Neon started (O(operation_timeout)).
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.neon
options:
  name:
    description:
      - The project name (1 to 256 characters), or the id of an existing project.
    type: str
    required: true
  state:
    description:
      - V(present) creates the project when it is missing; V(absent) deletes it with all its branches and data.
    type: str
    choices: [present, absent]
    default: present
  region_id:
    description:
      - The region of a new project, for example V(aws-us-east-2) or V(aws-eu-central-1). When not set, Neon's default.
    type: str
  pg_version:
    description:
      - The major Postgres version of a new project (14 to 18). When not set, Neon's default.
    type: int
  org_id:
    description:
      - The organization that owns the project (needed with a personal API key of a member of several
        organizations). Also limits the lookup by name to that organization.
    type: str
  default_branch:
    description:
      - The name of the default branch of a new project.
    type: str
    default: main
attributes:
  check_mode:
    support: full
    description: Reports whether the project would be created or deleted, sending only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the project before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
seealso:
  - module: textbook.deploy.neon_branch
"""

EXAMPLES = r"""
- name: The textbook platform's project
  textbook.deploy.neon_project:
    name: textbook
    region_id: aws-eu-central-1
    pg_version: 17

- name: Delete a project and all its data
  textbook.deploy.neon_project:
    name: textbook-scratch
    state: absent
"""

RETURN = r"""
project:
  description: The project as Neon describes it; empty after O(state=absent).
  returned: always
  type: dict
  sample: {"id": "twilight-river-12345678", "name": "textbook", "region_id": "aws-eu-central-1", "pg_version": 17}
default_branch:
  description: Id and name of the project's default branch (empty in check mode before the project exists).
  returned: always
  type: dict
  sample: {"id": "br-main-123456", "name": "main"}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.neon import NeonModule

PROJECT_NAME_MAX = 256
IMMUTABLE = ("region_id", "pg_version")


def input_problem(params):
    if not params["name"].strip() or len(params["name"]) > PROJECT_NAME_MAX:
        return "name %r is not a Neon project name: give 1 to %d characters." % (params["name"], PROJECT_NAME_MAX)
    if params["pg_version"] is not None and not 14 <= params["pg_version"] <= 18:
        return "pg_version must be a Postgres major version from 14 to 18, got %s." % params["pg_version"]
    if not params["default_branch"].strip():
        return "default_branch must not be empty (Neon's usual name is main)."
    return None


def create(module):
    params = module.params
    project = {"name": params["name"], "branch": {"name": params["default_branch"]}}
    for option in ("region_id", "pg_version", "org_id"):
        if params[option] is not None:
            project[option] = params[option]
    if module.check_mode:
        return dict((k, v) for k, v in project.items() if k != "branch"), {"name": params["default_branch"]}
    data = module.change(None, "POST", "/projects", "Creating project %s" % params["name"],
                         body={"project": project}, ok=(201,))
    branch = data.get("branch") or {}
    return data["project"], {"id": branch.get("id"), "name": branch.get("name")}


def main():
    module = NeonModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            region_id=dict(type="str"),
            pg_version=dict(type="int"),
            org_id=dict(type="str"),
            default_branch=dict(type="str", default="main"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problem = input_problem(params)
    if problem:
        module.fail_json(msg=problem)
    before = module.find_project(params["name"])
    changed, after, default_branch = False, before, {}
    if params["state"] == "absent":
        if before:
            changed, after = True, None
            if not module.check_mode:
                module.change(before["id"], "DELETE", "/projects/%s" % before["id"],
                              "Deleting project %s" % before["name"])
    elif before is None:
        changed = True
        after, default_branch = create(module)
    else:
        differs = ["%s is %s, not %s" % (option, before.get(option), params[option]) for option in IMMUTABLE
                   if params[option] is not None and before.get(option) != params[option]]
        if differs:
            module.fail_json(msg="project %s exists but its %s; Neon cannot change that in place. Create a new "
                                 "project (another name) or drop the options region_id/pg_version."
                                 % (before["name"], "; ".join(differs)), project=before)
        branch = module.find_branch(before, None)
        default_branch = {"id": branch["id"], "name": branch["name"]} if branch else {}
    module.exit_resource(changed, before, after, project=after or {}, default_branch=default_branch)


if __name__ == "__main__":
    main()
