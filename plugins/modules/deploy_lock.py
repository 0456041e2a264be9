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
  - The lock file holds one JSON record, C({"run_id", "owner", "version", "action", "acquired_at", "heartbeat"}), so
    whoever finds a host locked learns who deploys what since when, and when that run last proved it is alive.
  - Taking the lock is atomic, and the lock file is never seen half written; the record is written to a temporary file
    in the same directory, which is then hard-linked to O(path); the link fails when the lock exists, so of two
    deploys starting at once exactly one gets it.
  - A lock held by another run is waited for, up to O(timeout) seconds; after that the task fails, naming the
    holder and how long ago its heartbeat was. O(force=true) takes it over (or releases it) instead.
  - With O(stale_after), a run whose heartbeat is older than that is judged dead, and its lock is taken over without
    O(force); the dead run's record is returned as RV(abandoned) and recorded in O(audit_log).
  - On release, and on every takeover, O(audit_log) gets one JSON line.
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
      - Taking the lock again with the same O(run_id) only moves its C(heartbeat) to now, and reports no change;
        releasing only releases a lock held by this O(run_id).
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
      - Seconds O(state=present) waits for another run to release the lock (or, with O(stale_after), to be judged
        dead), checking every half second.
      - V(0) does not wait.
    type: float
    default: 60
  stale_after:
    description:
      - Seconds without a heartbeat after which O(state=present) judges the run holding the lock dead and takes the
        lock over, without O(force). It is judged on every check while waiting, so with O(timeout) above
        O(stale_after) a lock whose run died is always taken over.
      - The heartbeat is the record's C(heartbeat), or its C(acquired_at) for a record written without one; for a
        lock file that is not a valid lock record, whose owner is unknown, the file's modification time.
      - Choose it well above the longest stretch in which the run holding the lock does not refresh its heartbeat
        (see the notes); a run judged dead while it still deploys has lost its lock.
      - V(0) never judges a lock stale.
    type: float
    default: 0
  force:
    description:
      - With O(state=present), take the lock even when another run holds it (or its file is not valid JSON); the
        record replaced is returned as RV(previous).
      - With O(state=absent), release the lock whoever holds it.
      - Only for a lock left behind by a run known to be dead; two runs deploying at once is what the lock prevents.
      - A lock judged dead by O(stale_after) is taken over as RV(abandoned) also when O(force=true).
    type: bool
    default: false
  force_hint:
    description:
      - What the messages tell to use when another run holds the lock, in C(run with <force_hint> if that run is
        known to be dead), so that a role can name its own variable, for example V(-e backend_lock_force=true).
    type: str
    default: force=true
  audit_log:
    description:
      - A file that gets one JSON line for every lock taken over or released, with C(time) (UTC, ISO 8601), C(event)
        and the fields of the lock record concerned (C(run_id), C(owner), C(version), C(action), C(acquired_at),
        C(heartbeat)).
      - C(event=abandoned) when O(state=present) took over the lock of a run judged dead (O(stale_after)), with
        C(silent_for) (seconds since its heartbeat) and C(taken_over_by) (this O(run_id)).
      - C(event=forced_takeover) when O(state=present) with O(force=true) replaced another run's record, with
        C(forced_by) (this O(run_id)).
      - C(event=released) when O(state=absent) released the lock (O(version) and O(action) fill in what a record
        lacks), plus C(result) when O(result) is given, and C(forced_by) (this O(run_id)) when O(force=true) released
        another run's lock.
      - Opened before the lock is changed, so a log that cannot be written leaves the lock as it was. Created with
        mode C(0640), and its directory with mode C(0755), when missing.
    type: path
  result:
    description:
      - How the deploy ended, for example V(succeeded), V(failed) or V(rolled_back), recorded in the audit line.
    type: str
  details:
    description:
      - More fields for the C(released) audit line, for example the steps of a rollout with their verdicts. A key the
        line already has (the record's fields, C(time), C(event), C(result), C(forced_by)) is not replaced.
      - Ignored with O(state=present).
    type: dict
attributes:
  check_mode:
    support: full
    description: Reports whether it would take, take over or release the lock (waiting for another holder as a real
      run would), without writing any file, neither the heartbeat nor the audit log.
  diff_mode:
    support: full
    description: Returns the lock record before and after the task (empty when there is no lock); a heartbeat refresh
      shows none.
  idempotent:
    support: full
    description: Taking a lock this O(run_id) already holds reports no change; it moves the record's C(heartbeat),
      which is bookkeeping (proof that the run is alive), not a change to the host. Releasing a lock that is not
      there reports no change.
notes:
  - The lock is advisory; it only keeps out runs that take it too.
  - A lock file that is not a valid JSON lock record counts as held by C(unknown); O(force=true) takes it over, and
    so does O(stale_after) once the file has not been modified for that long.
  - The heartbeat is how a run shows that it is alive. It is set when the lock is taken, and refreshed whenever the
    run holding the lock runs this module again with O(state=present) and its O(run_id) (a playbook can do so
    between its long phases), and by modules that run long on the host, from their loop, calling
    C(refresh_heartbeat) of the collection's module_utils C(deploy_lock) with the lock's path and the run's id
    (M(textbook.deploy.canary_analysis) does, given the lock). A run that dies stops refreshing it, so the next run
    with O(stale_after) takes its lock over; without O(stale_after), release it with O(state=absent) and
    O(force=true) once that run is known to be dead.
  - Refreshing a heartbeat, taking over a lock and releasing it each decide on the record as it is at that moment,
    under an exclusive C(flock) of the lock's directory, so a heartbeat cannot be lost to a takeover, and of two
    runs taking over the same dead run's lock exactly one does. A run that lost its lock learns it when refreshing
    its heartbeat or releasing fails.
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

- name: Take it, taking over from a run silent for 10 minutes (judged dead), and record that in the audit log
  textbook.deploy.deploy_lock:
    path: /var/lib/chat-api/deploy.lock
    run_id: "{{ run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    version: "1.4.0"
    timeout: 660
    stale_after: 600
    audit_log: /var/log/chat-api/deploy.log
    force_hint: "-e backend_lock_force=true"
  register: lock

- name: Say whose lock was taken over
  ansible.builtin.debug:
    msg: "Took over from run {{ lock.abandoned.run_id }}, silent for {{ lock.abandoned.silent_for }} s"
  when: lock.abandoned

- name: Between two long phases, the run holding the lock refreshes its heartbeat (reports no change)
  textbook.deploy.deploy_lock:
    path: /var/lib/chat-api/deploy.lock
    run_id: "{{ run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    timeout: 0

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
    audit_log: /var/log/chat-api/deploy.log
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
    heartbeat: "2024-05-01T10:19:47Z"
previous:
  description:
    - The record this task removed from the file, or null.
    - With O(state=present), the other run's record replaced because of O(force=true) or judged dead (then also
      RV(abandoned)); with O(state=absent), the record released.
  returned: always
  type: dict
  sample:
    run_id: 20240430T220000Z-17
    owner: bob
    version: "1.3.9"
    action: deploy
    acquired_at: "2024-04-30T22:00:04Z"
    heartbeat: "2024-04-30T22:03:31Z"
