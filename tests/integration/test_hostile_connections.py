"""More connections than ballast should hold: a flood past the process's limit, one client
holding many, and a process out of descriptors. Above a limit ballast stops accepting (the
kernel's backlog holds the rest) and serves those it has; it never spins, and its descriptors
come back when the flood goes."""

import resource
import socket
import time

from events import log_events, metric, parse_samples, scrape
from harness import HOST, HttpConnection, build_request, fd_count, get, wait_until


def started(ballast, backends, top=None, **load_balancer):
    server = backends.start("s1")
    config = ballast.short_config([server], **load_balancer)
    config.update(top or {})
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    return ballast.start(config, port), config


def open_many(port, count):
    """`count` connections, each connected (or queued in the kernel's backlog); those refused
    outright are left out."""
    opened = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex((HOST, port)) in (0, 115):  # 115: EINPROGRESS
            opened.append(sock)
        else:
            sock.close()
    return opened


def test_a_flood_past_the_limit_waits_and_those_within_are_served(ballast, backends):
    limit = 50
    proxy, config = started(ballast, backends, top={"max_connections": limit})
    baseline = fd_count(proxy.pid)
    held = [HttpConnection(proxy.port) for _ in range(limit)]
    for connection in held:
        assert connection.request("GET", "/").status == 200
    flood = open_many(proxy.port, 1000)
    time.sleep(0.5)
    # Ballast holds the limit's connections (and their pooled server connections), not the flood.
    assert fd_count(proxy.pid) < baseline + 2 * limit + 20
    for connection in held[:10]:
        assert connection.request("GET", "/").status == 200  # within the limit: served
    samples = parse_samples(scrape(config))
    assert metric(samples, "ballast_client_connections") == limit
    assert metric(samples, "ballast_accept_pauses_total", reason="limit") >= 1
    # Room frees: connections waiting in the backlog are taken and served.
    for connection in held[:5]:
        connection.close()
    for sock in flood:
        sock.close()
    for connection in held[5:]:
        connection.close()
    assert get(proxy.port, "/").status == 200
    wait_until(lambda: fd_count(proxy.pid) <= baseline + 10, 10, "descriptors back to baseline")


def test_one_client_address_cannot_take_every_connection(ballast, backends):
    proxy, config = started(ballast, backends, top={"max_connections_per_client": 5})
    held = [HttpConnection(proxy.port) for _ in range(5)]
    for connection in held:
        assert connection.request("GET", "/").status == 200
    with socket.create_connection((HOST, proxy.port), timeout=5) as extra:
        extra.settimeout(5)
        try:
            extra.sendall(build_request("GET", "/"))
            assert extra.recv(100) == b""  # closed at once, unanswered
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert metric(parse_samples(scrape(config)), "ballast_client_connections_refused_total") == 1
    held[0].close()
    wait_until(lambda: get(proxy.port, "/").status == 200, 5, "room for the client again")
    for connection in held[1:]:
        connection.close()


def test_out_of_descriptors_backs_off_logs_once_a_second_and_recovers(ballast, backends, tmp_path):
    server = backends.start("s1")
    config = ballast.short_config([server], **{"timeouts": {"client_header": "30s"}})
    config["max_connections"] = 100_000  # past the descriptors: accept itself must fail
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (96, hard))  # inherited by ballast
    try:
        proxy = ballast.start(config, port)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    flood = open_many(proxy.port, 300)
    time.sleep(2.5)
    lines = log_events(proxy, "accept failed: pausing accepts")
    assert 1 <= len(lines) <= 4, lines  # once a second, with a count, not once per arrival
    assert int(lines[0]["failures"]) >= 1
    for sock in flood:
        sock.close()
    wait_until(lambda: get(proxy.port, "/").status == 200, 10, "ballast to serve again")
    samples = parse_samples(scrape(config))
    assert metric(samples, "ballast_accept_pauses_total", reason="descriptors") >= 1
