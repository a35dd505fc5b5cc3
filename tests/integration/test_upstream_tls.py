"""TLS from ballast to its servers (a cluster's `upstream_tls:`), against a real nginx TLS server
with certificates made at test time by a test CA: the server's name (or IP address) verified, a
wrong one refused, the system store refusing the test CA, pooled connections reused, sessions
resumed on new ones, a client certificate presented, health checks over TLS, and a server that
never finishes its handshake retried elsewhere."""

import re
import shutil
import socket
import time

import pytest

from events import metric_values, parse_samples, scrape
from harness import (HOST, Process, accepts_connections, free_port, get, listen_port, server_entry,
                     wait_until)
from tls_pki import Pki

NGINX = "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(shutil.which(NGINX) is None, reason="needs Debian's nginx")

# What the server saw of each request, in its answer.
ANSWER = ("conn=$connection reused=$ssl_session_reused protocol=$ssl_protocol "
          "sni=[$ssl_server_name] client=[$ssl_client_s_dn]")


class NginxTls(Process):
    """nginx serving TLS with one certificate and answering ANSWER; `client_ca` makes a client
    certificate required."""

    def __init__(self, folder, cert, key, client_ca=None, keepalive_s=60):
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        temp = "".join(f" {kind}_temp_path {folder}/{kind};" for kind in
                       ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        verify = (f"ssl_client_certificate {client_ca}; ssl_verify_client on;"
                  if client_ca else "")
        config = folder / "nginx.conf"
        config.write_text(f"""worker_processes 1; daemon off; pid {folder}/nginx.pid;
error_log {folder}/nginx.err info;
events {{ worker_connections 256; }}
http {{ access_log off;{temp}
  server {{ listen {HOST}:{self.port} ssl; keepalive_timeout {keepalive_s}s;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate {cert}; ssl_certificate_key {key}; {verify}
    location / {{ return 200 "{ANSWER}\\n"; }} }} }}
""")
        super().__init__([NGINX, "-c", str(config)], folder, "nginx")
        wait_until(lambda: not self.alive() or accepts_connections(self.port), 10, "nginx")
        assert self.alive(), self.logs()


def seen(response):
    """ANSWER's fields as a dict."""
    assert response.status == 200, response
    return dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S*)", response.body.decode()))


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


