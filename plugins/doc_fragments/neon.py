# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every Neon module of textbook.deploy shares (see plugins/module_utils/api_module.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Neon API v2.
    type: str
    default: https://console.neon.tech/api/v2
  token:
    description:
      - "Neon API key, sent as C(Authorization: Bearer <key>): a personal, organization or project-scoped key
        that can manage the project."
      - When not set, the environment variable E(NEON_API_KEY) is used.
      - The key is never logged nor put into a result or an error message.
    type: str
  retries:
    description:
      - How many times a request is retried after HTTP 423 Locked (another operation is running on the project),
        429, 503 or another 5xx, or, for requests that are safe to repeat, a connection error or timeout. Neon
        documents 423 and 503 as not applied, so they are retried for every method.
      - Waits follow C(Retry-After) when Neon sends it, else an exponential backoff with jitter; the total wait of
        one request is bounded (300 seconds). V(0) disables retries.
    type: int
    default: 5
  operation_timeout:
    description:
      - Seconds to wait for the operations a change starts (creating a branch, starting its compute, ...) to finish
        before the next dependent request. The task fails when they do not finish in time or one of them fails.
    type: int
    default: 300
attributes:
  action_group:
    support: full
    membership:
      - textbook.deploy.neon
    description: Use C(group/textbook.deploy.neon) in C(module_defaults) to set the API options once.
notes:
  - The Neon options are shared with the other modules of the C(textbook.deploy.neon) action group, so they can be
    set once with C(module_defaults) for C(group/textbook.deploy.neon).
"""

    # Where a role, database or connection lives: extends_documentation_fragment: textbook.deploy.neon.scope
    SCOPE = r"""
options:
  project:
    description:
      - The Neon project, by name or id. A name must be unique among the projects the API key can see.
    type: str
    required: true
  branch:
    description:
      - The branch, by name or id (for example V(main), V(staging) or V(br-odd-sun-a5xyz)).
      - When not set, the project's default branch.
    type: str
"""
