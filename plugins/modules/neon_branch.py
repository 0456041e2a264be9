#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_branch
short_description: A Neon branch per environment, branched from a parent, with its compute endpoint
version_added: 1.0.0
description:
  - Makes sure a branch exists (or not) in a Neon project, through the Neon API v2
    (C(/projects/{project_id}/branches), C(/projects/{project_id}/endpoints)).
  - A new branch is a copy of its parent's data, roles and databases at the time it is created.
  - With O(endpoint=true) the branch gets a read-write compute endpoint (created when missing), whose autoscaling
    limits and suspend timeout are set from O(compute) in place.
  - The branch is found by name, so a re-run only reads. A branch whose parent differs is reported as a warning,
    since Neon cannot re-parent a branch (delete it and run again to branch afresh).
  - After each change the module waits for the operations Neon started (O(operation_timeout)).
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.neon
options:
  project:
    description:
      - The Neon project, by name or id.
    type: str
    required: true
  name:
    description:
      - The branch name (1 to 256 characters), for example V(staging) or V(preview-42).
    type: str
    required: true
  parent:
    description:
      - The branch to branch from, by name or id. When not set, the project's default branch.
    type: str
  state:
    description:
      - V(present) creates the branch when missing; V(absent) deletes it with its endpoints and data.
      - The project's default branch is never deleted.
    type: str
    choices: [present, absent]
    default: present
  endpoint:
    description:
      - Give the branch a read-write compute endpoint (needed to connect to it).
    type: bool
    default: true
  compute:
    description:
      - Settings of the read-write endpoint. Those left unset are not changed.
    type: dict
    suboptions:
      min_cu:
        description:
          - Minimum compute units of autoscaling (at least 0.25).
        type: float
      max_cu:
        description:
          - Maximum compute units of autoscaling (at least O(compute.min_cu)).
        type: float
      suspend_timeout_seconds:
        description:
          - Seconds of inactivity before the compute is suspended; V(0) is Neon's default (300) and V(-1) never
            suspends. Otherwise between 60 and 604800.
        type: int
attributes:
  check_mode:
    support: full
    description: Reports what would be created or changed, sending only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the branch and its read-write endpoint before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
seealso:
  - module: textbook.deploy.neon_project
  - module: textbook.deploy.neon_role
  - module: textbook.deploy.neon_database
"""

EXAMPLES = r"""
- name: A staging branch from main, with a small compute that scales to zero
  textbook.deploy.neon_branch:
    project: textbook
    name: staging
    parent: main
    compute:
      min_cu: 0.25
      max_cu: 1
      suspend_timeout_seconds: 300

- name: Remove the branch of a closed pull request
  textbook.deploy.neon_branch:
    project: textbook
    name: preview-42
    state: absent
"""

RETURN = r"""
branch:
  description: The branch as Neon describes it; empty after O(state=absent).
  returned: always
  type: dict
  sample: {"id": "br-odd-sun-a5xyz", "name": "staging", "parent_id": "br-main-123456", "default": false,
           "current_state": "ready", "project_id": "twilight-river-12345678"}
