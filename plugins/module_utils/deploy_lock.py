# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock file of textbook.deploy.deploy_lock: one JSON record naming the run that holds it.

    record = new_record(run_id, owner, version, action)     # acquired_at and heartbeat: now
    place(path, record)                 # take a free lock atomically; False when another run was first
    holder, silent_for = inspect_lock(path)                  # the record, and seconds since its heartbeat
    refresh_heartbeat(path, run_id)     # in a long loop of the run holding the lock: True while it still holds it

The record is {"run_id", "owner", "version", "action", "acquired_at", "heartbeat"}; times are UTC ISO 8601
(2024-05-01T10:15:02Z). A run proves it is alive by moving `heartbeat`; a run whose heartbeat is older than the
waiter's `stale_after` is judged dead and its lock taken over (take_over). A lock file that is not a valid record is
held by `unknown`, and its file's mtime stands for the heartbeat.

No reader ever sees half a record: every record is written to a temporary file in the lock's directory first, then
linked (a free lock: the link fails when the lock exists, so of two runs exactly one gets it) or renamed (os.replace)
to the lock's name. Whatever replaces or removes an existing record (refresh, takeover, release) decides and acts
under an exclusive flock of the lock's directory, so a heartbeat and a takeover, or two takeovers, never interleave:
a refresh after a takeover returns False, and of two runs taking over the same dead run's lock one does. The flock
ends with the process, so a dead run never leaves it behind; on a file system without flock (some NFS mounts) these
steps run unguarded. Standard library only: this runs on the target host.
"""

import calendar
import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time

__all__ = ["RECORD_FIELDS", "utc_now", "new_record", "read_lock", "inspect_lock", "silent_for", "place",
           "take_over", "refresh_record", "refresh_heartbeat", "remove_lock"]

RECORD_FIELDS = ("run_id", "owner", "version", "action", "acquired_at", "heartbeat")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# flock on a file system that cannot do it: go on unguarded rather than fail every release and refresh there
_NO_FLOCK = frozenset(getattr(errno, name) for name in ("EBADF", "EINVAL", "ENOLCK", "EOPNOTSUPP", "ENOTSUP")
                      if hasattr(errno, name))


def utc_now():
    """Now, as the record's times are written: UTC, ISO 8601, to the second."""
    return time.strftime(TIME_FORMAT, time.gmtime())


def _epoch(text):
    """Seconds since the epoch of a record time, None when it is missing or not one."""
    if not isinstance(text, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))
    except ValueError:
        return None


def new_record(run_id, owner, version=None, action=None):
    """The record of a run taking the lock now; its heartbeat starts at acquired_at."""
    now = utc_now()
    return dict(run_id=run_id, owner=owner, version=version, action=action, acquired_at=now, heartbeat=now)


def _read(path):
    """(record, mtime of the file read) of the lock file, (None, None) when there is none. Anything but a JSON lock
    record is held by unknown. Content and mtime come from the same open file, so they belong together."""
    try:
        with open(path, "rb") as handle:
            content = handle.read()
            mtime = os.fstat(handle.fileno()).st_mtime
    except (IOError, OSError) as error:
        if error.errno == errno.ENOENT:
            return None, None
        raise
    try:
        record = json.loads(content)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not record.get("run_id"):
        record = dict(owner="unknown")
    return dict((field, record.get(field)) for field in RECORD_FIELDS), mtime


def read_lock(path):
    """The record in the lock file, None when there is none; a file that is not a lock record is held by unknown
    (every field None but owner)."""
    return _read(path)[0]


def silent_for(record, mtime=None, now=None):
    """Seconds since the run holding record last proved alive: since its heartbeat, else (a record written before
    heartbeats) its acquired_at, else the lock file's mtime (a file that is not a valid record); None when no time is
    known. A time in the future counts as now."""
    beat = _epoch(record.get("heartbeat")) if record.get("run_id") else None
    if beat is None and record.get("run_id"):
        beat = _epoch(record.get("acquired_at"))
    if beat is None:
        beat = mtime
    if beat is None:
        return None
    return max(0.0, (time.time() if now is None else now) - beat)


def inspect_lock(path):
    """(record, seconds since its heartbeat) of the lock file, (None, None) when there is none; the seconds are None
    when no time is known (see silent_for)."""
    record, mtime = _read(path)
    if record is None:
        return None, None
    return record, silent_for(record, mtime)


@contextlib.contextmanager
def _guard(path):
    """Exclusive flock of the lock's directory while the caller decides on and changes an existing record."""
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except (IOError, OSError) as error:
        if error.errno != errno.ENOENT:
            raise
        yield  # no directory, so no lock to guard: the caller finds none
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except (IOError, OSError) as error:
            if error.errno not in _NO_FLOCK:
                raise
        yield
    finally:
        os.close(fd)  # closing the last descriptor ends the flock


def _write_temp(path, record):
    """A complete, synced temporary file holding record, in the lock's directory (created, mode 0755, when
    missing); its path."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, 0o755, exist_ok=True)  # exist_ok: a run starting at the same moment may create it too
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(temp)
        raise
    return temp


def _replace(path, record):
    temp = _write_temp(path, record)
    try:
        os.replace(temp, path)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def place(path, record):
    """Take a free lock: write record as the lock file, atomically. False when the lock exists (another run took it
    first; look at its record); the lock's directory is created when missing."""
    temp = _write_temp(path, record)
    try:
        try:
            os.link(temp, path)  # atomic, and fails when the lock exists: of two runs exactly one links
        except OSError as error:
            if error.errno == errno.EEXIST:
                return False
            raise
        return True
    finally:
        os.unlink(temp)


def take_over(path, record, stale_after=None):
    """Replace another run's lock with record, atomically, deciding on what the file holds at that moment: only
    when it holds a lock, not record's run's, and (with stale_after, in seconds) one silent for longer than that.
    The record replaced, with `silent_for` (seconds, None when unknown) added; None when nothing was replaced (no
    lock, this run's, or alive after all): read the lock again."""
    with _guard(path):
        holder, silent = inspect_lock(path)
        if holder is None or holder["run_id"] == record["run_id"]:
            return None
        if stale_after is not None and (silent is None or silent <= stale_after):
            return None
        _replace(path, record)
    replaced = dict(holder)
    replaced["silent_for"] = None if silent is None else round(silent, 1)
    return replaced


def refresh_record(path, run_id):
    """Like refresh_heartbeat; the record as rewritten, or None when run_id does not hold the lock."""
    if (read_lock(path) or {}).get("run_id") != run_id or not run_id:
        return None  # the common refusal needs no flock (nor a directory to take it on)
    with _guard(path):
        holder = read_lock(path)
        if holder is None or holder["run_id"] != run_id:
            return None
        holder["heartbeat"] = utc_now()
        _replace(path, holder)
    return holder


def refresh_heartbeat(path, run_id):
    """Prove that run run_id, which holds the lock at path, is alive: rewrite its record with `heartbeat` now,
    atomically (temporary file, os.replace). True when done; False, changing nothing, when run_id does not hold the
    lock (there is none, or another run took it over: stop changing the host). For the long loops of a run's
    modules (a health gate, a canary analysis); call it well within the waiters' stale_after. Raises OSError when
    the lock cannot be read or written."""
    return refresh_record(path, run_id) is not None


def remove_lock(path, holder):
    """Release the lock: remove the lock file if it still holds the record holder (as read_lock returned it). True
    when removed; False when it holds something else by now (read it again) or is gone."""
    with _guard(path):
        if read_lock(path) != holder:
            return False
        try:
            os.unlink(path)
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
            return False
    return True
