#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_pr_comment
short_description: One sticky comment on a GitHub pull request, found by a hidden marker
version_added: 1.1.0
description:
  - Keeps one comment on a pull request (GitHub's issue comments, C(/repos/{owner}/{repo}/issues/{number}/comments))
    with the text O(body), for example the addresses of a pull request's preview.
  - The comment is found by a hidden marker, an HTML comment (O(marker)) that the module writes as the first line of
    the comment and that GitHub does not show. Comments whose text starts with the marker are this module's; others
    (also those quoting the marker) are left alone, so several tasks can keep one sticky comment each, with markers
    of their own.
  - The comment is created when missing and updated only when its text differs (line endings aside);
    O(state=absent) deletes it. Should there be more than one (two runs racing), the oldest is kept and the others
    are deleted.
  - The pull request is read first, so a number without a pull request fails with a message saying so.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.github
options:
  repo:
    description:
      - The repository, as C(owner/name), for example V(octo-org/textbook).
    type: str
    required: true
  number:
    description:
      - The number of the pull request (as in C(https://github.com/owner/name/pull/42)), a positive integer.
    type: int
    required: true
    aliases: [pull_request]
  body:
    description:
      - The text of the comment (GitHub Flavored Markdown), without the marker. Required with O(state=present).
      - With the marker and the line break after it, at most 65,536 characters (GitHub's limit for a comment).
    type: str
  marker:
    description:
      - The hidden marker that tells this comment from the others, an HTML comment on one line, such as
        V(<!-- textbook-deploy:preview -->). Use one marker per kind of sticky comment.
    type: str
    default: "<!-- textbook-deploy:preview -->"
  state:
    description:
      - V(present) creates or updates the comment; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports whether the comment would be created, updated or deleted, sending only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the comment's text before and after (the marker included).
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope (C(public_repo) for a public
    repository); a fine-grained token or a workflow's C(GITHUB_TOKEN) needs the repository permission Pull requests
    (write) or Issues (write)."
  - The comment is written by the user (or app) the token belongs to.
seealso:
  - module: textbook.deploy.neon_branch
  - name: GitHub REST API for issue comments
    description: The endpoints this module calls (pull requests are issues to them).
    link: https://docs.github.com/en/rest/issues/comments
"""

EXAMPLES = r"""
- name: Tell the pull request where its preview is
  textbook.deploy.github_pr_comment:
    repo: octo-org/textbook
    number: "{{ pr_number }}"
    body: |
      Preview of this pull request:
      - textbook: https://octo-org.github.io/textbook/pr-preview/pr-{{ pr_number }}/
      - database branch: `preview-{{ pr_number }}` (expires in 7 days)

- name: A second sticky comment, with its own marker
  textbook.deploy.github_pr_comment:
    repo: octo-org/textbook
    number: 42
    marker: "<!-- textbook-deploy:benchmarks -->"
    body: "No slowdown."

- name: The pull request was closed, its preview removed
  textbook.deploy.github_pr_comment:
    repo: octo-org/textbook
    number: 42
    state: absent
"""

RETURN = r"""
comment:
  description:
    - The sticky comment as GitHub returns it (C(id), C(html_url), C(body) with the marker, C(user), C(created_at),
      C(updated_at), ...); empty after O(state=absent). In check mode, the comment as it would be (no C(id) when it
      would be created).
  returned: always
  type: dict
  sample:
    id: 2000002
    html_url: https://github.com/octo-org/textbook/pull/42#issuecomment-2000002
    body: "<!-- textbook-deploy:preview -->\nPreview of this pull request: ..."
    user: {login: deploy-bot}
    created_at: "2025-07-01T12:00:00Z"
    updated_at: "2025-07-01T12:05:00Z"
action:
  description: What was done (in check mode, would be done) to the comment.
  returned: always
  type: str
  choices: [created, updated, deleted, unchanged]
  sample: updated
deleted:
  description: Ids of the comments deleted (with O(state=absent), or duplicates of the sticky comment).
  returned: always
  type: list
  elements: int
  sample: []
"""

from urllib.parse import quote

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import ApiError
from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import actions_module, parse_repo

SCOPE_HINT = ("the classic scope `repo` (`public_repo` for a public repository), or for a fine-grained token the "
              "repository permission Pull requests (write) or Issues (write)")
BODY_MAX = 65536  # characters: GitHub's 422 "Body is too long (maximum is 65536 characters)"
PER_PAGE = 100


def marker_error(marker):
    if not (marker.startswith("<!--") and marker.endswith("-->") and len(marker) > 7):
        return ("marker must be an HTML comment, such as <!-- textbook-deploy:preview -->, so that GitHub does not "
                "show it; got %r." % marker)
    if "\n" in marker or "\r" in marker or "--" in marker[4:-3]:
        return "marker must be one line and must not contain -- between <!-- and -->; got %r." % marker
    return None


def same_text(one, other):
    return one.replace("\r\n", "\n") == other.replace("\r\n", "\n")


class StickyComment:
    """The comments of one pull request that carry the marker, and the requests that change them."""

    def __init__(self, module, owner, name, number):
        self.module, self.client = module, module.client
        self.repo = "%s/%s" % (owner, name)
        self.number = number
        self.repo_path = "/repos/%s/%s" % (quote(owner, safe=""), quote(name, safe=""))

    def fail(self, err, doing):
        self.module.fail_api(err, msg="Could not %s pull request #%d of %s" % (doing, self.number, self.repo))

    def require_pull(self):
        """The pull request, or fail saying whether it or the repository is missing."""
        found = None
        try:
            pull = self.client.get("%s/pulls/%d" % (self.repo_path, self.number), missing_ok=True)
            if pull is None:
                found = self.client.get(self.repo_path, missing_ok=True)
        except ApiError as err:
            self.fail(err, "read")
        if pull is None and found is None:
            self.module.fail_json(msg="Repository %s does not exist or the token cannot see it: check the option repo "
                                      "and the token's access (it needs %s)." % (self.repo, SCOPE_HINT))
        if pull is None:
            self.module.fail_json(msg="Pull request #%d does not exist in %s: check the option number (the number in "
                                      "the pull request's address, .../pull/<number>)." % (self.number, self.repo))
        return pull.data

    def marked(self, marker):
        """The comments whose text starts with the marker, oldest first."""
        path = "%s/issues/%d/comments" % (self.repo_path, self.number)
        try:
            comments = list(self.client.paginate(path, params={"per_page": PER_PAGE}))
        except ApiError as err:
            self.fail(err, "list the comments of")
        return sorted((c for c in comments if (c.get("body") or "").lstrip().startswith(marker)),
                      key=lambda c: c["id"])

    def send(self, method, path, doing, **kwargs):
        try:
            response = self.client.request(method, path, **kwargs)
        except ApiError as err:
            self.fail(err, doing)
        return response.data if response is not None else None

    def create(self, text):
        return self.send("POST", "%s/issues/%d/comments" % (self.repo_path, self.number), "comment on",
                         body={"body": text}, ok=(201,))

    def update(self, comment, text):
        return self.send("PATCH", "%s/issues/comments/%d" % (self.repo_path, comment["id"]),
                         "update comment %d on" % comment["id"], body={"body": text}, ok=(200,), retry_post=True)

    def delete(self, comment):
        self.send("DELETE", "%s/issues/comments/%d" % (self.repo_path, comment["id"]),
                  "delete comment %d on" % comment["id"], ok=(204,), missing_ok=True)


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            number=dict(type="int", required=True, aliases=["pull_request"]),
            body=dict(type="str"),
            marker=dict(type="str", default="<!-- textbook-deploy:preview -->"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        scope_hint=SCOPE_HINT,
        required_if=[("state", "present", ("body",))],
    )
    params = module.params
    repo, error = parse_repo(params["repo"])
    if error:
        module.fail_json(msg=error)
    if params["number"] <= 0:
        module.fail_json(msg="number must be a pull request's number, a positive integer; got %d." % params["number"])
    marker = params["marker"].strip()
    error = marker_error(marker)
    if error:
        module.fail_json(msg=error)
    present = params["state"] == "present"
    text = None
    if present:
        if not (params["body"] or "").strip():
            module.fail_json(msg="body is missing or empty: give the comment's text with state=present, or "
                                 "state=absent to delete the comment.")
        text = params["body"] if params["body"].lstrip().startswith(marker) else "%s\n%s" % (marker, params["body"])
        if len(text) > BODY_MAX:
            module.fail_json(msg="body is %d characters long with the marker, more than GitHub's limit of %d for a "
                                 "comment: shorten it." % (len(text), BODY_MAX))
    module.require_token()

    sticky = StickyComment(module, repo[0], repo[1], params["number"])
    sticky.require_pull()
    found = sticky.marked(marker)
    kept = found[0] if found and present else None
    extra = found[1:] if present else found
    before = kept["body"] if kept else (found[0]["body"] if found else "")

    if not present:
        action, comment = ("deleted" if found else "unchanged"), {}
    elif kept is None:
        action, comment = "created", {"body": text}
    elif not same_text(kept["body"], text):
        action, comment = "updated", dict(kept, body=text)
    else:
        action, comment = "unchanged", kept
    changed = action != "unchanged" or bool(extra)
    if not module.check_mode:
        if action == "created":
            comment = sticky.create(text)
        elif action == "updated":
            comment = sticky.update(kept, text)
        for duplicate in extra:
            sticky.delete(duplicate)
    module.exit_resource(changed, before, text or "", comment=comment, action=action,
                         deleted=[c["id"] for c in extra])


if __name__ == "__main__":
    main()
