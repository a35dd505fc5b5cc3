"""Passive health (outlier ejection) through the real proxy: a server failing real traffic is
ejected for a while, within max_ejection_percent, and returns when its time passes or an active
check passes. Observed in ballast's log lines and in request latencies and backend counts."""

import time

import pytest

from events import address, log_events, wait_healthy, wait_log
from harness import HttpConnection, control, get, health_check, served_by

# A hanging server costs a request one 200 ms server timeout, then a retry elsewhere.
TIMEOUTS = {"server": "200ms"}
RETRY_ON_TIMEOUT = {"attempts": 2, "on": ["timeout"]}


def timed_requests(port, count):
    """`count` GETs, each on a fresh connection: [(status, seconds)]."""
    results = []
    for _ in range(count):
        started = time.monotonic()
        status = get(port, "/").status
        results.append((status, time.monotonic() - started))
    return results


def requests_until_logged(proxy, msg, server, timeout_s=5):
    """GETs until ballast logs `msg` about `server`; [(status, seconds)] and that line."""
    results = []
    deadline = time.monotonic() + timeout_s
    while not (found := log_events(proxy, msg, server=address(server))):
        assert time.monotonic() < deadline, f"no {msg!r} for {server.name} in {timeout_s}s"
        results += timed_requests(proxy.port, 1)
    return results, found[-1]


def test_a_hanging_server_is_ejected_by_timeouts_and_returns_after_its_time(backends, ballast):
    s1, s2 = backends.start_many(2)
    hanging = backends.start("s3", args=["--accept-only"])
    outlier = {"consecutive_failures": 2, "max_ejection_percent": 50, "base_ejection_time": "1s"}
    proxy = ballast.start_short(
        [s1, s2, hanging], outlier_detection=outlier, timeouts=TIMEOUTS, retry=RETRY_ON_TIMEOUT
    )
    before, ejected = requests_until_logged(proxy, "server ejected", hanging)
    assert (ejected["failure"], ejected["multiplier"], ejected["ejection_ms"]) == (
        "timeout",
        "1",
        "1000",
    ), ejected
    ejected_at = time.monotonic()
    # Ejected: no request waits on it any more.
    during = timed_requests(proxy.port, 20)
    assert time.monotonic() - ejected_at < 0.9, "too slow to sample inside the ejection"
    assert all(status == 200 and seconds < 0.1 for status, seconds in during), during
    returned = wait_log(proxy, "server returned", 3, server=address(hanging))
    assert returned[0]["reason"] == "ejection time passed", returned
    assert time.monotonic() - ejected_at >= 0.9, "returned before base_ejection_time"
    # Still hanging: ejected again, for twice as long.
    after = []
    while len(log_events(proxy, "server ejected", server=address(hanging))) < 2:
        assert time.monotonic() - ejected_at < 8, "not ejected a second time"
        after += timed_requests(proxy.port, 1)
    again = log_events(proxy, "server ejected", server=address(hanging))[1]
    assert (again["multiplier"], again["ejection_ms"]) == ("2", "2000"), again
    # Every request was answered: a timed-out try was retried on another server.
    assert {status for status, _ in before + during + after} == {200}


def test_the_default_ten_percent_ejects_none_of_three_servers(backends, ballast):
    s1, s2 = backends.start_many(2)
    hanging = backends.start("s3", args=["--accept-only"])
    proxy = ballast.start_short(
        [s1, s2, hanging],
        outlier_detection={"consecutive_failures": 2},
        timeouts=TIMEOUTS,
        retry=RETRY_ON_TIMEOUT,
    )
    results, refused = requests_until_logged(proxy, "server ejection refused", hanging)
    assert refused["cluster"] == "default", refused
    # Not ejected: it is still picked (every second or third request, as retries move the
    # round-robin cursor too), and each such request waits out the timeout.
    results += timed_requests(proxy.port, 9)
    slow = [seconds for _, seconds in results[-9:] if seconds >= 0.19]
    assert len(slow) >= 3, results[-9:]
    assert {status for status, _ in results} == {200}
    assert log_events(proxy, "server ejected") == []


@pytest.mark.parametrize("on_5xx", [False, True])
def test_5xx_answers_eject_a_server_only_with_on_5xx(backends, ballast, on_5xx):
    s1, s2 = backends.start_many(2)
    control(s1, fail_percent=100)  # every request answered 500
    outlier = {"consecutive_failures": 3, "max_ejection_percent": 50, "on_5xx": on_5xx}
    proxy = ballast.start_short([s1, s2], outlier_detection=outlier)
    with HttpConnection(proxy.port) as connection:
        statuses = [connection.request("GET", "/").status for _ in range(20)]
    if on_5xx:
        (ejected,) = log_events(proxy, "server ejected", server=address(s1))
        assert ejected["failure"] == "server_error", ejected
        assert statuses.count(500) == 3 and s1.stats()["requests_received"] == 3, statuses
    else:
        assert statuses.count(500) == 10 and s1.stats()["requests_received"] == 10, statuses
        assert log_events(proxy, "server ejected") == []
        assert log_events(proxy, "server ejection refused") == []


def test_a_passing_health_check_ends_an_ejection_early(backends, ballast):
    s1, s2 = backends.start_many(2)
    control(s1, fail_percent=100)  # real traffic fails; its /health still answers 200
    outlier = {"consecutive_failures": 3, "max_ejection_percent": 50, "on_5xx": True}
    outlier["base_ejection_time"] = "30s"
    proxy = ballast.start_short([s1, s2], outlier_detection=outlier, health_check=health_check())
    wait_healthy(proxy, [s1, s2])
    requests_until_logged(proxy, "server ejected", s1)
    ejected_at = time.monotonic()
    (returned,) = wait_log(proxy, "server returned", 2, server=address(s1))
    assert returned["reason"] == "health check passed", returned
    assert time.monotonic() - ejected_at < 2
    control(s1, fail_percent=0)
    assert "s1" in served_by(proxy.port, 10)
