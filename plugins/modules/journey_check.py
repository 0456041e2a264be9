#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: journey_check
short_description: Check the reader's journey through the platform the way a browser makes it
version_added: 1.1.0
description:
  - Checks, in a browser's order, what a reader of the textbook gets, and fails when any step does not work.
  - With O(page_url), the published page must answer C(200), and the chat API URL baked into its JavaScript (the
    Docusaurus C(customFields.chatApiUrl)) must be O(expected_api_url).
  - The CORS preflight of the widget's C(POST /api/chat) from the site's origin (O(origin), or the origin of
    O(page_url)) must pass, C(Access-Control-Allow-Origin) naming exactly that origin.
  - Each of O(questions) is asked through C(POST /api/chat) with that C(Origin). The answer must be C(200) JSON with
    C(answer) and C(passages), carry the CORS header, come with at least one passage from the textbook (from the
    question's C(expect_url) page, when given), and arrive within O(latency_budget_ms).
  - Every step runs even when an earlier one failed, so one run names every broken link; the failure message lists
    the failed steps.
  - Needs only the Python standard library, so it runs on the controller after a deploy, or on an app host against
    a release's own port before it gets traffic.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  api_url:
    description:
      - Base URL of the chat API, for example C(https://api.textbook.example.org). C(/api/chat) is appended.
    type: str
    required: true
  page_url:
    description:
      - The published textbook page a reader opens, for example C(https://owner.github.io/textbook/).
      - When not given, the page and its JavaScript are not checked (a backend deploy before the site is published).
    type: str
  expected_api_url:
    description:
      - The API URL the page's JavaScript must call. Defaults to O(api_url).
    type: str
  origin:
    description:
      - The site's origin the browser sends (C(scheme://host[:port])). Defaults to the origin of O(page_url).
      - Without O(origin) and O(page_url), no preflight is made and questions are asked without C(Origin).
    type: str
  questions:
    description:
      - Known questions of the textbook, each a string or a dict with C(question) and optionally C(expect_url), the
        page whose passages must be among the answer's.
      - Must not be empty.
    type: list
    elements: raw
    required: true
  latency_budget_ms:
    description:
      - The longest an answer may take, in milliseconds. Must be above V(0).
    type: int
    default: 2000
  timeout:
    description:
      - Seconds each HTTP request may take. Must be above V(0).
    type: float
    default: 10
  validate_certs:
    description:
      - Check the TLS certificates of O(page_url) and O(api_url).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of the CA that signs the API's certificate (the environment's own CA), trusted besides the
        system's.
    type: path
  require_passages:
    description:
      - Whether every answer must come with at least one passage of the textbook.
      - V(false) for a release's smoke test against its own port, which judges the service (status, body shape,
        latency) rather than the content of its index.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Only reads (C(GET), C(OPTIONS)) and asks questions, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to compare.
  idempotent:
    support: full
    description: Always reports no change.
notes:
  - Each question is recorded by the chat service like any reader's.
  - Requests go straight to the hosts named in the URLs; proxy environment variables are ignored.
seealso:
  - module: textbook.deploy.health_gate
  - module: textbook.deploy.content_index
"""

EXAMPLES = r"""
- name: Check the reader's journey after publishing the textbook
  textbook.deploy.journey_check:
    page_url: https://textbook-org.github.io/textbook/
    api_url: https://api.textbook.example.org
    questions:
      - question: The zero-moment point
        expect_url: https://textbook-org.github.io/textbook/docs/locomotion-and-control/
      - Sensor fusion

- name: Ask a new release on its own port before it gets traffic (on the app host)
  textbook.deploy.journey_check:
    api_url: http://127.0.0.1:8002
    origin: https://textbook-org.github.io
    questions: "{{ content_index.questions }}"
    require_passages: false
    latency_budget_ms: 500
"""

RETURN = r"""
steps:
  description: Each step of the journey with whether it passed, its milliseconds and what it found.
  returned: always
  type: list
  elements: dict
  sample:
    - {"step": "page", "ok": true, "ms": 41, "detail": "https://o.github.io/t/ loads and its JavaScript calls https://api.t"}
    - {"step": "preflight", "ok": true, "ms": 9, "detail": "the preflight from https://o.github.io passes (max-age 600)"}
    - {"step": "question 'Sensor fusion'", "ok": true, "ms": 23, "detail": "answered from https://o.github.io/t/docs/s/"}
failed_steps:
  description: The names of the steps that failed.
  returned: always
  type: list
  elements: str
  sample: []
duration_ms:
  description: Milliseconds the whole journey took.
  returned: always
  type: int
  sample: 118
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.textbook.deploy.plugins.module_utils.journey import Http, question_entries, run_journey

HTTP_URL = ("http://", "https://")


def normalised_questions(module):
    """[{question, expect_url}]; fails before any request on an empty list or a malformed entry."""
    questions, problem = question_entries(module.params["questions"])
    if problem:
        module.fail_json(msg=problem)
    if not questions:
        module.fail_json(msg="questions is empty: give the journey at least one known question of the textbook "
                             "(the content stage's content_index.questions are the default).")
    return questions


def check_options(module):
    params = module.params
    for option in ("api_url", "page_url", "expected_api_url", "origin"):
        if params[option] and not params[option].startswith(HTTP_URL):
            module.fail_json(msg="%s must be an http:// or https:// URL, got %r." % (option, params[option]))
    if params["latency_budget_ms"] <= 0 or params["timeout"] <= 0:
        module.fail_json(msg="latency_budget_ms and timeout must be above 0.")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_url=dict(type="str", required=True),
            page_url=dict(type="str"),
            expected_api_url=dict(type="str"),
            origin=dict(type="str"),
            questions=dict(type="list", elements="raw", required=True),
            latency_budget_ms=dict(type="int", default=2000),
            timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            require_passages=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    check_options(module)
    questions = normalised_questions(module)
    params = module.params
    http = Http(params["timeout"], params["validate_certs"], params["ca_path"])
    started = time.monotonic()
    steps = run_journey(http, params["api_url"], questions, page_url=params["page_url"],
                        expected_api_url=params["expected_api_url"], origin=params["origin"],
                        latency_budget_ms=params["latency_budget_ms"],
                        require_passages=params["require_passages"])
    failed = [step for step in steps if not step["ok"]]
    result = dict(changed=False, steps=steps, failed_steps=[step["step"] for step in failed],
                  duration_ms=int(round((time.monotonic() - started) * 1000)))
    if failed:
        module.fail_json(msg="The reader's journey failed: %s." % "; ".join(
            "%s: %s" % (step["step"], step["detail"]) for step in failed), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
