"""The canary analysis as pure functions over numbers (plugins/module_utils/canary.py) and the rollout's filters."""
import json

import pytest

from ansible_collections.textbook.deploy.plugins.filter.rollout import (
    audit_details, releases_to_prune, rollback_errors, rollback_target, rollout_errors, rollout_start_files,
    step_record, upstream_servers)
from ansible_collections.textbook.deploy.plugins.module_utils import canary

THRESHOLDS = dict(canary.DEFAULT_THRESHOLDS)
PORTS = {"blue": 8001, "green": 8002}


def numbers(requests, errors=0, p95_ms=20.0, chat_requests=None, p50_ms=None):
    return dict(requests=requests, errors=errors, error_ratio=round(errors / float(requests), 4) if requests else None,
                chat_requests=requests if chat_requests is None else chat_requests, p95_ms=p95_ms,
                p50_ms=p95_ms if p50_ms is None else p50_ms)


def test_summarise_counts_errors_over_all_and_latency_over_the_main_endpoint():
    samples = [(False, 5.0, False)] * 80 + [(True, 1.0, False)] * 2 + [(False, float(ms), True) for ms in range(1, 21)]
    summary = canary.summarise(samples)
    assert summary == dict(requests=102, errors=2, error_ratio=0.0196, chat_requests=20, p50_ms=10.0, p95_ms=19.0)
    assert canary.summarise([]) == dict(requests=0, errors=0, error_ratio=None, chat_requests=0, p50_ms=None,
                                        p95_ms=None)


def test_percentile_is_nearest_rank():
    assert canary.percentile(list(range(1, 101)), 0.95) == 95
    assert canary.percentile([7.0], 0.95) == 7.0
    assert canary.percentile([], 0.95) is None


def test_a_healthy_canary_passes():
    outcome, metric, detail = canary.verdict(numbers(40, 0, 22.0), numbers(360, 0, 20.0), THRESHOLDS)
    assert (outcome, metric) == ("passed", None)
    assert "over 40 requests" in detail


def test_too_few_requests_is_no_verdict_not_a_pass():
    outcome, metric, detail = canary.verdict(numbers(19), numbers(400), THRESHOLDS)
    assert (outcome, metric) == ("inconclusive", "request-count")
    assert "19 requests" in detail and "20" in detail


def test_the_error_ratio_limit_is_one_percent_or_twice_the_stables():
    assert canary.limits(numbers(1000, 0), THRESHOLDS)["error_ratio"] == 0.01
    assert canary.limits(numbers(1000, 30), THRESHOLDS)["error_ratio"] == 0.06  # a stable failing 3 %
    outcome, metric, detail = canary.verdict(numbers(100, 30), numbers(900, 0), THRESHOLDS)
    assert (outcome, metric) == ("failed", "error-ratio")
    assert "30.00 %" in detail and "limit of 1.00 %" in detail and "stable: 0.00 % over 900 requests" in detail
    # the same canary beside a stable that fails as often is not the release's fault
    assert canary.verdict(numbers(100, 3), numbers(900, 27), THRESHOLDS)[0] == "passed"


def test_latency_is_compared_with_the_stable_above_a_floor_and_capped_by_the_slo():
    # 1.5 x the stable's 400 ms
    assert canary.limits(numbers(500, p95_ms=400.0), THRESHOLDS)["p95_ms"] == 600.0
    outcome, metric, detail = canary.verdict(numbers(50, p95_ms=850.0), numbers(450, p95_ms=400.0), THRESHOLDS)
    assert (outcome, metric) == ("failed", "latency-p95")
    assert "850 ms" in detail and "600 ms" in detail
    # fast answers: 1.5 x 10 ms would be noise, so the floor (400 ms) applies
    assert canary.limits(numbers(500, p95_ms=10.0), THRESHOLDS)["p95_ms"] == 400.0
    assert canary.verdict(numbers(50, p95_ms=350.0), numbers(450, p95_ms=10.0), THRESHOLDS)[0] == "passed"
    # a slow stable does not lift the limit above the SLO's latency
    assert canary.limits(numbers(500, p95_ms=900.0), THRESHOLDS)["p95_ms"] == 1000.0


