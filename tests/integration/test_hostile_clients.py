"""What a hostile or careless client tries on an HTTP listener, and what it gets: deadlines
instead of idle timers, requests that are never replayed once a server may have acted on them,
one reading of the request target for routing and forwarding, forwarding headers a client cannot
forge, and response heads up to the parser's limit.

Each test states the shape it defends against; every wait is a bounded poll or socket timeout.
"""

import re
import select
import socket
import time

import pytest

from events import log_events, metric, metric_sum, parse_samples, scrape
from harness import HOST, HttpConnection, build_request, free_port, get, header_values
from harness import server_entry, wait_until


def started(ballast, backends, count=1, **load_balancer):
    servers = backends.start_many(count)
    config = ballast.short_config(servers, **load_balancer)
    return ballast.start(config, config_port(config)), config, servers


def config_port(config):
    return int(config["load_balancer"]["listen"].rsplit(":", 1)[1])


def closed_within(sock, timeout_s):
    """Reads until the peer closes; the bytes it sent first. Fails if it stays open."""
    sock.settimeout(timeout_s)
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            break
        if not data:
            return received
        received += data
    raise AssertionError(f"still open after {timeout_s}s; got {received[:200]!r}")


def failures(config):
    return metric_sum(parse_samples(scrape(config)), "loadbalancer_upstream_failures_total")


# --- Deadlines, not idle timers ------------------------------------------------------------------


def test_a_head_trickled_a_byte_at_a_time_meets_the_header_deadline(ballast, backends):
    proxy, _, _ = started(ballast, backends, timeouts={"client_header": "1s"})
    request = build_request("GET", "/", [("X-Pad", "p" * 200)])
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        started_at = time.monotonic()
        for byte in request:  # one byte every 0.1 s: each read would re-arm an idle timer
            sock.send(bytes([byte]))
            if select.select([sock], [], [], 0.1)[0] or time.monotonic() - started_at > 4:
                break  # an answer, or a close
        answer = closed_within(sock, 3)
        elapsed = time.monotonic() - started_at
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert elapsed < 2.5


def test_a_connection_that_sends_nothing_is_closed_by_the_header_deadline(ballast, backends):
    proxy, _, _ = started(ballast, backends, timeouts={"client_header": "1s", "keepalive": "30s"})
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        started_at = time.monotonic()
        assert closed_within(sock, 3) == b""
        assert time.monotonic() - started_at < 2.5


def test_an_idle_keep_alive_connection_is_closed_after_keepalive(ballast, backends):
    proxy, _, _ = started(ballast, backends, timeouts={"client_header": "30s", "keepalive": "1s"})
    with HttpConnection(proxy.port) as connection:
        assert connection.request("GET", "/").status == 200
        started_at = time.monotonic()
        assert connection.closed_by_peer(timeout_s=3)
        assert 0.8 < time.monotonic() - started_at < 2.5


def test_a_stalled_request_body_gets_408_and_no_server_is_blamed(ballast, backends):
    proxy, config, _ = started(
        ballast, backends, timeouts={"client_body": "1s", "server": "1s"},
        outlier_detection={"consecutive_failures": 1},
    )
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        sock.sendall(build_request("POST", "/upload", [("Content-Length", "1000")]) + b"x" * 10)
        answer = closed_within(sock, 4)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert failures(config) == 0
    assert get(proxy.port, "/").status == 200


def test_a_client_that_stops_reading_is_closed_on_its_own_timer(ballast, backends):
    proxy, config, _ = started(
        ballast, backends, timeouts={"client_send": "1s", "server": "1s"},
        outlier_detection={"consecutive_failures": 1},
    )
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(build_request("GET", "/bytes/200000000"))
        time.sleep(3)  # never read: both buffers fill, and the server's timer would fire too
        sock.settimeout(5)
        total = 0
        try:
            while data := sock.recv(1 << 20):
                total += len(data)
        except ConnectionResetError:
            pass
    assert total < 200_000_000  # cut off, not served whole
    assert failures(config) == 0, "the slow client was blamed on the server"
    assert not log_events(proxy, "upstream attempt failed")
    assert not log_events(proxy, "server stalled mid-response")
    assert get(proxy.port, "/").status == 200


