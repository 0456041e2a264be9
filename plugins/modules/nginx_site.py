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
notes:
  - The file is replaced atomically (written beside it, then renamed), so nginx never reads half a file.
  - When O(path) is a symbolic link, the file it points at is written and the link kept.
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
verified:
  description: What O(verify.url) last answered (status, and the JSON keys O(verify.json) names), when it was asked.
  returned: when O(verify) is set and nginx was reloaded
  type: dict
  sample: {status: 200, json: {version: 1.4.0}, seconds: 0.4}
"""

import json
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.textbook.deploy.plugins.module_utils import probe
from ansible_collections.textbook.deploy.plugins.module_utils.files import read_file, write_atomically


def put_back(module, path, previous, previous_mode):
    if previous is None:
        if os.path.lexists(path):  # already removed when a reload after putting back failed too
            os.unlink(path)
    else:
        write_atomically(module, path, previous, previous_mode)


def run_or_put_back(module, command, what, path, previous, previous_mode):
    """Run command (arguments taken literally); on a failure or a program that cannot start, put the file back."""
    try:
        rc, out, err = module.run_command(command, handle_exceptions=False, expand_user_and_vars=False)
    except OSError as error:
        rc, out, err = 127, "", "cannot run %s: %s" % (command[0], error)
    if rc != 0:
        put_back(module, path, previous, previous_mode)
        module.fail_json(msg="%s failed (rc=%d), the previous %s was put back: %s" % (
            what, rc, path, (err or out).strip()), rc=rc, stdout=out, stderr=err, reloaded=False)


def answer(url, wanted):
    """(passed, what was seen) for one GET of url: a 2xx whose JSON has the wanted keys and values."""
    try:
        status, body = probe.get(url)
    except Exception as error:  # refused, 5xx, timed out: a failed try, and its reason
        return False, dict(error=probe.describe_error(error))
    seen = dict(status=status)
    if not wanted:
        return True, seen
    try:
        document = json.loads(body)
    except ValueError:
        return False, dict(seen, error="no JSON")
    document = document if isinstance(document, dict) else {}
    seen["json"] = dict((key, document.get(key)) for key in wanted)
    return all(str(document.get(key)) == str(value) for key, value in wanted.items()), seen


def verify_reload(verify):
    """(passed, last answer) after asking verify.url until it passes or verify.timeout runs out."""
    started = time.monotonic()
    while True:
        passed, seen = answer(verify["url"], verify["json"] or {})
        seen["seconds"] = round(time.monotonic() - started, 3)
        if passed or seen["seconds"] >= verify["timeout"]:
            return passed, seen
        time.sleep(verify["interval"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            mode=dict(type="str", default="0644"),
            validate=dict(type="list", elements="str", default=["nginx", "-t", "-q"]),
            reload_command=dict(type="list", elements="str", default=["systemctl", "reload", "nginx"]),
            verify=dict(type="dict", options=dict(
                url=dict(type="str", required=True),
                json=dict(type="dict"),
                timeout=dict(type="float", default=30),
                interval=dict(type="float", default=0.3),
            )),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not re.match(r"^[0-7]{3,4}$", params["mode"]):
        module.fail_json(msg="mode must be an octal string such as '0644', got %r" % params["mode"])
    mode = int(params["mode"], 8)
    # a link (sites-enabled -> sites-available) keeps pointing at the file, which is what gets written
    path = os.path.realpath(params["path"])
    if not os.path.isdir(os.path.dirname(path)):
        module.fail_json(msg="The directory of path %s does not exist: create it (is nginx installed?)" % path)
    if not params["validate"]:
        module.fail_json(msg="validate must name a command that checks the configuration, such as [nginx, -t]")
    verify = params["verify"]
    if verify and not verify["url"].startswith(("http://", "https://")):
        module.fail_json(msg="verify.url must be an http:// or https:// URL, got %r" % verify["url"])
    if verify and (verify["timeout"] <= 0 or verify["interval"] <= 0):
        module.fail_json(msg="verify.timeout and verify.interval must be above 0 seconds, got %s and %s"
                         % (verify["timeout"], verify["interval"]))
    if verify and not params["reload_command"]:
        module.fail_json(msg="verify needs a reload_command: without a reload nginx serves the old file")

    content = to_bytes(params["content"])
    previous, previous_mode = read_file(path)
    changed = previous != content or previous_mode != mode
    result = dict(changed=changed, reloaded=False)
    if module._diff:
        result["diff"] = dict(before=to_text(previous or b"", errors="surrogate_or_replace"),
                              after=params["content"], before_header=path, after_header=path)
    if not changed or module.check_mode:
        module.exit_json(**result)

    write_atomically(module, path, content, mode)
    run_or_put_back(module, params["validate"], "The nginx configuration check", path, previous, previous_mode)
    if params["reload_command"]:
        run_or_put_back(module, params["reload_command"], "The nginx reload", path, previous, previous_mode)
        result["reloaded"] = True
    if verify:
        passed, result["verified"] = verify_reload(verify)
        if not passed:
            put_back(module, path, previous, previous_mode)
            run_or_put_back(module, params["reload_command"], "The nginx reload", path, previous, previous_mode)
            module.fail_json(msg="After the reload, %s did not answer as wanted within %s s (wanted 2xx%s; last: %s); "
                             "the previous %s was put back and nginx reloaded with it." % (
                                 verify["url"], verify["timeout"],
                                 " with %s" % json.dumps(verify["json"]) if verify["json"] else "",
                                 json.dumps(result["verified"]), path), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
