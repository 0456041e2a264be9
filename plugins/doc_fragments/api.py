# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every API module of textbook.deploy shares, whatever the service (see plugins/module_utils/api_module.py).

Each module also extends the fragment of its service (textbook.deploy.github, .neon, .qdrant), which documents
api_url, token, retries and the service's action group.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the TLS certificate of O(api_url). Only disable it for a test server with a self-signed certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP response before giving up on that attempt.
    type: int
    default: 30
"""

    # Modules that only read (the *_info modules): extends_documentation_fragment: textbook.deploy.api.info
    INFO = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads, in check mode too.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: The module only reads.
"""
