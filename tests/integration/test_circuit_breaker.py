"""Per-server circuit breakers through the real proxy, in each mode, observed through ballast's
`circuit breaker changed` log lines and the backends' own request counts.

Most tests use one server, so a request the breaker refuses gets the immediate 503 of a cluster
with no server left, and each request's status says what the breaker did with it.
"""

import time

from events import address, log_events, wait_log
from harness import InBackground, control, get, in_flight, listen_port, served_by, wait_until

CONSECUTIVE = {"mode": "consecutive", "failure_threshold": 3, "timeout": "500ms"}
CONSECUTIVE.update(half_open_requests=1, success_threshold=2)


def status(proxy, target="/"):
    return get(proxy.port, target).status


def transitions(proxy, server):
    events = log_events(proxy, "circuit breaker changed", server=address(server))
    return [(event["from"], event["to"]) for event in events]


def wait_transitions(proxy, server, count):
    wait_log(proxy, "circuit breaker changed", 2, count=count, server=address(server))
    return transitions(proxy, server)


def wait_for_probe(proxy, opened_at, timeout_ms=500):
    """Requests until one is let through (not 503); its status. Fails if that came before the
    breaker's timeout."""
    probe = wait_until(lambda: (code := status(proxy)) != 503 and code, 3, "a probe", 0.05)
    waited_s = time.monotonic() - opened_at
    assert waited_s >= timeout_ms / 1000 - 0.05, f"probed {waited_s:.3f}s after opening"
    return probe


def test_consecutive_breaker_opens_probes_closes_and_reopens_on_a_failed_probe(backends, ballast):
    s1 = backends.start("s1", args=["--control", "fail_percent=100"])
    proxy = ballast.start_short([s1], circuit_breaker=CONSECUTIVE)
    assert [status(proxy) for _ in range(3)] == [500] * 3
    assert wait_transitions(proxy, s1, 1) == [("closed", "open")]
    opened_at = time.monotonic()
    received = s1.stats()["requests_received"]
    response = get(proxy.port, "/")
    assert (response.status, response.header("Retry-After")) == (503, "1"), response
    assert [status(proxy) for _ in range(4)] == [503] * 4
    assert s1.stats()["requests_received"] == received, "a request reached the open server"
    control(s1, fail_percent=0)
    assert wait_for_probe(proxy, opened_at) == 200
    assert s1.stats()["requests_received"] == received + 1
    assert status(proxy) == 200  # the second success closes it
    assert wait_transitions(proxy, s1, 3) == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    # Closed again with a fresh count; a failed probe sends it straight back to open.
    control(s1, fail_percent=100)
    assert [status(proxy) for _ in range(3)] == [500] * 3
    wait_transitions(proxy, s1, 4)
    opened_at = time.monotonic()
    assert wait_for_probe(proxy, opened_at) == 500
    assert status(proxy) == 503
    assert wait_transitions(proxy, s1, 6)[3:] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
    ]


def test_half_open_lets_at_most_half_open_requests_probes_through_at_once(backends, ballast):
    s1 = backends.start("s1", args=["--control", "fail_percent=100"])
    breaker = {**CONSECUTIVE, "half_open_requests": 2}
    proxy = ballast.start_short([s1], circuit_breaker=breaker)
    assert [status(proxy) for _ in range(3)] == [500] * 3
    wait_transitions(proxy, s1, 1)
    opened_at = time.monotonic()
    control(s1, fail_percent=0, delay_ms=1000)
    # The timeout is a span of time, so waiting it out is the condition itself.
    time.sleep(max(0.0, opened_at + 0.6 - time.monotonic()))
    started = time.monotonic()
    requests = [InBackground(get, proxy.port, "/") for _ in range(4)]
    wait_until(lambda: sum(r.done() for r in requests) == 2, 0.8, "the two refused requests")
    assert time.monotonic() - started < 0.8
    assert in_flight(s1) == 2
    assert sorted(r.result().status for r in requests) == [200, 200, 503, 503]
    assert s1.stats()["requests_received"] == 3 + 2


def test_services_override_opens_one_servers_breaker_and_the_others_serve(backends, ballast):
    s1, s2 = backends.start_many(2)
    control(s1, fail_percent=100)
    config = ballast.short_config([s1, s2])
    breaker = {"mode": "consecutive", "failure_threshold": 3, "timeout": "10s"}
    config["circuit_breaker"] = {"services": {"default": breaker}}
    proxy = ballast.start(config, listen_port(config))
    statuses = sorted(status(proxy) for _ in range(6))  # round robin: three each
    assert statuses == [200] * 3 + [500] * 3
    assert wait_transitions(proxy, s1, 1) == [("closed", "open")]
    assert served_by(proxy.port, 10) == ["s2"] * 10
    assert s1.stats()["requests_received"] == 3
    assert transitions(proxy, s2) == []


