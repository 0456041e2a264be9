# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pull-request previews are stale, from what is left of them (playbooks/sweep_previews.yml).

A preview N (playbooks/preview.yml) is three things, named by the preview_environment and index_alias filters: the
directory pr-<N> of the Pages branch's preview directory, the Neon branch preview-<N>, and the Qdrant alias
preview_<N>_passages. Any of them may be left alone (Neon deletes an expired branch by itself; a removal may have
stopped half way). A preview is stale when its pull request is closed, merged, or unknown to GitHub (gone).
"""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.textbook.deploy.plugins.filter.platform import index_alias, preview_environment

NUMBER = r"([1-9][0-9]{0,8})"
SITE_RE = re.compile(r"^pr-%s$" % NUMBER)
BRANCH_RE = re.compile(r"^preview-%s$" % NUMBER)
ALIAS_RE = re.compile(r"^preview_%s_passages$" % NUMBER)
REASONS = {"closed": "closed", "merged": "merged", "absent": "gone"}
PARTS = ("site", "branch", "index")


def _names(value, option, key="name"):
    """Names from a list of names or of dicts with `key` (module results), or the keys of a dict (aliases)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(name) for name in value]
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("%s must be a list of names or of objects with a %r, got %r" % (option, key, value))
    names = []
    for item in value:
        if isinstance(item, dict):
            if key not in item:
                raise AnsibleFilterError("%s: an entry has no %r: %r" % (option, key, item))
            if item.get("type", "dir") == "dir":  # a site is a directory (github_content_info's entries)
                names.append(str(item[key]))
        else:
            names.append(str(item))
    return names


def _numbers(names, regex, name_of):
    """The preview numbers these names are of: the names that are exactly what the preview's number gives."""
    found = set()
    for name in names:
        match = regex.match(name)
        if match and name_of(int(match.group(1))) == name:
            found.add(int(match.group(1)))
    return found


def preview_leftovers(site_dirs=None, branches=None, aliases=None):
    """{number: {"site": bool, "branch": bool, "index": bool}} of every preview with something left.

    site_dirs: the Pages branch's preview directory entries (github_content_info's ``entries``, or names pr-<N>);
    branches: the Neon branches (neon_branch_info's ``branches``, or names preview-<N>); aliases: the Qdrant aliases
    (qdrant_alias_info's ``aliases`` dict, or names preview_<N>_passages). Other names are ignored.
    """
    parts = {
        "site": _numbers(_names(site_dirs, "site_dirs"), SITE_RE, lambda n: "pr-%d" % n),
        "branch": _numbers(_names(branches, "branches"), BRANCH_RE, preview_environment),
        "index": _numbers(_names(aliases, "aliases", key="alias"), ALIAS_RE,
                          lambda n: index_alias(preview_environment(n))),
    }
    numbers = set().union(*parts.values())
    return dict((number, dict((part, number in parts[part]) for part in PARTS)) for number in sorted(numbers))


def preview_numbers(site_dirs=None, branches=None, aliases=None):
    """The numbers of the previews with something left, sorted: the pull requests whose state to read."""
    return sorted(preview_leftovers(site_dirs, branches, aliases))


def _states(pulls):
    """{number: open|closed|merged|absent} from github_pull_info's ``pulls`` (or a {number: state} dict)."""
    items = pulls.items() if isinstance(pulls, dict) else (
        (pull.get("number"), pull.get("state")) for pull in (pulls or []) if isinstance(pull, dict))
    states = {}
    for number, state in items:
        if state not in ("open",) + tuple(REASONS):
            raise AnsibleFilterError("pulls: pull request %r has state %r; expected open, closed, merged or absent "
                                     "(github_pull_info's pulls)" % (number, state))
        try:
            states[int(number)] = state
        except (TypeError, ValueError):
            raise AnsibleFilterError("pulls: %r is not a pull request number" % (number,))
    return states


def stale_previews(pulls, site_dirs=None, branches=None, aliases=None, preview_dir="pr-preview"):
    """The stale previews, sorted by number: one entry per preview whose pull request is closed, merged or gone, with
    what is left of it.

    Each entry: number, reason (closed, merged, gone), site/branch/index (bool: what is left), left (their names, in
    that order), environment (preview-<N>), site_path (<preview_dir>/pr-<N>), branch_name, alias, and summary (one
    readable line). A preview whose pull request is open, or is not in ``pulls`` (its state unknown), is not stale:
    nothing is removed without having been checked.
    """
    states = _states(pulls)
    stale = []
    for number, left in preview_leftovers(site_dirs, branches, aliases).items():
        reason = REASONS.get(states.get(number))
        if reason is None:
            continue
        environment = preview_environment(number)
        entry = dict(number=number, reason=reason, environment=environment,
                     site_path="%s/pr-%d" % (str(preview_dir).strip("/"), number), branch_name=environment,
                     alias=index_alias(environment), left=[part for part in PARTS if left[part]], **left)
        names = {"site": "site %s/" % entry["site_path"], "branch": "Neon branch %s" % environment,
                 "index": "index %s" % entry["alias"]}
        entry["summary"] = "#%d %s: %s" % (number, reason, ", ".join(names[part] for part in entry["left"]))
        stale.append(entry)
    return stale


class FilterModule:
    def filters(self):
        return {"preview_leftovers": preview_leftovers, "preview_numbers": preview_numbers,
                "stale_previews": stale_previews}
