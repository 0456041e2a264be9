#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_branch_info
short_description: List the branches of a Neon project, with their expiry
version_added: 1.1.0
description:
  - Lists the branches of a Neon project (C(GET /projects/{project_id}/branches)) with their name, id, parent,
    whether each is the default branch, its state, when it was created and when Neon deletes it (C(expires_at)).
  - O(name_regex) keeps the branches whose name it matches, for example the pull-request previews.
  - The preview sweep (C(playbooks/sweep_previews.yml)) finds the previews' branches C(preview-<N>) with it.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.api.info
  - textbook.deploy.neon
options:
  project:
    description:
      - The Neon project, by name or id. A name must be unique among the projects the API key can see.
    type: str
    required: true
  name_regex:
    description:
      - A regular expression (Python's C(re) syntax) searched in each branch's name; only the branches it matches
        are returned. Anchor it (V(^preview-[0-9]+$)) to match whole names. An expression that does not compile
        fails before any request.
    type: str
seealso:
  - module: textbook.deploy.neon_branch
  - module: textbook.deploy.neon_project
"""

EXAMPLES = r"""
- name: The pull-request previews' branches of the project
  textbook.deploy.neon_branch_info:
    project: textbook
    name_regex: ^preview-[1-9][0-9]*$
  register: previews

- name: Say when each expires
  ansible.builtin.debug:
    msg: "{{ previews.branches | items2dict(key_name='name', value_name='expires_at') }}"
"""

RETURN = r"""
project_id:
  description: The project's id.
  returned: always
  type: str
  sample: twilight-river-12345678
branches:
  description: The branches (those O(name_regex) matches), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The branch's name.
      type: str
    id:
      description: Its id.
      type: str
    parent_id:
      description: The id of the branch it was branched from (null for the root branch).
      type: str
    default:
      description: Whether it is the project's default branch.
      type: bool
    current_state:
      description: Neon's state of the branch, for example V(ready) or V(init).
      type: str
    created_at:
      description: When it was created.
      type: str
    expires_at:
      description: When Neon deletes it; null when it does not expire.
      type: str
  sample:
    - {"name": "preview-42", "id": "br-odd-sun-a5xyz", "parent_id": "br-main-123456", "default": false,
       "current_state": "ready", "created_at": "2025-06-01T12:00:00Z", "expires_at": "2025-06-08T12:00:00Z"}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.neon import NeonModule

FIELDS = ("name", "id", "parent_id", "default", "current_state", "created_at", "expires_at")


def main():
    module = NeonModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            name_regex=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    pattern = module.regex_option("name_regex")
    project = module.require_project(module.params["project"])
    branches = [dict((field, branch.get(field)) for field in FIELDS) for branch in module.branches(project)
                if pattern is None or pattern.search(branch["name"])]
    module.exit_json(changed=False, project_id=project["id"], branches=sorted(branches, key=lambda b: b["name"]))


if __name__ == "__main__":
    main()
