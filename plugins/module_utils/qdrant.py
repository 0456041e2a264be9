# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Qdrant modules share: the module constructor, name checks, and the REST calls they make.

Every call unwraps Qdrant's envelope (``{"result": .., "status": "ok", "time": ..}``) and fails the module with the
HTTP status, Qdrant's own ``status.error`` text and a hint; the API key is never part of a message.
"""

import re

from urllib.parse import quote

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import (
    ApiError,
    ApiModule,
    QDRANT_API_DEFAULTS,
)

# Qdrant refuses names with these characters (and names longer than 255).
NAME_RE = re.compile(r"^[^/\\:*?\"<>|\x00-\x1f]{1,255}$")


def qdrant_module(argument_spec, **kwargs):
    """An ApiModule with the shared Qdrant options (api_url, token/api_key, validate_certs, timeout, retries)."""
    return ApiModule(argument_spec=argument_spec, api_defaults=QDRANT_API_DEFAULTS, supports_check_mode=True,
                     **kwargs)


def name_error(option, value):
    """None when value is a name Qdrant accepts for a collection or alias, else the message to fail with."""
    if value and NAME_RE.match(value) and value.strip() == value:
        return None
    return ("%s must be 1 to 255 characters without / \\ : * ? \" < > | or surrounding spaces, got %r."
            % (option, value))


class Qdrant:
    """The REST calls of the Qdrant modules. ``changed`` records whether a call already changed something, so a
    later failure still reports it."""

    def __init__(self, module):
        self.module = module
        self.client = module.client
        self.changed = False

    def call(self, method, path, doing, body=None, missing_ok=False, change=False):
        """Qdrant's ``result`` of one request (None for a 404 with missing_ok); fails the module on error.

        Changing requests are repeated on 5xx/429 also for POST and PATCH: every change the modules send sets a
        state (collection settings, aliases), so sending it twice gives the same result.
        """
        try:
            response = self.client.request(method, path, body=body, missing_ok=missing_ok, retry_post=change)
        except ApiError as err:
            self.module.fail_api(err, msg="Could not %s" % doing, changed=self.changed)
        if change:
            self.changed = True
        if response is None:
            return None
        data = response.data
        return data.get("result") if isinstance(data, dict) else data

    @staticmethod
    def path(*parts):
        return "/" + "/".join(quote(part, safe="") for part in parts)

    def collection_names(self):
        result = self.call("GET", "/collections", "list the collections")
        return sorted(item["name"] for item in result["collections"])

    def collection(self, name):
        """The collection info (GET /collections/{name}), or None when there is no collection of that name.

        Qdrant also answers that path for an alias, so the name is first looked up among the collections.
        """
        if name not in self.collection_names():
            return None
        return self.call("GET", self.path("collections", name), "read collection %s" % name, missing_ok=True)

    def aliases(self):
        """{alias: collection} of every alias."""
        result = self.call("GET", "/aliases", "list the aliases")
        return dict((item["alias_name"], item["collection_name"]) for item in result["aliases"])

    def delete_collection(self, name):
        """DELETE /collections/{name}, with its points (Qdrant drops the aliases that point at it)."""
        return self.call("DELETE", self.path("collections", name), "delete collection %s" % name, change=True)

    def change_aliases(self, actions, doing):
        """All actions in one POST /collections/aliases, which Qdrant applies together."""
        return self.call("POST", "/collections/aliases", doing, body={"actions": actions}, change=True)
