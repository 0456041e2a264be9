# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend's progressive rollout as data for its templates and checks: the app host's nginx upstream for a
traffic share, and the problems of the rollout's settings (plugins/module_utils/canary.py has the rules)."""

import json

from ansible_collections.textbook.deploy.plugins.module_utils.canary import (
    step_errors, threshold_errors, weights, window_errors)


def upstream_servers(ports, stable, canary="", percent=0):
    """[{port, weight, backup}] of the app host's nginx upstream when `canary` takes `percent` % of the traffic from
    `stable`. At 100 % the stable stays as the backup, so a canary that stops answering costs no request that nginx
    can still send elsewhere; without a canary (or at 0 %) the stable serves alone."""
    if not canary or int(percent) <= 0 or canary == stable:
        return [dict(port=int(ports[stable]), weight=1, backup=False)]
    if not stable:
        return [dict(port=int(ports[canary]), weight=1, backup=False)]
    stable_weight, canary_weight = weights(percent)
    if canary_weight and not stable_weight:
        return [dict(port=int(ports[canary]), weight=1, backup=False),
                dict(port=int(ports[stable]), weight=1, backup=True)]
    return [dict(port=int(ports[stable]), weight=stable_weight, backup=False),
            dict(port=int(ports[canary]), weight=canary_weight, backup=False)]


def rollout_errors(steps, window, thresholds, final_window=None):
    """Every problem of the rollout settings, each naming its variable and the fix ([] when they are fine)."""
    problems = step_errors(steps, window)
    if final_window is not None:
        problems.extend(window_errors(final_window, "backend_watch_seconds", may_be_off=True))
    if not isinstance(thresholds, dict):
        return problems + ["backend_canary_thresholds must be a mapping of threshold names to numbers"]
    return problems + threshold_errors(thresholds)


def rollback_target(healthy, installed, live_release):
    """The release a rollback without a named one goes back to: the newest one recorded healthy that is installed
    and is not the live one ('' when there is none)."""
    for release in healthy or []:
        if release != live_release and release in (installed or []):
            return release
    return ""


def rollback_errors(hosts, hostvars):
    """Why the rollback cannot go ahead on these hosts (each host's _backend_rollback_target, among its installed
    and healthy releases, as rollback.yml found them), [] when it can: every host has its release installed, and it
    is the same release everywhere."""
    problems, targets = [], {}
    for host in hosts:
        facts = hostvars[host]
        target, installed = facts["_backend_rollback_target"], facts["_backend_installed_releases"]
        targets[host] = target
        if not target:
            problems.append("%s has no installed release recorded healthy besides the live one to go back to "
                            "(healthy: %s; installed: %s): name one with backend_rollback_to." % (
                                host, ", ".join(facts["_backend_healthy_releases"]) or "none",
                                ", ".join(installed) or "none"))
        elif target not in installed:
            problems.append("Release %s is not installed on %s: deploy it with deploy_backend.yml, or name one of "
                            "those installed with backend_rollback_to (installed: %s)." % (
                                target, host, ", ".join(installed) or "none"))
    if not problems and len(set(targets.values())) > 1:
        problems.append("The hosts' previous releases differ (%s): name the release with backend_rollback_to." %
                        ", ".join("%s: %s" % item for item in sorted(targets.items())))
    return problems


def releases_to_prune(installed, releases_dir, keep, kept):
    """file_set's entries removing the installed releases (newest first) beyond the newest `keep`, but none of `kept`
    (those a color points at, the one deployed, the one a rollback would go to)."""
    return [dict(path="%s/%s" % (releases_dir, release), state="absent")
            for rank, release in enumerate(installed or []) if rank >= int(keep) and release not in kept]


def step_record(result, percent):
    """A rollout step as the audit log and the deploy's callbacks record it: its share and canary_analysis's verdict
    and numbers."""
    record = dict(percent=int(percent))
    for key in ("outcome", "metric", "detail", "canary", "stable", "limits", "seconds"):
        record[key] = (result or {}).get(key)
    return record


def audit_details(canary_report, recovered=None):
    """What a deploy's audit line adds to the lock's record: its rollout steps (`canary`) and the unfinished rollout
    of a dead run it switched back (`recovered`); only what there is."""
    details = {}
    if canary_report:
        details["canary"] = list(canary_report)
    if recovered:
        details["recovered"] = dict(recovered)
    return details


def rollout_start_files(root, color, release, record_path="", record=None):
    """file_set's entries to start a rollout: the color's link to the release and, when record_path is set, the
    record of the rollout in progress (what a dead run's successor recovers from), in one module run."""
    entries = [dict(path="%s/%s" % (root, color), state="link", src="releases/%s" % release)]
    if record_path:
        entries.append(dict(path=record_path, content=json.dumps(record, sort_keys=True) + "\n", owner="root",
                            group="root", mode="0644"))
    return entries


class FilterModule:
    def filters(self):
        return {"upstream_servers": upstream_servers, "rollout_errors": rollout_errors, "step_record": step_record,
                "rollback_target": rollback_target, "audit_details": audit_details,
                "rollout_start_files": rollout_start_files, "rollback_errors": rollback_errors,
                "releases_to_prune": releases_to_prune}
