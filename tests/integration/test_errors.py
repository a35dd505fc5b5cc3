"""What a client sees when servers fail, and how retries route around them."""

import time

import pytest

from harness import HttpConnection, ProtocolError, build_request, free_port, get, in_flight
from harness import server_entry, served_by, wait_until


def test_refused_connection_gives_502(ballast):
    proxy = ballast.start_short([free_port()])  # nobody listens there
    assert get(proxy.port, "/").status == 502


def test_reset_before_any_response_gives_502(backends, ballast):
    proxy = ballast.start_short([backends.start("s1")])
    assert get(proxy.port, "/reset").status == 502
    assert get(proxy.port, "/").status == 200


@pytest.mark.parametrize("target", ["/close-mid", "/close-mid?reset"], ids=["fin", "rst"])
def test_server_cut_mid_body_cuts_the_client_and_the_proxy_keeps_serving(backends, ballast, target):
    proxy = ballast.start_short([backends.start("s1")])
    with HttpConnection(proxy.port, timeout_s=3) as connection:
        connection.send(build_request("GET", target))
        response = connection.read_head()
        if response.status != 502:  # the proxy had already passed the head on
            assert response.status == 200
            # The body must end short and the connection close: never a hang, never a
            # response that looks complete.
            with pytest.raises((ProtocolError, ConnectionError)):
                connection.read_body(response)
    assert get(proxy.port, "/").status == 200


def test_no_healthy_server_gives_503(backends, ballast):
    server = backends.start("s1")
    check = {"path": "/status/503", "interval": "200ms", "timeout": "100ms"}
    check.update(healthy_threshold=1, unhealthy_threshold=1)
    proxy = ballast.start_short([server], health_check=check)
    wait_until(lambda: get(proxy.port, "/").status == 503, 5, "a 503 once the check fails")
    assert [get(proxy.port, "/").status for _ in range(5)] == [503] * 5


def test_server_becomes_eligible_once_its_health_check_passes(backends, ballast):
    server = backends.start("s1")
    check = {"path": "/status/200", "interval": "200ms", "timeout": "100ms"}
    check.update(healthy_threshold=1, unhealthy_threshold=1)
    proxy = ballast.start_short([server], health_check=check)
    wait_until(lambda: get(proxy.port, "/").status == 200, 5, "a 200 after the health check")


def test_server_at_its_connection_limit_gives_503(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server_entry(server, max_connections=1)])
    with HttpConnection(proxy.port) as slow:
        slow.send(build_request("GET", "/delay/1500"))
        wait_until(lambda: in_flight(server) == 1, 5, "the slow request at the server")
        assert get(proxy.port, "/").status == 503
        assert slow.read_response().status == 200
    assert get(proxy.port, "/").status == 200


@pytest.mark.parametrize("mode", ["hang", "accept_only"])
def test_server_timeout_gives_504(backends, ballast, mode):
    if mode == "hang":
        server, target = backends.start("s1"), "/hang"
    else:
        server, target = backends.start("s1", args=["--accept-only"]), "/"
    timeouts = {"connect": "1s", "client": "10s", "server": "500ms"}
    proxy = ballast.start_short([server], timeouts=timeouts)
    started = time.monotonic()
    assert get(proxy.port, target).status == 504
    assert 0.4 <= time.monotonic() - started < 3


def test_retry_after_refused_connection_goes_to_another_server(backends, ballast):
    s2 = backends.start("s2")
    retry = {"attempts": 2, "on": ["connect_failure"]}
    proxy = ballast.start_short([free_port(), s2], retry=retry)
    assert served_by(proxy.port, 10) == ["s2"] * 10


def test_post_is_retried_after_a_refused_connection(backends, ballast):
    s2 = backends.start("s2")
    retry = {"attempts": 2, "on": ["connect_failure"]}
    proxy = ballast.start_short([free_port(), s2], retry=retry)
    with HttpConnection(proxy.port) as connection:
        for _ in range(6):
            response = connection.request("POST", "/upload", body=b"payload")
            assert (response.status, response.backend) == (200, "s2")
            assert response.json()["length"] == 7


