#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: deploy_lock
short_description: Let one deploy at a time change a host, through a lock file that names its holder
version_added: 1.0.0
description:
  - O(state=present) takes the lock at O(path) for the deploy run O(run_id); O(state=absent) releases it.
  - The lock file holds one JSON record, C({"run_id", "owner", "version", "action", "acquired_at"}), so whoever finds
    a host locked learns who deploys what since when.
  - Taking the lock is atomic, and the lock file is never seen half written; the record is written to a temporary file
    in the same directory, which is then hard-linked to O(path); the link fails when the lock exists, so of two
    deploys starting at once exactly one gets it.
  - A lock held by another run is waited for, up to O(timeout) seconds; after that the task fails, naming the
    holder. O(force=true) takes it over (or releases it) instead.
  - On release, O(audit_log) gets one JSON line recording the deploy and its O(result).
  - Needs only the Python standard library on the target host.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  path:
    description:
      - The lock file, for example C(/var/lib/chat-api/deploy.lock). Its directory is created (mode C(0755)) when
        missing.
    type: path
    required: true
  state:
    description:
      - V(present) takes the lock, waiting up to O(timeout) seconds while another run holds it.
      - V(absent) releases the lock when O(run_id) holds it (or with O(force=true), whoever holds it).
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description:
      - Identifies this deploy run, the same on every host of the run.
      - Taking the lock again with the same O(run_id) changes nothing; releasing only releases a lock held by this
        O(run_id).
    type: str
    required: true
  owner:
    description:
      - Who deploys, for example the operator's login on the controller. The module runs on the target host, so it
        cannot tell who started the deploy.
      - Required with O(state=present).
    type: str
  version:
    description:
      - What is being deployed, recorded in the lock and the audit line.
    type: str
  action:
    description:
      - What the run does, for example V(deploy) or V(rollback), recorded in the lock and the audit line.
    type: str
    default: deploy
  timeout:
    description:
      - Seconds O(state=present) waits for another run to release the lock, checking every half second.
      - V(0) does not wait.
    type: float
    default: 60
  force:
    description:
      - With O(state=present), take the lock even when another run holds it (or its file is not valid JSON); the
        record replaced is returned as RV(previous).
      - With O(state=absent), release the lock whoever holds it.
      - Only for a lock left behind by a run known to be dead; two runs deploying at once is what the lock prevents.
    type: bool
    default: false
  audit_log:
    description:
      - A file that O(state=absent) appends one JSON line to when it releases the lock, with C(time) (UTC, ISO 8601),
        C(event) (V(released)), C(run_id), C(owner), C(version), C(action) and C(acquired_at) of the lock record
        (O(version) and O(action) fill in what a record lacks),
        plus C(result) when O(result) is given, and C(forced_by) (this O(run_id)) when O(force=true) released another
        run's lock.
      - Created with mode C(0640), and its directory with mode C(0755), when missing.
      - Ignored with O(state=present).
    type: path
  result:
    description:
      - How the deploy ended, for example V(succeeded), V(failed) or V(rolled_back), recorded in the audit line.
    type: str
attributes:
  check_mode:
    support: full
    description: Reports whether it would take or release the lock (waiting for another holder as a real run would),
      without writing any file.
  diff_mode:
    support: full
    description: Returns the lock record before and after the task (empty when there is no lock).
  idempotent:
    support: full
    description: Taking a lock this O(run_id) already holds, or releasing a lock that is not there, reports no change.
notes:
  - The lock is advisory; it only keeps out runs that take it too.
  - A lock file that is not a valid JSON lock record counts as held by C(unknown); O(force=true) takes it over.
  - A lock is not released when a run dies; release it with O(state=absent) and O(force=true) once that run is known
    to be dead.
"""

EXAMPLES = r"""
- name: Take the host's deploy lock for this run
  textbook.deploy.deploy_lock:
    path: /var/lib/chat-api/deploy.lock
    run_id: "{{ run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    version: "1.4.0"
    action: deploy
    timeout: 120

- name: Release it and record how the deploy ended
  textbook.deploy.deploy_lock:
    path: /var/lib/chat-api/deploy.lock
    state: absent
    run_id: "{{ run_id }}"
    audit_log: /var/log/chat-api/deploy.log
    result: succeeded

- name: Take over the lock a dead run left behind
  textbook.deploy.deploy_lock:
    path: /var/lib/chat-api/deploy.lock
    run_id: "{{ run_id }}"
    owner: alice
    action: rollback
    force: true
"""

RETURN = r"""
holder:
  description: The lock record in the file after the task (in check mode, that would be), or null when unlocked.
  returned: always
  type: dict
  sample:
    run_id: 20240501T101500Z-4711
    owner: alice
    version: "1.4.0"
    action: deploy
    acquired_at: "2024-05-01T10:15:02Z"
previous:
  description:
    - The record this task removed from the file, or null.
    - With O(state=present), the other run's record replaced because of O(force=true); with O(state=absent), the
      record released.
  returned: always
  type: dict
  sample:
    run_id: 20240430T220000Z-17
    owner: bob
    version: "1.3.9"
    action: deploy
    acquired_at: "2024-04-30T22:00:04Z"
waited:
  description: Seconds spent waiting for another run to release the lock.
  returned: always
  type: float
  sample: 0.0
