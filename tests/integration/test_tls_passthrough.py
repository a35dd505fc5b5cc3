"""TLS on tcp listeners.

Passed through unterminated, routed by the ClientHello's server name (nginx's ssl_preread,
HAProxy's req.ssl_sni), to two real TLS servers (openssl s_server) each with its own certificate:
the client sees the certificate of the server its name chose, and a request goes end to end
through curl. And terminated (nginx's stream ssl): a TLS client's bytes reach plain TCP echo
servers, chosen by the name the handshake agreed."""

import socket
import ssl
import subprocess
import time

import pytest

from events import metric_values, parse_samples, scrape
from harness import HOST, Process, accepts_connections, free_port, server_entry, wait_until
from tls_pki import Pki, served_subject


class TlsServer(Process):
    """`openssl s_server -www` with one certificate: answers each request with a status page."""

    def __init__(self, name, cert, key, log_dir):
        self.port = free_port()
        super().__init__(["openssl", "s_server", "-accept", f"{HOST}:{self.port}", "-cert",
                          str(cert), "-key", str(key), "-www", "-quiet"], log_dir,
                         f"s_server-{name}")
        wait_until(lambda: accepts_connections(self.port), 10, f"s_server {name}")


@pytest.fixture
def tls_servers(tmp_path):
    pki = Pki(tmp_path / "pki")
    servers = {}
    for name in ("a", "b"):
        cert, key = pki.leaf(name, [f"{name}.test", f"*.{name}.test"])
        servers[name] = TlsServer(name, cert, key, tmp_path)
    yield pki, servers
    for server in servers.values():
        server.stop()


def passthrough_config(servers, routes):
    port = free_port()
    return port, {
        "workers": 2,
        "listeners": [{"name": "tls-in", "listen": f"{HOST}:{port}", "mode": "tcp",
                       "routes": routes}],
        "clusters": {name: {"servers": [{"host": HOST, "port": server.port}]}
                     for name, server in servers.items()},
    }


def test_each_server_name_reaches_its_own_tls_server(ballast, tls_servers):
    pki, servers = tls_servers
    port, config = passthrough_config(servers, [
        {"sni": "a.test", "cluster": "a"},
        {"sni": "*.b.test", "cluster": "b"},
        {"sni": "b.test", "cluster": "b"},
    ])
    ballast.start(config, port)
    assert "CN = a.test" in served_subject(port, "-servername", "a.test")
    assert "CN = b.test" in served_subject(port, "-servername", "b.test")
    assert "CN = b.test" in served_subject(port, "-servername", "api.b.test")
    # End to end: curl verifies the server's certificate against the test CA, through ballast.
    for name in ("a.test", "www.b.test"):
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", str(pki.ca),
             "--resolve", f"{name}:{port}:{HOST}", f"https://{name}:{port}/"],
            capture_output=True, timeout=20)
        assert result.returncode == 0, result.stderr
        assert b"s_server" in result.stdout, result.stdout[:200]


def test_a_name_no_route_takes_and_plain_bytes_are_closed(ballast, tls_servers):
    _, servers = tls_servers
    port, config = passthrough_config(servers, [{"sni": "a.test", "cluster": "a"}])
    proxy = ballast.start(config, port)
    assert served_subject(port, "-servername", "other.test") is None
    assert served_subject(port, "-noservername") is None
    result = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://{HOST}:{port}/"],
                            capture_output=True, timeout=10)
    assert result.returncode != 0  # closed without an answer
    wait_until(lambda: "no route for this server name" in proxy.output()
               and "not TLS" in proxy.output(), 5, "the refusals logged")


def test_a_clienthello_trickled_past_client_header_is_closed(ballast, tls_servers):
    _, servers = tls_servers
    port, config = passthrough_config(servers, [{"sni": "a.test", "cluster": "a"}])
    config["timeouts"] = {"client_header": "1s"}
    proxy = ballast.start(config, port)
    # A record and a ClientHello header announcing 512 and 508 bytes, then the client random one
    # byte every 100 ms: each read finds progress, but the whole hello is due within
    # client_header of the connection's start.
    trickler = socket.create_connection((HOST, port), timeout=10)
    trickler.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]))
    started = time.monotonic()
    closed_after = None
    try:
        while time.monotonic() - started < 5:
            time.sleep(0.1)
            trickler.sendall(b"\x00")
    except OSError:
        closed_after = time.monotonic() - started
    finally:
        trickler.close()
    assert closed_after is not None and 0.9 < closed_after < 2.5, closed_after
    assert "no ClientHello in time" in proxy.output()
    assert "CN = a.test" in served_subject(port, "-servername", "a.test")  # others still served


def test_a_route_without_sni_takes_the_rest(ballast, tls_servers):
    _, servers = tls_servers
    port, config = passthrough_config(servers, [{"sni": "a.test", "cluster": "a"},
                                                {"cluster": "b"}])
    ballast.start(config, port)
    assert "CN = a.test" in served_subject(port, "-servername", "a.test")
    assert "CN = b.test" in served_subject(port, "-servername", "unknown.test")
    assert "CN = b.test" in served_subject(port, "-noservername")


def terminated_config(pki, backends, routes):
    port = free_port()
    cert, key = pki.leaf("edge", ["a.test", "b.test"])
    return port, {
        "workers": 1,
        "listeners": [{"name": "tls-tcp", "listen": f"{HOST}:{port}", "mode": "tcp",
                       "tls": {"certificates": [{"cert": str(cert), "key": str(key)}]},
                       "routes": routes}],
        "clusters": {backend.name: {"servers": [server_entry(backend)]} for backend in backends},
    }


def echo_through_tls(port, ca, server_name, payload):
    """What an echo server behind ballast sends back for `payload` over TLS."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            assert tls.selected_alpn_protocol() is None  # a tcp listener speaks no ALPN unasked
            tls.sendall(payload)
            received = b""
            while len(received) < len(payload):
                chunk = tls.recv(65536)
                assert chunk, f"closed after {len(received)} bytes"
                received += chunk
    return received


def test_tls_terminated_in_tcp_mode_reaches_plain_servers_by_the_agreed_name(ballast, backends,
                                                                              tmp_path):
    pki = Pki(tmp_path / "pki")
    echo_a = backends.start("ea", args=["--echo"])
    echo_b = backends.start("eb", args=["--echo"])
    port, config = terminated_config(pki, [echo_a, echo_b], [{"sni": "a.test", "cluster": "ea"},
                                                             {"cluster": "eb"}])
    ballast.start(config, port)
    payload = bytes(range(256)) * 400
    assert echo_through_tls(port, pki.ca, "a.test", payload) == payload
    assert echo_through_tls(port, pki.ca, "b.test", b"to b") == b"to b"
    samples = parse_samples(scrape(config))
    assert sum(metric_values(samples, "ballast_tls_handshakes_total", listener="tls-tcp")) == 2
    # Plain bytes to the TLS port: a handshake error, counted; the echo server never sees them.
    with socket.create_connection((HOST, port), timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert plain.recv(100) == b""
    wait_until(lambda: metric_values(parse_samples(scrape(config)),
                                     "ballast_tls_handshake_errors_total", listener="tls-tcp",
                                     kind="not_tls") == [1.0], 5, "the error counted")
