# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NeonModule: ApiModule for the Neon API v2, with name lookups and waiting for operations.

Every change Neon makes runs as operations (create_timeline, start_compute, apply_config, ...). A request that
depends on them fails with 423 Locked until they finish, so ``change()`` polls each operation it started until it
is finished (bounded by the option operation_timeout) before the module goes on.

    module = NeonModule(argument_spec=dict(name=dict(type="str", required=True), **branch_scope_spec()))
    project = module.require_project(module.params["project"])
    branch = module.require_branch(project, module.params["branch"])
    data = module.change(project["id"], "POST", "/projects/%s/branches/%s/roles" % (...), body, ok=(201,))
"""

import calendar
import re
import time

from urllib.parse import unquote, urlsplit

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import (
    ApiError,
    ApiModule,
    NEON_API_DEFAULTS,
)

OPERATION_DONE = frozenset(("finished", "skipped"))
OPERATION_FAILED = frozenset(("failed", "error", "cancelling", "cancelled"))
POLL_FIRST = 0.1     # seconds before the first poll of a running operation
POLL_MAX = 2.0       # the poll interval doubles up to this
ROLE_NAME_MAX = 63   # bytes, PostgreSQL's NAMEDATALEN - 1
BRANCH_NAME_MAX = 256  # characters: the API description's maxLength of a branch name (minLength 1)
# Branch expiry (https://neon.com/docs/guides/branch-expiration): an RFC 3339 timestamp with a time zone, stored to the
# second, in the future and at most 30 days from the current time.
EXPIRY_MAX = 30 * 86400
RFC3339_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$")
DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_UNITS = (7 * 86400, 86400, 3600, 60, 1)
RESERVED_ROLES = ("neon_superuser", "cloud_admin", "postgres", "public", "none", "current_user", "session_user",
                  "current_role", "neon_service", "zenith_admin", "authenticator", "anonymous", "authenticated")


def password_values(data):
    """Every password in an API answer: ``password`` fields and the passwords inside connection URIs."""
    found = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "password" and isinstance(value, str) and value:
                found.add(value)
            elif key in ("connection_uri", "uri") and isinstance(value, str):
                password = urlsplit(value).password
                if password:
                    found.add(unquote(password))
                    found.add(password)
            else:
                found |= password_values(value)
    elif isinstance(data, list):
        for value in data:
            found |= password_values(value)
    return found


def branch_scope_spec():
    """Options naming where a resource lives: project (name or id) and branch (name or id)."""
    return dict(
        project=dict(type="str", required=True),
        branch=dict(type="str"),
    )


def postgres_name_problem(name, what):
    """None when ``name`` is usable as a Neon role or database name, else a sentence saying why not."""
    if not name or name != name.strip():
        return "%s must not be empty nor start or end with spaces" % what
    if len(name.encode("utf-8")) > ROLE_NAME_MAX:
        return "%s %r is longer than %d bytes (PostgreSQL's limit)" % (what, name, ROLE_NAME_MAX)
    if "\0" in name:
        return "%s must not contain a NUL character" % what
    return None


def branch_name_problem(name, option="name"):
    """None when Neon accepts ``name`` as a branch name, else a sentence saying why not and what to give.

    Neon's API description allows 1 to 256 characters and documents no character set (its own examples use names
    like ``preview/pr-42``). Two rules are ours: a blank name (only spaces) is refused, and so is a NUL character,
    which Neon's PostgreSQL-backed control plane cannot store.
    """
    if name is None or not name.strip():
        return ("%s must name a Neon branch: give 1 to %d characters, for example preview-42."
                % (option, BRANCH_NAME_MAX))
    if len(name) > BRANCH_NAME_MAX:
        return ("%s is %d characters long: Neon allows at most %d in a branch name. Shorten it, for example "
                "preview-42." % (option, len(name), BRANCH_NAME_MAX))
    if "\0" in name:
        return "%s must not contain a NUL character (Neon cannot store it in a branch name)." % option
    return None


def parse_timestamp(text):
    """Seconds since the epoch (whole seconds: Neon keeps no fraction) of an RFC 3339 timestamp with a time zone,
    or None when ``text`` is not one."""
    found = RFC3339_RE.match(text or "")
    if not found:
        return None
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour <= 23 and minute <= 59
            and second <= 60):
        return None
    offset = 0
    if not found.group(8):
        hours, minutes = int(found.group(10)), int(found.group(11))
        if hours > 23 or minutes > 59:
            return None
        offset = (hours * 3600 + minutes * 60) * (1 if found.group(9) == "+" else -1)
    return calendar.timegm((year, month, day, hour, minute, min(second, 59))) - offset


def format_timestamp(epoch):
    """An RFC 3339 timestamp in UTC, to the second, as Neon writes them: 2025-06-09T18:02:16Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_duration(text):
    """Seconds of a duration such as ``7d``, ``36h``, ``1d12h``, ``90m``, ``2w`` or plain seconds (``3600``), or
    None when ``text`` is not one."""
    text = (text or "").strip().lower().replace(" ", "")
    if text.isdigit():
        return int(text)
    found = DURATION_RE.match(text)
    if not text or not found:
        return None
    return sum(int(value) * unit for value, unit in zip(found.groups(), DURATION_UNITS) if value)


def role_name_problem(name):
    problem = postgres_name_problem(name, "name")
    if problem:
        return problem
    if name.lower().startswith("pg_") or name.lower() in RESERVED_ROLES:
        return "name %r is reserved by PostgreSQL or Neon: choose another role name, for example app_owner" % name
    return None