endpoint:
  description: The branch's read-write compute endpoint, when it has one.
  returned: always
  type: dict
  sample: {"id": "ep-cool-darkness-123456", "host": "ep-cool-darkness-123456.us-east-2.aws.neon.tech",
           "type": "read_write", "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 1}
"""

from ansible_collections.textbook.deploy.plugins.module_utils.neon import NeonModule

BRANCH_NAME_MAX = 256
COMPUTE_FIELDS = (("min_cu", "autoscaling_limit_min_cu"), ("max_cu", "autoscaling_limit_max_cu"),
                  ("suspend_timeout_seconds", "suspend_timeout_seconds"))


def compute_problem(compute):
    """None when the compute settings are acceptable to Neon, else what is wrong with which option."""
    low, high, suspend = compute.get("min_cu"), compute.get("max_cu"), compute.get("suspend_timeout_seconds")
    for name, value in (("min_cu", low), ("max_cu", high)):
        if value is not None and value < 0.25:
            return "compute.%s must be at least 0.25 compute units, got %s" % (name, value)
    if low is not None and high is not None and high < low:
        return "compute.max_cu (%s) must not be below compute.min_cu (%s)" % (high, low)
    if suspend is not None and not (suspend in (-1, 0) or 60 <= suspend <= 604800):
        return ("compute.suspend_timeout_seconds must be -1 (never), 0 (Neon's default) or between 60 and 604800, "
                "got %s" % suspend)
    return None


def endpoint_settings(compute):
    return {field: compute[option] for option, field in COMPUTE_FIELDS if compute.get(option) is not None}


def read_write(endpoints):
    return next((e for e in endpoints if e.get("type") == "read_write"), None)


def read_write_endpoint(module, project, branch):
    path = "/projects/%s/branches/%s/endpoints" % (project["id"], branch["id"])
    return read_write(module.get(path, "Listing the endpoints of branch %s" % branch["name"]).get("endpoints", []))


def ensure_endpoint(module, project, branch, settings):
    """(changed, before, after) of the branch's read-write endpoint."""
    before = read_write_endpoint(module, project, branch)
    where = "the read-write endpoint of branch %s" % branch["name"]
    if before is None:
        after = dict(settings, type="read_write", branch_id=branch["id"])
        if not module.check_mode:
            body = {"endpoint": dict(settings, branch_id=branch["id"], type="read_write")}
            after = module.change(project["id"], "POST", "/projects/%s/endpoints" % project["id"],
                                  "Creating " + where, body=body, ok=(201,))["endpoint"]
        return True, None, after
    wanted = {field: value for field, value in settings.items() if before.get(field) != value}
    if not wanted:
        return False, before, before
    after = dict(before, **wanted)
    if not module.check_mode:
        path = "/projects/%s/endpoints/%s" % (project["id"], before["id"])
        after = module.change(project["id"], "PATCH", path, "Updating " + where, body={"endpoint": wanted})["endpoint"]
    return True, before, after


def create_branch(module, project, parent, settings):
    params = module.params
    body = {"branch": {"name": params["name"], "parent_id": parent["id"]}}
    if params["endpoint"]:
        body["endpoints"] = [dict(settings, type="read_write")]
    what = "Creating branch %s of project %s" % (params["name"], project["name"])
    data = module.change(project["id"], "POST", "/projects/%s/branches" % project["id"], what, body=body, ok=(201,))
    return data["branch"], read_write(data.get("endpoints", []))


def present(module, project, branches):
    """(changed, before, after), each state a dict {branch, endpoint}."""
    params = module.params
    settings = endpoint_settings(params["compute"] or {})
    parent = module.require_branch(project, params["parent"], option="parent", branches=branches)
    branch = module.find_branch(project, params["name"], branches)
    if branch is None:
        if module.check_mode:
            branch = {"name": params["name"], "parent_id": parent["id"], "project_id": project["id"]}
            endpoint = dict(settings, type="read_write") if params["endpoint"] else {}
        else:
            branch, endpoint = create_branch(module, project, parent, settings)
        return True, {}, {"branch": branch, "endpoint": endpoint or {}}
    if branch.get("parent_id") != parent["id"] and not branch.get("default"):
        module.warn("Branch %s of project %s was branched from %s, not from %s: Neon cannot re-parent a branch. "
                    "Delete it (state=absent) and run again to branch it afresh."
                    % (branch["name"], project["name"], branch.get("parent_id"), parent["name"]))
    if not params["endpoint"]:
        state = {"branch": branch, "endpoint": read_write_endpoint(module, project, branch) or {}}
        return False, state, state
    changed, before, after = ensure_endpoint(module, project, branch, settings)
    return changed, {"branch": branch, "endpoint": before or {}}, {"branch": branch, "endpoint": after}


def absent(module, project, branches):
    branch = module.find_branch(project, module.params["name"], branches)
    if branch is None:
        return False, {}, {}
    if branch.get("default"):
        module.fail_json(msg="branch %s is the default branch of project %s and is never deleted: to remove it, "
                             "delete the project (textbook.deploy.neon_project state=absent)."
                             % (branch["name"], project["name"]))
    if not module.check_mode:
        path = "/projects/%s/branches/%s" % (project["id"], branch["id"])
        what = "Deleting branch %s of project %s" % (branch["name"], project["name"])
        module.change(project["id"], "DELETE", path, what)
    return True, {"branch": branch}, {}


def main():
    module = NeonModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            name=dict(type="str", required=True),
            parent=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            endpoint=dict(type="bool", default=True),
            compute=dict(type="dict", options=dict(
                min_cu=dict(type="float"),
                max_cu=dict(type="float"),
                suspend_timeout_seconds=dict(type="int"),
            )),
        ),
        supports_check_mode=True,
    )
    name = module.params["name"]
    if not name.strip() or len(name) > BRANCH_NAME_MAX:
        module.fail_json(msg="name %r is not a Neon branch name: give 1 to %d characters, for example staging."
                             % (name, BRANCH_NAME_MAX))
    problem = compute_problem(module.params["compute"] or {})
    if problem:
        module.fail_json(msg=problem)
    project = module.require_project(module.params["project"])
    branches = module.branches(project)
    state = present if module.params["state"] == "present" else absent
    changed, before, after = state(module, project, branches)
    module.exit_resource(changed, before, after, branch=after.get("branch", {}), endpoint=after.get("endpoint", {}))


if __name__ == "__main__":
    main()
