# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one host-name check of the collection (custom domains: CNAME files and Pages settings)."""

import re

LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(value):
    """``value`` as a lower-case host name without the trailing dot, or None when it is not a bare DNS name
    (a scheme, port, path, space or IP address makes it None)."""
    host = value.strip().lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return None
    if not all(LABEL_RE.match(label) for label in labels):
        return None
    return host
