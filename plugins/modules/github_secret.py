#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: github_secret
short_description: Set or delete GitHub Actions secrets of a repository or an environment, idempotently
version_added: 1.0.0
description:
  - Creates, updates or deletes GitHub Actions secrets of a repository (C(/repos/{owner}/{repo}/actions/secrets)) or
    of one of its environments (C(/repos/{owner}/{repo}/environments/{environment_name}/secrets)).
  - One secret (O(name), O(value), O(state)) or several at once (O(secrets)), optionally deleting the secrets of the
    scope that are not listed (O(purge)).
  - Values are encrypted on the controller as libsodium sealed boxes with the repository's or environment's public
    key before they are sent; GitHub never returns them.
  - To know whether a value changed without seeing it, the module keeps a keyed fingerprint of each value it wrote
    (an HMAC-SHA256, never the value) in O(fingerprint_file), with the secret's C(updated_at) that GitHub reported
    after the write. A secret is written when it has no fingerprint, when the value's fingerprint differs, or when
    its C(updated_at) moved since (someone else changed it); otherwise nothing is sent.
  - The fingerprint file is on the host the module runs on, so run the module on the controller (set
    C(delegate_to) to V(localhost), or run the play on V(localhost) with the C(local) connection) and keep that file
    between runs. Losing it costs one extra write of each secret, nothing else.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.github
  - textbook.deploy.github_actions
requirements:
  - PyNaCl (on the host the module runs on)
options:
  name:
    description:
      - Name of the secret. Letters, digits and underscores only, not starting with a digit nor with C(GITHUB_).
        Names are case-insensitive; GitHub stores them in upper case.
      - Give either O(name) or O(secrets).
    type: str
  value:
    description:
      - Value of the secret O(name), at most 48 KB. Required with O(state=present).
    type: str
  secrets:
    description:
      - Several secrets of the scope at once, each with its O(secrets[].name) and O(secrets[].value).
      - With O(state=absent), the secrets named are deleted (their values are not needed).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the secret (same rules as O(name)).
        type: str
        required: true
      value:
        description:
          - Value of the secret. Required with O(state=present).
        type: str
  purge:
    description:
      - With O(secrets) and O(state=present), also delete the secrets of the scope that O(secrets) does not list.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or updates the secrets; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  fingerprint_file:
    description:
      - JSON file where the keyed fingerprints of the values written are kept (mode 0600, its directory 0700),
        one entry per API host, repository, environment and secret name.
      - Without O(fingerprint_key), the HMAC key is a random 32-byte key created on first use in a 0600 file beside
        it (same name with the extension C(.key)).
    type: path
    default: ~/.cache/textbook-deploy/github-secret-fingerprints.json
  fingerprint_key:
    description:
      - HMAC key of the fingerprints (at least 16 characters), for example from a vault, so that several
        controllers that share O(fingerprint_file) agree. When not set, the key file beside O(fingerprint_file) is
        used (and created when missing).
      - Fingerprints made with another key do not match, so changing the key writes each secret once more.
    type: str
attributes:
  check_mode:
    support: full
    description:
      - Reports what would be created, updated or deleted; sends only C(GET) requests and writes neither the
        fingerprint file nor its key file.
  diff_mode:
    support: full
    description:
      - Returns the names of the secrets before and after, those that are written marked with why; never values
        nor fingerprints.
  idempotent:
    support: full
    description:
      - A second run with the same values reports no change and sends only C(GET) requests, as long as the
        fingerprint file is kept and nobody changed the secrets meanwhile.
notes:
  - "Token permissions: a classic personal access token needs the C(repo) scope; a fine-grained token needs the
    repository permission Secrets (write), and for environment secrets also Environments (write)."
  - The values, O(fingerprint_key) and the fingerprints are never part of the result, the diff or an error message
    (O(value), O(secrets[].value) and O(fingerprint_key) are C(no_log)).
  - GitHub does not say whether a value changed, so a change made by someone else is only seen through the
    secret's C(updated_at); a value set back to the same text by someone else is therefore written again. That
    timestamp has whole seconds, so a change made elsewhere in the same second as the module's write is not seen.
seealso:
  - module: textbook.deploy.github_variable
  - module: textbook.deploy.github_environment
  - name: GitHub REST API for Actions secrets
    description: The endpoints this module calls.
    link: https://docs.github.com/en/rest/actions/secrets
