# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary analysis as pure functions over numbers, and the app host's nginx log they are measured from.

A canary window compares the new color (the canary) with the old one (the stable release) over the same seconds of
real traffic. Each request's attempt at a color is one sample: whether it failed (HTTP 5xx, or no answer: nginx logs
502/504 for a refused or timed-out attempt), how long the color took, and whether it asked the main endpoint
(POST /api/chat). nginx logs every attempt of a request (``$upstream_addr``, ``$upstream_status``,
``$upstream_response_time`` list them in order), so a canary attempt that failed and was retried on the stable color
still counts against the canary, though the reader got an answer. Errors are counted over every request; latency is
compared over the main endpoint's only, so a color that happened to serve more of the fast GETs does not look faster.

Standard library only; used by the canary_analysis module on the app hosts, by the role's input checks (through the
filter plugin) and by the unit tests.
"""

import math

# The nginx log's timestamps ($msec) have millisecond precision, but a window is judged on whole seconds of
# traffic: a window shorter than this is refused.
LOG_RESOLUTION_SECONDS = 1.0

# log_format textbook_upstream of the app hosts' nginx (templates/nginx-app.conf.j2), one line per request
LOG_FORMAT = '$msec $status $request_method "$uri" "$upstream_addr" "$upstream_status" "$upstream_response_time"'
MAIN_ENDPOINT = ("POST", "/api/chat")

DEFAULT_THRESHOLDS = dict(
    min_requests=20,          # per color and window; fewer is no verdict (Flagger: "no values found")
    max_error_ratio=0.01,     # the canary may always fail this share ...
    error_ratio_factor=2.0,   # ... or this multiple of the stable's ratio, whichever is larger
    latency_factor=1.5,       # canary p95 <= this multiple of the stable's p95 ...
    latency_floor_ms=400.0,   # ... but a latency at or below this is never a regression (noise of fast answers)
    slo_latency_ms=1000.0,    # and never above the SLO's latency
)


def percentile(values, share):
    """The nearest-rank percentile (share 0.95 for p95) of a list of numbers; None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def summarise(samples):
    """{requests, errors, error_ratio, chat_requests, p50_ms, p95_ms} of [(failed, ms, main endpoint)] samples; the
    latencies are the main endpoint's."""
    requests = len(samples)
    errors = sum(1 for failed, _ms, _main in samples if failed)
    main = [ms for _failed, ms, is_main in samples if is_main]
    p50, p95 = percentile(main, 0.5), percentile(main, 0.95)
    return dict(requests=requests, errors=errors,
                error_ratio=round(errors / float(requests), 4) if requests else None,
                chat_requests=len(main), p50_ms=round(p50, 1) if p50 is not None else None,
                p95_ms=round(p95, 1) if p95 is not None else None)


def limits(stable, thresholds):
    """The canary's limits, given the stable's numbers over the same window (or a baseline): error ratio, p95, and
    p50 (the same rule on the median)."""
    error_limit = thresholds["max_error_ratio"]
    latency = dict(p95_ms=thresholds["slo_latency_ms"], p50_ms=thresholds["slo_latency_ms"])
    if stable and stable.get("requests"):
        error_limit = max(error_limit, thresholds["error_ratio_factor"] * stable["error_ratio"])
        for key in latency:
            if stable.get(key) is not None:
                relative = max(thresholds["latency_factor"] * stable[key], thresholds["latency_floor_ms"])
                # the SLO caps the limit while the stable meets it; a stable over it too is the environment's
                # trouble (the alerts'), not the release's, and the canary is judged against the stable alone
                latency[key] = min(latency[key], relative) if stable[key] <= latency[key] else relative
    return dict(error_ratio=round(error_limit, 4), p95_ms=round(latency["p95_ms"], 1),
                p50_ms=round(latency["p50_ms"], 1))


def slower(canary, bounds, slo_latency_ms):
    """Whether the canary's answers are slower than its limits allow: its p95 above the SLO's latency (while the
    limit is within it), or above its limit with its median above the median's limit too. A regression against the
    stable shows in the typical answer as well; on a busy host the two slowest of twenty answers alone are noise."""
    if canary.get("p95_ms") is None or canary["p95_ms"] <= bounds["p95_ms"]:
        return False
    if canary["p95_ms"] > slo_latency_ms >= bounds["p95_ms"]:
        return True
    return canary.get("p50_ms") is None or canary["p50_ms"] > bounds["p50_ms"]


def verdict(canary, stable, thresholds, final=True):
    """(outcome, metric, detail): outcome 'passed', 'failed' or 'inconclusive' (too few requests to judge).

    metric names what decided: 'request-count', 'error-ratio' or 'latency-p95'. With fewer than min_requests, a
    window that is over (final) still fails on a threshold the requests it had already break (a release too slow
    to answer enough questions in the window); before that, too few requests are no verdict yet, and neither is a
    latency over fewer than min_requests questions (an error ratio over enough requests may fail a window early)."""
    bounds = limits(stable, thresholds)
    enough = canary["requests"] >= thresholds["min_requests"]
    if not enough and not (final and canary["requests"]):
        return _too_few(canary, thresholds)
    few = "" if enough else " (over only %d requests)" % canary["requests"]
    if canary["error_ratio"] > bounds["error_ratio"]:
        return ("failed", "error-ratio", "error ratio %.2f %% (%d of %d) is above the limit of %.2f %%%s%s"
                % (100 * canary["error_ratio"], canary["errors"], canary["requests"], 100 * bounds["error_ratio"],
                   _stable_note(stable, "error_ratio"), few))
    if slower(canary, bounds, thresholds["slo_latency_ms"]):
        asked = canary.get("chat_requests") or 0
        if not final and asked < thresholds["min_requests"]:
            # a p95 over a handful of answers is their slowest one (a new color's first, cold answers): wait for more
            return ("inconclusive", "request-count", "the canary's latency is judged over %d questions, fewer than "
                    "the %d a latency verdict needs" % (asked, thresholds["min_requests"]))
        return ("failed", "latency-p95", "p95 latency %.0f ms is above the limit of %.0f ms, median %.0f ms above "
                "%.0f ms%s%s" % (canary["p95_ms"], bounds["p95_ms"], canary.get("p50_ms") or 0, bounds["p50_ms"],
                                 _stable_note(stable, "p95_ms"), few))
    if not enough:
        return _too_few(canary, thresholds)
    latency = ("p95 %.0f ms (limit %.0f ms)" % (canary["p95_ms"], bounds["p95_ms"]) if canary["p95_ms"] is not None
               else "no question asked, so no latency")
    return ("passed", None, "error ratio %.2f %% (limit %.2f %%), %s over %d requests"
            % (100 * canary["error_ratio"], 100 * bounds["error_ratio"], latency, canary["requests"]))


