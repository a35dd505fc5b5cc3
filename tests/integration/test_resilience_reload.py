"""Resilience state across reloads and long connections: a reload keeps each server's verdict,
a connection of a retired generation follows the new one after its next response, and a TCP
connection does not hold its server's breaker probe for its whole life."""

import socket
import time

from events import address, wait_healthy, wait_log
from harness import (
    HOST,
    HttpConnection,
    RequestLoop,
    control,
    free_port,
    get,
    health_check,
    listen_port,
    server_entry,
)


def test_a_reload_that_changes_the_checks_keeps_every_verdict(backends, ballast):
    servers = backends.start_many(2)
    config = ballast.short_config(servers, health_check=health_check(interval="2s"))
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, servers)
    # Changed check and breaker settings and a changed weight: nothing is carried as it was,
    # yet healthy servers must stay in without waiting for a first check.
    config["load_balancer"]["health_check"] = health_check(interval="3s")
    config["load_balancer"]["circuit_breaker"] = {"failure_threshold": 7}
    config["load_balancer"]["servers"] = [server_entry(servers[0], weight=2), server_entry(servers[1])]
    with RequestLoop(proxy.port) as loop:
        loop.wait_served(["s1", "s2"])
        reloaded_at = time.monotonic()
        proxy.reload(config)
        wait_log(proxy, "configuration reloaded", 3)
        time.sleep(0.5)
    after = [status for started, status, _ in loop.results if started >= reloaded_at]
    assert len(after) >= 10
    assert set(after) == {200}, f"answers after the reload: {after}"


def test_a_keepalive_connection_of_a_retired_generation_closes_after_its_next_response(
    backends, ballast
):
    s1, s2, s3 = backends.start_many(3)
    config = ballast.short_config([s1, s2], health_check=health_check())
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, [s1, s2])
    with HttpConnection(proxy.port) as old:
        assert old.request("GET", "/").header("Connection") != "close"
        config["load_balancer"]["servers"] = [server_entry(s) for s in (s1, s2, s3)]
        proxy.reload(config)
        wait_healthy(proxy, [s3])
        response = old.request("GET", "/")
        assert response.status == 200
        assert response.header("Connection") == "close"
    control(s1, health=503)
    wait_log(proxy, "health check changed", 3, server=address(s1), to="unhealthy")
    assert "s1" not in {get(proxy.port, "/").backend for _ in range(12)}


def test_a_long_tcp_connection_does_not_hold_the_breakers_only_probe(backends, ballast):
    port = free_port()
    breaker = {
        "mode": "consecutive",
        "failure_threshold": 1,
        "timeout": "300ms",
        "half_open_requests": 1,
        "success_threshold": 1,
    }
    proxy = ballast.start_short([port], mode="tcp", circuit_breaker=breaker)
    with socket.create_connection((HOST, proxy.port), timeout=2) as refused:
        assert refused.recv(10) == b""  # nobody listens yet: the breaker opens
    wait_log(proxy, "circuit breaker changed", 3, to="open")
    backends.start("s1", port=port, args=["--echo"])
    time.sleep(0.4)  # past the breaker's timeout
    with socket.create_connection((HOST, proxy.port), timeout=2) as probe:
        probe.sendall(b"x")
        assert probe.recv(1) == b"x"  # the probe connected: the breaker closes now
        wait_log(proxy, "circuit breaker changed", 3, to="closed")
        for _ in range(5):
            with socket.create_connection((HOST, proxy.port), timeout=2) as other:
                other.sendall(b"y")
                assert other.recv(1) == b"y", "refused while another connection is open"