abandoned:
  description:
    - The record of the run judged dead (O(stale_after)) whose lock this task took over, with RV(abandoned.silent_for);
      null when no lock was taken over that way.
  returned: always
  type: dict
  contains:
    silent_for:
      description: Seconds since that run's heartbeat (see O(stale_after)) when it was taken over.
      type: float
      returned: success
      sample: 734.0
  sample:
    run_id: 20240430T220000Z-17
    owner: bob
    version: "1.3.9"
    action: deploy
    acquired_at: "2024-04-30T22:00:04Z"
    heartbeat: "2024-04-30T22:03:31Z"
    silent_for: 734.0
waited:
  description: Seconds spent waiting for another run to release the lock.
  returned: always
  type: float
  sample: 0.0
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.textbook.deploy.plugins.module_utils.deploy_lock import (
    inspect_lock, new_record, place, refresh_record, remove_lock, take_over, utc_now)

POLL_SECONDS = 0.5
DEFAULT_FORCE_HINT = "force=true"


def option_error(params):
    """The first bad option, as a message naming it and the fix; None when all are fine."""
    if params["state"] == "present" and not params["owner"]:
        return ("owner is required with state=present: name who deploys (for example the operator's login on the "
                "controller); the module runs on the target host and cannot tell.")
    if not params["run_id"]:
        return "run_id must not be empty: give an id shared by every host of this deploy run."
    if params["timeout"] < 0:
        return "timeout must be 0 seconds (do not wait) or more, got %s." % params["timeout"]
    if not params["stale_after"] >= 0:  # also refuses nan
        return ("stale_after must be 0 (never judge a lock stale) or more seconds without a heartbeat, got %s."
                % params["stale_after"])
    for name in ("path", "audit_log"):
        if params[name] and os.path.isdir(params[name]):
            return "%s %s is a directory: give the path of a file in it." % (name, params[name])
    return None


