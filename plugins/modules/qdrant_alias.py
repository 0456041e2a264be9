#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: qdrant_alias
short_description: Point a Qdrant collection alias at a collection, switching it atomically
version_added: 0.1.0
description:
  - Creates, moves or deletes one collection alias through Qdrant's REST API (C(POST /collections/aliases)).
  - Moving an alias is one request with a C(delete_alias) and a C(create_alias) action, which Qdrant applies
    together, so searches through the alias go to the old collection until the switch and to the new one after it.
    This is the last step of a zero-downtime reindex (build a new collection, fill it, then move the alias).
  - The target collection must exist; the module checks it before changing anything.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.qdrant
options:
  name:
    description:
      - The alias, for example V(docs).
      - It cannot be the name of an existing collection.
    type: str
    required: true
  collection:
    description:
      - The collection the alias points at. Required with O(state=present).
    type: str
  state:
    description:
      - V(present) makes the alias point at O(collection), creating or moving it.
      - V(absent) deletes the alias (the collection is left as it is).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports what would change and sends only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the alias and the collection it points at, before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
  action_group:
    support: full
    membership:
      - textbook.deploy.qdrant
    description: Use C(group/textbook.deploy.qdrant) in C(module_defaults) to set the API options once.
seealso:
  - module: textbook.deploy.qdrant_collection
  - name: Qdrant collection aliases
    description: How aliases switch collections atomically.
    link: https://qdrant.tech/documentation/concepts/collections/#collection-aliases
"""

EXAMPLES = r"""
- name: Build the new index, then switch the alias to it in one atomic step
  module_defaults:
    group/textbook.deploy.qdrant:
      api_url: https://qdrant.example.com:6333
      api_key: "{{ vault_qdrant_api_key }}"
  block:
    - name: Create the collection of the new embedding model
      textbook.deploy.qdrant_collection:
        name: textbook_v2
        vectors:
          size: 768
          distance: Cosine

    - name: Point the alias the chat API searches at the new collection
      textbook.deploy.qdrant_alias:
        name: textbook
        collection: textbook_v2
      register: switch

    - name: Say where the alias pointed before (the collection to roll back to)
      ansible.builtin.debug:
        msg: "textbook moved from {{ switch.previous_collection }} to {{ switch.collection }}"

- name: Remove an alias
  textbook.deploy.qdrant_alias:
    name: textbook_staging
    state: absent
"""

RETURN = r"""
alias:
  description: The alias.
  returned: always
  type: str
  sample: textbook
collection:
  description: The collection the alias points at after the task (in check mode, would point at). Null when absent.
  returned: always
  type: str
  sample: textbook_v2
previous_collection:
  description: The collection the alias pointed at before the task. Null when the alias did not exist.
  returned: always
  type: str
  sample: textbook_v1
"""

from ansible_collections.textbook.deploy.plugins.module_utils.qdrant import Qdrant, name_error, qdrant_module


def check_options(module):
    """Fail before any request on options that cannot work."""
    params = module.params
    error = name_error("name", params["name"])
    if not error and params["state"] == "present":
        if not params["collection"]:
            error = "collection is required with state=present: name the collection the alias points at."
        else:
            error = name_error("collection", params["collection"])
    if error:
        module.fail_json(msg=error)


def check_target(module, qdrant, alias, collection):
    """The alias can point at collection: it exists, and no collection is called like the alias."""
    names = qdrant.collection_names()
    if collection not in names:
        module.fail_json(msg="Collection %s does not exist, so alias %s cannot point at it: create it first (for "
                             "example with textbook.deploy.qdrant_collection) or fix the option collection."
                             % (collection, alias))
    if alias in names:
        module.fail_json(msg="%s is the name of a collection, so it cannot also be an alias: choose another name "
                             "for the option name." % alias)


def actions(alias, previous, collection):
    """The alias actions that make alias point at collection (None: delete it); delete + create is one switch."""
    steps = []
    if previous is not None:
        steps.append({"delete_alias": {"alias_name": alias}})
    if collection is not None:
        steps.append({"create_alias": {"alias_name": alias, "collection_name": collection}})
    return steps


def main():
    module = qdrant_module(dict(
        name=dict(type="str", required=True),
        collection=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    ))
    check_options(module)
    alias = module.params["name"]
    wanted = module.params["collection"] if module.params["state"] == "present" else None

    qdrant = Qdrant(module)
    previous = qdrant.aliases().get(alias)
    changed = previous != wanted
    if changed and wanted is not None:
        check_target(module, qdrant, alias, wanted)
    if changed and not module.check_mode:
        qdrant.change_aliases(actions(alias, previous, wanted), "point alias %s at %s" % (alias, wanted)
                              if wanted else "delete alias %s" % alias)
    module.exit_resource(changed, dict(alias=alias, collection=previous), dict(alias=alias, collection=wanted),
                         alias=alias, collection=wanted, previous_collection=previous)


if __name__ == "__main__":
    main()
