# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that change a file nginx reads (nginx_site, blue_green_switch; see
plugins/module_utils/nginx.py): its mode, the check, the reload and the verification through nginx."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  mode:
    description:
      - The file's permissions, as an octal string.
    type: str
    default: "0644"
  validate:
    description:
      - The command (program and arguments, taken literally, without a shell or variable expansion) that checks the
        configuration with the new file in place; a non-zero exit, or a program that cannot be run, fails the task and
        puts the previous file back.
    type: list
    elements: str
    default: [nginx, -t, -q]
  reload_command:
    description:
      - The command that reloads nginx after a change, for example V([nginx, -s, reload]) on a host without systemd.
      - An empty list writes and checks the file without reloading.
    type: list
    elements: str
    default: [systemctl, reload, nginx]
  verify:
    description:
      - After a reload, ask nginx until it serves what the new file is for; a reload that does not is undone.
      - Not used when nothing changed (nothing was reloaded) or in check mode.
    type: dict
    suboptions:
      url:
        description:
          - The URL to GET through nginx, for example V(http://127.0.0.1/version).
        type: str
        required: true
      json:
        description:
          - Keys and values the answer's JSON object must have, for example a C(version) key with the release
            wanted; without it any 2xx answer passes.
        type: dict
      timeout:
        description:
          - Seconds to get a passing answer before the file is put back.
        type: float
        default: 30
      interval:
        description:
          - Seconds between two requests.
        type: float
        default: 0.3
notes:
  - The file is replaced atomically (written beside it, then renamed), so nginx never reads half a file.
  - When the file's path is a symbolic link, the file it points at is written and the link kept.
"""
