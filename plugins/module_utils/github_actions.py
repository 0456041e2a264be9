# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the GitHub Actions settings modules share (github_secret, github_variable, github_environment).

- ``repo`` and ``environment`` checked before any request, and the REST paths built from them (an environment name
  is URL-encoded: a slash becomes ``%2F``);
- the names GitHub accepts for secrets and variables;
- the list form: which names to create, update, delete (``purge``) or leave;
- reading a scope's list of secrets or variables, with one failure path that tells an unknown repository from an
  unknown environment.
"""

import re

from urllib.parse import quote, urlsplit

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import (
    ApiError,
    ApiModule,
    GITHUB_API_DEFAULTS,
)

__all__ = ["ActionsScope", "Plan", "actions_module", "actions_name_error", "environment_error", "parse_repo",
           "plan_changes", "wanted_items"]

# GitHub: an owner is 1-39 alphanumerics or single hyphens; a repository name is 1-100 of [A-Za-z0-9._-].
OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
REPO_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Secrets and variables: only [A-Za-z0-9_], no leading digit, no GITHUB_ prefix; GitHub stores them upper-cased.
ACTIONS_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_PREFIX = "GITHUB_"
# Environments: at most 255 characters, case-insensitive. GitHub also refuses control characters, ' " ` , ; \
# and leading or trailing spaces (found by trial by PyPI's and crates.io's trusted publishing, which check the
# same names).
ENVIRONMENT_MAX = 255
ENVIRONMENT_BAD_RE = re.compile(r"[\x00-\x1f\x7f'\"`,;\\]")


def parse_repo(value, option="repo"):
    """'owner/name' -> ((owner, name), None), or (None, the message to fail with)."""
    parts = (value or "").split("/")
    if len(parts) == 2 and parts[1].endswith(".git"):
        return None, ("%s must be 'owner/name' without the .git suffix: use %r."
                      % (option, "%s/%s" % (parts[0], parts[1][:-4])))
    if (len(parts) != 2 or not OWNER_RE.match(parts[0]) or not REPO_NAME_RE.match(parts[1])
            or parts[1] in (".", "..")):
        return None, ("%s must be 'owner/name' (for example octo-org/textbook), got %r; give the repository, not "
                      "its URL, without a trailing slash." % (option, value))
    return (parts[0], parts[1]), None


def environment_error(value, option="environment"):
    """None when GitHub accepts value as an environment name, else the message to fail with."""
    if value is None or value == "":
        return "%s must name an environment, got an empty string." % option
    if len(value) > ENVIRONMENT_MAX:
        return "%s must be at most %d characters (GitHub's limit), got %d." % (option, ENVIRONMENT_MAX, len(value))
    if value != value.strip():
        return "%s must not start or end with a space, got %r." % (option, value)
    bad = ENVIRONMENT_BAD_RE.search(value)
    if bad:
        return ("%s must not contain control characters nor any of ' \" ` , ; \\ (GitHub refuses them), got %r "
                "(character %r)." % (option, value, bad.group(0)))
    return None


def actions_name_error(value, option, kind):
    """None when GitHub accepts value as the name of a secret or variable (kind), else the message to fail with."""
    if not value or not ACTIONS_NAME_RE.match(value):
        return ("%s: %r is not a valid %s name: use only letters, digits and underscores ([A-Za-z0-9_]), not "
                "starting with a digit." % (option, value, kind))
    if value.upper().startswith(RESERVED_PREFIX):
        return ("%s: %r is not a valid %s name: names starting with GITHUB_ are reserved by GitHub."
                % (option, value, kind))
    return None


def actions_module(argument_spec, scope_hint, **kwargs):
    """An ApiModule with the GitHub API options, check mode, and the token hint quoted in 401/403 failures."""
    return ApiModule(argument_spec=argument_spec, api_defaults=dict(GITHUB_API_DEFAULTS, scope_hint=scope_hint),
                     supports_check_mode=True, **kwargs)


def wanted_items(module, kind, list_option, single_option="name", value_option="value", value_required=True):
    """{NAME (upper case): value} from the single form (name/value) or the list form (list_option); fails before
    any request on a bad or duplicate name, or a missing value."""
    params = module.params
    present = params["state"] == "present"
    if params["purge"] and params[list_option] is None:
        module.fail_json(msg="purge goes with the list form: give %s (the complete list) instead of %s."
                         % (list_option, single_option))
    if params[list_option] is not None:
        items = [(item["name"], item.get(value_option), "%s[%d]" % (list_option, index))
                 for index, item in enumerate(params[list_option])]
        if params["purge"] and not present:
            module.fail_json(msg="purge=true goes with state=present: it deletes the %ss of the scope that %s does "
                                 "not list." % (kind, list_option))
    else:
        items = [(params[single_option], params[value_option], single_option)]
    wanted = {}
    for name, value, where in items:
        error = actions_name_error(name, where, kind)
        if error:
            module.fail_json(msg=error)
        key = name.upper()
        if key in wanted:
            module.fail_json(msg="%s names %s twice (%s names are case-insensitive)." % (list_option, key, kind))
        if present and value is None and value_required:
            module.fail_json(msg="%s: %s %s needs a value with state=present." % (where, kind, name))
        wanted[key] = value
    return wanted


class Plan:
    """What reconciling a scope's items means: names (upper case) to create, update, delete, and left as they are."""

    def __init__(self):
        self.create = []
        self.update = []
        self.delete = []
        self.unchanged = []

    @property
    def changed(self):
        return bool(self.create or self.update or self.delete)

    def as_result(self):
        return dict(created=sorted(self.create), updated=sorted(self.update), deleted=sorted(self.delete))


