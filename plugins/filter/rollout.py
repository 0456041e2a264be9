# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend's progressive rollout as data for its templates and checks: the app host's nginx upstream for a
traffic share, and the problems of the rollout's settings (plugins/module_utils/canary.py has the rules)."""

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


class FilterModule:
    def filters(self):
        return {"upstream_servers": upstream_servers, "rollout_errors": rollout_errors, "step_record": step_record,
                "rollback_target": rollback_target, "audit_details": audit_details}
