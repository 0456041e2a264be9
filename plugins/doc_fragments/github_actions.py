# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the GitHub modules that work on one repository, or on one of its deployment environments.

Each module declares these options in its own argument_spec; this fragment only documents them.
"""


class ModuleDocFragment:
    # The scope of GitHub Actions secrets and variables (github_secret, github_variable):
    # extends_documentation_fragment: textbook.deploy.github_actions
    DOCUMENTATION = r"""
options:
  repo:
    description:
      - The repository, as C(owner/name).
    type: str
    required: true
  environment:
    description:
      - Work in the scope of this deployment environment of O(repo) instead of the repository's own scope.
      - The environment must exist (see M(textbook.deploy.github_environment)). Environment names are
        case-insensitive.
    type: str
"""

    # Only the repository (github_environment, github_pages): extends_documentation_fragment:
    # textbook.deploy.github_actions.repo
    REPO = r"""
options:
  repo:
    description:
      - The repository, as C(owner/name).
    type: str
    required: true
"""
