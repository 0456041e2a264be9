# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the neon_connection_info module and censors its result in every output, as if the task had no_log.

The result holds a password. A task that forgets ``no_log: true`` must not print it, not even at -vvv; the
registered variable still holds the whole result.
"""

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name="textbook.deploy.neon_connection_info", task_vars=task_vars))
        result["_ansible_no_log"] = True
        return result
