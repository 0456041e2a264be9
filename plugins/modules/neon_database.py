#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_database
short_description: Create, re-own or delete a Postgres database on a Neon branch
version_added: 1.0.0
description:
  - Makes sure a database exists (or not) on one branch of a Neon project, owned by the given role, through the
    Neon API v2 (C(/projects/{project_id}/branches/{branch_id}/databases)).
  - The database is looked up by name; an existing one whose owner differs is given the new owner in place.
  - After each change the module waits for the operations Neon started (O(operation_timeout)).
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.neon
  - textbook.deploy.neon.scope
options:
  name:
    description:
      - The database name, at most 63 bytes.
    type: str
    required: true
  owner:
    description:
      - The role that owns the database; it must exist on the branch (see M(textbook.deploy.neon_role)).
      - Required with O(state=present).
    type: str
  state:
    description:
      - V(present) creates the database or changes its owner; V(absent) deletes it with all its data.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports what would be created, re-owned or deleted, sending only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the database before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
seealso:
  - module: textbook.deploy.neon_role
  - module: textbook.deploy.neon_connection_info
"""

EXAMPLES = r"""
- name: The chat service's database on the staging branch
  textbook.deploy.neon_database:
    project: textbook
    branch: staging
    name: chat
    owner: chat_app

- name: Drop a database
  textbook.deploy.neon_database:
    project: textbook
    branch: preview-42
    name: chat
    state: absent
"""

RETURN = r"""
database:
  description: The database as Neon describes it; empty after O(state=absent).
  returned: always
  type: dict
  sample: {"id": 1234, "branch_id": "br-odd-sun-a5xyz", "name": "chat", "owner_name": "chat_app",
           "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z"}
branch_id:
  description: Id of the branch the database lives on.
  returned: always
  type: str
"""

from ansible_collections.textbook.deploy.plugins.module_utils.neon import (
    NeonModule,
    branch_scope_spec,
    postgres_name_problem,
)


def main():
    module = NeonModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            owner=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            **branch_scope_spec()
        ),
        required_if=[("state", "present", ("owner",))],
        supports_check_mode=True,
    )
    params = module.params
    problem = postgres_name_problem(params["name"], "name") or (
        params["owner"] is not None and postgres_name_problem(params["owner"], "owner"))
    if problem:
        module.fail_json(msg=problem)
    project, branch = module.require_scope()
    base = "/projects/%s/branches/%s" % (project["id"], branch["id"])
    path = "%s/databases/%s" % (base, params["name"])
    where = "database %s on branch %s of project %s" % (params["name"], branch["name"], project["name"])
    found = module.get(path, "Reading " + where, missing_ok=True)
    before = found["database"] if found else None

    changed, after = False, before
    if params["state"] == "absent":
        if before:
            changed, after = True, None
            if not module.check_mode:
                module.change(project["id"], "DELETE", path, "Deleting " + where)
    elif not before or before["owner_name"] != params["owner"]:
        owner_path = "%s/roles/%s" % (base, params["owner"])
        if module.get(owner_path, "Reading the owner of " + where, missing_ok=True) is None:
            module.fail_json(msg="owner %r: no such role on branch %s of project %s. Create it first with "
                                 "textbook.deploy.neon_role, or check the option owner."
                                 % (params["owner"], branch["name"], project["name"]))
        changed = True
        after = dict(before or {"name": params["name"], "branch_id": branch["id"]}, owner_name=params["owner"])
        if not module.check_mode:
            body = {"database": {"name": params["name"], "owner_name": params["owner"]}}
            if before:
                data = module.change(project["id"], "PATCH", path, "Changing the owner of " + where,
                                     body={"database": {"owner_name": params["owner"]}})
            else:
                data = module.change(project["id"], "POST", base + "/databases", "Creating " + where, body=body,
                                     ok=(201,))
            after = data["database"]
    module.exit_resource(changed, before, after, database=after or {}, branch_id=branch["id"])


if __name__ == "__main__":
    main()