"""

import datetime
import errno
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

POLL_SECONDS = 0.5
RECORD_FIELDS = ("run_id", "owner", "version", "action", "acquired_at")


def option_error(params):
    """The first bad option, as a message naming it and the fix; None when all are fine."""
    if params["state"] == "present" and not params["owner"]:
        return ("owner is required with state=present: name who deploys (for example the operator's login on the "
                "controller); the module runs on the target host and cannot tell.")
    if not params["run_id"]:
        return "run_id must not be empty: give an id shared by every host of this deploy run."
    if params["timeout"] < 0:
        return "timeout must be 0 seconds (do not wait) or more, got %s." % params["timeout"]
    for name in ("path", "audit_log"):
        if params[name] and os.path.isdir(params[name]):
            return "%s %s is a directory: give the path of a file in it." % (name, params[name])
    return None


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_record(params):
    return dict(run_id=params["run_id"], owner=params["owner"], version=params["version"], action=params["action"],
                acquired_at=utc_now())


def read_lock(path):
    """The record in the lock file, None when there is none; anything but a JSON lock record is held by unknown."""
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            return None
        raise
    try:
        record = json.loads(content)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not record.get("run_id"):
        record = dict(owner="unknown")
    return dict((field, record.get(field)) for field in RECORD_FIELDS)


def describe(record):
    """Who holds a lock, since when, for what: the heart of every 'locked' message."""
    if record["run_id"] is None:
        return "unknown (the lock file is not a valid JSON lock record)"
    return "%s (run %s) since %s, %s of version %s" % (
        record["owner"], record["run_id"], record["acquired_at"], record["action"] or "deploy",
        record["version"] or "(not given)")


def place(path, record, replace):
    """Write the record where the lock is; without replace, False when the lock exists already (someone won)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, 0o755, exist_ok=True)  # exist_ok: a run starting at the same moment may create it too
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        # the record is complete on disk before the lock name points at it, so no reader sees half of it
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
            return True
        try:
            os.link(temp, path)  # atomic, and fails when the lock exists: of two runs exactly one links
        except OSError as error:
            if error.errno == errno.EEXIST:
                return False
            raise
        return True
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def acquire(module, params):
    """(changed, holder before, holder after, previous, waited), waiting for another holder up to the timeout."""
    path, record = params["path"], new_record(params)
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        holder = read_lock(path)
        if holder is not None and holder["run_id"] == params["run_id"]:
            return False, holder, holder, None, waited
        if holder is None or params["force"]:
            if module.check_mode or place(path, record, replace=holder is not None):
                return True, holder, record, holder, waited
            continue  # another run linked first; look at its record
        if waited >= params["timeout"]:
            module.fail_json(
                msg="Deploy lock %s is held by %s; gave up after waiting %.1f s: wait, or run with force=true if that "
                    "run is known to be dead." % (path, describe(holder), waited),
                changed=False, holder=holder, previous=None, waited=round(waited, 3))
        time.sleep(min(POLL_SECONDS, params["timeout"] - waited))


def audit_line(record, params):
    """The audit log's JSON line for a released lock; the lock record says which deploy it was."""
    entry = dict(time=utc_now(), event="released")
    entry.update(record)
    for field in ("version", "action"):
        if entry[field] is None:
            entry[field] = params[field]
    if params["result"] is not None:
        entry["result"] = params["result"]
    if record["run_id"] != params["run_id"]:
        entry["forced_by"] = params["run_id"]
    return json.dumps(entry) + "\n"


def append_audit(path, line):
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        if os.fstat(fd).st_size == 0:
            os.fchmod(fd, 0o640)  # 0640 whatever the umask, so only the group that reads logs sees deploys
        os.write(fd, line.encode("utf-8"))  # one write of an O_APPEND file: lines of concurrent runs never mix
    finally:
        os.close(fd)


def release(module, params):
    """(changed, holder before, holder after, previous, waited); only the holder releases, unless forced."""
    path = params["path"]
    holder = read_lock(path)
    if holder is None:
        return False, None, None, None, 0.0
    if holder["run_id"] != params["run_id"] and not params["force"]:
        module.fail_json(
            msg="Deploy lock %s is held by %s, not by run %s, so it was not released: let that run release it, or run "
                "with force=true if that run is known to be dead." % (path, describe(holder), params["run_id"]),
            changed=False, holder=holder, previous=None, waited=0.0)
    if not module.check_mode:
        try:
            os.unlink(path)
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
        if params["audit_log"]:
            append_audit(params["audit_log"], audit_line(holder, params))
    return True, holder, None, holder, 0.0


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            run_id=dict(type="str", required=True),
            owner=dict(type="str"),
            version=dict(type="str"),
            action=dict(type="str", default="deploy"),
            timeout=dict(type="float", default=60),
            force=dict(type="bool", default=False),
            audit_log=dict(type="path"),
            result=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    error = option_error(params)
    if error:
        module.fail_json(msg=error)
    try:
        changed, before, after, previous, waited = (acquire if params["state"] == "present" else release)(
            module, params)
    except (IOError, OSError) as error:
        module.fail_json(msg="Could not %s the deploy lock %s: %s. Check that the task may write there (become)."
                             % ("take" if params["state"] == "present" else "release", params["path"], error))
    result = dict(changed=changed, holder=after, previous=previous, waited=round(waited, 3))
    if module._diff:
        result["diff"] = dict(before=before or {}, after=after or {}, before_header=params["path"],
                              after_header=params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