"""

EXAMPLES = r"""
- name: Set one repository secret
  textbook.deploy.github_secret:
    repo: octo-org/textbook
    name: NEON_API_KEY
    value: "{{ vault_neon_api_key }}"
  delegate_to: localhost

- name: Set the production environment's secrets, deleting any other
  textbook.deploy.github_secret:
    repo: octo-org/textbook
    environment: production
    secrets:
      - name: QDRANT_API_KEY
        value: "{{ vault_qdrant_api_key }}"
      - name: DATABASE_URL
        value: "{{ vault_database_url }}"
    purge: true
  delegate_to: localhost

- name: Share one fingerprint key between the controllers of a team
  module_defaults:
    group/textbook.deploy.github:
      token: "{{ vault_github_token }}"
  block:
    - name: Set a secret with a vaulted fingerprint key
      textbook.deploy.github_secret:
        repo: octo-org/textbook
        name: DEPLOY_KEY
        value: "{{ vault_deploy_key }}"
        fingerprint_key: "{{ vault_fingerprint_key }}"
      delegate_to: localhost

- name: Delete a secret
  textbook.deploy.github_secret:
    repo: octo-org/textbook
    name: OLD_TOKEN
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
created:
  description: Names of the secrets created (in check mode, that would be created).
  returned: always
  type: list
  elements: str
  sample: [DATABASE_URL]
