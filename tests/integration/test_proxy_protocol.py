"""The PROXY protocol (docs/config.md: listeners' proxy_protocol, clusters' send_proxy_protocol)
with HAProxy as the real peer on each side: HAProxy in front sends the header (send-proxy,
send-proxy-v2) and ballast serves the client it names; ballast sends it to HAProxy behind
(accept-proxy), which sees the client's own address. Clients connect from distinct loopback
addresses (127.0.0.5, 127.0.0.6) so that whose address arrives where is unambiguous."""

import socket
import subprocess
import time

import pytest

from events import metric, parse_samples, scrape, wait_log
from harness import (HOST, HttpConnection, Process, accepts_connections, ballast_binary, free_port,
                     listen_port, wait_until, write_config)

CLIENT_A = "127.0.0.5"
CLIENT_B = "127.0.0.6"

def start_haproxy(tmp_path, name, body):
    """HAProxy on `body` (its frontends and backends), once every bound port accepts."""
    path = tmp_path / f"{name}.cfg"
    path.write_text("global\n  nbthread 1\ndefaults\n  timeout connect 5s\n"
                    "  timeout client 10s\n  timeout server 10s\n" + body)
    process = Process(["/usr/sbin/haproxy", "-f", str(path)], tmp_path, name)
    for line in body.splitlines():
        if line.strip().startswith("bind "):
            port = int(line.split()[1].rsplit(":", 1)[1])
            wait_until(lambda: not process.alive() or accepts_connections(port), 10, name)
    assert process.alive(), process.logs()
    return process


def echo(port, source, target="/echo", connection=None):
    """The backend's /echo of one request sent from `source`: {header name (lower): value}."""
    own = connection is None
    connection = connection or HttpConnection(port, source=source)
    try:
        response = connection.request("GET", target)
        assert response.status == 200, response
        return {name.lower(): value for name, value in response.json()["headers"]}
    finally:
        if own:
            connection.close()


def connections_to(port):
    """The local ports of the established TCP connections to 127.0.0.1:`port`."""
    lines = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    return {line.split()[-2].rsplit(":", 1)[1] for line in lines if line.strip()}


def haproxy_in_front(tmp_path, proxy, send_proxy):
    """HAProxy in tcp mode in front of `proxy`, sending the header (`send_proxy`: send-proxy or
    send-proxy-v2); the port clients connect to."""
    front = free_port()
    start_haproxy(tmp_path, "front", f"""frontend front
  mode tcp
  bind {HOST}:{front}
  default_backend to_ballast
backend to_ballast
  mode tcp
  server ballast {HOST}:{proxy.port} {send_proxy}
""")
    return front


def proxied_listener(ballast, backend, **top_level):
    """ballast whose listener takes PROXY protocol headers from 127.0.0.1 (HAProxy in front)."""
    config = ballast.short_config([backend], proxy_protocol={"trusted": [HOST]})
    config.update(top_level)
    proxy = ballast.start(config, listen_port(config))
    proxy.config = config
    return proxy


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
def test_haproxy_in_front_names_the_client(ballast, backends, tmp_path, send_proxy):
    backend = backends.start("web")
    proxy = proxied_listener(ballast, backend)
    front = haproxy_in_front(tmp_path, proxy, send_proxy)
    for client in (CLIENT_A, CLIENT_B):
        seen = echo(front, client)
        assert seen["x-forwarded-for"] == client, seen
    # Keep-alive: the header came once, at the connection's start; every request is the client's.
    with HttpConnection(front, source=CLIENT_A) as connection:
        for _ in range(3):
            assert echo(front, CLIENT_A, connection=connection)["x-forwarded-for"] == CLIENT_A


def test_the_per_client_limit_counts_the_client_the_header_names(ballast, backends, tmp_path):
    backend = backends.start("web")
    proxy = proxied_listener(ballast, backend, max_connections_per_client=1)
    front = haproxy_in_front(tmp_path, proxy, "send-proxy-v2")
    # Every connection comes from HAProxy (127.0.0.1), but each client has its own count: A's
    # second connection is over its limit, B's first is not.
    with HttpConnection(front, source=CLIENT_A) as first:
        assert echo(front, CLIENT_A, connection=first)["x-forwarded-for"] == CLIENT_A
        with HttpConnection(front, source=CLIENT_A) as second:
            second.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            assert second.closed_by_peer(timeout_s=3)
        assert echo(front, CLIENT_B)["x-forwarded-for"] == CLIENT_B