def _too_few(canary, thresholds):
    return ("inconclusive", "request-count", "the canary had %d requests, fewer than the %d a verdict needs"
            % (canary["requests"], thresholds["min_requests"]))


def _stable_note(stable, field):
    if not stable or not stable.get("requests"):
        return ""
    value = stable[field]
    shown = "%.2f %%" % (100 * value) if field == "error_ratio" else "%.0f ms" % value
    return " (stable: %s over %d requests)" % (shown, stable["requests"])


def weights(percent):
    """nginx weights (stable, canary) giving the canary `percent` % of the requests, as small as they can be."""
    percent = int(percent)
    if percent <= 0:
        return (1, 0)
    if percent >= 100:
        return (0, 1)
    divisor = math.gcd(100 - percent, percent)
    return ((100 - percent) // divisor, percent // divisor)


def step_errors(steps, window, option="backend_canary_steps", window_option="backend_canary_window"):
    """Messages for bad canary steps or window (empty when they are fine); each names the option and the fix."""
    problems = []
    if not isinstance(steps, (list, tuple)) or not steps:
        return ["%s must be a list of rising traffic shares in %%, ending at 100, e.g. [10, 50, 100]" % option]
    try:
        numbers = [float(step) for step in steps]
    except (TypeError, ValueError):
        return ["%s must hold numbers (traffic shares in %%), got %r" % (option, list(steps))]
    if any(step <= 0 or step > 100 for step in numbers):
        problems.append("%s must hold shares above 0 and at most 100 %%, got %r" % (option, list(steps)))
    if any(later <= earlier for earlier, later in zip(numbers, numbers[1:])):
        problems.append("%s must rise step by step, got %r" % (option, list(steps)))
    if numbers[-1] != 100:
        problems.append("%s must end at 100 (the release takes all the traffic), got %r" % (option, list(steps)))
    problems.extend(window_errors(window, window_option))
    return problems


def window_errors(window, option, may_be_off=False):
    """A message for a window shorter than the nginx log's resolution (with may_be_off, 0 turns it off)."""
    try:
        seconds = float(window)
    except (TypeError, ValueError):
        seconds = None
    if seconds is not None and (seconds >= LOG_RESOLUTION_SECONDS or (may_be_off and seconds == 0)):
        return []
    return ["%s must be %sat least %.0f s (the resolution of the nginx log it is measured from), got %r"
            % (option, "0 (not watched) or " if may_be_off else "", LOG_RESOLUTION_SECONDS, window)]


def threshold_errors(thresholds, option="backend_canary_thresholds"):
    """Messages for unknown or negative thresholds (empty when they are fine)."""
    problems = []
    for name, value in sorted(thresholds.items()):
        if name not in DEFAULT_THRESHOLDS:
            problems.append("%s.%s is not a threshold (known: %s)" % (option, name, ", ".join(sorted(DEFAULT_THRESHOLDS))))
            continue
        try:
            negative = float(value) < 0
        except (TypeError, ValueError):
            negative = True
        if negative:
            problems.append("%s.%s must be a number of 0 or more, got %r" % (option, name, value))
    return problems


def parse_log_line(line):
    """(time, client status, main endpoint, [(port, failed, ms)]) of one line of LOG_FORMAT; None for another line.

    An attempt that nginx could not make ("-" status or time) counts as failed with no duration."""
    try:
        stamp, status, method, rest = line.split(" ", 3)
        uri, addresses, statuses, times = [field.strip('"') for field in rest.strip().split('" "')]
        when = float(stamp)
    except ValueError:
        return None
    attempts = []
    for address, code, took in zip(_split(addresses), _split(statuses), _split(times)):
        port = address.rsplit(":", 1)[-1]
        failed = not code.isdigit() or int(code) >= 500
        try:
            ms = float(took) * 1000
        except ValueError:
            ms = None
        attempts.append((int(port) if port.isdigit() else None, failed, ms))
    return when, status, (method, uri) == MAIN_ENDPOINT, attempts


def _split(field):
    # ", " separates the attempts of one upstream group, " : " an internal redirect to another group
    return [part.strip() for part in field.replace(" : ", ", ").split(",")]


def samples_by_port(lines, since=None):
    """{port: [(failed, ms, main endpoint)]} of the log lines (from time `since` on)."""
    found = {}
    for line in lines:
        parsed = parse_log_line(line)
        if parsed is None or (since is not None and parsed[0] < since):
            continue
        when, _status, main, attempts = parsed
        for port, failed, ms in attempts:
            if port is not None:
                found.setdefault(port, []).append((failed, ms if ms is not None else 0.0, main))
    return found