@pytest.fixture
def nginx_servers(tmp_path):
    started = []

    def start(cert, key, **options):
        server = NginxTls(tmp_path / f"nginx{len(started)}", cert, key, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_a_verified_server_name_over_one_pooled_connection(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    proxy = ballast.start_short([server.port], upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test"})
    answers = [seen(get(proxy.port, "/")) for _ in range(5)]
    assert {answer["sni"] for answer in answers} == {"[backend.test]"}
    assert {answer["protocol"] for answer in answers} == {"TLSv1.3"}
    assert len({answer["conn"] for answer in answers}) == 1, answers  # the pool kept it


def test_a_wrong_name_is_refused(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    config = ballast.short_config([server.port], upstream_tls={
        "ca": str(pki.ca), "server_name": "other.test"})
    proxy = ballast.start(config, listen_port(config))
    response = get(proxy.port, "/")
    assert response.status == 502, response
    wait_until(lambda: "hostname mismatch" in proxy.output(), 5, "the failure logged")
    assert "TLS handshake failed" in proxy.output()
    assert handshakes(config) == (0, 0, 1)


def test_a_server_given_by_address_is_verified_by_address(ballast, pki, nginx_servers):
    with_ip = nginx_servers(*pki.leaf("with-ip", ["backend.test"], ips=[HOST]))
    without_ip = nginx_servers(*pki.leaf("without-ip", ["backend.test"]))
    good = ballast.start_short([with_ip.port], upstream_tls={"ca": str(pki.ca)})
    assert seen(get(good.port, "/"))["sni"] == "[]"  # no SNI for an address (RFC 6066)
    bad = ballast.start_short([without_ip.port], upstream_tls={"ca": str(pki.ca)})
    assert get(bad.port, "/").status == 502
    wait_until(lambda: "IP address mismatch" in bad.output(), 5, "the failure logged")


def test_the_system_store_refuses_a_private_ca_unless_verify_is_off(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    system = ballast.start_short([server.port], upstream_tls={"server_name": "backend.test"})
    assert get(system.port, "/").status == 502
    wait_until(lambda: "unable to get local issuer certificate" in system.output(), 5,
               "the failure logged")
    unverified = ballast.start_short([server.port], upstream_tls={"verify": False})
    assert seen(get(unverified.port, "/"))["protocol"] == "TLSv1.3"


def handshakes(config):
    """(full, resumed, failed) upstream TLS handshakes of the cluster, from /metrics."""
    samples = parse_samples(scrape(config))
    return tuple(
        sum(metric_values(samples, name, cluster="default", **labels))
        for name, labels in (("ballast_upstream_tls_handshakes_total", {"resumed": "false"}),
                             ("ballast_upstream_tls_handshakes_total", {"resumed": "true"}),
                             ("ballast_upstream_tls_handshake_errors_total", {})))


def test_new_connections_resume_the_last_session(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    config = ballast.short_config([server.port], pool={"idle_per_server": 0}, upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test"})
    proxy = ballast.start(config, listen_port(config))
    answers = [seen(get(proxy.port, "/")) for _ in range(4)]
    assert len({answer["conn"] for answer in answers}) == 4, answers  # no pooling here
    assert answers[0]["reused"] == "."
    assert [answer["reused"] for answer in answers[1:]] == ["r", "r", "r"], answers
    assert handshakes(config) == (1, 3, 0)


def test_session_reuse_off_makes_full_handshakes(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    proxy = ballast.start_short([server.port], pool={"idle_per_server": 0}, upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test", "session_reuse": False})
    assert {seen(get(proxy.port, "/"))["reused"] for _ in range(3)} == {"."}


def test_a_client_certificate_is_presented_when_the_server_asks(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]), client_ca=pki.ca)
    cert, key = pki.leaf("ballast-client", [], common_name="ballast-client")
    proxy = ballast.start_short([server.port], upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test",
        "certificate": {"cert": str(cert), "key": str(key)}})
    assert "CN=ballast-client" in seen(get(proxy.port, "/"))["client"]
    # Without one, nginx (ssl_verify_client on) answers 400, which ballast passes on.
    anonymous = ballast.start_short([server.port], upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test"})
    response = get(anonymous.port, "/")
    assert response.status == 400 and b"certificate" in response.body, response


def test_a_pooled_connection_the_server_closed_while_idle_is_not_used(ballast, pki,
                                                                      nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]), keepalive_s=1)
    proxy = ballast.start_short([server.port], upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test"})
    first = seen(get(proxy.port, "/"))
    time.sleep(1.5)  # nginx closes the idle connection (close_notify, then FIN)
    second = seen(get(proxy.port, "/"))
    assert second["conn"] != first["conn"]


def test_health_checks_speak_tls(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    checks = {"interval": "200ms", "timeout": "200ms", "path": "/", "unhealthy_threshold": 1}
    good = ballast.start_short([server.port], health_check=checks, upstream_tls={
        "ca": str(pki.ca), "server_name": "backend.test"})
    wait_until(lambda: get(good.port, "/").status == 200, 5, "the server checked healthy")
    tcp_checks = {key: value for key, value in checks.items() if key != "path"}
    tcp = ballast.start_short([server.port], health_check={**tcp_checks, "type": "tcp"},
                              upstream_tls={"ca": str(pki.ca), "server_name": "backend.test"})
    wait_until(lambda: get(tcp.port, "/").status == 200, 5, "the server checked healthy (tcp)")
    assert "TLS handshake done" in tcp.output()
    wrong = ballast.start_short([server.port], health_check=checks, upstream_tls={
        "ca": str(pki.ca), "server_name": "other.test"})
    wait_until(lambda: "hostname mismatch" in wrong.output(), 5, "the failed check logged")
    assert get(wrong.port, "/").status == 503  # never healthy: no server takes traffic


def test_a_server_that_never_finishes_its_handshake_is_retried_elsewhere(ballast, pki,
                                                                         nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    # Connects succeed (the kernel accepts into the backlog) but nothing ever answers.
    silent = socket.socket()
    silent.bind((HOST, 0))
    silent.listen(16)
    try:
        proxy = ballast.start_short(
            [server_entry(silent.getsockname()[1]), server.port],
            timeouts={"connect": "300ms"}, retry={"attempts": 2},
            upstream_tls={"ca": str(pki.ca), "server_name": "backend.test"})
        for _ in range(4):
            seen(get(proxy.port, "/"))  # each answered, by nginx
        wait_until(lambda: "TLS handshake timed out" in proxy.output(), 5, "the timeout logged")
    finally:
        silent.close()


def tcp_config(server, upstream_tls):
    port = free_port()
    return port, {
        "workers": 1,
        "listeners": [{"name": "tcp-in", "listen": f"{HOST}:{port}", "mode": "tcp",
                       "cluster": "secure"}],
        "clusters": {"secure": {"servers": [server_entry(server.port)],
                                "upstream_tls": upstream_tls}},
    }


def raw_exchange(port, request):
    with socket.create_connection((HOST, port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_a_tcp_listener_wraps_its_clients_bytes_in_tls_to_the_server(ballast, pki, nginx_servers):
    server = nginx_servers(*pki.leaf("backend", ["backend.test"]))
    port, config = tcp_config(server, {"ca": str(pki.ca), "server_name": "backend.test"})
    ballast.start(config, port)
    answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b"sni=[backend.test]" in answer and b"protocol=TLSv1.3" in answer

    port, config = tcp_config(server, {"ca": str(pki.ca), "server_name": "other.test"})
    refused = ballast.start(config, port)
    try:  # closed unanswered: a FIN, or a reset since the request was never read
        assert raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    except ConnectionResetError:
        pass
    wait_until(lambda: "upstream TLS handshake failed" in refused.output(), 5, "the failure logged")
    assert "hostname mismatch" in refused.output()


def test_check_names_a_ca_file_that_does_not_load(ballast_bin, tmp_path):
    import subprocess
    config = tmp_path / "ballast.yaml"
    config.write_text(f"""load_balancer:
  listen: "{HOST}:{free_port()}"
  servers: [{{host: {HOST}, port: 1}}]
  upstream_tls:
    ca: missing-ca.pem
""")
    result = subprocess.run([str(ballast_bin), "--check", str(config)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 2, result
    assert "ballast.yaml:5" in result.stderr and "missing-ca.pem" in result.stderr, result.stderr
