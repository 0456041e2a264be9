#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_connection_info
short_description: The connection URI of a Neon branch, database and role
version_added: 1.0.0
description:
  - Reads the Postgres connection URI for a role and a database on a branch of a Neon project
    (C(GET /projects/{project_id}/connection_uri)), and its parts (host, port, user, password, database).
  - "The result holds the role's password. Its action plugin censors the result in every output, as if the task had
    C(no_log: true), even at C(-vvv); the registered variable holds it all. Still give the task C(no_log: true) and
    hand the result on as a fact or variable, never print it."
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.api.info
  - textbook.deploy.neon
  - textbook.deploy.neon.scope
options:
  database:
    description:
      - The database to connect to.
    type: str
    required: true
  role:
    description:
      - The role to connect as.
    type: str
    required: true
  pooled:
    description:
      - The URI of Neon's connection pooler (PgBouncer) instead of a direct connection.
    type: bool
    default: false
attributes:
  action:
    support: full
    description: An action plugin runs the module and censors its result in every output.
seealso:
  - module: textbook.deploy.neon_role
  - module: textbook.deploy.neon_database
"""

EXAMPLES = r"""
- name: Connection settings of the chat service on staging
  textbook.deploy.neon_connection_info:
    project: textbook
    branch: staging
    database: chat
    role: chat_app
  register: chat_db
  no_log: true

- name: Hand them to the backend role without printing them
  ansible.builtin.set_fact:
    chat_database_url: "{{ chat_db.uri }}"
  no_log: true
"""

RETURN = r"""
uri:
  description: The connection URI, C(postgresql://user:password@host[:port]/database?options). Secret.
  returned: success
  type: str
host:
  description: Host name of the branch's compute endpoint (or of its pooler).
  returned: success
  type: str
port:
  description: TCP port (5432 when the URI names none).
  returned: success
  type: int
user:
  description: The role name.
  returned: success
  type: str
password:
  description: The role's password. Secret.
  returned: success
  type: str
database:
  description: The database name.
  returned: success
  type: str
options:
  description: The query parameters of the URI as a dict, for example C(sslmode) set to C(require).
  returned: success
  type: dict
branch_id:
  description: Id of the branch.
  returned: success
  type: str
"""

from urllib.parse import parse_qsl, unquote, urlsplit

from ansible_collections.textbook.deploy.plugins.module_utils.neon import NeonModule, branch_scope_spec


def parts(uri):
    """host, port, user, password, database and options of a postgresql:// URI."""
    split = urlsplit(uri)
    return dict(host=split.hostname, port=split.port or 5432, user=unquote(split.username or ""),
                password=unquote(split.password or ""), database=unquote(split.path.lstrip("/")),
                options=dict(parse_qsl(split.query)))


def main():
    module = NeonModule(
        argument_spec=dict(
            database=dict(type="str", required=True),
            role=dict(type="str", required=True),
            pooled=dict(type="bool", default=False),
            **branch_scope_spec()
        ),
        supports_check_mode=True,
    )
    params = module.params
    project, branch = module.require_scope()
    query = {"branch_id": branch["id"], "database_name": params["database"], "role_name": params["role"],
             "pooled": "true" if params["pooled"] else "false"}
    what = "Reading the connection URI of database %s as role %s on branch %s of project %s" % (
        params["database"], params["role"], branch["name"], project["name"])
    uri = module.get("/projects/%s/connection_uri" % project["id"], what, params=query, reveal=True)["uri"]
    module.exit_json(changed=False, uri=uri, branch_id=branch["id"], **parts(uri))


if __name__ == "__main__":
    main()
