#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nginx_site
short_description: Write an nginx configuration file, check the whole configuration and reload nginx, or put it back
version_added: 1.0.0
description:
  - Writes O(content) to O(path) (a file nginx includes, for example in C(/etc/nginx/conf.d/)) when it differs, runs
    O(validate) to check nginx's whole configuration with the new file in place, then reloads nginx gracefully with
    O(reload_command) (in-flight requests finish on the old workers).
  - When the check or the reload fails, the previous file is put back (or the new one removed when there was none)
    and the task fails with the command's message, so nginx keeps running on a configuration that passed its check.
  - A file of a C(server) block cannot be checked on its own (C(template)'s C(validate) sees only the file); this
    module checks it where nginx reads it, in one task rather than four.
  - With O(verify), a reload is judged by what nginx then answers, until O(verify.url) answers 2xx with the JSON
    O(verify.json) asks for, within O(verify.timeout). Otherwise the previous file is put back and nginx reloaded
    again. Checking in the same run spares a module run of its own after every switch.
  - Nothing happens when the file already has O(content) and O(mode); the reload then is not run.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  path:
    description:
      - The configuration file. Its directory must exist.
    type: path
    required: true
  content:
    description:
      - The file's content, for example rendered on the controller with C(lookup('ansible.builtin.template', ...)).
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reports whether the file would change; writes nothing, checks nothing and does not reload.
  diff_mode:
    support: full
    description: Shows the file's content before and after.
  idempotent:
    support: full
    description: A file that already has O(content) and O(mode) is left alone and nginx is not reloaded.
extends_documentation_fragment:
  - textbook.deploy.nginx
"""

EXAMPLES = r"""
- name: Point nginx at the green color
  textbook.deploy.nginx_site:
    path: /etc/nginx/conf.d/chat-api.conf
    content: "{{ lookup('ansible.builtin.template', 'nginx-app.conf.j2') }}"

- name: Write a site on a host where nginx runs without systemd
  textbook.deploy.nginx_site:
    path: /etc/nginx/conf.d/status.conf
    content: |
      server {
          listen 8080;
          location = /status { stub_status; }
      }
    reload_command: [nginx, -s, reload]

- name: Send the traffic to the green color, and undo it unless nginx then answers with the new release
  textbook.deploy.nginx_site:
    path: /etc/nginx/conf.d/chat-api.conf
    content: "{{ lookup('ansible.builtin.template', 'nginx-app.conf.j2') }}"
    verify:
      url: http://127.0.0.1/version
      json:
        version: 1.4.0
"""

RETURN = r"""
reloaded:
  description: Whether nginx was reloaded (the file changed and passed the check).
  returned: always
  type: bool
  sample: true
reloaded_at:
  description: When nginx was reloaded with the new file, in seconds since the epoch on the host's clock (the clock
    of nginx's log lines), for example to start a canary's analysis window there (textbook.deploy.canary_analysis's
    O(textbook.deploy.canary_analysis#module:since)).
  returned: when nginx was reloaded
  type: float
  sample: 1764835200.125
verified:
  description: What O(verify.url) last answered (status, and the JSON keys O(verify.json) names), when it was asked.
  returned: when O(verify) is set and nginx was reloaded
  type: dict
  sample: {status: 200, json: {version: 1.4.0}, seconds: 0.4}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.textbook.deploy.plugins.module_utils import nginx


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            **nginx.ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    error = nginx.option_error(module.params, "path")
    if error:
        module.fail_json(msg=error)
    site = nginx.Site(module, module.params["path"], module.params["content"], module.params)
    result = dict(changed=site.changed, reloaded=False)
    if module._diff:
        result["diff"] = site.diff()
    if site.changed and not module.check_mode:
        site.apply(result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
