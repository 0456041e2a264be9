#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_pages
short_description: Create, update or delete a repository's GitHub Pages site and wait for its build
version_added: 1.0.0
description:
  - Enables, configures or disables GitHub Pages for one repository through the REST API
    (C(GET/POST/PUT/DELETE /repos/{owner}/{repo}/pages)).
  - Only the settings that differ are sent, in one C(PUT); a run with nothing to change only reads.
  - With O(wait=true), polls the latest Pages build until it is built (for O(commit) when given), failing with the
    build's own error message when it errored.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.github
  - textbook.deploy.github_actions.repo
options:
  state:
    description:
      - V(present) enables Pages (when needed) and applies the settings given; settings left unset are not changed.
      - V(absent) disables Pages for the repository.
    type: str
    choices: [present, absent]
    default: present
  source:
    description:
      - Branch and folder Pages publishes (the classic, branch-based build).
      - Required to create a site unless O(build_type=workflow).
    type: dict
    suboptions:
      branch:
        description:
          - The branch to publish, for example V(gh-pages).
        type: str
        required: true
      path:
        description:
          - The folder of that branch to publish.
        type: str
        choices: [/, /docs]
        default: /
  build_type:
    description:
      - V(legacy) builds the site from O(source) on every push; V(workflow) leaves the build to a GitHub Actions
        workflow.
      - When not set, it is left as it is (GitHub creates new sites with V(legacy)).
    type: str
    choices: [legacy, workflow]
  cname:
    description:
      - Custom domain of the site, a bare host name such as V(docs.example.com).
      - An empty string removes the custom domain; when not set, the custom domain is left as it is.
    type: str
  https_enforced:
    description:
      - Redirect HTTP to HTTPS. GitHub refuses to enable it until a certificate has been issued for the site's domain.
      - When not set, it is left as it is.
    type: bool
  wait:
    description:
      - Wait until the latest Pages build is V(built). Fails when it V(errored) or after O(wait_timeout) seconds.
      - Without O(commit), a build that finished before a change made by this task (or before a push) may be
        taken for the latest one; give O(commit) to wait for the build of a specific push.
      - Ignored in check mode (nothing was published to build).
    type: bool
    default: false
  commit:
    description:
      - With O(wait=true), wait until the latest build is the build of this commit (full or abbreviated SHA) of the
        source branch. Earlier builds, errored or not, are ignored.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for the build with O(wait=true).
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two reads of the latest build while waiting.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    description: Reports what would change without sending any request that changes something (only C(GET)s).
  diff_mode:
    support: full
    description: Returns the Pages settings (source, build_type, cname, https_enforced) before and after the change.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope (C(public_repo) is enough for a
    public repository); a fine-grained token needs the repository permissions Pages (write) and
    Administration (write); reading only needs Pages (read)."
seealso:
  - name: GitHub REST API for Pages
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/pages/pages
"""

EXAMPLES = r"""
- name: Publish the gh-pages branch and wait for the build of the commit just pushed
  textbook.deploy.github_pages:
    repo: octo-org/textbook
    source:
      branch: gh-pages
      path: /
    build_type: legacy
    cname: docs.example.com
    https_enforced: true
    wait: true
    commit: "{{ publish.commit }}"
    wait_timeout: 600
  register: pages

- name: Show the site address
  ansible.builtin.debug:
    msg: "{{ pages.html_url }}"

- name: Remove the custom domain, keep everything else
  textbook.deploy.github_pages:
    repo: octo-org/textbook
    cname: ""

- name: Let a GitHub Actions workflow build the site
  textbook.deploy.github_pages:
    repo: octo-org/textbook
    build_type: workflow

- name: Set the API options once for every GitHub module (GitHub Enterprise Server)
  module_defaults:
    group/textbook.deploy.github:
      api_url: https://github.example.com/api/v3
      token: "{{ vault_github_token }}"
  block:
    - name: Disable Pages
      textbook.deploy.github_pages:
        repo: octo-org/old-site
        state: absent
"""

RETURN = r"""
html_url:
  description: Address of the site. Null when the site is absent (or would only be created in check mode).
  returned: always
  type: str
  sample: https://octo-org.github.io/textbook/
pages:
  description:
    - The Pages site as the API returns it (C(GET /repos/{owner}/{repo}/pages)), after the change.
    - In check mode, the site as it is now. Null when the site is absent, and always with O(state=absent).
  returned: always
  type: dict
  sample:
    url: https://api.github.com/repos/octo-org/textbook/pages
    status: built
    cname: docs.example.com
    custom_404: false
    html_url: https://docs.example.com/
    build_type: legacy
    source:
      branch: gh-pages
      path: /
    public: true
    https_enforced: true