def plan_changes(current, wanted, present, purge, differs):
    """Reconcile ``current`` ({NAME: remote item}) with ``wanted`` ({NAME: value}).

    :arg present: state=present (create/update what is wanted) or absent (delete what is named).
    :arg purge: also delete the current names that are not wanted (state=present only).
    :arg differs: ``differs(name, remote_item, value)`` -> whether an existing item must be updated.
    """
    plan = Plan()
    for name in sorted(wanted):
        if not present:
            (plan.delete if name in current else plan.unchanged).append(name)
        elif name not in current:
            plan.create.append(name)
        elif differs(name, current[name], wanted[name]):
            plan.update.append(name)
        else:
            plan.unchanged.append(name)
    if present and purge:
        plan.delete.extend(sorted(name for name in current if name not in wanted))
    return plan


class ActionsScope:
    """One repository, or one environment of a repository: where secrets and variables live.

    ``path(*parts)`` is the REST path under the scope, e.g. ``/repos/o/r/actions/secrets`` or
    ``/repos/o/r/environments/prod%2Feu/secrets``.
    """

    def __init__(self, module, repo_option="repo", environment_option="environment"):
        self.module = module
        self.client = module.client
        self.changed = False
        repo, error = parse_repo(module.params[repo_option], repo_option)
        if error:
            module.fail_json(msg=error)
        self.owner, self.name = repo
        self.environment = module.params.get(environment_option)
        if self.environment is not None:
            error = environment_error(self.environment, environment_option)
            if error:
                module.fail_json(msg=error)
        self.repo = "%s/%s" % (self.owner, self.name)
        self.repo_path = "/repos/%s/%s" % (quote(self.owner, safe=""), quote(self.name, safe=""))

    @property
    def api_host(self):
        """The API's host and path (``api.github.com``, ``ghe.example.com/api/v3``), lower-cased."""
        parts = urlsplit(self.module.params["api_url"])
        return (parts.netloc + parts.path.rstrip("/")).lower()

    def describe(self):
        if self.environment is None:
            return "repository %s" % self.repo
        return "environment %s of %s" % (self.environment, self.repo)

    def path(self, *parts, **kwargs):
        """A REST path of the scope: under ``/actions`` for a repository (unless ``actions=False``), under
        ``/environments/{name}`` for an environment."""
        if self.environment is not None:
            base = "%s/environments/%s" % (self.repo_path, quote(self.environment, safe=""))
        elif kwargs.get("actions", True):
            base = self.repo_path + "/actions"
        else:
            base = self.repo_path
        return "/".join([base] + [quote(str(part), safe="") for part in parts])

    def fail(self, err, doing, **result):
        """Fail with an ApiError; a 404 says whether the repository or the environment is missing."""
        result.setdefault("changed", self.changed)
        msg = "Could not %s %s" % (doing, self.describe())
        if isinstance(err, ApiError) and err.status == 404:
            msg += self._which_is_missing()
        self.module.fail_api(err, msg=msg, **result)

    def _which_is_missing(self):
        try:
            found = self.client.get(self.repo_path, missing_ok=True)
        except ApiError:
            return ""
        if found is None:
            return (" (repository %s does not exist or the token cannot see it: check the option repo and the "
                    "token's access)" % self.repo)
        if self.environment is not None:
            return (" (environment %s does not exist in %s: check the option environment, or create it first, for "
                    "example with textbook.deploy.github_environment)" % (self.environment, self.repo))
        return ""

    def require_repo(self):
        """Fail unless the repository exists and the token can see it: after a 404 of one of its paths, which GitHub
        also answers for every path of a repository that is not there."""
        try:
            found = self.client.get(self.repo_path, missing_ok=True)
        except ApiError as err:
            self.fail(err, "read")
        if found is None:
            hint = " The token needs %s." % self.client.scope_hint if self.client.scope_hint else ""
            self.module.fail_json(msg="Repository %s does not exist or the token cannot see it: check the option repo "
                                      "and the token's access.%s" % (self.repo, hint))

    def request(self, method, path, doing, **kwargs):
        """One request; fails the module (through ``fail``) on error. Changing requests set ``changed``."""
        try:
            response = self.client.request(method, path, **kwargs)
        except ApiError as err:
            self.fail(err, doing)
        if method != "GET":
            self.changed = True
        return response

    def list_items(self, collection, doing, per_page=100):
        """{NAME (upper case): item} of a list endpoint of the scope (``secrets``, ``variables``), every page."""
        items = {}
        try:
            for item in self.client.paginate(self.path(collection), params={"per_page": per_page}):
                items[item["name"].upper()] = item
        except ApiError as err:
            self.fail(err, doing)
        return items
