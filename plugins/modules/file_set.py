#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: file_set
short_description: Directories, files with their content, links and absent paths on a host, in one module run
version_added: 1.1.0
description:
  - Puts each entry of O(paths) in its state, in the order given, and reports which paths changed.
  - The same job as M(ansible.builtin.file) and M(ansible.builtin.copy) with O(ansible.builtin.copy#module:content),
    for many paths at once. Each of those tasks is one or two module runs per host (C(copy) and C(template) first stat
    the file, then write it); a stage that lays out a few directories and configuration files pays several seconds for
    them on a busy host. Here they are one module run.
  - Every entry is checked before anything changes (its options, its mode, that its owner and group exist), so bad
    input changes nothing.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  paths:
    description:
      - The paths, each put in its state in turn (a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - An absolute path.
        type: path
        required: true
      state:
        description:
          - V(directory) creates the directory and any missing parent, each with O(paths[].owner),
            O(paths[].group) and O(paths[].mode).
          - V(file) writes O(paths[].content) or O(paths[].secret_content) when the file's bytes differ (written beside
            it, then renamed into place).
          - V(link) makes a symbolic link to O(paths[].src), replacing a link or a file there (never a directory).
          - V(absent) removes a file, a link or a directory tree.
        type: str
        choices: [directory, file, link, absent]
        default: file
      content:
        description:
          - The file's content (V(file)), shown in the diff.
          - Exactly one of O(paths[].content) and O(paths[].secret_content) is given for a file.
        type: str
      secret_content:
        description:
          - The file's content when it holds secrets (V(file)), never shown, in the diff nor in any output.
        type: str
      src:
        description:
          - Where the link points (V(link)), taken as it is (a relative one is relative to the link's directory).
        type: str
      owner:
        description:
          - The owner's name (V(directory), V(file)); left as it is when not given (a new path gets the module's user).
        type: str
      group:
        description:
          - The group's name (V(directory), V(file)); left as it is when not given.
        type: str
      mode:
        description:
          - The permissions, an octal string such as V('0750') (V(directory), V(file)).
          - Left as it is when not given; a new directory then gets V('0755'), a new file V('0644').
        type: str
attributes:
  check_mode:
    support: full
    description: Reports which paths would change; changes nothing.
  diff_mode:
    support: full
    description: >-
      Shows each changed path before and after: its type, owner, group and mode, and a file's content (a secret one
      only as "(secret content)").
  idempotent:
    support: full
    description: Paths already in their state are left alone and reported unchanged.
notes:
  - SELinux contexts and file attributes (C(chattr)) are not managed.
seealso:
  - module: ansible.builtin.file
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Lay out the service's directories
  textbook.deploy.file_set:
    paths:
      - {path: /srv/chat-api/releases/1.2.0, state: directory}
      - {path: /etc/chat-api, state: directory, group: chat-api, mode: "0750"}

- name: Write the service's unit and its settings, and remove nginx's default site
  textbook.deploy.file_set:
    paths:
      - path: /etc/systemd/system/chat-api@.service
        content: "{{ lookup('ansible.builtin.template', 'chat-api@.service.j2') }}"
        owner: root
        group: root
        mode: "0644"
      - path: /etc/chat-api/chat-api.env
        secret_content: "{{ lookup('ansible.builtin.template', 'chat-api.env.j2') }}"
        owner: root
        group: root
        mode: "0600"
      - {path: /etc/nginx/sites-enabled/default, state: absent}
  register: runtime_files

