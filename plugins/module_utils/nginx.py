# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a file nginx reads: write it atomically, check nginx's whole configuration, reload gracefully, ask nginx
whether it now serves what the file is for, and put the previous file back when any of that fails. Shared by
nginx_site (a file alone) and blue_green_switch (the file with the host's live link)."""

import json
import os
import re
import time

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.textbook.deploy.plugins.module_utils import probe
from ansible_collections.textbook.deploy.plugins.module_utils.files import read_file, write_atomically

# the options the modules share, documented in the textbook.deploy.nginx doc fragment
ARGUMENT_SPEC = dict(
    mode=dict(type="str", default="0644"),
    validate=dict(type="list", elements="str", default=["nginx", "-t", "-q"]),
    reload_command=dict(type="list", elements="str", default=["systemctl", "reload", "nginx"]),
    verify=dict(type="dict", options=dict(
        url=dict(type="str", required=True),
        json=dict(type="dict"),
        timeout=dict(type="float", default=30),
        interval=dict(type="float", default=0.3),
    )),
)


def option_error(params, path_option):
    """Why the shared options (or the file's directory) are wrong, or None."""
    if not re.match(r"^[0-7]{3,4}$", params["mode"]):
        return "mode must be an octal string such as '0644', got %r" % params["mode"]
    path = os.path.realpath(params[path_option])
    if not os.path.isdir(os.path.dirname(path)):
        return "The directory of %s %s does not exist: create it (is nginx installed?)" % (path_option, path)
    if not params["validate"]:
        return "validate must name a command that checks the configuration, such as [nginx, -t]"
    verify = params["verify"]
    if verify and not verify["url"].startswith(("http://", "https://")):
        return "verify.url must be an http:// or https:// URL, got %r" % verify["url"]
    if verify and (verify["timeout"] <= 0 or verify["interval"] <= 0):
        return "verify.timeout and verify.interval must be above 0 seconds, got %s and %s" % (
            verify["timeout"], verify["interval"])
    if verify and not params["reload_command"]:
        return "verify needs a reload_command: without a reload nginx serves the old file"
    return None


class Site:
    """One file nginx reads, as found, and its change. `undo` (optional) is called whenever the previous file is put
    back, so a caller that changed something with it (a link) puts that back too."""

    def __init__(self, module, path, content, params, undo=None):
        self.module, self.params, self.undo = module, params, undo
        # a link (sites-enabled -> sites-available) keeps pointing at the file, which is what gets written
        self.path = os.path.realpath(path)
        self.content, self.mode = to_bytes(content), int(params["mode"], 8)
        self.previous, self.previous_mode = read_file(self.path)

    @property
    def changed(self):
        return self.previous != self.content or self.previous_mode != self.mode

    def diff(self):
        return dict(before=to_text(self.previous or b"", errors="surrogate_or_replace"),
                    after=to_text(self.content, errors="surrogate_or_replace"),
                    before_header=self.path, after_header=self.path)

    def apply(self, result):
        """Write, check, reload and verify; fails the module (everything put back) on any failure. Fills result's
        reloaded and verified."""
        write_atomically(self.module, self.path, self.content, self.mode)
        self._run_or_put_back(self.params["validate"], "The nginx configuration check", result)
        if self.params["reload_command"]:
            self._run_or_put_back(self.params["reload_command"], "The nginx reload", result)
            # when the new file took effect, on the host's clock (the one nginx's log lines carry)
            result.update(reloaded=True, reloaded_at=round(time.time(), 3))
        verify = self.params["verify"]
        if not verify:
            return
        passed, result["verified"] = verify_reload(verify)
        if not passed:
            self._put_back()
            self._run_or_put_back(self.params["reload_command"], "The nginx reload", result)
            self.module.fail_json(msg="After the reload, %s did not answer as wanted within %s s (wanted 2xx%s; last: "
                                  "%s); the previous %s was put back and nginx reloaded with it." % (
                                      verify["url"], verify["timeout"],
                                      " with %s" % json.dumps(verify["json"]) if verify["json"] else "",
                                      json.dumps(result["verified"]), self.path), **result)

    def _put_back(self):
        if self.previous is None:
            if os.path.lexists(self.path):  # already removed when a reload after putting back failed too
                os.unlink(self.path)
        else:
            write_atomically(self.module, self.path, self.previous, self.previous_mode)
        if self.undo:
            self.undo()

    def _run_or_put_back(self, command, what, result):
        """Run command (arguments taken literally); on a failure or a program that cannot start, put back."""
        try:
            rc, out, err = self.module.run_command(command, handle_exceptions=False, expand_user_and_vars=False)
        except OSError as error:
            rc, out, err = 127, "", "cannot run %s: %s" % (command[0], error)
        if rc != 0:
            self._put_back()
            self.module.fail_json(msg="%s failed (rc=%d), the previous %s was put back: %s" % (
                what, rc, self.path, (err or out).strip()), rc=rc, stdout=out, stderr=err,
                **dict(result, reloaded=False))


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
