"""Cluster limits (Envoy's): max_requests, max_pending_requests and max_retries. Overflow is an
immediate 503 with Retry-After, or for retries no retry, never a queue that grows.

The limits live in the circuit_breaker block; its failure threshold is set out of reach here, so
only the limits act.
"""

from harness import InBackground, control, get, in_flight, timed_get, wait_until

UNTRIPPABLE = {"mode": "consecutive", "failure_threshold": 1000}


def concurrent_gets(port, count, target="/"):
    """`count` GETs at once, each on its own connection; [(response, seconds)] as they end."""
    requests = [InBackground(timed_get, port, target) for _ in range(count)]
    return sorted((r.result() for r in requests), key=lambda result: result[1])


def check_fast_503s(results):
    for response, seconds in results:
        assert (response.status, response.header("Retry-After")) == (503, "1"), response
        assert seconds < 0.5, f"the 503 took {seconds:.3f}s"


def test_requests_beyond_max_requests_get_an_immediate_503(backends, ballast):
    servers = backends.start_many(2)
    proxy = ballast.start_short(servers, circuit_breaker={**UNTRIPPABLE, "max_requests": 2})
    results = concurrent_gets(proxy.port, 5, "/delay/1000")
    check_fast_503s(results[:3])
    for response, seconds in results[3:]:
        assert response.status == 200 and seconds >= 0.9, (response, seconds)
    assert sum(s.stats()["requests_received"] for s in servers) == 2
    # The limit counts requests in flight, not requests made.
    assert [get(proxy.port, "/").status for _ in range(5)] == [200] * 5


def test_requests_beyond_max_pending_requests_get_an_immediate_503(backends, ballast):
    # Connects to this server stay pending (its accept queue is full) until the connect timeout.
    server = backends.start("s1", args=["--unaccepting"])
    breaker = {**UNTRIPPABLE, "max_pending_requests": 2}
    proxy = ballast.start_short([server], circuit_breaker=breaker, timeouts={"connect": "1s"})
    results = concurrent_gets(proxy.port, 5)
    check_fast_503s(results[:3])
    for response, seconds in results[3:]:
        assert response.status in (502, 504) and seconds >= 0.9, (response, seconds)


def test_retries_beyond_max_retries_are_not_made(backends, ballast):
    # Both servers fail every request after 600 ms, so three requests at once all want a retry
    # at about the same moment, and each retry stays in flight for 600 ms.
    servers = backends.start_many(2, args=["--control", "delay_ms=600&fail_percent=100"])
    retry = {"attempts": 2, "on": ["5xx"], "budget_percent": 100, "budget_min_concurrent": 8}
    breaker = {**UNTRIPPABLE, "max_retries": 1}
    proxy = ballast.start_short(servers, circuit_breaker=breaker, retry=retry)
    results = concurrent_gets(proxy.port, 3)
    # The failure's own answer comes back: the server's 500, from a server.
    assert [(r.status, r.backend is not None) for r, _ in results] == [(500, True)] * 3
    seconds = [round(s, 1) for _, s in results]
    assert results[1][1] < 1.0 and results[2][1] >= 1.1, f"one retry only, took {seconds}s"
    # Three first tries and the one retry the limit allowed.
    assert sum(s.stats()["requests_received"] for s in servers) == 4
    wait_until(lambda: sum(in_flight(s) for s in servers) == 0, 2, "the servers idle")
    # With no retry in flight, retries are allowed again: s2 still fails, s1 now serves.
    control(servers[0], delay_ms=0, fail_percent=0)
    failed_before = servers[1].stats()["requests_received"]
    assert [get(proxy.port, "/").status for _ in range(3)] == [200] * 3
    assert servers[1].stats()["requests_received"] > failed_before