# --- Retries that are safe -----------------------------------------------------------------------


def requests_received(backend):
    return backend.stats()["requests_received"]


def test_a_post_on_a_stale_pooled_connection_is_not_sent_again(ballast, backends):
    proxy, _, (server,) = started(ballast, backends)
    with HttpConnection(proxy.port) as connection:
        assert connection.request("GET", "/").status == 200  # leaves a pooled connection
        before = requests_received(server)
        # /reset: the server reads the request (and may act on it), then resets the connection.
        assert connection.request("POST", "/reset").status == 502
    assert requests_received(server) - before == 1


@pytest.mark.parametrize(
    "method,headers,non_idempotent,sends",
    [
        ("POST", [], False, 1),
        ("PATCH", [], False, 1),
        ("PURGE", [], False, 1),  # a method ballast does not know is not idempotent
        ("POST", [("Idempotency-Key", "k1")], False, 2),
        ("POST", [], True, 2),
        ("GET", [], False, 2),
        ("DELETE", [], False, 2),
    ],
)
def test_a_request_is_retried_only_if_it_may_be_sent_again(
    ballast, backends, method, headers, non_idempotent, sends
):
    proxy, _, servers = started(
        ballast,
        backends,
        count=2,
        retry={"attempts": 2, "on": ["connect_failure", "5xx"], "non_idempotent": non_idempotent},
    )
    before = sum(requests_received(s) for s in servers)
    response = get(proxy.port, "/reset", headers=headers, method=method)
    assert response.status == 502
    assert sum(requests_received(s) for s in servers) - before == sends


def test_a_connect_failure_is_retried_for_every_method(ballast, backends):
    server = backends.start("s1")
    config = ballast.short_config(
        [free_port(), server], retry={"attempts": 2, "on": ["connect_failure"]}
    )
    proxy = ballast.start(config, config_port(config))
    for _ in range(4):
        assert get(proxy.port, "/upload", method="POST", body=b"data").status == 200


# --- The request target --------------------------------------------------------------------------


def routed(ballast, backends):
    public, internal, admin = (backends.start(name) for name in ("public", "internal", "admin"))
    config = {
        "workers": 1,
        "listeners": [
            {
                "name": "web",
                "listen": f"{HOST}:{free_port()}",
                "routes": [
                    {"host": "internal", "cluster": "internal"},
                    {"path_prefix": "/api", "cluster": "public"},
                    {"path_prefix": "/on/admin", "cluster": "admin"},
                    {"cluster": "public"},
                ],
            }
        ],
        "clusters": {
            name: {"servers": [server_entry(backend)]}
            for name, backend in (("public", public), ("internal", internal), ("admin", admin))
        },
    }
    port = int(config["listeners"][0]["listen"].rsplit(":", 1)[1])
    return ballast.start(config, port)