def test_get_is_retried_on_5xx_at_another_server(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy = ballast.start_short([s1, s2], retry={"attempts": 2, "on": ["5xx"]})
    assert served_by(proxy.port, 10, target="/on/s1/status/503") == ["s2"] * 10
    assert s1.stats()["requests_completed"] >= 4  # s1 was tried (and failed) about half the time


def test_post_is_not_retried_on_5xx(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy = ballast.start_short([s1, s2], retry={"attempts": 2, "on": ["5xx"]})
    outcomes = []
    with HttpConnection(proxy.port) as connection:
        for _ in range(10):
            response = connection.request("POST", "/on/s1/status/503", body=b"once")
            outcomes.append((response.status, response.backend))
    assert set(outcomes) == {(503, "s1"), (200, "s2")}, outcomes
    assert s1.stats()["requests_completed"] == outcomes.count((503, "s1"))


def test_get_is_retried_on_timeout_at_another_server(backends, ballast):
    s1, s2 = backends.start_many(2)
    retry = {"attempts": 2, "on": ["timeout"], "per_try_timeout": "300ms"}
    proxy = ballast.start_short([s1, s2], retry=retry)
    for _ in range(4):
        started = time.monotonic()
        response = get(proxy.port, "/on/s1/hang")
        assert (response.status, response.backend) == (200, "s2")
        assert time.monotonic() - started < 2


def test_post_is_not_retried_after_a_reset(backends, ballast):
    s1, s2 = backends.start_many(2)
    retry = {"attempts": 2, "on": ["connect_failure", "timeout", "5xx"]}
    proxy = ballast.start_short([s1, s2], retry=retry)
    statuses = [get(proxy.port, "/on/s1/reset", method="POST", body=b"x").status for _ in range(6)]
    assert statuses.count(502) == 3 and statuses.count(200) == 3, statuses


def test_a_retry_with_no_server_left_gives_back_its_retry_budget(backends, ballast):
    # One server is busy at its limit and the other fails: the retry finds no server. The retry
    # it counted must end too, or each such request shrinks the retry budget for good.
    s1, s2 = backends.start_many(2)
    retry = {"attempts": 2, "on": ["5xx"], "budget_percent": 0, "budget_min_concurrent": 1}
    servers = [server_entry(s, max_connections=1) for s in (s1, s2)]
    proxy = ballast.start_short(servers, retry=retry)
    with HttpConnection(proxy.port) as slow:
        slow.send(build_request("GET", "/delay/1000"))
        wait_until(lambda: in_flight(s1) + in_flight(s2) == 1, 5, "the slow request at a server")
        for _ in range(3):  # the retry finds no server: the client gets the failure's answer
            assert get(proxy.port, "/status/503").status == 502
        assert slow.read_response().status == 200
    assert served_by(proxy.port, 10, target="/on/s1/status/503") == ["s2"] * 10


def test_connect_failure_retries_are_outside_the_retry_budget(backends, ballast):
    # A budget that allows no retry at all still lets a refused connection be retried: it did no
    # work anywhere. Least connections keeps choosing the dead server (it never has a request in
    # flight), so without this every request would answer 502.
    live = backends.start("s1")
    retry = {"attempts": 2, "on": ["connect_failure", "5xx"], "budget_percent": 0,
             "budget_min_concurrent": 0}
    proxy = ballast.start_short([free_port(), live], algorithm="least_connections", retry=retry)
    assert [get(proxy.port, "/").status for _ in range(20)] == [200] * 20
    # A 5xx retry would add load to a struggling fleet: the budget still holds it back.
    assert get(proxy.port, "/status/503").status == 503


def test_a_retry_with_no_server_left_answers_as_the_failure_did(backends, ballast):
    # The only server timed out and the retry has nowhere to go: that is a 504, not "no server".
    server = backends.start("s1")
    retry = {"attempts": 2, "on": ["timeout"]}
    proxy = ballast.start_short([server], retry=retry, timeouts={"server": "200ms"})
    assert get(proxy.port, "/delay/1000").status == 504
