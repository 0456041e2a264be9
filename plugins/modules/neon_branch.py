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
  - A branch can expire (O(expires_at) or O(expires_in)). Neon deletes it, with its computes and data, at that time
    (by a background job, so not to the second). Neon refuses an expiry on the project's default branch, on a
    protected branch and on a branch with children, and refuses to branch from a branch that expires; the module
    checks these before it sends anything.
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
      - The branch name, for example V(staging) or V(preview-42), 1 to 256 characters (the limit of Neon's API
        description, which documents no character set), not blank and without a NUL character. A name outside
        these rules fails before any request.
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
  expires_at:
    description:
      - When Neon deletes the branch, an RFC 3339 timestamp with a time zone, for example V(2025-07-15T18:02:16Z) or
        V(2025-07-15T20:02:16+02:00) (a fraction of a second is dropped, as Neon keeps whole seconds). It must be in the
        future and at most 30 days from now (Neon's limits), checked before any request.
      - The branch's expiry is set to exactly this time (on creation, or changed when it differs), so a re-run with
        the same timestamp changes nothing.
      - V(never) removes an expiry the branch has (Neon's C(PATCH) with C(expires_at) set to C(null)).
      - Leave both O(expires_at) and O(expires_in) unset to keep the branch's expiry as it is.
      - Ignored with O(state=absent).
    type: str
  expires_in:
    description:
      - How long the branch should live from now, for example V(7d), V(36h), V(1d12h), V(90m), V(2w) or a number of
        seconds; more than 0 and at most V(30d) (Neon's limit; V(30d) is sent as 30 days minus a minute, so that a
        controller whose clock runs slightly ahead of Neon's is not refused).
      - A new branch, or one without an expiry, gets now + O(expires_in). An existing expiry is moved to now +
        O(expires_in) only when it is earlier than that by more than O(expiry_tolerance), and it is never moved
        earlier. So runs close together report no change, and a later run (the next push to a pull request) extends
        the life of the branch.
      - Mutually exclusive with O(expires_at). Ignored with O(state=absent).
    type: str
  expiry_tolerance:
    description:
      - With O(expires_in), how much earlier than now + O(expires_in) the current expiry may be before it is moved,
        a duration in the format of O(expires_in). V(0) moves it on every run (each run then reports a change).
      - A tolerance at least as long as O(expires_in) sets the expiry only when the branch is created or has none.
      - Defaults to V(1h).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports what would be created or changed, sending only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the branch (with its C(expires_at)) and its read-write endpoint before and after.
  idempotent:
    support: full
    description: >-
      A second run with the same options reports no change and sends only C(GET) requests. With O(expires_in),
      within O(expiry_tolerance) of the run that set the expiry.
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

- name: A pull request's preview branch, deleted by Neon a week after the last push unless extended
  textbook.deploy.neon_branch:
    project: textbook
    name: preview-42
    expires_in: 7d

- name: An expiry at a fixed time
  textbook.deploy.neon_branch:
    project: textbook
    name: demo-2025-07
    expires_at: "2025-07-15T18:00:00Z"

- name: Keep a branch that was meant to expire
  textbook.deploy.neon_branch:
    project: textbook
    name: demo-2025-07
    expires_at: never

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
  sample: {"id": "br-odd-sun-a5xyz", "name": "preview-42", "parent_id": "br-main-123456", "default": false,
           "current_state": "ready", "project_id": "twilight-river-12345678", "expires_at": "2025-07-15T18:02:16Z",
           "ttl_interval_seconds": 604800}
endpoint:
  description: The branch's read-write compute endpoint, when it has one.
  returned: always
  type: dict
  sample: {"id": "ep-cool-darkness-123456", "host": "ep-cool-darkness-123456.us-east-2.aws.neon.tech",
           "type": "read_write", "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 1}
"""

import time

from ansible_collections.textbook.deploy.plugins.module_utils.neon import (
    EXPIRY_MAX,
    NeonModule,
    branch_name_problem,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)

EXPIRY_SKEW = 60            # seconds kept below Neon's 30-day limit when expires_in asks for all of it
EXPIRY_TOLERANCE = 3600     # expiry_tolerance's default
KEEP = object()             # the branch's expiry stays as it is
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


class Expiry:
    """What expires_at / expires_in / expiry_tolerance ask for, checked before any request."""

    def __init__(self, module, now):
        params = module.params
        self.module, self.option, self.remove, self.at, self.seconds = module, None, False, None, None
        if params["expires_at"] is not None:
            self.option = "expires_at"
            text = params["expires_at"].strip()
            if text.lower() == "never":
                self.remove = True
            else:
                self.at = self._timestamp(text, now)
        elif params["expires_in"] is not None:
            self.option = "expires_in"
            self.seconds = parse_duration(params["expires_in"])
            if self.seconds is None or not 0 < self.seconds <= EXPIRY_MAX:
                module.fail_json(msg="expires_in must be a duration of more than 0 and at most 30d (Neon's limit), "
                                     "such as 7d, 36h, 1d12h, 90m or a number of seconds; got %r."
                                     % params["expires_in"])
        self.tolerance = EXPIRY_TOLERANCE
        if params["expiry_tolerance"] is not None:
            if self.seconds is None:
                module.fail_json(msg="expiry_tolerance goes with expires_in (it says how far an expiry may lag "
                                     "behind now + expires_in before it is moved); remove it, or give expires_in.")
            self.tolerance = parse_duration(params["expiry_tolerance"])
            if self.tolerance is None:
                module.fail_json(msg="expiry_tolerance must be a duration such as 1h, 1d or 0; got %r."
                                     % params["expiry_tolerance"])

    def _timestamp(self, text, now):
        at = parse_timestamp(text)
        if at is None:
            self.module.fail_json(msg="expires_at must be an RFC 3339 timestamp with a time zone, such as "
                                      "2025-07-15T18:02:16Z or 2025-07-15T20:02:16+02:00, or never (to remove the "
                                      "expiry); got %r." % text)
        if at <= now:
            self.module.fail_json(msg="expires_at %s is not in the future (it is now %s): Neon accepts only a future "
                                      "time. Give a later one, or expires_in (for example 7d)."
                                      % (text, format_timestamp(now)))
        if at - now > EXPIRY_MAX:
            self.module.fail_json(msg="expires_at %s is more than 30 days from now, Neon's limit: give a time before "
                                      "%s, or expires_in of at most 30d." % (text, format_timestamp(now + EXPIRY_MAX)))
        return at

    def wanted(self, branch, now):
        """The expires_at to send for a branch as Neon shows it ({} when it is to be created): a timestamp, None to
        remove the expiry, or KEEP."""
        current = parse_timestamp(branch.get("expires_at"))
        if self.remove:
            return KEEP if current is None else None
        if self.at is not None:
            return KEEP if current == self.at else format_timestamp(self.at)
        if self.seconds is None:
            return KEEP
        target = now + min(self.seconds, EXPIRY_MAX - EXPIRY_SKEW)
        if current is not None and current >= target - self.tolerance:
            return KEEP
        return format_timestamp(target)

    def check_allowed(self, project, branch, branches):
        """Fail before any change when Neon refuses an expiry on this branch (default, protected, or a parent)."""
        why = None
        if branch.get("default"):
            why = "it is the default branch of project %s" % project["name"]
        elif branch.get("protected"):
            why = "it is protected"
        else:
            children = sorted(b["name"] for b in branches if b.get("parent_id") == branch["id"])
            if children:
                why = "it has child branches (%s)" % ", ".join(children)
        if why:
            self.module.fail_json(msg="%s: branch %s cannot expire because %s, and Neon refuses an expiry then. "
                                      "Remove %s from this task." % (self.option, branch["name"], why, self.option))


def with_expiry(branch, expires):
    """The branch as it is after its expiry is set to ``expires`` (None: removed; KEEP: unchanged)."""
    if expires is KEEP:
        return branch
    changed = dict(branch)
    changed.pop("ttl_interval_seconds", None)
    if expires is None:
        changed.pop("expires_at", None)
    else:
        changed["expires_at"] = expires
    return changed


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


def create_branch(module, project, parent, settings, expires):
    params = module.params
    body = {"branch": {"name": params["name"], "parent_id": parent["id"]}}
    if expires is not KEEP:
        body["branch"]["expires_at"] = expires
    if params["endpoint"]:
        body["endpoints"] = [dict(settings, type="read_write")]
    what = "Creating branch %s of project %s" % (params["name"], project["name"])
    data = module.change(project["id"], "POST", "/projects/%s/branches" % project["id"], what, body=body, ok=(201,))
    return data["branch"], read_write(data.get("endpoints", []))


def update_expiry(module, project, branch, expires):
    """The branch after its expiry is set to ``expires`` (a PATCH, unless in check mode or KEEP)."""
    if expires is KEEP or module.check_mode:
        return with_expiry(branch, expires)
    path = "/projects/%s/branches/%s" % (project["id"], branch["id"])
    what = "Setting the expiry of branch %s of project %s" % (branch["name"], project["name"])
    return module.change(project["id"], "PATCH", path, what, body={"branch": {"expires_at": expires}})["branch"]


def present(module, project, branches, expiry):
    """(changed, before, after), each state a dict {branch, endpoint}."""
    params = module.params
    settings = endpoint_settings(params["compute"] or {})
    parent = module.require_branch(project, params["parent"], option="parent", branches=branches)
    branch = module.find_branch(project, params["name"], branches)
    now = time.time()
    if branch is None:
        if parent.get("expires_at"):
            module.fail_json(msg="parent %s expires at %s, and Neon does not branch from a branch that expires. Give "
                                 "another parent, or remove its expiry first (textbook.deploy.neon_branch with "
                                 "expires_at: never)." % (parent["name"], parent["expires_at"]))
        expires = expiry.wanted({}, now)
        if module.check_mode:
            branch = with_expiry({"name": params["name"], "parent_id": parent["id"], "project_id": project["id"]},
                                 expires)
            endpoint = dict(settings, type="read_write") if params["endpoint"] else {}
        else:
            branch, endpoint = create_branch(module, project, parent, settings, expires)
        return True, {}, {"branch": branch, "endpoint": endpoint or {}}
    if branch.get("parent_id") != parent["id"] and not branch.get("default"):
        module.warn("Branch %s of project %s was branched from %s, not from %s: Neon cannot re-parent a branch. "
                    "Delete it (state=absent) and run again to branch it afresh."
                    % (branch["name"], project["name"], branch.get("parent_id"), parent["name"]))
    expires = expiry.wanted(branch, now)
    if expires not in (KEEP, None):
        expiry.check_allowed(project, branch, branches)
    updated = update_expiry(module, project, branch, expires)
    if not params["endpoint"]:
        endpoint = read_write_endpoint(module, project, branch) or {}
        return expires is not KEEP, {"branch": branch, "endpoint": endpoint}, {"branch": updated, "endpoint": endpoint}
    changed, before, after = ensure_endpoint(module, project, branch, settings)
    return (changed or expires is not KEEP, {"branch": branch, "endpoint": before or {}},
            {"branch": updated, "endpoint": after})


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
            expires_at=dict(type="str"),
            expires_in=dict(type="str"),
            expiry_tolerance=dict(type="str"),
        ),
        mutually_exclusive=[("expires_at", "expires_in")],
        supports_check_mode=True,
    )
    problem = branch_name_problem(module.params["name"]) or compute_problem(module.params["compute"] or {})
    if problem:
        module.fail_json(msg=problem)
    expiry = Expiry(module, time.time())
    project = module.require_project(module.params["project"])
    branches = module.branches(project)
    if module.params["state"] == "present":
        changed, before, after = present(module, project, branches, expiry)
    else:
        changed, before, after = absent(module, project, branches)
    module.exit_resource(changed, before, after, branch=after.get("branch", {}), endpoint=after.get("endpoint", {}))


if __name__ == "__main__":
    main()
