# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probing a service over HTTP: one GET, the version it reports, and a short reason when it fails. Shared by
health_gate (which probes until a release is ready) and blue_green_info (which asks each running color once)."""

import json
import socket

from urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url


def describe_error(error):
    """A short reason for a failed request: 'HTTP 503', 'connection refused', 'timed out', ..."""
    if isinstance(error, HTTPError):
        return "HTTP %d" % error.code
    reason = getattr(error, "reason", error) if isinstance(error, URLError) else error
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(reason) or type(reason).__name__


def get(url, headers=None, timeout=2.0):
    """(status, body) of a 2xx answer; raises on anything else (HTTPError for another status)."""
    response = open_url(url, headers=headers or {}, timeout=timeout, use_proxy=False, use_netrc=False)
    try:
        return response.getcode(), response.read()
    finally:
        response.close()


def reported_version(url, headers=None, timeout=2.0):
    """(version, None) from the JSON `{"version": ...}` that `url` answers, else (None, why not)."""
    try:
        body = get(url, headers, timeout)[1]
    except Exception as error:  # any failure to ask is a failed probe, never a crash
        return None, "version_url: %s" % describe_error(error)
    try:
        document = json.loads(body)
    except ValueError:
        return None, "version_url answered no JSON"
    if not isinstance(document, dict) or "version" not in document:
        return None, "version_url answered JSON without a version key"
    return str(document["version"]), None
