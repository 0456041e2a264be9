#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: qdrant_alias_info
short_description: List Qdrant's collection aliases and the collections they point at
version_added: 1.1.0
description:
  - Lists every collection alias of a Qdrant server with the collection it points at (C(GET /aliases)), in one
    request.
  - O(name_regex) keeps the aliases whose name it matches, for example the pull-request previews' indexes.
  - The preview sweep (C(playbooks/sweep_previews.yml)) finds the previews' indexes C(preview_<N>_passages) with it.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.api.info
  - textbook.deploy.qdrant
options:
  name_regex:
    description:
      - A regular expression (Python's C(re) syntax) searched in each alias's name; only the aliases it matches are
        returned. Anchor it (V(^preview_[0-9]+_passages$)) to match whole names. An expression that does not
        compile fails before any request.
    type: str
notes:
  - A read-only API key is enough.
seealso:
  - module: textbook.deploy.qdrant_alias
  - module: textbook.deploy.qdrant_collection
  - name: Qdrant collection aliases
    description: Aliases, and the atomic switch of the collection behind one.
    link: https://qdrant.tech/documentation/concepts/collections/#collection-aliases
"""

EXAMPLES = r"""
- name: The pull-request previews' indexes
  textbook.deploy.qdrant_alias_info:
    api_url: https://qdrant.example.com:6333
    api_key: "{{ vault_qdrant_api_key }}"
    name_regex: ^preview_[1-9][0-9]*_passages$
  register: previews

- name: The collection the staging chat service searches
  textbook.deploy.qdrant_alias_info:
    name_regex: ^staging_passages$
  register: staging

- name: Say it
  ansible.builtin.debug:
    msg: "{{ staging.aliases['staging_passages'] | default('no such alias') }}"
"""

RETURN = r"""
aliases:
  description: Each alias (those O(name_regex) matches) and the collection it points at.
  returned: always
  type: dict
  sample: {"preview_42_passages": "preview_42_passages-3f2a9c", "staging_passages": "staging_passages-81b0d4"}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.qdrant import Qdrant, qdrant_module


def main():
    module = qdrant_module(dict(name_regex=dict(type="str")))
    pattern = module.regex_option("name_regex")
    aliases = Qdrant(module).aliases()
    module.exit_json(changed=False, aliases=dict(sorted(
        (alias, collection) for alias, collection in aliases.items() if pattern is None or pattern.search(alias))))


if __name__ == "__main__":
    main()