class NeonModule(ApiModule):
    """ApiModule configured for Neon, plus project/branch lookups by name and operation waiting."""

    def __init__(self, argument_spec=None, **kwargs):
        spec = dict(operation_timeout=dict(type="int", default=300))
        spec.update(argument_spec or {})
        super().__init__(argument_spec=spec, api_defaults=NEON_API_DEFAULTS, **kwargs)
        if self.params["operation_timeout"] <= 0:
            self.fail_json(msg="operation_timeout must be a positive number of seconds, got %s."
                           % self.params["operation_timeout"])
        self.require_token()

    # --- requests -------------------------------------------------------------------------------------------

    def call(self, method, path, what, reveal=False, **kwargs):
        """The decoded JSON answer of one request (None for a 404 with missing_ok); fails the module on errors.

        ``what`` says what was being done, for the error message ("Reading branches of project X"). Passwords in
        the answer are masked wherever they would appear in the module's output, unless ``reveal`` (a module
        whose job is to hand them over; its task must use no_log).
        """
        try:
            response = self.client.request(method, path, **kwargs)
        except ApiError as err:
            self.fail_api(err, msg=what)
        data = None if response is None else (response.data if response.data is not None else {})
        if not reveal:
            self.no_log_values.update(password_values(data))
        return data

    def get(self, path, what, missing_ok=False, params=None, reveal=False):
        return self.call("GET", path, what, missing_ok=missing_ok, params=params, reveal=reveal)

    def change(self, project_id, method, path, what, body=None, ok=None):
        """Send a change and wait until the operations it started are done. Returns the decoded answer."""
        data = self.call(method, path, what, body=body, ok=ok)
        self.wait_for_operations(project_id, data.get("operations") or [], what)
        return data

    def wait_for_operations(self, project_id, operations, what):
        """Poll each operation until it is finished (or skipped); fail on a failed one or after the timeout."""
        pending = {}
        for operation in operations:
            self._check_operation(operation, what)
            if operation.get("status") not in OPERATION_DONE:
                pending[operation["id"]] = operation
        timeout = self.params["operation_timeout"]
        deadline = time.monotonic() + timeout
        delay = POLL_FIRST
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = ", ".join("%s (%s, %s)" % (op.get("action"), op_id, op.get("status"))
                                  for op_id, op in sorted(pending.items()))
                self.fail_json(msg="%s: Neon operations did not finish within operation_timeout=%ss: %s. They may "
                                   "still finish: run the task again, or raise operation_timeout."
                                   % (what, timeout, names), operations=sorted(pending))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, POLL_MAX)
            for op_id in sorted(pending):
                path = "/projects/%s/operations/%s" % (pending[op_id].get("project_id") or project_id, op_id)
                operation = self.get(path, what)["operation"]
                self._check_operation(operation, what)
                if operation["status"] in OPERATION_DONE:
                    del pending[op_id]
                else:
                    pending[op_id] = operation

    def _check_operation(self, operation, what):
        if operation.get("status") in OPERATION_FAILED:
            self.fail_json(msg="%s: Neon operation %s (%s) ended %s: %s" % (
                what, operation.get("action"), operation.get("id"), operation.get("status"),
                operation.get("error") or "no error message"), operation=operation)

    # --- lookups by name ------------------------------------------------------------------------------------

    def find_project(self, ref):
        """The project whose name or id is ``ref``, or None. Fails when several projects have that name."""
        params = {"search": ref, "limit": 400}
        if self.params.get("org_id"):
            params["org_id"] = self.params["org_id"]
        matches = []
        while True:
            data = self.get("/projects", "Looking up project %s" % ref, params=params)
            matches += [p for p in data.get("projects", []) if ref in (p.get("id"), p.get("name"))]
            cursor = (data.get("pagination") or {}).get("cursor")
            if len(data.get("projects", [])) < params["limit"] or not cursor or cursor == params.get("cursor"):
                break
            params["cursor"] = cursor
        exact = [p for p in matches if p.get("id") == ref] or matches
        if len(exact) > 1:
            self.fail_json(msg="project %r names %d Neon projects (%s): give the project id instead of its name."
                               % (ref, len(exact), ", ".join(sorted(p["id"] for p in exact))))
        return exact[0] if exact else None

    def require_project(self, ref):
        project = self.find_project(ref)
        if project is None:
            self.fail_json(msg="project %r: no Neon project has this name or id (that the API key can see). Check "
                               "the option project, or create the project with textbook.deploy.neon_project."
                           % ref)
        return project

    def branches(self, project):
        path = "/projects/%s/branches" % project["id"]
        return self.get(path, "Listing the branches of project %s" % project["name"]).get("branches", [])

    def find_branch(self, project, ref, branches=None):
        """The branch named ``ref`` (or with that id); the default branch when ``ref`` is None."""
        for branch in branches if branches is not None else self.branches(project):
            if (ref is None and branch.get("default")) or (ref is not None and ref in (branch["id"], branch["name"])):
                return branch
        return None

    def require_branch(self, project, ref, option="branch", branches=None):
        """Like find_branch, failing with a message that names ``option`` when there is no such branch."""
        branch = self.find_branch(project, ref, branches)
        if branch is None:
            self.fail_json(msg="%s %r: project %s has no such branch. Check the option %s, or create the branch with "
                               "textbook.deploy.neon_branch." % (option, ref, project["name"], option))
        return branch

    def require_scope(self):
        """(project, branch) named by the options project and branch (the default branch when branch is unset)."""
        project = self.require_project(self.params["project"])
        return project, self.require_branch(project, self.params.get("branch"))
