# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every GitHub module of textbook.deploy shares (see plugins/module_utils/api_module.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the GitHub REST API.
      - GitHub Enterprise Server uses C(https://HOSTNAME/api/v3).
    type: str
    default: https://api.github.com
  token:
    description:
      - "GitHub token, sent as C(Authorization: Bearer <token>)."
      - A classic personal access token, a fine-grained token, a GitHub App installation token or the C(GITHUB_TOKEN)
        of a workflow. Each module documents the scope or permissions it needs.
      - When not set, the environment variables E(GITHUB_TOKEN) and then E(GH_TOKEN) are used.
      - The token is never logged nor put into a result or an error message.
    type: str
  retries:
    description:
      - How many times a request is retried after a server error (HTTP 5xx), a rate limit (HTTP 429 or GitHub's
        secondary rate limit) or, for requests that are safe to repeat, a connection error or timeout.
      - Waits follow C(Retry-After) or C(X-RateLimit-Reset) when the API sends them, else an exponential backoff with
        jitter; the total wait of one request is bounded (120 seconds).
      - V(0) disables retries.
    type: int
    default: 5
attributes:
  action_group:
    support: full
    membership:
      - textbook.deploy.github
    description: Use C(group/textbook.deploy.github) in C(module_defaults) to set the API options once.
notes:
  - The GitHub options are shared with the other modules of the C(textbook.deploy.github) action group, so they can
    be set once with C(module_defaults) for C(group/textbook.deploy.github).
"""
