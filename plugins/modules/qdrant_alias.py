#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: qdrant_alias
short_description: Point a Qdrant collection alias at a collection, switching it atomically
version_added: 1.0.0
description:
  - Creates, moves or deletes one collection alias through Qdrant's REST API (C(POST /collections/aliases)).
  - Moving an alias is one request with a C(delete_alias) and a C(create_alias) action, which Qdrant applies
    together, so searches through the alias go to the old collection until the switch and to the new one after it.
    This is the last step of a zero-downtime reindex (build a new collection, fill it, then move the alias).
  - The target collection must exist; the module checks it before changing anything.
  - O(aliases) moves several aliases in that same one request, so an environment switches all its collections at
    once (and a run with nothing to move costs two C(GET) requests, whatever the number of aliases).
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.qdrant
options:
  name:
    description:
      - The alias, for example V(docs).
      - It cannot be the name of an existing collection.
      - Give either O(name) (with O(collection)) or O(aliases).
    type: str
  collection:
    description:
      - The collection the alias points at. Required with O(state=present).
    type: str
  state:
    description:
      - V(present) makes the alias point at O(collection), creating or moving it.
      - V(absent) deletes the alias (the collection is left as it is); with O(aliases), each alias named.
    type: str
    choices: [present, absent]
    default: present
  aliases:
    description:
      - Several aliases at once, each alias name mapped to the collection it points at; all that differ are moved
        in one atomic request.
    type: dict
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

- name: Switch every alias of the staging environment in one atomic request
  textbook.deploy.qdrant_alias:
    aliases:
      staging_passages: staging_passages_v2
      staging_glossary: staging_glossary_v1

- name: Remove an alias
  textbook.deploy.qdrant_alias:
    name: textbook_staging
    state: absent
"""

RETURN = r"""
alias:
  description: The alias.
  returned: when O(name) is given
  type: str
  sample: textbook
collection:
  description: The collection the alias points at after the task (in check mode, would point at). Null when absent.
  returned: when O(name) is given
  type: str
  sample: textbook_v2
previous_collection:
  description: The collection the alias pointed at before the task. Null when the alias did not exist.
  returned: when O(name) is given
  type: str
  sample: textbook_v1
aliases:
  description: Each alias named and the collection it points at after the task (null when absent).
  returned: always
  type: dict
  sample: {"staging_passages": "staging_passages_v2"}
previous_aliases:
  description: Each alias named and the collection it pointed at before the task (null when it did not exist).
  returned: always
  type: dict
  sample: {"staging_passages": "staging_passages_v1"}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.qdrant import Qdrant, name_error, qdrant_module


def wanted_aliases(module):
    """{alias: collection it must point at, or None to delete it}; fails before any request on bad options."""
    params = module.params
    present = params["state"] == "present"
    if params["aliases"] is not None:
        wanted = dict((alias, target if present else None) for alias, target in params["aliases"].items())
        if not wanted:
            module.fail_json(msg="aliases is empty: map each alias to the collection it points at.")
    else:
        if present and not params["collection"]:
            module.fail_json(msg="collection is required with state=present: name the collection the alias points at.")
        wanted = {params["name"]: params["collection"] if present else None}
    for alias, target in wanted.items():
        error = name_error("name" if params["aliases"] is None else "aliases", alias) or (
            target is not None and name_error("collection", target))
        if error:
            module.fail_json(msg=error)
    return wanted


def check_targets(module, qdrant, moves):
    """Every alias can point at its collection: it exists, and no collection is called like the alias."""
    names = qdrant.collection_names()
    for alias, collection in sorted(moves.items()):
        if collection is not None and collection not in names:
            module.fail_json(msg="Collection %s does not exist, so alias %s cannot point at it: create it first (for "
                                 "example with textbook.deploy.qdrant_collection) or fix the option collection."
                                 % (collection, alias))
        if collection is not None and alias in names:
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
    module = qdrant_module(
        dict(
            name=dict(type="str"),
            collection=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            aliases=dict(type="dict"),
        ),
        required_one_of=[("name", "aliases")],
        mutually_exclusive=[("name", "aliases"), ("collection", "aliases")],
    )
    wanted = wanted_aliases(module)
    qdrant = Qdrant(module)
    current = qdrant.aliases()
    previous = dict((alias, current.get(alias)) for alias in wanted)
    moves = dict((alias, target) for alias, target in wanted.items() if previous[alias] != target)
    if moves:
        check_targets(module, qdrant, moves)
    if moves and not module.check_mode:
        steps = [step for alias in sorted(moves) for step in actions(alias, previous[alias], moves[alias])]
        qdrant.change_aliases(steps, "move the aliases %s" % ", ".join(sorted(moves)))
    result = dict(aliases=wanted, previous_aliases=previous)
    if module.params["name"] is not None:
        alias = module.params["name"]
        result.update(alias=alias, collection=wanted[alias], previous_collection=previous[alias])
    module.exit_resource(bool(moves), previous, wanted, **result)


if __name__ == "__main__":
    main()
