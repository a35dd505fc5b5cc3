"""Active health checks through the real proxy: servers leave and return, a server is not used
before its first check, every server out fails fast (or goes to a backup), and panic mode.

Health is driven through each backend's /control (its /health status and delay), and observed in
ballast's JSON log lines (`health check changed`, `panic mode entered`, …) and in the backends'
own request counts, with the helpers of events.py and harness.py.
"""

import time
from collections import Counter

from events import address, log_events, wait_healthy, wait_log
from harness import RequestLoop, control, get, health_check, listen_port, server_entry, served_by
from harness import timed_get, wait_until

RETRY = {"attempts": 3, "on": ["connect_failure", "5xx"]}


def test_each_server_is_checked_once_per_interval_whatever_the_worker_count(backends, ballast):
    servers = backends.start_many(3)
    config = ballast.short_config(servers, health_check=health_check(interval="200ms"))
    config["workers"] = 4
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, servers)
    before = [server.stats()["health_checks"] for server in servers]
    time.sleep(2.0)  # the window measured: ten intervals
    checks = [server.stats()["health_checks"] - b for server, b in zip(servers, before)]
    # One worker checks each server: about 10 each (4 workers each checking would make 40).
    assert all(7 <= count <= 13 for count in checks), checks


def test_a_stopped_server_leaves_within_two_checks_and_no_client_request_fails(backends, ballast):
    servers = backends.start_many(3)
    proxy = ballast.start_short(
        servers, health_check=health_check(unhealthy_threshold=2), retry=RETRY
    )
    wait_healthy(proxy, servers)
    s2 = servers[1]
    with RequestLoop(proxy.port) as loop:
        loop.wait_served({"s1", "s2", "s3"})
        stopped_at = time.monotonic()
        s2.stop()
        (left,) = wait_log(proxy, "health check changed", 3, server=address(s2), to="unhealthy")
        left_after_s = time.monotonic() - stopped_at
        # Back on its port but failing its checks: alive, so any request routed to it shows.
        s2 = backends.start("s2", port=s2.port, args=["--control", "health=503"])
        wait_until(lambda: s2.stats()["health_checks"] >= 3, 3, "three checks of the new s2")
        assert s2.stats()["requests_received"] == 0
        control(s2, health=200)
        back = {"server": address(s2), "to": "healthy", "from": "unhealthy"}
        wait_log(proxy, "health check changed", 2, **back)
        wait_until(lambda: s2.stats()["requests_received"] >= 5, 3, "traffic at the returned s2")
        loop.wait_served({"s1", "s2", "s3"})
    assert loop.failures() == [], f"{len(loop.failures())} of {len(loop.results)} failed"
    # The loop ran through the dangerous part: s2 dead and not yet out.
    while_dead = [r for r in loop.results if stopped_at <= r[0] < stopped_at + left_after_s]
    assert len(while_dead) >= 10, f"only {len(while_dead)} requests while s2 was dead"
    assert (left["from"], left["checks"], left["cluster"]) == ("healthy", "2", "default"), left
    assert left["detail"].startswith("connect failed"), left
    # Two failed checks 200 ms apart, the first within an interval of the stop; slack for CI.
    assert left_after_s < 0.4 + 0.5, f"left {left_after_s:.2f}s after the stop"


def test_a_failing_health_endpoint_takes_a_live_server_out_and_back_in(backends, ballast):
    s1, s2 = backends.start_many(2)
    config = ballast.short_config([s1, s2], health_check=health_check(unhealthy_threshold=2))
    config["workers"] = 4  # every worker must see the change
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, [s1, s2])
    control(s2, health=503)
    (left,) = wait_log(proxy, "health check changed", 2, server=address(s2), to="unhealthy")
    assert (left["checks"], left["detail"]) == ("2", "status 503"), left
    received = s2.stats()["requests_received"]
    assert served_by(proxy.port, 20, fresh_connections=True) == ["s1"] * 20
    assert s2.stats()["requests_received"] == received
    control(s2, health=200)
    wait_log(
        proxy, "health check changed", 2, server=address(s2), to="healthy", **{"from": "unhealthy"}
    )
    assert "s2" in served_by(proxy.port, 20, fresh_connections=True)


def requests_until_checked(proxy, server, timeout_s=5):
    """GETs, one every 20 ms, until ballast logs a health change of `server`; their
    (status, X-Backend) and that change."""
    answers = []
    deadline = time.monotonic() + timeout_s
    while not (changes := log_events(proxy, "health check changed", server=address(server))):
        assert time.monotonic() < deadline, f"no health change of {server.name} in {timeout_s}s"
        response = get(proxy.port, "/")
        answers.append((response.status, response.backend))
        time.sleep(0.02)
    return answers, changes[0]


