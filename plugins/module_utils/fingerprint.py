# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast content fingerprints of directory trees, with a stat cache.

    cache = StatCache(previous_entries)          # {relpath: [size, mtime_ns, ino, sha256]} from a state file
    tree = tree_fingerprint(root, cache, skip_dirs={"node_modules", ".git"}, skip_top={"build"})
    tree.digest, tree.file_count, tree.bytes
    state["stat_cache"] = cache.entries()        # only what is safe to trust next time

A file is re-read only when its (size, mtime_ns, inode) differs from the cached entry; a re-run over 10,000
unchanged files costs one stat() each. Entries whose mtime is within RACY_NS of the moment the cache was taken are
not kept (git's "racily clean" rule): a file rewritten in the same clock tick with the same size is never missed.
"""

import hashlib
import os
import stat
import time

__all__ = ["RACY_NS", "StatCache", "TreeFingerprint", "file_sha256", "tree_fingerprint", "dir_usage", "text_sha256"]

RACY_NS = 2 * 1000 * 1000 * 1000
CHUNK = 1024 * 1024


def file_sha256(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text):
    """Hex sha256 of a str (UTF-8) or bytes."""
    if not isinstance(text, bytes):
        text = text.encode("utf-8")
    return hashlib.sha256(text).hexdigest()


class StatCache:
    """relpath -> (size, mtime_ns, inode, sha256), remembered between runs."""

    def __init__(self, entries=None):
        self._old = {}
        for rel, entry in (entries or {}).items():
            if isinstance(entry, (list, tuple)) and len(entry) == 4:
                self._old[rel] = tuple(entry)
        self._new = {}
        self.hashed = 0
        self.started_ns = time.time_ns()

    def digest(self, rel, path, st):
        """The sha256 of path, from the cache when its stat matches, else read (and remembered)."""
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        old = self._old.get(rel)
        if old is not None and tuple(old[:3]) == key:
            value = old[3]
        else:
            value = file_sha256(path)
            self.hashed += 1
        self._new[rel] = key + (value,)
        return value

    def entries(self):
        """The entries seen this run that are safe to trust next run (JSON-ready)."""
        horizon = self.started_ns - RACY_NS
        return dict((rel, list(entry)) for rel, entry in self._new.items() if entry[1] < horizon)

    @property
    def changed(self):
        """Whether entries() differs from what the cache started with."""
        return self.entries() != dict((rel, list(entry)) for rel, entry in self._old.items())


class TreeFingerprint:
    """What tree_fingerprint found: digest (hex sha256), file_count, bytes."""

    def __init__(self, digest, file_count, size):
        self.digest = digest
        self.file_count = file_count
        self.bytes = size


def tree_fingerprint(root, cache=None, skip_dirs=(), skip_top=(), skip_paths=()):
    """Fingerprint the regular files under root: sha256 over sorted "relpath NUL sha256 LF" lines.

    skip_dirs: directory names skipped at any depth; skip_top: names skipped directly under root;
    skip_paths: absolute paths (files or directories) skipped. Symlinks to files are followed; a symlink to a
    directory is not descended into, its target text is fingerprinted instead. Other special files are ignored.
    """
    cache = cache if cache is not None else StatCache()
    root = os.path.abspath(root)
    skip_dirs = set(skip_dirs)
    skip_top = set(skip_top)
    skip_paths = set(os.path.abspath(path) for path in skip_paths)
    lines = []
    count = 0
    total = 0
    stack = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        with os.scandir(abs_dir) as entries:
            for entry in entries:
                name = entry.name
                rel = rel_dir + "/" + name if rel_dir else name
                if entry.path in skip_paths:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if name in skip_dirs or (not rel_dir and name in skip_top):
                        continue
                    stack.append((rel, entry.path))
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError:
                    st = None
                if entry.is_symlink() and (st is None or stat.S_ISDIR(st.st_mode)):
                    lines.append("%s\0link:%s\n" % (rel, os.readlink(entry.path)))
                    continue
                if st is None or not stat.S_ISREG(st.st_mode):
                    continue
                lines.append("%s\0%s\n" % (rel, cache.digest(rel, entry.path, st)))
                count += 1
                total += st.st_size
    lines.sort()
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
    return TreeFingerprint(digest.hexdigest(), count, total)


def dir_usage(root):
    """(file_count, bytes) of the regular files under root (symlinks not followed); (0, 0) when it is missing."""
    count = 0
    total = 0
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                count += 1
                total += entry.stat(follow_symlinks=False).st_size
    return count, total