def echoed(port, target, host="public.example"):
    with HttpConnection(port) as connection:
        connection.send(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        response = connection.read_response()
    return response


def test_an_absolute_target_is_routed_and_forwarded_by_its_authority(ballast, backends):
    proxy = routed(ballast, backends)
    response = echoed(proxy.port, "http://internal/echo")
    assert response.status == 200
    document = response.json()
    assert document["backend"] == "internal"
    assert document["target"] == "/echo"
    assert header_values([tuple(h) for h in document["headers"]], "Host") == ["internal"]


@pytest.mark.parametrize(
    "target",
    ["/api/../on/admin/echo", "/api/%2e%2e/on/admin/echo", "//on/admin/echo", "/api/./../on//admin/echo"],
)
def test_routing_and_forwarding_see_the_same_normalised_path(ballast, backends, target):
    proxy = routed(ballast, backends)
    response = echoed(proxy.port, target)
    assert response.status == 200
    assert response.json()["backend"] == "admin"
    assert response.json()["target"] == "/on/admin/echo"


def test_connect_is_refused(ballast, backends):
    proxy, _, (server,) = started(ballast, backends)
    with HttpConnection(proxy.port) as connection:
        connection.send(b"CONNECT internal:22 HTTP/1.1\r\nHost: internal:22\r\n\r\n")
        assert connection.read_response().status == 405
    assert requests_received(server) == 0


@pytest.mark.parametrize("target", ["/a#fragment", "/a%zz", "ftp://x/", "/a%00"])
def test_targets_no_server_should_see_are_refused(ballast, backends, target):
    proxy, _, _ = started(ballast, backends)
    assert echoed(proxy.port, target).status == 400


# --- Forwarding headers --------------------------------------------------------------------------


def forwarded_to_server(proxy, headers):
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/echo", headers, host="app.example")
    assert response.status == 200
    return [tuple(h) for h in response.json()["headers"]]


def with_forwarding(ballast, backends, forwarding):
    server = backends.start("s1")
    config = ballast.short_config([server])
    config["forwarding"] = forwarding
    return ballast.start(config, config_port(config))


SPOOFED = [
    ("X-Forwarded-For", "203.0.113.9"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "bank.example"),
    ("X-Forwarded-Port", "443"),
    ("Forwarded", "for=203.0.113.9"),
    ("X-Request-Id", "chosen-by-the-client"),
]


def test_an_untrusted_client_cannot_choose_what_the_server_believes(ballast, backends):
    proxy = with_forwarding(ballast, backends, {"trusted_proxies": ["10.0.0.0/8"], "forwarded": True})
    headers = forwarded_to_server(proxy, SPOOFED)
    assert header_values(headers, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(headers, "X-Forwarded-Proto") == ["http"]
    assert header_values(headers, "X-Forwarded-Host") == ["app.example"]
    assert header_values(headers, "X-Forwarded-Port") == [str(proxy.port)]
    assert header_values(headers, "Forwarded") == ['for=127.0.0.1;proto=http;host="app.example"']
    (request_id,) = header_values(headers, "X-Request-Id")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_a_trusted_proxy_s_values_are_kept_and_extended(ballast, backends):
    proxy = with_forwarding(ballast, backends, {"trusted_proxies": ["127.0.0.0/8"], "forwarded": True})
    headers = forwarded_to_server(proxy, SPOOFED)
    assert header_values(headers, "X-Forwarded-For") == ["203.0.113.9, 127.0.0.1"]
    assert header_values(headers, "X-Forwarded-Proto") == ["https"]
    assert header_values(headers, "X-Forwarded-Host") == ["bank.example"]
    assert header_values(headers, "X-Forwarded-Port") == ["443"]
    assert header_values(headers, "Forwarded") == [
        'for=203.0.113.9, for=127.0.0.1;proto=http;host="app.example"'
    ]
    assert header_values(headers, "X-Request-Id") == ["chosen-by-the-client"]
    assert header_values(headers, "Via") == ["1.1 ballast"]


def test_each_request_gets_its_own_id_in_the_request_and_the_access_log(ballast, backends):
    proxy = with_forwarding(ballast, backends, {})
    ids = [header_values(forwarded_to_server(proxy, []), "X-Request-Id")[0] for _ in range(3)]
    assert len(set(ids)) == 3
    logged = wait_until(
        lambda: [line for line in log_events(proxy) if line.get("type") == "access"][-3:]
        if len([line for line in log_events(proxy) if line.get("type") == "access"]) >= 3
        else None,
        5,
        "three access lines",
    )
    assert [line["request_id"] for line in logged] == ids


# --- Large response heads ------------------------------------------------------------------------


def test_a_large_response_head_passes_and_an_oversized_one_is_not_a_server_failure(
    ballast, backends
):
    proxy, config, _ = started(
        ballast,
        backends,
        outlier_detection={"consecutive_failures": 1, "max_ejection_percent": 100},
    )
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/head-bytes/40000")
        assert response.status == 200
        assert sum(len(v) for n, v in response.headers if n.startswith("X-Fill")) >= 39000
        assert connection.request("GET", "/head-bytes/9000").status == 200
    assert get(proxy.port, "/head-bytes/70000").status == 502
    samples = parse_samples(scrape(config))
    assert metric(samples, "loadbalancer_oversized_responses_total", cluster="default") == 1
    assert metric_sum(samples, "loadbalancer_upstream_failures_total") == 0
    assert get(proxy.port, "/").status == 200  # not ejected