# s2's checks answer 503 after 600 ms: for that long it is unknown, then it is unhealthy.
SLOW_FAILING_HEALTH = "health=503&health_delay_ms=600"


def test_a_server_takes_no_request_before_its_first_check_passes(backends, ballast):
    s1 = backends.start("s1")
    s2 = backends.start("s2", args=["--control", SLOW_FAILING_HEALTH])
    check = health_check(interval="1s", timeout="900ms")
    proxy = ballast.start_short([s1, s2], health_check=check)
    answers, change = requests_until_checked(proxy, s2)
    assert (change["from"], change["to"]) == ("unknown", "unhealthy"), change
    assert (200, "s1") in answers, "s1 never served while s2 was unknown"
    assert set(answers) <= {(200, "s1"), (503, None)}, answers
    assert served_by(proxy.port, 10) == ["s1"] * 10
    assert s2.stats()["requests_received"] == 0


def test_start_healthy_takes_traffic_until_the_checks_fail(backends, ballast):
    s1 = backends.start("s1")
    s2 = backends.start("s2", args=["--control", SLOW_FAILING_HEALTH])
    check = health_check(interval="1s", timeout="900ms", start_healthy=True)
    proxy = ballast.start_short([s1, s2], health_check=check)
    answers, change = requests_until_checked(proxy, s2)
    assert (change["from"], change["to"]) == ("healthy", "unhealthy"), change
    assert (200, "s2") in answers, answers
    received = s2.stats()["requests_received"]
    assert served_by(proxy.port, 10) == ["s1"] * 10
    assert s2.stats()["requests_received"] == received


def test_every_server_out_answers_503_with_retry_after_at_once(backends, ballast):
    # Servers that accept and never answer: a proxy that tried them would wait 2 s for each.
    servers = [backends.start(f"s{i}", args=["--accept-only"]) for i in (1, 2)]
    timeouts = {"connect": "2s", "server": "2s"}
    proxy = ballast.start_short(servers, health_check=health_check(), timeouts=timeouts)
    for server in servers:
        (out,) = wait_log(proxy, "health check changed", 3, server=address(server), to="unhealthy")
        assert out["detail"] == "timed out", out
    for _ in range(5):
        response, elapsed_s = timed_get(proxy.port)
        assert (response.status, response.header("Retry-After")) == (503, "1"), response
        assert elapsed_s < 0.25, f"the 503 took {elapsed_s:.3f}s"
    assert log_events(proxy, "no server available", cluster="default")


def test_a_backup_server_serves_only_while_every_primary_is_out(backends, ballast):
    s1, s2 = backends.start_many(2)
    backup = backends.start("b1")
    servers = [s1, s2, server_entry(backup, backup=True)]
    proxy = ballast.start_short(servers, health_check=health_check())
    wait_healthy(proxy, [s1, s2, backup])
    assert set(served_by(proxy.port, 10)) == {"s1", "s2"}
    for server in (s1, s2):
        control(server, health=503)
    for server in (s1, s2):
        wait_log(proxy, "health check changed", 2, server=address(server), to="unhealthy")
    assert served_by(proxy.port, 10) == ["b1"] * 10
    control(s1, health=200)
    wait_log(proxy, "health check changed", 2, server=address(s1), to="healthy", count=2)
    assert served_by(proxy.port, 10) == ["s1"] * 10


def test_panic_mode_spreads_over_every_server_when_too_few_are_healthy(backends, ballast):
    servers = backends.start_many(4)
    proxy = ballast.start_short(servers, health_check=health_check(), panic_threshold=50)
    wait_healthy(proxy, servers)
    time.sleep(0.7)  # one reporter interval (500 ms): the start-up's panic lines are written
    entered_before = len(log_events(proxy, "panic mode entered", cluster="default"))
    left_before = len(log_events(proxy, "panic mode left", cluster="default"))
    assert set(served_by(proxy.port, 8)) == {"s1", "s2", "s3", "s4"}
    for server in servers[1:]:
        control(server, health=503)
    for server in servers[1:]:
        wait_log(proxy, "health check changed", 2, server=address(server), to="unhealthy")
    entered = wait_log(proxy, "panic mode entered", 2, count=entered_before + 1, cluster="default")
    assert float(entered[-1]["healthy_percent"]) == 25, entered[-1]
    # In panic the three failing servers share the load, rather than all of it landing on s1.
    shares = Counter(served_by(proxy.port, 40))
    assert set(shares) == {"s1", "s2", "s3", "s4"} and max(shares.values()) <= 20, shares
    control(servers[1], health=200)  # 2 of 4 healthy: 50% is not below the threshold
    left = wait_log(proxy, "panic mode left", 2, count=left_before + 1, cluster="default")
    assert float(left[-1]["healthy_percent"]) == 50, left[-1]
    assert set(served_by(proxy.port, 20)) == {"s1", "s2"}