def test_a_slow_tail_alone_is_noise_unless_it_breaks_the_slo():
    """Two slow answers of twenty on a busy host move the p95, not the median: no regression. A slower median with
    it is one, and a p95 above the SLO's latency is one whatever the median."""
    stable = numbers(20, p95_ms=521.0, p50_ms=300.0)
    noisy = numbers(20, p95_ms=900.0, p50_ms=310.0)
    assert canary.verdict(noisy, stable, THRESHOLDS)[0] == "passed"
    slow = numbers(20, p95_ms=900.0, p50_ms=820.0)
    outcome, metric, detail = canary.verdict(slow, stable, THRESHOLDS)
    assert (outcome, metric) == ("failed", "latency-p95") and "median 820 ms above 450 ms" in detail
    over_slo = numbers(20, p95_ms=1200.0, p50_ms=310.0)
    assert canary.verdict(over_slo, stable, THRESHOLDS)[1] == "latency-p95"


def test_without_a_stable_the_canary_is_held_to_the_absolute_limits():
    assert canary.limits(None, THRESHOLDS) == {"error_ratio": 0.01, "p95_ms": 1000.0, "p50_ms": 1000.0}
    assert canary.verdict(numbers(30, 1, 900.0), None, THRESHOLDS)[0] == "failed"  # 3.3 % errors
    assert canary.verdict(numbers(30, 0, 900.0), numbers(0), THRESHOLDS)[0] == "passed"


def test_no_question_means_no_latency_verdict():
    outcome, _metric, detail = canary.verdict(numbers(40, 0, None, 0), numbers(400), THRESHOLDS)
    assert outcome == "passed" and "no latency" in detail


def test_thresholds_are_set_per_inventory():
    strict = dict(THRESHOLDS, max_error_ratio=0.0, min_requests=5, slo_latency_ms=50)
    assert canary.verdict(numbers(10, 1), numbers(100), strict)[1] == "error-ratio"
    assert canary.verdict(numbers(10, 0, 60.0), numbers(100, p95_ms=10.0), strict)[1] == "latency-p95"


@pytest.mark.parametrize("percent, expected", [(0, (1, 0)), (10, (9, 1)), (25, (3, 1)), (50, (1, 1)),
                                               (33, (67, 33)), (100, (0, 1))])
def test_weights_give_the_share_in_small_numbers(percent, expected):
    assert canary.weights(percent) == expected


def test_parse_log_line_lists_every_attempt_with_its_color_port():
    line = '1764670000.123 200 POST "/api/chat" "127.0.0.1:8002, 127.0.0.1:8001" "502, 200" "0.001, 0.020"'
    when, status, main, attempts = canary.parse_log_line(line)
    assert (when, status, main) == (1764670000.123, "200", True)
    assert attempts == [(8002, True, 1.0), (8001, False, 20.0)]
    refused = canary.parse_log_line('1764670000.5 502 GET "/version" "127.0.0.1:8002" "502" "-"')
    assert refused[2:] == (False, [(8002, True, None)])
    assert canary.parse_log_line("not a log line") is None
    assert canary.parse_log_line("") is None


def test_samples_by_port_from_a_log():
    lines = ['1.0 200 GET "/version" "127.0.0.1:8001" "200" "0.004"',
             '2.0 500 POST "/api/chat" "127.0.0.1:8002" "500" "0.030"',
             '3.0 200 POST "/api/chat" "127.0.0.1:8002, 127.0.0.1:8001" "502, 200" "0.000, 0.025"',
             'garbage']
    samples = canary.samples_by_port(lines)
    assert samples == {8001: [(False, 4.0, False), (False, 25.0, True)],
                       8002: [(True, 30.0, True), (True, 0.0, True)]}
    assert canary.samples_by_port(lines, since=2.5) == {8001: [(False, 25.0, True)], 8002: [(True, 0.0, True)]}


def test_upstream_servers_for_each_step():
    assert upstream_servers(PORTS, "blue") == [{"port": 8001, "weight": 1, "backup": False}]
    assert upstream_servers(PORTS, "blue", "green", 10) == [{"port": 8001, "weight": 9, "backup": False},
                                                            {"port": 8002, "weight": 1, "backup": False}]
    # all the traffic to the new color, the old one still there for a request the new one refuses
    assert upstream_servers(PORTS, "blue", "green", 100) == [{"port": 8002, "weight": 1, "backup": False},
                                                             {"port": 8001, "weight": 1, "backup": True}]
    assert upstream_servers(PORTS, "blue", "green", 0) == [{"port": 8001, "weight": 1, "backup": False}]
    assert upstream_servers(PORTS, "", "green", 100) == [{"port": 8002, "weight": 1, "backup": False}]