updated:
  description: Names of the secrets whose value was written again (in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: [QDRANT_API_KEY]
deleted:
  description: Names of the secrets deleted (in check mode, that would be deleted).
  returned: always
  type: list
  elements: str
  sample: []
reasons:
  description:
    - Why each secret of RV(updated) is written, V(value changed), V(changed remotely) (its C(updated_at) moved
      since our last write) or V(no fingerprint) (none kept for it, for example on a new controller).
  returned: always
  type: dict
  sample: {"QDRANT_API_KEY": "value changed"}
secrets:
  description:
    - The secrets of the scope after the task, as GitHub lists them (names and dates; GitHub never returns values).
    - In check mode, as they are now.
  returned: always
  type: list
  elements: dict
  sample:
    - name: DATABASE_URL
      created_at: "2024-06-01T12:00:00Z"
      updated_at: "2024-06-01T12:00:00Z"
fingerprint_file:
  description: The fingerprint file used.
  returned: always
  type: str
  sample: /home/deploy/.cache/textbook-deploy/github-secret-fingerprints.json
"""

import base64
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.textbook.deploy.plugins.module_utils.github_actions import (
    ActionsScope,
    actions_module,
    plan_changes,
    wanted_items,
)
from ansible_collections.textbook.deploy.plugins.module_utils.secret_fingerprints import (
    DEFAULT_PATH,
    FingerprintError,
    FingerprintStore,
)

try:
    from nacl import encoding, public
    HAS_NACL = True
    NACL_ERROR = None
except ImportError:
    HAS_NACL = False
    NACL_ERROR = traceback.format_exc()

REPO_HINT = ("the classic scope `repo`, or for a fine-grained token the repository permission Secrets (write)")
ENVIRONMENT_HINT = ("the classic scope `repo`, or for a fine-grained token the repository permissions Secrets (write) "
                    "and Environments (write)")
MAX_VALUE_BYTES = 48 * 1024
MIN_KEY_CHARS = 16


def seal(public_key, value):
    """base64 of a libsodium sealed box of value for a base64 public key (what GitHub decrypts)."""
    box = public.SealedBox(public.PublicKey(public_key.encode("ascii"), encoding.Base64Encoder))
    return base64.b64encode(box.encrypt(value.encode("utf-8"))).decode("ascii")


def check_values(module, wanted):
    for name, value in wanted.items():
        if value is None:
            continue
        if value == "":
            module.fail_json(msg="The value of secret %s is empty: GitHub needs a value (check the variable that "
                                 "should fill it, or delete the secret with state=absent)." % name)
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            module.fail_json(msg="The value of secret %s is larger than GitHub's limit of 48 KB. Store a larger "
                                 "secret encrypted in the repository and keep its passphrase as the secret." % name)


def open_store(module):
    key = module.params["fingerprint_key"]
    if key is not None and len(key) < MIN_KEY_CHARS:
        module.fail_json(msg="fingerprint_key must be at least %d characters long (32 random characters or more "
                             "are best)." % MIN_KEY_CHARS)
    try:
        store = FingerprintStore(module.params["fingerprint_file"], key=key, create=not module.check_mode)
    except FingerprintError as err:
        module.fail_json(msg=str(err))
    for warning in store.warnings:
        module.warn(warning)
    return store


def names_diff(current, relevant, plan, reasons):
    before = sorted(name for name in current if name in relevant)
    after = []
    for name in sorted(set(before) | set(plan.create)):
        if name in plan.delete:
            continue
        after.append("%s (%s)" % (name, reasons[name]) if name in plan.update else name)
    return dict(secrets=before), dict(secrets=after)


def main():
    module = actions_module(
        dict(
            repo=dict(type="str", required=True),
            environment=dict(type="str"),
            name=dict(type="str"),
            value=dict(type="str", no_log=True),
            secrets=dict(type="list", elements="dict", no_log=False, options=dict(
                name=dict(type="str", required=True),
                value=dict(type="str", no_log=True),
            )),
            purge=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            fingerprint_file=dict(type="path", default=DEFAULT_PATH),
            fingerprint_key=dict(type="str", no_log=True),
        ),
        scope_hint=REPO_HINT,
        required_one_of=[("name", "secrets")],
        mutually_exclusive=[("name", "secrets"), ("value", "secrets")],
    )
    params = module.params
    present = params["state"] == "present"

    # Everything that can be checked locally is checked before the first request.
    scope = ActionsScope(module)
    if scope.environment is not None:
        module.client.scope_hint = ENVIRONMENT_HINT
    wanted = wanted_items(module, "secret", "secrets")
    check_values(module, wanted)
    if present and not HAS_NACL:
        module.fail_json(msg=missing_required_lib("PyNaCl", reason="to encrypt secret values"),
                         exception=NACL_ERROR)
    module.require_token()
    store = open_store(module)

    def entry(name):
        return (scope.api_host, scope.repo, scope.environment, name)

    current = scope.list_items("secrets", "list the secrets of")
    reasons = {}

    def differs(name, item, value):
        reason = store.reason_to_update(entry(name), value, item.get("updated_at"))
        if reason:
            reasons[name] = reason
        return reason is not None

    plan = plan_changes(current, wanted, present, params["purge"], differs)
    relevant = set(current) | set(wanted) if params["purge"] else set(wanted)
    before, after = names_diff(current, relevant, plan, reasons)
    result = dict(plan.as_result(), reasons=reasons, fingerprint_file=store.path)

    if module.check_mode or not plan.changed:
        if not module.check_mode and not present:
            for name in wanted:  # nothing remote to delete: drop what the file still says about them
                store.forget(entry(name))
            save(module, store, scope, result)
        module.exit_resource(plan.changed, before, after, secrets=sorted_items(current), **result)

    written = plan.create + plan.update
    if written:
        key = scope.request("GET", scope.path("secrets", "public-key"), "read the public key of").data
        for name in written:
            body = dict(encrypted_value=seal(key["key"], wanted[name]), key_id=key["key_id"])
            scope.request("PUT", scope.path("secrets", name), "set secret %s of" % name, body=body, ok=(201, 204))
    for name in plan.delete:
        scope.request("DELETE", scope.path("secrets", name), "delete secret %s of" % name, ok=(204,),
                      missing_ok=True)

    final = scope.list_items("secrets", "list the secrets (after the change) of")
    for name in written:
        store.record(entry(name), wanted[name], (final.get(name) or {}).get("updated_at"))
    for name in plan.delete + ([] if present else list(wanted)):
        store.forget(entry(name))
    if params["purge"]:
        store.forget_scope(scope.api_host, scope.repo, scope.environment, keep=set(wanted))
    save(module, store, scope, result)
    module.exit_resource(True, before, after, secrets=sorted_items(final), **result)


def sorted_items(items):
    return [items[name] for name in sorted(items)]


def save(module, store, scope, result):
    try:
        store.save()
    except FingerprintError as err:
        module.fail_json(msg="%s. GitHub was changed: the next run writes these secrets once more."
                             % str(err).rstrip("."), changed=scope.changed, **result)


if __name__ == "__main__":
    main()
