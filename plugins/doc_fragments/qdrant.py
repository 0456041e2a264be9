# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every Qdrant module of textbook.deploy shares (see plugins/module_utils/api_module.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Qdrant REST API, for example C(https://xyz.cloud.qdrant.io:6333).
    type: str
    default: http://localhost:6333
  token:
    description:
      - Qdrant API key, sent in the C(api-key) header. A read-only key cannot make changes.
      - When not set, the environment variable E(QDRANT_API_KEY) is used; a server without authentication needs none.
      - The key is never logged nor put into a result or an error message.
    type: str
    aliases: [api_key]
  retries:
    description:
      - How many times a request is retried after a server error (HTTP 5xx), a rate limit (HTTP 429) or, for
        requests that are safe to repeat, a connection error or timeout. V(0) disables retries.
    type: int
    default: 5
attributes:
  action_group:
    support: full
    membership:
      - textbook.deploy.qdrant
    description: Use C(group/textbook.deploy.qdrant) in C(module_defaults) to set the API options once.
notes:
  - The Qdrant options are shared with the other modules of the C(textbook.deploy.qdrant) action group, so they can
    be set once with C(module_defaults) for C(group/textbook.deploy.qdrant).
"""