def test_only_trusted_peers_send_a_header_and_they_must(ballast, backends):
    backend = backends.start("web")
    proxy = proxied_listener(ballast, backend, timeouts={"client_header": "1s"})
    # 127.0.0.5 is not trusted: its bytes are its own, and its own address is the client's.
    assert echo(proxy.port, CLIENT_A)["x-forwarded-for"] == CLIENT_A
    # From 127.0.0.1 (trusted) a request without the header is not guessed at: closed.
    with HttpConnection(proxy.port, source=HOST) as connection:
        connection.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.closed_by_peer(timeout_s=3)
    wait_log(proxy, "refused proxied connection", 3, reason="not a PROXY protocol header")
    # A header trickled a byte at a time is read whole, and the request after it served.
    with HttpConnection(proxy.port, source=HOST) as connection:
        for byte in b"PROXY TCP4 192.0.2.9 127.0.0.1 40000 80\r\n":
            connection.send(bytes([byte]))
            time.sleep(0.002)
        assert echo(proxy.port, None, connection=connection)["x-forwarded-for"] == "192.0.2.9"
    # Nothing sent: closed at client_header (1 s), not held.
    with HttpConnection(proxy.port, source=HOST) as connection:
        began = time.monotonic()
        assert connection.closed_by_peer(timeout_s=4)
        assert time.monotonic() - began < 3
    wait_log(proxy, "refused proxied connection", 3, reason="no PROXY protocol header in time")
    samples = parse_samples(scrape(proxy.config))
    assert metric(samples, "ballast_proxy_protocol_headers_total", result="taken") == 1
    assert metric(samples, "ballast_proxy_protocol_headers_total", result="refused") == 2


def test_a_tcp_listener_takes_the_header_too(ballast, backends, tmp_path):
    echo_server = backends.start("echo", args=["--echo"])
    port = free_port()
    config = ballast.short_config([echo_server], mode="tcp", proxy_protocol={"trusted": [HOST]},
                                  send_proxy_protocol="v1")
    config["load_balancer"]["listen"] = f"{HOST}:{port}"
    ballast.start(config, port)
    with socket.create_connection((HOST, port), timeout=5, source_address=(HOST, 0)) as sock:
        sock.sendall(b"PROXY TCP4 192.0.2.9 192.0.2.1 40000 443\r\nhello")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    # The echo server sends back what reached it: ballast's own header (v1: the client the first
    # header named, and the address it connected to on ballast), then "hello"; then its count.
    header = f"PROXY TCP4 192.0.2.9 {HOST} 40000 {port}\r\n".encode()
    reached = len(header) + len(b"hello")
    assert received == header + b"hello" + f"bye from echo after {reached} bytes\n".encode()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_haproxy_behind_sees_each_client_on_its_own_connections(ballast, backends, tmp_path,
                                                                version):
    backend = backends.start("web")
    behind, also_behind = free_port(), free_port()  # two servers, one HAProxy
    start_haproxy(tmp_path, "behind", f"""frontend behind
  mode http
  bind {HOST}:{behind} accept-proxy
  bind {HOST}:{also_behind} accept-proxy
  http-request set-header X-Haproxy-Src %[src]
  default_backend web
backend web
  mode http
  server web {HOST}:{backend.port}
""")
    proxy = ballast.start_short([behind, also_behind], send_proxy_protocol=version,
                                health_check={"interval": "200ms", "timeout": "200ms",
                                              "healthy_threshold": 1, "path": "/health"})
    # Health checks send a header naming nobody (LOCAL / UNKNOWN), which HAProxy accepts.
    wait_log(proxy, "health check changed", 5, count=2, to="healthy")
    # Two clients on keep-alive connections, their requests interleaved: each request reaches
    # HAProxy on a connection whose header names its own client, never the other's.
    # Each client keeps its own connection to HAProxy between its requests, and its requests go
    # to that connection's server (round robin would alternate): the connections open after the
    # first round are still there after the third.
    with HttpConnection(proxy.port, source=CLIENT_A) as a, \
            HttpConnection(proxy.port, source=CLIENT_B) as b:
        kept = None
        for _ in range(3):
            for connection, client in ((a, CLIENT_A), (a, CLIENT_A), (b, CLIENT_B), (b, CLIENT_B)):
                assert echo(proxy.port, client, connection=connection)["x-haproxy-src"] == client
            open_now = connections_to(behind) | connections_to(also_behind)
            kept = open_now if kept is None else kept & open_now
        assert len(kept) >= 2, kept
    # And a client on a fresh connection each time.
    assert echo(proxy.port, CLIENT_B)["x-haproxy-src"] == CLIENT_B


def test_send_proxy_protocol_is_for_http1_clusters(ballast, tmp_path):
    config = ballast.short_config([free_port()], protocol="h2c", send_proxy_protocol="v2")
    path = write_config(tmp_path / "bad.yaml", config)
    result = subprocess.run([ballast_binary(), "--check", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "send_proxy_protocol" in result.stderr and "HTTP/2 carries many" in result.stderr