build:
  description: The latest Pages build (C(GET /repos/{owner}/{repo}/pages/builds/latest)) the module waited for.
  returned: when O(wait=true), outside check mode
  type: dict
  sample:
    url: https://api.github.com/repos/octo-org/textbook/pages/builds/5472601
    status: built
    error:
      message: null
    commit: 351391cdcb88ffae71ec3028c91f375a8036a26b
    duration: 2104
    created_at: "2024-06-01T12:00:00Z"
    updated_at: "2024-06-01T12:00:02Z"
build_status:
  description:
    - Status of the latest build (V(built), V(building), V(queued) or V(errored)); from RV(build) when waited for, else
      from the Pages site.
  returned: when the site exists
  type: str
  sample: built
"""

import re
import time

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import (
    ApiError,
    ApiModule,
    GITHUB_API_DEFAULTS,
)
from ansible_collections.textbook.deploy.plugins.module_utils.hostname import normalize_hostname

SCOPE_HINT = ("the classic scope `repo` (or `public_repo` for a public repository), or for a fine-grained token the "
              "repository permissions Pages (write) and Administration (write)")
OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$")
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
SHA_RE = re.compile(r"^[0-9a-fA-F]{7,64}$")
CONFIG_KEYS = ("source", "build_type", "cname", "https_enforced")


def parse_repo(value):
    """'owner/name' -> (owner, name), or an error message."""
    parts = (value or "").split("/")
    if len(parts) != 2 or not OWNER_RE.match(parts[0]) or not NAME_RE.match(parts[1]) or parts[1] in (".", ".."):
        return None, ("repo must be 'owner/name' (for example octo-org/textbook), got %r; give the repository, "
                      "not its URL, without a trailing .git or slash" % (value,))
    if parts[1].endswith(".git"):
        return None, "repo must be 'owner/name' without the .git suffix: use %r" % ("%s/%s" % (parts[0], parts[1][:-4]),)
    return (parts[0], parts[1]), None


def normalize_cname(value):
    """None (leave as is), '' (remove) or a lower-case host name; or an error message."""
    if value is None:
        return None, None
    if value.strip() == "":
        return "", None
    host = normalize_hostname(value)
    if host is None:
        return None, ("cname must be a bare host name such as docs.example.com (no scheme, port, path or IP "
                      "address), or an empty string to remove the custom domain; got %r" % (value,))
    return host, None


def config_of(page):
    """The settings this module manages, from a Page object ({} when there is no site)."""
    if not page:
        return {}
    source = page.get("source")
    if isinstance(source, dict):
        source = dict(branch=source.get("branch"), path=source.get("path") or "/")
    else:
        source = None
    return dict(
        source=source,
        build_type=page.get("build_type"),
        cname=(page.get("cname") or "").lower() or None,
        https_enforced=bool(page.get("https_enforced")),  # GitHub omits it for sites without HTTPS
    )


def wanted(params, cname):
    want = {}
    if params["source"]:
        want["source"] = dict(branch=params["source"]["branch"], path=params["source"]["path"] or "/")
    if params["build_type"]:
        want["build_type"] = params["build_type"]
    if cname is not None:
        want["cname"] = cname or None
    if params["https_enforced"] is not None:
        want["https_enforced"] = params["https_enforced"]
    return want


def differences(current, want):
    return dict((key, value) for key, value in want.items() if current.get(key) != value)


class PagesSite:
    def __init__(self, module, owner, name):
        self.module = module
        self.client = module.client
        self.repo = "%s/%s" % (owner, name)
        self.path = "/repos/%s/%s/pages" % (owner, name)
        self.changed = False

    def fail(self, err, doing, **result):
        result.setdefault("changed", self.changed)
        self.module.fail_api(err, msg="Could not %s the Pages site of %s" % (doing, self.repo), **result)

    def read(self):
        try:
            response = self.client.get(self.path, missing_ok=True)
        except ApiError as err:
            self.fail(err, "read")
        return response.data if response is not None else None

    def create(self, want):
        body = dict((key, want[key]) for key in ("source", "build_type") if key in want)
        try:
            response = self.client.post(self.path, body=body, ok=(201,))
        except ApiError as err:
            self.fail(err, "create")
        self.changed = True
        return response.data

    def update(self, changes):
        try:
            self.client.put(self.path, body=changes, ok=(204, 200))
        except ApiError as err:
            self.fail(err, "update")
        self.changed = True

    def delete(self):
        try:
            self.client.delete(self.path, ok=(204, 200), missing_ok=True)
        except ApiError as err:
            self.fail(err, "delete")
        self.changed = True

    def latest_build(self):
        try:
            response = self.client.get(self.path + "/builds/latest", missing_ok=True)
        except ApiError as err:
            self.fail(err, "read the latest build of")
        return response.data if response is not None else None

    def wait_for_build(self, commit, wait_timeout, poll_interval, result):
        """Poll the latest build until it is built (for commit), errored, or wait_timeout passed."""
        deadline = time.monotonic() + wait_timeout
        while True:
            build = self.latest_build()
            status = build.get("status") if build else None
            built_commit = (build.get("commit") or "") if build else ""
            ours = build is not None and (not commit or built_commit.lower().startswith(commit))
            if ours and status == "built":
                return build
            if ours and status == "errored":
                error = (build.get("error") or {}).get("message") or "no error message"
                result.update(build=build, build_status=status)
                self.module.fail_json(
                    msg="The Pages build of %s (commit %s) errored: %s"
                        % (self.repo, built_commit[:12] or "unknown", error), **result)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if build is None:
                    seen = "no build has started yet"
                else:
                    seen = "the latest build is %s for commit %s" % (status, built_commit[:12] or "unknown")
                result.update(build=build, build_status=status)
                self.module.fail_json(
                    msg="Timed out after wait_timeout=%ss waiting for the Pages build of %s%s: %s. Raise wait_timeout, "
                        "or check that the commit was pushed to the branch Pages publishes."
                        % (wait_timeout, self.repo, (" at commit %s" % commit) if commit else "", seen), **result)
            time.sleep(min(poll_interval, remaining))


def main():
    argument_spec = dict(
        repo=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        source=dict(type="dict", options=dict(
            branch=dict(type="str", required=True),
            path=dict(type="str", choices=["/", "/docs"], default="/"),
        )),
        build_type=dict(type="str", choices=["legacy", "workflow"]),
        cname=dict(type="str"),
        https_enforced=dict(type="bool"),
        wait=dict(type="bool", default=False),
        commit=dict(type="str"),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="float", default=2),
    )
    module = ApiModule(
        argument_spec=argument_spec,
        api_defaults=dict(GITHUB_API_DEFAULTS, scope_hint=SCOPE_HINT),
        supports_check_mode=True,
    )
    params = module.params

    # Everything that can be checked locally is checked before the first request.
    repo, error = parse_repo(params["repo"])
    if error:
        module.fail_json(msg=error)
    cname, error = normalize_cname(params["cname"])
    if error:
        module.fail_json(msg=error)
    if params["source"] is not None and not (params["source"]["branch"] or "").strip():
        module.fail_json(msg="source.branch must name a branch, for example gh-pages.")
    commit = params["commit"]
    if commit is not None:
        commit = commit.strip().lower()
        if not SHA_RE.match(commit):
            module.fail_json(msg="commit must be a commit SHA (7 to 64 hex digits), got %r." % (params["commit"],))
    if params["wait_timeout"] <= 0:
        module.fail_json(msg="wait_timeout must be a positive number of seconds, got %s." % params["wait_timeout"])
    if params["poll_interval"] <= 0:
        module.fail_json(msg="poll_interval must be a positive number of seconds, got %s." % params["poll_interval"])
    module.require_token()

    site = PagesSite(module, *repo)
    page = site.read()
    before = config_of(page)

    if params["state"] == "absent":
        if page is not None and not module.check_mode:
            site.delete()
        changed = page is not None
        module.exit_resource(changed, before, {}, html_url=None, pages=None)

    want = wanted(params, cname)
    if page is None:
        if "source" not in want and "build_type" not in want:
            module.fail_json(msg="Pages is not enabled for %s: set source (branch and path) or build_type to create "
                                 "the site." % site.repo)
        if module.check_mode:
            after = dict(dict.fromkeys(CONFIG_KEYS), build_type="legacy", https_enforced=False)
            after.update(want)
            module.exit_resource(True, before, after, html_url=None, pages=None)
        page = site.create(want)
    changes = differences(config_of(page), want)
    if changes and module.check_mode:
        after = dict(before, **changes)
        module.exit_resource(True, before, after, html_url=page.get("html_url"), pages=page,
                             build_status=page.get("status"))
    if changes:
        site.update(changes)  # only what differs; source always carries branch and path together
    if site.changed:
        page = site.read() or page
    after = config_of(page)

    result = dict(html_url=page.get("html_url"), pages=page, build_status=page.get("status"))
    if params["wait"] and not module.check_mode:
        build = site.wait_for_build(commit, params["wait_timeout"], params["poll_interval"],
                                    dict(result, changed=site.changed))
        result.update(build=build, build_status=build.get("status"))
        if page.get("status") != build.get("status"):
            page = site.read() or page
            result.update(pages=page, html_url=page.get("html_url"))
    module.exit_resource(site.changed, before, after, **result)


if __name__ == "__main__":
    main()
