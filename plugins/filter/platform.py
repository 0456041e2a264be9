# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and origins the roles derive from the inventory, computed once here rather than in Jinja."""

import re

from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(entry, option):
    """The origin a browser sends for `entry` (scheme://host[:port], default port dropped); fails on anything else."""
    text = str(entry).strip()
    parts = urlsplit(text)
    hint = ("%s: %r is not an origin. An origin is scheme://host[:port], e.g. https://owner.github.io, with no "
            "path, query or credentials (and never '*')." % (option, text))
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        raise AnsibleFilterError(hint)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AnsibleFilterError(hint)
    try:
        port = parts.port
    except ValueError:
        raise AnsibleFilterError(hint)
    host = parts.hostname.lower()
    if port and port != DEFAULT_PORTS[parts.scheme]:
        host = "%s:%d" % (host, port)
    return "%s://%s" % (parts.scheme, host)


def cors_origins(value, option="backend_allowed_origins"):
    """The browser origins of a list of site URLs or origins (or one comma-separated string), normalised,
    de-duplicated in order. A site URL with a path counts as its origin only through site_origin."""
    entries = value.split(",") if isinstance(value, str) else list(value or [])
    origins = []
    for entry in entries:
        if str(entry).strip():
            origin = _origin(entry, option)
            if origin not in origins:
                origins.append(origin)
    return origins


def site_origin(url, option="frontend_site_url"):
    """The origin of a site URL that may have a path (https://owner.github.io/textbook/ -> https://owner.github.io)."""
    parts = urlsplit(str(url).strip())
    return _origin("%s://%s" % (parts.scheme, parts.netloc), option)


def index_alias(environment):
    """The Qdrant alias an environment's chat service searches and its content stage fills."""
    return "%s_passages" % re.sub(r"[^A-Za-z0-9]+", "_", str(environment))


def preview_environment(number, option="preview_number"):
    """The environment of a pull request's preview, preview-<N>: it names the Neon branch, and through index_alias
    and the data role's prefix the Qdrant alias and collections (a name Neon and Qdrant both accept)."""
    text = str(number).strip()
    if not re.match(r"^[1-9][0-9]{0,8}$", text):
        raise AnsibleFilterError("%s must be the pull request's number, a positive integer (got %r)" % (option, number))
    return "preview-%d" % int(text)


def service_settings_errors(database_url, qdrant_url, qdrant_api_key):
    """What is wrong with the chat service's connection settings, each problem naming its variable and the fix,
    never a value (they are secrets): [] when they are fine."""
    problems = []
    if not database_url:
        problems.append("backend_database_url is empty: the data role's lookup found no database URL; set it in the "
                        "inventory's vault.yml, or give the inventory a `data` host with the Neon settings "
                        "(data_neon_api_key, data_neon_project) and run provision_data.yml once")
    elif not re.match(r"^postgres(ql)?://", str(database_url)):
        problems.append("backend_database_url is not a postgresql:// URI: give the database's connection URI")
    if not re.match(r"^https?://", str(qdrant_url or "")):
        problems.append("backend_qdrant_url is not an http(s) URL: set it, or data_qdrant_url, in the inventory")
    if qdrant_api_key == "REPLACE_ME":
        problems.append("backend_qdrant_api_key is the placeholder REPLACE_ME: put the real key into the inventory's "
                        "vault.yml (vault_qdrant_api_key)")
    return problems


class FilterModule:
    def filters(self):
        return {"cors_origins": cors_origins, "site_origin": site_origin, "index_alias": index_alias,
                "service_settings_errors": service_settings_errors, "preview_environment": preview_environment}
