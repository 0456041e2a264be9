# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApiModule: AnsibleModule plus the options and the REST client every API module of the collection shares.

    module = ApiModule(argument_spec=dict(repo=dict(type="str", required=True)),
                       api_defaults=GITHUB_API_DEFAULTS, supports_check_mode=True)
    module.require_token()
    try:
        page = module.client.get("/repos/o/r/pages", missing_ok=True)
    except ApiError as err:
        module.fail_api(err)
    module.exit_resource(changed, before, after, pages=...)
"""

import copy
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.textbook.deploy.plugins.module_utils.rest import ApiError, RestClient

__all__ = ["ApiModule", "ApiError", "GITHUB_API_DEFAULTS", "NEON_API_DEFAULTS", "QDRANT_API_DEFAULTS",
           "api_argument_spec"]

# What a service's modules pass as api_defaults (every key optional).
API_DEFAULTS = dict(
    url=None,                    # default of the api_url option
    token_env=[],                # environment variables the token option falls back to, in order
    token_aliases=[],            # other names of the token option (Qdrant: api_key)
    auth_scheme="Bearer",        # "<auth_header>: <auth_scheme> <token>"; None/"" sends the bare token
    auth_header="Authorization",
    headers={},                  # default headers of every request
    scope_hint=None,             # what the token needs, quoted in 401/403 failures
    service="API",               # name used in messages ("GitHub")
    max_wait=120,                # bound on the seconds slept between the attempts of one request
    unapplied_statuses=(),       # statuses meaning "not applied, try again", retried for every method
)

GITHUB_API_DEFAULTS = dict(
    url="https://api.github.com",
    token_env=["GITHUB_TOKEN", "GH_TOKEN"],
    auth_scheme="Bearer",
    headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    service="GitHub",
)

NEON_API_DEFAULTS = dict(
    url="https://console.neon.tech/api/v2",
    token_env=["NEON_API_KEY"],
    auth_scheme="Bearer",
    service="Neon",
    scope_hint="a Neon API key (personal, organization or project-scoped) that can manage the project",
    # Neon answers 423 Locked while another operation runs on the project, and says 423/503 are safe to repeat
    unapplied_statuses=(423, 503),
    max_wait=300,
)

QDRANT_API_DEFAULTS = dict(
    url="http://localhost:6333",
    token_env=["QDRANT_API_KEY"],
    auth_scheme="",
    auth_header="api-key",
    token_aliases=["api_key"],
    service="Qdrant",
    scope_hint="a Qdrant API key with write access (not a read-only key)",
)


def nonempty_env_fallback(*names):
    """The first of these environment variables that is set and not empty (an empty GITHUB_TOKEN is skipped)."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise AnsibleFallbackNotFound


def api_argument_spec(api_defaults=None):
    """The common options: api_url, token, validate_certs, timeout, retries."""
    api = dict(API_DEFAULTS, **(api_defaults or {}))
    token = dict(type="str", no_log=True)
    if api["token_aliases"]:
        token["aliases"] = list(api["token_aliases"])
    if api["token_env"]:
        token["fallback"] = (nonempty_env_fallback, list(api["token_env"]))
    url = dict(type="str")
    if api["url"]:
        url["default"] = api["url"]
    else:
        url["required"] = True
    return dict(
        api_url=url,
        token=token,
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=5),
    )


class ApiModule(AnsibleModule):
    """AnsibleModule with the common API options and ``self.client`` (a RestClient) built from them."""

    def __init__(self, argument_spec=None, api_defaults=None, **kwargs):
        self.api = dict(API_DEFAULTS, **(api_defaults or {}))
        spec = api_argument_spec(self.api)
        spec.update(copy.deepcopy(argument_spec or {}))
        super().__init__(argument_spec=spec, **kwargs)

        url = self.params["api_url"] or ""
        if not (url.startswith("http://") or url.startswith("https://")):
            self.fail_json(msg="api_url must be an http:// or https:// URL, got %r (for example %s)."
                           % (url, self.api["url"] or "https://api.example.com"))
        if self.params["timeout"] <= 0:
            self.fail_json(msg="timeout must be a positive number of seconds, got %s." % self.params["timeout"])
        if self.params["retries"] < 0:
            self.fail_json(msg="retries must be 0 or more, got %s." % self.params["retries"])

        self.client = RestClient(
            url,
            token=self.params["token"] or None,
            auth_scheme=self.api["auth_scheme"],
            auth_header=self.api["auth_header"],
            timeout=self.params["timeout"],
            retries=self.params["retries"],
            max_wait=self.api["max_wait"],
            validate_certs=self.params["validate_certs"],
            scope_hint=self.api["scope_hint"],
            headers=self.api["headers"],
            token_option="token",
            token_env=self.api["token_env"],
            unapplied_statuses=self.api["unapplied_statuses"],
        )

    def _token_sources(self):
        where = "the `token` option"
        if self.api["token_env"]:
            where += " or the %s environment variable" % " or ".join(self.api["token_env"])
        return where

    def require_token(self):
        """Fail before any request when no token was given (neither the option nor its environment variables)."""
        if not self.params.get("token"):
            msg = "No %s token given: set %s." % (self.api["service"], self._token_sources())
            if self.api["scope_hint"]:
                msg += " The token needs %s." % self.api["scope_hint"]
            self.fail_json(msg=msg)

    def regex_option(self, option):
        """The compiled regular expression of an option (None when unset); fails before any request, naming the
        option, when it does not compile."""
        pattern = self.params.get(option)
        if pattern is None:
            return None
        try:
            return re.compile(pattern)
        except re.error as err:
            self.fail_json(msg="%s is not a valid regular expression (Python's re syntax): %s, in %r."
                           % (option, err, pattern))

    def fail_api(self, err, msg=None, **result):
        """Fail with an ApiError: its text (status, API message, hint) plus its fields in the result."""
        fields = err.to_result() if isinstance(err, ApiError) else {}
        text = str(err)
        if msg:
            text = "%s: %s" % (msg.rstrip(": ."), text)
        fields.update(result)
        self.fail_json(msg=text, **fields)

    def exit_resource(self, changed, before, after, **result):
        """exit_json(changed=.., **result), plus ``diff: {before, after}`` in diff mode."""
        if self._diff:
            result["diff"] = dict(before=before if before is not None else {},
                                  after=after if after is not None else {})
        self.exit_json(changed=changed, **result)
