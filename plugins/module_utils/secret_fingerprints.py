# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keyed fingerprints of secret values, kept on the controller, so a secret GitHub never shows can be compared.

    store = FingerprintStore(path, key=None, create=not check_mode)   # FingerprintError on a bad file
    entry = ("api.github.com", "octo/site", None, "API_TOKEN")
    store.matches(entry, value, remote_updated_at)   # True: same value, and nobody changed it since
    store.record(entry, value, updated_at)           # after writing it
    store.forget(entry)
    store.save()                                      # merged into the file under a lock, written atomically

The file (JSON, mode 0600, its directory 0700) maps each entry (API host, repository, environment, name) to
``{"hmac": HMAC-SHA256(key, entry + value), "updated_at": <the remote updated_at seen after our last write>}``.
The entry is part of the HMAC's input, so one value set in two places gives two unrelated fingerprints. The key is
the ``key`` argument, or else 32 random bytes created on first use in a 0600 file beside the state file
(``<name>.key``); without the key a fingerprint tells nothing about the value. Neither the key nor a fingerprint is
ever returned to the caller. ``save`` re-reads the file under an exclusive lock and applies only this run's changes,
so tasks running at once (one per repository, say) do not lose each other's entries.
"""

import base64
import binascii
import errno
import hashlib
import hmac
import json
import os
import stat
import tempfile

try:
    import fcntl
except ImportError:  # not on a POSIX controller: saves are then not serialized between processes
    fcntl = None

__all__ = ["FingerprintError", "FingerprintStore", "DEFAULT_PATH", "KEY_BYTES"]

DEFAULT_PATH = "~/.cache/textbook-deploy/github-secret-fingerprints.json"
KEY_BYTES = 32
VERSION = 1
CONTEXT = b"textbook.deploy github_secret fingerprint v1"


class FingerprintError(Exception):
    """The state file or its key cannot be used (the message says which file and what to do)."""


def _entry_id(entry):
    """The key of an entry in the file: JSON [host, repo, environment or null, NAME], case-folded as GitHub does."""
    host, repo, environment, name = entry
    environment = environment.lower() if environment is not None else None
    return json.dumps([host.lower(), repo.lower(), environment, name.upper()], separators=(",", ":"))


class FingerprintStore:
    def __init__(self, path, key=None, create=True):
        """:arg key: the HMAC key (str or bytes); None: the key file beside the state file.
        :arg create: whether a missing key file may be created (not in check mode: an ephemeral key is used, which
            matches no stored fingerprint, so every secret reads as one to update)."""
        self.path = os.path.abspath(os.path.expanduser(path))
        self.key_path = os.path.splitext(self.path)[0] + ".key"
        self.lock_path = self.path + ".lock"
        self.create = create
        self.warnings = []
        self._changes = {}  # entry id -> new record, or None to remove
        self.entries = self._read_entries()
        if key is not None:
            self._key = key.encode("utf-8") if not isinstance(key, bytes) else key
            self.key_source = "fingerprint_key"
        else:
            self._key = self._read_or_create_key()
            self.key_source = self.key_path

    # -- comparing and recording -------------------------------------------------------------------------------

    def fingerprint(self, entry, value):
        message = CONTEXT + b"\0" + _entry_id(entry).encode("utf-8") + b"\0" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def stored(self, entry):
        entry_id = _entry_id(entry)
        if entry_id in self._changes:
            return self._changes[entry_id]
        return self.entries.get(entry_id)

    def reason_to_update(self, entry, value, remote_updated_at):
        """None when the value is the one we last wrote and nobody changed it since, else why it must be written."""
        record = self.stored(entry)
        if not isinstance(record, dict) or not record.get("hmac"):
            return "no fingerprint"
        if not hmac.compare_digest(str(record["hmac"]), self.fingerprint(entry, value)):
            return "value changed"
        if record.get("updated_at") != remote_updated_at:
            return "changed remotely"
        return None

    def record(self, entry, value, updated_at):
        self._changes[_entry_id(entry)] = dict(hmac=self.fingerprint(entry, value), updated_at=updated_at)

    def forget(self, entry):
        entry_id = _entry_id(entry)
        if entry_id in self.entries or self._changes.get(entry_id) is not None:
            self._changes[entry_id] = None

    def forget_scope(self, host, repo, environment, keep):
        """Forget the scope's entries whose names are not in keep (upper case), e.g. after a purge."""
        scope = json.loads(_entry_id((host, repo, environment, "")))[:3]
        for entry_id in list(self.entries):
            try:
                parts = json.loads(entry_id)
            except ValueError:
                continue
            if parts[:3] == scope and parts[3] not in keep:
                self._changes[entry_id] = None

    @property
    def dirty(self):
        return bool(self._changes)

    # -- files --------------------------------------------------------------------------------------------------

    def _read_entries(self):
        try:
            with open(self.path, "rb") as handle:
                self._check_mode_bits(handle.fileno(), self.path)
                raw = handle.read()
        except IOError as err:
            if err.errno == errno.ENOENT:
                return {}
            raise FingerprintError("Cannot read the fingerprint file %s (option fingerprint_file): %s"
                                   % (self.path, err.strerror))
        return self._parse(raw)

    def _parse(self, raw):
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("secrets", {}), dict):
            raise FingerprintError(
                "The fingerprint file %s (option fingerprint_file) is not a textbook.deploy fingerprint file (JSON "
                "object with 'secrets'). Delete it to start over: every secret is then written once more."
                % self.path)
        return dict(data.get("secrets", {}))

    def _check_mode_bits(self, fd, path):
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            if self.create:
                os.fchmod(fd, 0o600)
                self.warnings.append("%s was readable by others (mode %04o); its mode is now 0600." % (path, mode))
            else:
                self.warnings.append("%s is readable by others (mode %04o); make it 0600." % (path, mode))

    def _ensure_dir(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)

    def _read_key(self):
        try:
            with open(self.key_path, "rb") as handle:
                self._check_mode_bits(handle.fileno(), self.key_path)
                raw = handle.read().strip()
        except IOError as err:
            if err.errno == errno.ENOENT:
                return None
            raise FingerprintError("Cannot read the fingerprint key %s: %s" % (self.key_path, err.strerror))
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < KEY_BYTES:
            raise FingerprintError(
                "The fingerprint key %s is not %d base64-encoded random bytes. Delete it together with %s to start "
                "over (every secret is then written once more), or give the option fingerprint_key."
                % (self.key_path, KEY_BYTES, self.path))
        return key

    def _read_or_create_key(self):
        key = self._read_key()
        if key is not None:
            return key
        if not self.create:
            return os.urandom(KEY_BYTES)  # check mode: compare against nothing, write nothing
        try:
            self._ensure_dir()
            with self._locked():
                key = self._read_key()  # another run may have created it meanwhile
                if key is None:
                    key = os.urandom(KEY_BYTES)
                    self._write_atomically(self.key_path, base64.b64encode(key) + b"\n")
        except OSError as err:
            raise FingerprintError("Cannot create the fingerprint key %s: %s" % (self.key_path, err.strerror or err))
        return key

    def _locked(self):
        return _Lock(self.lock_path)

    def _write_atomically(self, path, data):
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def save(self):
        """Apply this run's changes to the file (re-read under a lock, so concurrent runs keep their entries)."""
        if not self._changes:
            return False
        try:
            self._ensure_dir()
            with self._locked():
                try:
                    with open(self.path, "rb") as handle:
                        entries = self._parse(handle.read())
                except IOError as err:
                    if err.errno != errno.ENOENT:
                        raise
                    entries = {}
                for entry_id, record in self._changes.items():
                    if record is None:
                        entries.pop(entry_id, None)
                    else:
                        entries[entry_id] = record
                data = dict(version=VERSION, secrets=dict(sorted(entries.items())))
                self._write_atomically(self.path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
        except OSError as err:
            raise FingerprintError("Cannot write the fingerprint file %s (option fingerprint_file): %s"
                                   % (self.path, err.strerror or err))
        self.entries = entries
        self._changes = {}
        return True


class _Lock:
    """An exclusive lock on a 0600 lock file beside the state file (flock; a no-op where there is no fcntl)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
        return False