@pytest.mark.parametrize("steps, window, thresholds, watch, message", [
    ([10, 150, 100], 8, {}, 10, "above 0 and at most 100"),
    ([-5, 100], 8, {}, 10, "above 0 and at most 100"),
    ([50, 10, 100], 8, {}, 10, "must rise"),
    ([10, 50], 8, {}, 10, "must end at 100"),
    ([], 8, {}, 10, "backend_canary_steps must be a list"),
    (["ten", 100], 8, {}, 10, "must hold numbers"),
    ([10, 100], 0.5, {}, 10, "backend_canary_window must be at least 1 s"),
    ([10, 100], 8, {"max_error_ratio": -0.1}, 10, "backend_canary_thresholds.max_error_ratio must be a number of 0"),
    ([10, 100], 8, {"p99_ms": 5}, 10, "backend_canary_thresholds.p99_ms is not a threshold"),
    ([10, 100], 8, {}, 0.5, "backend_watch_seconds must be 0"),
    ([10, 100], 8, {}, -1, "backend_watch_seconds must be 0"),
])
def test_bad_rollout_settings_are_named(steps, window, thresholds, watch, message):
    problems = rollout_errors(steps, window, thresholds, watch)
    assert any(message in problem for problem in problems), problems


def test_good_rollout_settings_have_no_problem():
    assert rollout_errors([10, 50, 100], 8, {"slo_latency_ms": 500}, 10) == []
    assert rollout_errors([100], 1, {}, 0) == []


def test_step_record_keeps_the_verdict_and_numbers():
    result = {"outcome": "failed", "metric": "error-ratio", "detail": "x", "canary": numbers(30, 9),
              "stable": numbers(270), "limits": {"error_ratio": 0.01, "p95_ms": 100.0}, "seconds": 1.5,
              "invocation": {"module_args": {}}}
    record = step_record(result, "10")
    assert record["percent"] == 10 and record["metric"] == "error-ratio" and "invocation" not in record


def test_a_window_that_is_over_fails_a_release_too_slow_to_reach_the_minimum():
    slow = numbers(6, 0, 850.0)
    assert canary.verdict(slow, numbers(300), THRESHOLDS, final=False)[0] == "inconclusive"
    outcome, metric, detail = canary.verdict(slow, numbers(300), THRESHOLDS, final=True)
    assert (outcome, metric) == ("failed", "latency-p95") and "over only 6 requests" in detail
    # a few good answers are still no verdict, and none at all is none
    assert canary.verdict(numbers(6), numbers(300), THRESHOLDS, final=True)[0] == "inconclusive"
    assert canary.verdict(numbers(0), numbers(300), THRESHOLDS, final=True)[0] == "inconclusive"


def test_latency_over_too_few_questions_waits_for_more_until_the_window_is_over():
    """Seen under load: a good release's 10 % step failed 1.9 s into its window on the p95 of 6 questions (its
    first, cold answers). Errors over enough requests still fail at once."""
    cold = numbers(22, 0, 888.0, chat_requests=6, p50_ms=663.0)
    stable = numbers(156, 0, 183.0, chat_requests=35, p50_ms=89.0)
    outcome, metric, detail = canary.verdict(cold, stable, THRESHOLDS, final=False)
    assert (outcome, metric) == ("inconclusive", "request-count") and "over 6 questions, fewer than the 20" in detail
    assert canary.verdict(cold, stable, THRESHOLDS, final=True)[:2] == ("failed", "latency-p95")
    slow_enough = numbers(40, 0, 888.0, chat_requests=20, p50_ms=663.0)
    assert canary.verdict(slow_enough, stable, THRESHOLDS, final=False)[:2] == ("failed", "latency-p95")
    failing = numbers(22, 3, 888.0, chat_requests=6, p50_ms=663.0)
    assert canary.verdict(failing, stable, THRESHOLDS, final=False)[:2] == ("failed", "error-ratio")