- name: Make systemd read a changed unit
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'/etc/systemd/system/chat-api@.service' in runtime_files.changed_paths"
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (in check mode, that would change), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/chat-api/chat-api.env]
"""

import grp
import os
import pwd
import re
import shutil
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.textbook.deploy.plugins.module_utils.files import read_file, write_atomically

NEW_MODE = {"directory": 0o755, "file": 0o644}


def entry_problem(index, entry):
    """Why the entry cannot be applied, or None; names the option and the fix."""
    where = "paths[%d] (%s)" % (index, entry["path"])
    state = entry["state"]
    if not os.path.isabs(entry["path"]):
        return "%s: path must be absolute" % where
    if state == "file" and (entry["content"] is None) == (entry["secret_content"] is None):
        return "%s: a file needs exactly one of content and secret_content" % where
    if state != "file" and (entry["content"] is not None or entry["secret_content"] is not None):
        return "%s: content and secret_content are for state=file only" % where
    if (state == "link") != (entry["src"] is not None):
        return "%s: src is %s" % (where, "required for state=link" if state == "link" else "for state=link only")
    if state in ("link", "absent") and any(entry[key] is not None for key in ("owner", "group", "mode")):
        return "%s: owner, group and mode are for state=directory and state=file only" % where
    if entry["mode"] is not None and not re.match(r"^[0-7]{3,4}$", entry["mode"]):
        return "%s: mode must be an octal string such as '0644', got %r" % (where, entry["mode"])
    for key, lookup in (("owner", pwd.getpwnam), ("group", grp.getgrnam)):
        if entry[key] is not None:
            try:
                lookup(entry[key])
            except KeyError:
                return "%s: %s %s does not exist on the host: create it first" % (where, key, entry[key])
    return None


# the kinds of path an entry's state cannot replace (an absent path's entry removes whatever is there)
CONFLICTS = {"file": ("directory", "link"), "link": ("directory",), "directory": ("file", "link")}


def lstat_or_none(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def kind(info):
    """'absent', 'link', 'directory' or 'file' for an lstat result (or None)."""
    if info is None:
        return "absent"
    if stat.S_ISLNK(info.st_mode):
        return "link"
    return "directory" if stat.S_ISDIR(info.st_mode) else "file"


def describe(path, info):
    """What is at path, as one line: its kind and, for a directory or a file, its owner, group and mode."""
    if kind(info) == "absent":
        return "absent"
    if kind(info) == "link":
        return "link to %s" % os.readlink(path)
    return "%s, owner %s, group %s, mode %04o" % (
        kind(info), user_name(info.st_uid), group_name(info.st_gid), stat.S_IMODE(info.st_mode))


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def wanted_attributes(entry, current):
    """The owner, group and mode the entry asks for, filled in from what is there now (or the defaults)."""
    mode = int(entry["mode"], 8) if entry["mode"] else None
    if current is None:
        return entry["owner"] or user_name(os.getuid()), entry["group"] or group_name(os.getgid()), \
            mode if mode is not None else NEW_MODE[entry["state"]]
    return entry["owner"] or user_name(current.st_uid), entry["group"] or group_name(current.st_gid), \
        mode if mode is not None else stat.S_IMODE(current.st_mode)


def after_line(entry, current):
    if entry["state"] == "absent":
        return "absent"
    if entry["state"] == "link":
        return "link to %s" % entry["src"]
    owner, group, mode = wanted_attributes(entry, current)
    return "%s, owner %s, group %s, mode %04o" % (entry["state"], owner, group, mode)


def wanted_content(entry):
    return to_bytes(entry["content"] if entry["secret_content"] is None else entry["secret_content"])


def content_text(entry, data, changed=False):
    if entry["secret_content"] is not None:
        return "(secret content, changed)" if changed else "(secret content)"
    return to_text(data, errors="surrogate_or_replace")


def plan(entry):
    """(changed, diff) for one entry, from what is on the host now."""
    path = entry["path"]
    current = lstat_or_none(path)
    if kind(current) in CONFLICTS.get(entry["state"], ()):
        raise ValueError("%s is a %s, not a %s: remove it first" % (path, kind(current), entry["state"]))
    before, after = describe(path, current), after_line(entry, current)
    before_text, after_text = before + "\n", after + "\n"
    changed = before != after
    if entry["state"] == "file":
        wanted = wanted_content(entry)
        previous = read_file(path)[0]
        changed = changed or previous != wanted
        before_text += "" if previous is None else content_text(entry, previous)
        after_text += content_text(entry, wanted, previous != wanted)
    return changed, dict(before_header=path, after_header=path, before=before_text, after=after_text)


def make_directory(entry):
    """The directory and each missing parent, with the entry's owner, group and mode."""
    owner, group, mode = wanted_attributes(entry, None)
    missing = []
    path = entry["path"]
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory, mode)
        set_attributes(directory, owner, group, mode)


def set_attributes(path, owner, group, mode):
    os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)


def apply(module, entry):
    path, state = entry["path"], entry["state"]
    if state == "absent":
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    elif state == "link":
        temporary = os.path.join(os.path.dirname(path), ".%s.link" % os.path.basename(path))
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(entry["src"], temporary)
        os.replace(temporary, path)  # a rename: the link is never missing
    elif state == "directory" and not os.path.lexists(path):
        make_directory(entry)
    else:
        owner, group, mode = wanted_attributes(entry, lstat_or_none(path))
        if state == "file":
            write_atomically(module, path, wanted_content(entry), mode, pwd.getpwnam(owner).pw_uid,
                             grp.getgrnam(group).gr_gid)
        else:
            set_attributes(path, owner, group, mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="path", required=True),
                state=dict(type="str", default="file", choices=["directory", "file", "link", "absent"]),
                content=dict(type="str"),
                secret_content=dict(type="str", no_log=True),
                src=dict(type="str"),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    entries = module.params["paths"]
    problems = [problem for problem in (entry_problem(i, entry) for i, entry in enumerate(entries)) if problem]
    paths = [entry["path"] for entry in entries]
    problems += ["%s is given more than once: give each path once" % path
                 for path in sorted(set(path for path in paths if paths.count(path) > 1))]
    if problems:
        module.fail_json(msg="Nothing was changed. " + " ".join(problems))
    # every entry planned (read only) before the first change, so a path of the wrong type changes nothing
    try:
        plans = [(entry,) + plan(entry) for entry in entries]
    except ValueError as error:
        module.fail_json(msg="Nothing was changed. %s" % error)

    changed = [(entry, diff) for entry, entry_changed, diff in plans if entry_changed]
    if not module.check_mode:
        for entry, dummy in changed:
            apply(module, entry)
    result = dict(changed=bool(changed), changed_paths=[entry["path"] for entry, dummy in changed])
    if module._diff:
        result["diff"] = [diff for dummy, diff in changed]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
