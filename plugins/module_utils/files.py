# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and atomically replacing a file's bytes: shared by nginx_site and file_set."""

import os
import stat
import tempfile


def read_file(path):
    """The file's bytes and permissions, or (None, None) when there is no file."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
    except FileNotFoundError:
        return None, None


def write_atomically(module, path, content, mode, uid=-1, gid=-1):
    """Write content beside path (readable by its owner only until then), then rename it into place, so a reader
    never sees half a file. uid and gid -1 keep the writer's."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chown(temporary, uid, gid)
    os.chmod(temporary, mode)
    module.atomic_move(temporary, path, unsafe_writes=False)
    os.chmod(path, mode)  # atomic_move keeps the mode of a file it replaces
    os.chown(path, uid, gid)