def describe(record):
    """Who holds a lock, since when, for what: the heart of every 'locked' message."""
    if record["run_id"] is None:
        return "unknown (the lock file is not a valid JSON lock record)"
    return "%s (run %s) since %s, %s of version %s" % (
        record["owner"], record["run_id"], record["acquired_at"], record["action"] or "deploy",
        record["version"] or "(not given)")


def silence(record, silent):
    """How long ago the holder last proved alive, for the messages."""
    if silent is None:
        return "no heartbeat known"
    ago = "%d s ago" % int(round(silent))
    if record["run_id"] is None:
        return "lock file last written " + ago
    if record["heartbeat"] is None:
        return "no heartbeat since it took the lock " + ago
    return "last heartbeat " + ago


def force_hint(params):
    return params["force_hint"] or DEFAULT_FORCE_HINT


class AuditLog(object):
    """The audit log, opened for appending before the change it records, so that a log that cannot be written stops
    the change; without a path, writes nothing."""

    def __init__(self, path):
        self.path, self.fd = path, None

    def __enter__(self):
        if self.path:
            if os.path.dirname(self.path):
                os.makedirs(os.path.dirname(self.path), 0o755, exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            if os.fstat(self.fd).st_size == 0:
                os.fchmod(self.fd, 0o640)  # 0640 whatever the umask, so only the group that reads logs sees deploys
        return self

    def write(self, entry):
        if self.fd is not None:
            # one write of an O_APPEND file: lines of concurrent runs never mix
            os.write(self.fd, (json.dumps(entry) + "\n").encode("utf-8"))

    def __exit__(self, *exc_info):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def entry_of(event, record):
    entry = dict(time=utc_now(), event=event)
    entry.update((field, value) for field, value in record.items() if field != "silent_for")
    return entry


def takeover_entry(event, replaced, params):
    """The audit line of a takeover: the replaced record, and who took it over (after how long a silence)."""
    entry = entry_of(event, replaced)
    if event == "abandoned":
        entry["silent_for"] = replaced["silent_for"]
        entry["taken_over_by"] = params["run_id"]
    else:
        entry["forced_by"] = params["run_id"]
    return entry


def released_entry(record, params):
    """The audit line of a released lock; the lock record says which deploy it was."""
    entry = entry_of("released", record)
    for field in ("version", "action"):
        if entry[field] is None:
            entry[field] = params[field]
    if params["result"] is not None:
        entry["result"] = params["result"]
    if record["run_id"] != params["run_id"]:
        entry["forced_by"] = params["run_id"]
    for key, value in (params["details"] or {}).items():
        entry.setdefault(key, value)  # never in place of what the record says
    return entry


def acquire(module, params):
    """(changed, holder before, holder after, previous, abandoned, waited), waiting for another holder up to the
    timeout unless it is judged dead (stale_after) or force is given."""
    path, run_id = params["path"], params["run_id"]
    record = new_record(run_id, params["owner"], params["version"], params["action"])
    stale_after = params["stale_after"] or None
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        holder, silent = inspect_lock(path)
        if holder is not None and holder["run_id"] == run_id:
            # this run's own lock: prove it alive, which is bookkeeping, not a change
            after = dict(holder, heartbeat=utc_now()) if module.check_mode else refresh_record(path, run_id)
            if after is None:
                continue  # taken over since it was read: another run holds it now
            return False, holder, after, None, None, waited
        if holder is None:
            if module.check_mode or place(path, record):
                return True, None, record, None, None, waited
            continue  # another run linked first; look at its record
        stale = stale_after is not None and silent is not None and silent > stale_after
        if stale or params["force"]:
            if module.check_mode:
                replaced = dict(holder, silent_for=None if silent is None else round(silent, 1))
            else:
                with AuditLog(params["audit_log"]) as log:
                    # decided again on the file as it is at that moment: a heartbeat since makes the run alive
                    replaced = take_over(path, record, stale_after if stale else None)
                    if replaced is None:
                        continue
                    log.write(takeover_entry("abandoned" if stale else "forced_takeover", replaced, params))
            previous = dict((field, value) for field, value in replaced.items() if field != "silent_for")
            return True, holder, record, previous, replaced if stale else None, waited
        if waited >= params["timeout"]:
            judged = (" (a run silent for more than stale_after=%g s is taken over as dead)" % stale_after
                      if stale_after else "")
            module.fail_json(
                msg="Deploy lock %s is held by %s, %s%s; gave up after waiting %.1f s: wait, or run with %s if that "
                    "run is known to be dead." % (path, describe(holder), silence(holder, silent), judged, waited,
                                                  force_hint(params)),
                changed=False, holder=holder, previous=None, abandoned=None, waited=round(waited, 3))
        time.sleep(min(POLL_SECONDS, params["timeout"] - waited))


def release(module, params):
    """(changed, holder before, holder after, previous, abandoned, waited); only the holder releases, unless
    forced."""
    path = params["path"]
    while True:
        holder, silent = inspect_lock(path)
        if holder is None:
            return False, None, None, None, None, 0.0
        if holder["run_id"] != params["run_id"] and not params["force"]:
            module.fail_json(
                msg="Deploy lock %s is held by %s (%s), not by run %s, so it was not released: let that run release "
                    "it, or run with %s if that run is known to be dead."
                    % (path, describe(holder), silence(holder, silent), params["run_id"], force_hint(params)),
                changed=False, holder=holder, previous=None, abandoned=None, waited=0.0)
        if not module.check_mode:
            with AuditLog(params["audit_log"]) as log:
                if not remove_lock(path, holder):
                    continue  # it changed since it was read: judge the lock as it is now
                log.write(released_entry(holder, params))
        return True, holder, None, holder, None, 0.0


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
            stale_after=dict(type="float", default=0),
            force=dict(type="bool", default=False),
            force_hint=dict(type="str", default=DEFAULT_FORCE_HINT),
            audit_log=dict(type="path"),
            result=dict(type="str"),
            details=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    error = option_error(params)
    if error:
        module.fail_json(msg=error)
    try:
        changed, before, after, previous, abandoned, waited = (
            acquire if params["state"] == "present" else release)(module, params)
    except (IOError, OSError) as error:
        module.fail_json(msg="Could not %s the deploy lock %s: %s. Check that the task may write there (become)."
                             % ("take" if params["state"] == "present" else "release", params["path"], error))
    result = dict(changed=changed, holder=after, previous=previous, abandoned=abandoned, waited=round(waited, 3))
    if module._diff:
        # a heartbeat refresh is no change, and shows none
        result["diff"] = dict(before=(before if changed else after) or {}, after=after or {},
                              before_header=params["path"], after_header=params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
