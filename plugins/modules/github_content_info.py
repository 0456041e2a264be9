#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_content_info
short_description: List a directory of a repository's branch (or read what a path is) without cloning it
version_added: 1.1.0
description:
  - Reads a path of a branch, tag or commit through GitHub's contents API
    (C(GET /repos/{owner}/{repo}/contents/{path}?ref=...)), in one request whatever the size of the branch.
  - For a directory, returns its entries (name, path, type, sha, size); for a file, symlink or submodule, its type
    and sha. A path or ref that does not exist is not an error (RV(exists) is false and RV(missing) says which);
    a repository that does not exist is.
  - The preview sweep (C(playbooks/sweep_previews.yml)) lists the Pages branch's C(pr-preview/) directory with it
    rather than fetching the branch, which holds every published site.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.api.info
  - textbook.deploy.github
  - textbook.deploy.github_actions.repo
options:
  path:
    description:
      - The directory or file, relative to the root of the branch, for example V(pr-preview) or
        V(pr-preview/pr-42/build-info.json). Leading and trailing slashes are ignored; V(.) and V(..) segments are
        refused.
    type: str
    required: true
  ref:
    description:
      - The branch, tag or commit SHA to read, for example V(gh-pages). When not set, the repository's default
        branch.
    type: str
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope for a private repository (none for a
    public one); a fine-grained token needs the repository permission Contents (read)."
  - GitHub lists at most 1,000 entries of a directory through this API.
seealso:
  - module: textbook.deploy.pages_publish
  - module: textbook.deploy.github_pull_info
  - name: GitHub REST API for repository contents
    description: The endpoint this module calls.
    link: https://docs.github.com/en/rest/repos/contents#get-repository-content
"""

EXAMPLES = r"""
- name: The pull-request previews published on the Pages branch
  textbook.deploy.github_content_info:
    repo: octo-org/textbook
    ref: gh-pages
    path: pr-preview
  register: previews

- name: Their directories
  ansible.builtin.debug:
    msg: "{{ previews.entries | selectattr('type', 'eq', 'dir') | map(attribute='name') | list }}"
"""

RETURN = r"""
exists:
  description: Whether the path exists in the ref.
  returned: always
  type: bool
  sample: true
missing:
  description: V(ref) when the branch, tag or commit does not exist, V(path) when the path is not in it; null when
    RV(exists).
  returned: always
  type: str
  sample: null
type:
  description: V(dir), V(file), V(symlink) or V(submodule); null when the path does not exist.
  returned: always
  type: str
  sample: dir
sha:
  description: The blob's (or submodule commit's) SHA of a file, symlink or submodule; null for a directory.
  returned: always
  type: str
  sample: null
entries:
  description: A directory's entries, sorted by name; empty for anything else.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The entry's name.
      type: str
    path:
      description: Its path from the root of the branch.
      type: str
    type:
      description: V(dir), V(file), V(symlink) (GitHub lists a submodule as V(file)).
      type: str
    sha:
      description: The tree's or blob's SHA.
      type: str
    size:
      description: Bytes of a file (0 for a directory).
      type: int
  sample:
    - {"name": "pr-42", "path": "pr-preview/pr-42", "type": "dir", "sha": "748cee6657081112de3b198bd6bbe7ecf678c2c2",
       "size": 0}
"""

from urllib.parse import quote

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import ApiError
from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import ActionsScope, actions_module

SCOPE_HINT = ("for a private repository the classic scope `repo`, or for a fine-grained token the repository "
              "permission Contents (read)")
NO_REF = "No commit found for the ref"  # GitHub's 404 message for a ref that does not exist


def clean_path(module):
    """The path without surrounding slashes; fails before any request on an empty path or a . or .. segment."""
    path = (module.params["path"] or "").strip("/")
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts) or any(ord(c) < 32 for c in path):
        module.fail_json(msg="path must name a directory or file of the branch, relative to its root and without "
                             "empty, . or .. segments or control characters (for example pr-preview), got %r."
                         % module.params["path"])
    return path


def entry(item):
    return dict(name=item["name"], path=item["path"], type=item["type"], sha=item["sha"], size=item.get("size", 0))


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            path=dict(type="str", required=True),
            ref=dict(type="str"),
        ),
        scope_hint=SCOPE_HINT,
    )
    scope = ActionsScope(module)
    path = clean_path(module)
    ref = module.params["ref"]
    if ref is not None and (not ref.strip() or ref != ref.strip()):
        module.fail_json(msg="ref must name a branch, tag or commit (for example gh-pages), got %r." % ref)
    module.require_token()

    result = dict(changed=False, exists=False, missing=None, type=None, sha=None, entries=[])
    try:
        response = module.client.get(scope.path("contents", actions=False) + "/" + quote(path),
                                     params={"ref": ref} if ref else None)
    except ApiError as err:
        if err.status != 404:
            scope.fail(err, "read %s of" % path)
        if not err.api_message.startswith(NO_REF):
            scope.require_repo()
        result["missing"] = "ref" if err.api_message.startswith(NO_REF) else "path"
        module.exit_json(**result)
    data = response.data
    if isinstance(data, list):
        result.update(type="dir", entries=sorted((entry(item) for item in data), key=lambda item: item["name"]))
    else:
        result.update(type=data.get("type"), sha=data.get("sha"))
    result["exists"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
