#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_pull_info
short_description: Read the state of a repository's pull requests
version_added: 1.1.0
description:
  - Reads pull requests of a repository and says for each whether it is V(open), V(closed) (without being merged),
    V(merged), or V(absent) (GitHub answers 404 for that number; it was never a pull request of the repository).
  - With O(numbers), each pull request named is read once (C(GET /repos/{owner}/{repo}/pulls/{pull_number})), so the
    cost follows the numbers asked about, not the repository's history. Without it, the pull requests of O(state)
    are listed (C(GET /repos/{owner}/{repo}/pulls), every page).
  - The preview sweep (C(playbooks/sweep_previews.yml)) asks about the pull requests that still have a preview.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.api.info
  - textbook.deploy.github
  - textbook.deploy.github_actions.repo
options:
  numbers:
    description:
      - The pull requests to read, by number (positive integers). A number GitHub does not know is returned with
        state V(absent).
      - An empty list reads nothing.
    type: list
    elements: int
  state:
    description:
      - Without O(numbers), which pull requests to list. Ignored with O(numbers).
    type: str
    choices: [open, closed, all]
    default: open
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope for a private repository (none for a
    public one); a fine-grained token needs the repository permission Pull requests (read)."
seealso:
  - module: textbook.deploy.github_content_info
  - name: GitHub REST API for pull requests
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/pulls/pulls
"""

EXAMPLES = r"""
- name: Which of the pull requests with a preview are still open
  textbook.deploy.github_pull_info:
    repo: octo-org/textbook
    numbers: [12, 40, 42]
  register: pulls

- name: Say which are closed or merged
  ansible.builtin.debug:
    msg: "{{ pulls.pulls | rejectattr('state', 'eq', 'open') | map(attribute='number') | list }}"

- name: Every open pull request
  textbook.deploy.github_pull_info:
    repo: octo-org/textbook
    state: open
"""

RETURN = r"""
pulls:
  description:
    - One entry per pull request, in the order of O(numbers) (each number once), or as GitHub lists them (newest
      first).
    - An V(absent) one has only RV(pulls[].number) and RV(pulls[].state).
  returned: always
  type: list
  elements: dict
  contains:
    number:
      description: The pull request's number.
      type: int
    state:
      description: V(open), V(closed) (closed without being merged), V(merged) or V(absent) (no such pull request).
      type: str
    title:
      description: Its title.
      type: str
    head:
      description: The branch it asks to merge.
      type: str
    base:
      description: The branch it would merge into.
      type: str
    html_url:
      description: Its page on GitHub.
      type: str
    updated_at:
      description: When it last changed.
      type: str
    closed_at:
      description: When it was closed or merged (null while open).
      type: str
    merged_at:
      description: When it was merged (null unless merged).
      type: str
  sample:
    - {"number": 42, "state": "merged", "title": "Add a chapter on gait", "head": "gait", "base": "main",
       "html_url": "https://github.com/octo-org/textbook/pull/42", "updated_at": "2025-06-01T12:00:00Z",
       "closed_at": "2025-06-01T12:00:00Z", "merged_at": "2025-06-01T12:00:00Z"}
    - {"number": 43, "state": "absent"}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import ApiError
from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import ActionsScope, actions_module

SCOPE_HINT = ("for a private repository the classic scope `repo`, or for a fine-grained token the repository "
              "permission Pull requests (read)")
NUMBER_MAX = 2 ** 31 - 1  # GitHub's issue and pull request numbers are 32-bit integers
PER_PAGE = 100


def pull_state(pull):
    """open, closed or merged (a merged pull request is closed with a merge time)."""
    if pull.get("state") == "open":
        return "open"
    return "merged" if pull.get("merged_at") else "closed"


def summary(pull):
    return dict(number=pull["number"], state=pull_state(pull), title=pull.get("title"),
                head=(pull.get("head") or {}).get("ref"), base=(pull.get("base") or {}).get("ref"),
                html_url=pull.get("html_url"), updated_at=pull.get("updated_at"), closed_at=pull.get("closed_at"),
                merged_at=pull.get("merged_at"))


def wanted_numbers(module):
    """The numbers asked about, each once in the order given; fails before any request on a bad one."""
    numbers = []
    for number in module.params["numbers"]:
        if not 1 <= number <= NUMBER_MAX:
            module.fail_json(msg="numbers: %s is not a pull request number: give positive integers (the number "
                                 "after /pull/ in its address)." % number)
        if number not in numbers:
            numbers.append(number)
    return numbers


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            numbers=dict(type="list", elements="int"),
            state=dict(type="str", choices=["open", "closed", "all"], default="open"),
        ),
        scope_hint=SCOPE_HINT,
    )
    scope = ActionsScope(module)
    numbers = wanted_numbers(module) if module.params["numbers"] is not None else None
    module.require_token()

    if numbers is None:
        try:
            listed = list(module.client.paginate(scope.path("pulls", actions=False),
                                                 params={"state": module.params["state"], "per_page": PER_PAGE}))
        except ApiError as err:
            scope.fail(err, "list the pull requests of")
        module.exit_json(changed=False, pulls=[summary(pull) for pull in listed])

    pulls = []
    for number in numbers:
        try:
            response = module.client.get(scope.path("pulls", number, actions=False), missing_ok=True)
        except ApiError as err:
            scope.fail(err, "read pull request #%d of" % number)
        pulls.append(summary(response.data) if response is not None else dict(number=number, state="absent"))
    if any(pull["state"] == "absent" for pull in pulls):
        scope.require_repo()  # GitHub answers 404 for every number of a repository that is not there
    module.exit_json(changed=False, pulls=pulls)


if __name__ == "__main__":
    main()