# Rate mode over the last 10 calls, judged once it holds 10.
RATE = {"mode": "rate", "window_type": "count", "window_size": 10, "min_requests": 10}
RATE.update(failure_threshold=50, timeout="10s")


def run_calls(proxy, calls):
    """One request per letter: S succeeds, F answers 500, L succeeds after 150 ms. Then one more
    S. The statuses: the breaker's opening shows as 503 from the call after it."""
    targets = {"S": "/", "F": "/status/500", "L": "/delay/150"}
    return [status(proxy, targets[call]) for call in calls + "S"]


def expected_statuses(calls, opens_after):
    natural = {"S": 200, "F": 500, "L": 200}
    statuses = [natural[call] for call in calls + "S"]
    if opens_after is not None:
        statuses[opens_after:] = [503] * (len(statuses) - opens_after)
    return statuses


def check_rate_breaker(backends, ballast, breaker, calls, opens_after):
    s1 = backends.start("s1")
    proxy = ballast.start_short([s1], circuit_breaker=breaker)
    assert run_calls(proxy, calls) == expected_statuses(calls, opens_after)
    if opens_after is None:
        assert transitions(proxy, s1) == []
        return None
    (opened,) = wait_log(proxy, "circuit breaker changed", 2, server=address(s1))
    assert (opened["from"], opened["to"]) == ("closed", "open"), opened
    return opened


def test_rate_breaker_stays_closed_below_the_threshold(backends, ballast):
    check_rate_breaker(backends, ballast, RATE, "SSSSSSFFFF", None)  # 40%


def test_rate_breaker_opens_at_the_threshold(backends, ballast):
    opened = check_rate_breaker(backends, ballast, RATE, "SSSSSFFFFF", 10)  # 50%
    assert "rate" in opened["reason"], opened


def test_rate_breaker_waits_for_min_requests(backends, ballast):
    # 8 of 9 failed is not judged yet; the tenth call is.
    check_rate_breaker(backends, ballast, RATE, "SFFFFFFFFF", 10)


def test_slow_calls_alone_open_a_rate_breaker(backends, ballast):
    breaker = {**RATE, "failure_threshold": 100, "slow_call_rate_threshold": 50}
    breaker["slow_call_duration"] = "100ms"
    opened = check_rate_breaker(backends, ballast, breaker, "SSSSSLLLLL", 10)
    assert "slow" in opened["reason"], opened


# Predictive and rate breakers with the same window: 20 calls, judged from 10, 50%.
WINDOW = {"window_type": "count", "window_size": 20, "min_requests": 10, "failure_threshold": 50}
WINDOW["timeout"] = "10s"


def failures_until_open(backends, ballast, mode, name):
    """A server that is fine, then slows down step by step, then fails every request (still
    slow): how many failed requests the client saw before the breaker opened."""
    server = backends.start(name)
    proxy = ballast.start_short([server], circuit_breaker={**WINDOW, "mode": mode})
    assert [status(proxy) for _ in range(10)] == [200] * 10
    for delay_ms in range(10, 101, 10):
        control(server, delay_ms=delay_ms)
        assert status(proxy) == 200
    control(server, fail_percent=100)
    failures = 0
    while (code := status(proxy)) != 503:
        assert code == 500
        failures += 1
        assert failures <= 30, f"{mode} breaker still closed after {failures} failures"
    (opened,) = wait_log(proxy, "circuit breaker changed", 2, server=address(server))
    assert (opened["from"], opened["to"]) == ("closed", "open"), opened
    return failures


def test_predictive_breaker_opens_on_a_server_that_slows_down_then_fails(backends, ballast):
    failures_until_open(backends, ballast, "predictive", "p1")


def test_predictive_breaker_opens_before_the_rate_breaker(backends, ballast):
    rate = failures_until_open(backends, ballast, "rate", "r1")
    assert rate == 10  # the window's 20 calls, half of them failed
    predictive = failures_until_open(backends, ballast, "predictive", "p1")
    assert predictive < rate, f"predictive after {predictive} failures, rate after {rate}"


def test_predictive_breaker_stays_closed_on_a_healthy_noisy_server(backends, ballast):
    # 5% of requests fail (seeded, so every run sees the same ones) and latency wanders 0-10 ms.
    server = backends.start("s1", args=["--control", "fail_percent=5&jitter_ms=10"])
    proxy = ballast.start_short([server], circuit_breaker={**WINDOW, "mode": "predictive"})
    statuses = [status(proxy) for _ in range(150)]
    assert 503 not in statuses, f"opened after {statuses.index(503)} requests"
    assert 0 < statuses.count(500) < 20, statuses
    assert transitions(proxy, server) == []
