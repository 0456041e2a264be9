#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: blue_green_switch
short_description: Make a color the live one on a blue-green host, its live link and nginx's site together
version_added: 1.2.0
description:
  - A blue-green host keeps its colors as links under O(root) (C(blue), C(green)) and the color serving as the link
    C(live), which names a color; nginx's site (O(site)) sends the requests to that color's port. This module changes
    both in one step so they never disagree for long, in this order
  - 1. With O(smoke), asks the color's own port the textbook's known questions first (as the journey check does) and
    changes nothing when one fails, so a color that does not answer never gets the traffic. This is what
    kamal-proxy's C(deploy) does before it switches; checking in the same run spares a module run of its own.
  - 2. Points C(live) at O(color) (a new link renamed over the old one, atomically).
  - 3. Writes O(content) to O(site), checks nginx's whole configuration with O(validate), reloads nginx gracefully
    with O(reload_command), and with O(verify) asks nginx until it serves what the site is for.
  - When the check, the reload or the verification fails, the previous site and the previous C(live) link are both
    put back (nginx reloaded with the previous site) and the task fails naming the step.
  - Nothing happens (no question asked, no reload) when C(live) already names O(color) and the site already has
    O(content) and O(mode).
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  root:
    description:
      - The directory holding the color links and the C(live) link.
    type: path
    required: true
  color:
    description:
      - The color to make live; the link O(root)/O(color) must exist.
    type: str
    required: true
  site:
    description:
      - nginx's configuration file of the service. Its directory must exist.
    type: path
    required: true
  content:
    description:
      - The site's content sending the requests to O(color), for example rendered on the controller with
        C(lookup('ansible.builtin.template', ...)).
    type: str
    required: true
  smoke:
    description:
      - Questions to ask the color directly before anything changes; any failed answer fails the task with nothing
        changed.
      - Not asked when nothing would change, nor in check mode.
    type: dict
    suboptions:
      api_url:
        description:
          - The color's own base URL, for example V(http://127.0.0.1:8002).
        type: str
        required: true
      questions:
        description:
          - The questions, as strings or as mappings with C(question) and an optional C(expect_url).
        type: list
        elements: raw
        required: true
      origin:
        description:
          - The browser origin to ask from (the textbook's site); the CORS preflight is checked too when set.
        type: str
      latency_budget_ms:
        description:
          - The longest an answer may take.
        type: int
        default: 2000
      require_passages:
        description:
          - Whether an answer must cite a passage of the textbook.
        type: bool
        default: false
      timeout:
        description:
          - Seconds to wait for each answer.
        type: float
        default: 10
extends_documentation_fragment:
  - textbook.deploy.nginx
attributes:
  check_mode:
    support: full
    description: Reports whether the link or the site would change; asks nothing, writes nothing, does not reload.
  diff_mode:
    support: full
    description: Shows the live color and the site's content before and after.
  idempotent:
    support: full
    description: A host whose live link and site are already as asked is left alone and nginx is not reloaded.
seealso:
  - module: textbook.deploy.nginx_site
  - module: textbook.deploy.blue_green_info
  - module: textbook.deploy.journey_check
"""

EXAMPLES = r"""
- name: Make green live, verified through nginx
  textbook.deploy.blue_green_switch:
    root: /srv/chat-api
    color: green
    site: /etc/nginx/conf.d/chat-api.conf
    content: "{{ lookup('ansible.builtin.template', 'nginx-app.conf.j2') }}"
    verify:
      url: http://127.0.0.1/version
      json:
        version: 1.4.0

- name: Roll back to the warm standby, once it has answered the textbook's questions on its own port
  textbook.deploy.blue_green_switch:
    root: /srv/chat-api
    color: blue
    site: /etc/nginx/conf.d/chat-api.conf
    content: "{{ lookup('ansible.builtin.template', 'nginx-app.conf.j2') }}"
    smoke:
      api_url: http://127.0.0.1:8001
      questions:
        - What does this textbook cover?
"""

RETURN = r"""
live:
  description: The color the C(live) link named before the task and after it (an empty string for no link).
  returned: always
  type: dict
  sample: {before: blue, after: green}
reloaded:
  description: Whether nginx was reloaded with the new site.
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
smoke:
  description: The steps of the smoke test, each with C(step), C(ok), C(ms) and C(detail), when it ran.
  returned: when O(smoke) is set and something was to change
  type: list
  elements: dict
  sample: [{step: "question: What does this textbook cover?", ok: true, ms: 84, detail: answered (no passage)}]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.textbook.deploy.plugins.module_utils import nginx
from ansible_collections.textbook.deploy.plugins.module_utils.journey import Http, question_entries, run_journey


def live_color(link):
    """The color the live link names, '' when there is none."""
    try:
        return os.readlink(link)
    except (FileNotFoundError, OSError):
        return ""


def point_link(module, link, color):
    """Point link at color (or remove it for ''), atomically: a new link renamed over the old one."""
    if not color:
        if os.path.lexists(link):
            os.unlink(link)
        return
    temporary = "%s.%d.tmp" % (link, os.getpid())
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(color, temporary)
    os.rename(temporary, link)


def option_error(params):
    color = params["color"]
    if not color or "/" in color or color in ("live", "releases", ".", ".."):
        return "color must be the name of a color link under root (such as green), got %r" % color
    if not os.path.lexists(os.path.join(params["root"], color)):
        return "%s has no color %s (no link %s): install a release on it first" % (
            params["root"], color, os.path.join(params["root"], color))
    smoke = params["smoke"]
    if smoke:
        if not smoke["api_url"].startswith(("http://", "https://")):
            return "smoke.api_url must be an http:// or https:// URL, got %r" % smoke["api_url"]
        if smoke["latency_budget_ms"] <= 0 or smoke["timeout"] <= 0:
            return "smoke.latency_budget_ms and smoke.timeout must be above 0"
    return nginx.option_error(params, "site")


def smoke_test(module, smoke, result):
    """Ask the color the questions; fail, with nothing changed, when one answer fails."""
    questions, problem = question_entries(smoke["questions"])
    if problem or not questions:
        module.fail_json(msg="smoke.questions: %s" % (problem or "give at least one known question of the textbook"))
    steps = run_journey(Http(smoke["timeout"]), smoke["api_url"], questions, origin=smoke["origin"],
                        latency_budget_ms=smoke["latency_budget_ms"], require_passages=smoke["require_passages"])
    result["smoke"] = steps
    failed = [step for step in steps if not step["ok"]]
    if failed:
        module.fail_json(msg="The smoke test of %s at %s failed, so nothing was switched: %s." % (
            module.params["color"], smoke["api_url"], "; ".join(
                "%s: %s" % (step["step"], step["detail"]) for step in failed)),
            **dict(result, changed=False, live=dict(result["live"], after=result["live"]["before"])))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            color=dict(type="str", required=True),
            site=dict(type="path", required=True),
            content=dict(type="str", required=True),
            smoke=dict(type="dict", options=dict(
                api_url=dict(type="str", required=True),
                questions=dict(type="list", elements="raw", required=True),
                origin=dict(type="str"),
                latency_budget_ms=dict(type="int", default=2000),
                require_passages=dict(type="bool", default=False),
                timeout=dict(type="float", default=10),
            )),
            **nginx.ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    error = option_error(params)
    if error:
        module.fail_json(msg=error)
    link = os.path.join(params["root"], "live")
    before = live_color(link)
    site = nginx.Site(module, params["site"], params["content"], params,
                      undo=lambda: point_link(module, link, before))
    changed = before != params["color"] or site.changed
    result = dict(changed=changed, reloaded=False, live=dict(before=before, after=params["color"]))
    if module._diff:
        result["diff"] = [dict(before="live -> %s\n" % before, after="live -> %s\n" % params["color"],
                               before_header=link, after_header=link), site.diff()]
    if not changed or module.check_mode:
        module.exit_json(**result)
    if params["smoke"]:
        smoke_test(module, params["smoke"], result)
    point_link(module, link, params["color"])
    if site.changed:
        site.apply(result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