def test_a_stable_over_the_slo_too_is_judged_against_alone():
    """Seen on a saturated host: both colors' questions took 2-3 s; the canary, faster than the stable, failed on the
    SLO's 1 s. While the stable meets the SLO, the SLO caps the limit; once it breaks it too, the canary is judged
    against the stable alone (the alerts see the SLO)."""
    stable = numbers(772, 0, 3263.0, chat_requests=20, p50_ms=2024.0)
    assert canary.limits(stable, THRESHOLDS)["p95_ms"] == 1.5 * 3263.0
    assert canary.verdict(numbers(105, 0, 2853.0, chat_requests=20, p50_ms=2227.0), stable, THRESHOLDS)[0] == "passed"
    worse = numbers(105, 0, 5200.0, chat_requests=20, p50_ms=4100.0)
    assert canary.verdict(worse, stable, THRESHOLDS)[:2] == ("failed", "latency-p95")
    # a stable within the SLO still caps the limit there
    meeting = numbers(500, 0, 900.0, chat_requests=100, p50_ms=600.0)
    assert canary.limits(meeting, THRESHOLDS)["p95_ms"] == 1000.0
    assert canary.verdict(numbers(50, 0, 1100.0, p50_ms=620.0), meeting, THRESHOLDS)[:2] == ("failed", "latency-p95")


def test_audit_details_carry_only_what_there_is():
    assert audit_details([], None) == {}
    step = {"percent": 10, "outcome": "passed"}
    assert audit_details([step], {"run_id": "r1"}) == {"canary": [step], "recovered": {"run_id": "r1"}}
    assert audit_details([step]) == {"canary": [step]}


def test_rollback_target_is_the_newest_healthy_installed_release_but_the_live_one():
    assert rollback_target(["1.2.0", "1.1.0"], ["1.6.0", "1.2.0", "1.1.0"], "1.2.0") == "1.1.0"
    assert rollback_target(["1.2.0", "1.0.0", "1.1.0"], ["1.2.0", "1.1.0"], "1.2.0") == "1.1.0"  # 1.0.0 pruned
    assert rollback_target(["1.2.0"], ["1.2.0", "1.6.0"], "1.2.0") == ""
    assert rollback_target([], ["1.2.0"], "1.6.0") == ""


def hosts_facts(**targets):
    """hostvars as rollback.yml leaves them: each host's target, installed releases and healthy ones."""
    return dict((host, dict(_backend_rollback_target=target, _backend_installed_releases=["1.2.0", "1.1.0"],
                            _backend_healthy_releases=["1.2.0", "1.1.0"])) for host, target in targets.items())


def test_a_rollback_goes_ahead_when_every_host_has_the_same_installed_release():
    assert rollback_errors(["app1", "app2"], hosts_facts(app1="1.1.0", app2="1.1.0")) == []


def test_a_rollback_is_refused_naming_the_host_and_the_variable():
    missing = rollback_errors(["app1", "app2"], hosts_facts(app1="9.9.9", app2="9.9.9"))
    assert len(missing) == 2 and "Release 9.9.9 is not installed on app1" in missing[0]
    assert "backend_rollback_to" in missing[0] and "installed: 1.2.0, 1.1.0" in missing[0]
    nothing = rollback_errors(["app1"], hosts_facts(app1=""))
    assert nothing[0].startswith("app1 has no installed release recorded healthy") and "backend_rollback_to" in nothing[0]
    differ = rollback_errors(["app1", "app2"], hosts_facts(app1="1.1.0", app2="1.2.0"))
    assert differ == ["The hosts' previous releases differ (app1: 1.1.0, app2: 1.2.0): name the release with "
                      "backend_rollback_to."]


def test_a_rollout_starts_with_the_color_link_and_its_record_in_one_file_set():
    record = {"run_id": "r1", "version": "1.2.0", "stable": "blue", "canary": "green", "canary_before": "1.0.0"}
    link, state = rollout_start_files("/opt/chat-api", "green", "1.2.0", "/var/lib/chat-api/rollout.json", record)
    assert link == {"path": "/opt/chat-api/green", "state": "link", "src": "releases/1.2.0"}
    assert state["path"] == "/var/lib/chat-api/rollout.json" and json.loads(state["content"]) == record
    assert (state["owner"], state["mode"]) == ("root", "0644")
    # a rollback records no rollout: the link alone
    assert rollout_start_files("/opt/chat-api", "blue", "1.1.0") == [link | {"path": "/opt/chat-api/blue",
                                                                             "src": "releases/1.1.0"}]


def test_the_releases_pruned_are_the_oldest_beyond_the_kept_number_but_never_one_still_needed():
    installed = ["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0"]
    assert releases_to_prune(installed, "/opt/r", 3, ["1.5.0", "1.4.0", "1.1.0"]) == [
        {"path": "/opt/r/1.2.0", "state": "absent"}]
    assert releases_to_prune(installed[:2], "/opt/r", 3, []) == []
