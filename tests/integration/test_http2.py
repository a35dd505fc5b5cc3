"""HTTP/2 from clients, end to end: in clear by prior knowledge (`h2c: true`, beside HTTP/1.1 on
the same port) and over TLS by ALPN, with real clients (curl, nghttp, h2load, python3-h2) and
HTTP/1.1 servers behind: balancing, bodies both ways with and without content-length, large
responses, many streams at once, flow control that holds a server back for a client that does
not read, deadlines, GOAWAY on drain and reload, and the access log's protocol."""

import hashlib
import os
import subprocess
import threading
import time

import pytest

from events import admin_status, log_events, metric, parse_samples, scrape
from harness import HOST, free_port, get, server_entry, wait_until
from h2client import H2Client, start_h2c_proxy
from tls_pki import Pki

PATTERN_CHECK_BYTES = 32 << 20


def access_lines(process):
    return [line for line in log_events(process) if line.get("type") == "access"]


def curl(*args, timeout_s=30):
    done = subprocess.run(["curl", "-sS", "--max-time", str(timeout_s), *args],
                          capture_output=True, timeout=timeout_s + 5)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_prior_knowledge_requests_are_balanced_and_logged_as_http2(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1"), backends.start("s2")])
    url = f"http://{HOST}:{proxy.port}/"
    # One URL a run: curl 7.88 fails its own reuse of a prior-knowledge connection (nginx's too).
    out = "".join(curl("--http2-prior-knowledge", "-i", url).decode() for _ in range(4))
    assert out.count("HTTP/2 200") == 4
    names = [line.split(": ")[1].strip() for line in out.splitlines() if line.startswith("x-backend")]
    assert sorted(names) == ["s1", "s1", "s2", "s2"]
    wait_until(lambda: len(access_lines(proxy)) >= 4, 5, "four access lines")
    assert {line["protocol"] for line in access_lines(proxy)} == {"HTTP/2"}


def test_http1_still_served_on_an_h2c_listener(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    response = get(proxy.port, "/echo")
    assert response.status == 200 and response.version == "HTTP/1.1"


def test_the_server_sees_an_http11_request_with_the_forwarding_fields(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    with H2Client(proxy.port) as client:
        stream = client.get("/echo?x=1", headers=[("x-custom", "yes"), ("te", "trailers")],
                            )
    assert stream.status == 200
    echo = __import__("json").loads(stream.data)
    assert echo["version"] == "HTTP/1.1" and echo["target"] == "/echo?x=1"
    headers = {name.lower(): value for name, value in echo["headers"]}
    assert headers["host"] == HOST
    assert headers["x-custom"] == "yes"
    assert headers["x-forwarded-proto"] == "http"
    assert "te" not in headers  # hop-by-hop: HTTP/1.1 servers get no TE from an h2 client


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "unknown-length"])
def test_request_bodies_reach_the_server_whole(ballast, backends, declared):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    body = os.urandom(3 << 20)
    headers = [("content-length", str(len(body)))] if declared else []
    with H2Client(proxy.port) as client:
        stream_id = client.request("POST", "/upload", headers, body=body)
        stream = client.wait(stream_id, 30)
    assert stream.status == 200
    answer = __import__("json").loads(stream.data)
    assert answer["length"] == len(body)
    assert answer["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_body_of_unknown_length_goes_chunked(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    with H2Client(proxy.port) as client:
        stream = client.wait(client.request("POST", "/echo", body=b"hello"))
    echo = __import__("json").loads(stream.data)
    headers = {name.lower(): value for name, value in echo["headers"]}
    assert headers["transfer-encoding"] == "chunked" and echo["body_length"] == 5


def test_large_and_chunked_responses_arrive_whole_over_curl_and_nghttp(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    base = f"http://{HOST}:{proxy.port}"
    assert len(curl("--http2-prior-knowledge", f"{base}/bytes/{PATTERN_CHECK_BYTES}")) == \
        PATTERN_CHECK_BYTES
    assert len(curl("--http2-prior-knowledge", f"{base}/chunked/3000000")) == 3_000_000
    done = subprocess.run(["nghttp", "-nv", f"{base}/bytes/1000"], capture_output=True,
                          timeout=20)
    assert done.returncode == 0 and b":status: 200" in done.stdout


def test_many_streams_at_once_on_few_connections(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1"), backends.start("s2")])
    done = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "32",
                           f"http://{HOST}:{proxy.port}/"], capture_output=True, timeout=60)
    out = done.stdout.decode()
    assert "2000 succeeded, 0 failed" in out, out
    assert "status codes: 2000 2xx" in out, out


def test_tls_alpn_chooses_http2_and_http11_still_works(ballast, backends, tmp_path):
    pki = Pki(tmp_path / "pki")
    cert, key = pki.leaf("web", ["localhost"], ips=["127.0.0.1"])
    port = free_port()
    config = {
        "workers": 1,
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "routes": [{"cluster": "app"}],
                       "tls": {"certificates": [{"cert": str(cert), "key": str(key)}],
                               "alpn": ["h2", "http/1.1"]}}],
        "clusters": {"app": {"servers": [server_entry(backends.start("s1"))]}},
    }
    proxy = ballast.start(config, port)
    url = f"https://localhost:{port}/echo"
    resolve = f"localhost:{port}:{HOST}"
    ca = str(pki.ca)
    assert curl("--http2", "--cacert", ca, "--resolve", resolve, "-o", "/dev/null", "-w",
                "%{http_version}", url) == b"2"
    assert curl("--http1.1", "--cacert", ca, "--resolve", resolve, "-o", "/dev/null", "-w",
                "%{http_version}", url) == b"1.1"
    with H2Client(port, tls_ca=pki.ca) as client:
        stream = client.get("/echo")
    assert stream.status == 200
    headers = {n.lower(): v for n, v in __import__("json").loads(stream.data)["headers"]}
    assert headers["x-forwarded-proto"] == "https"
    wait_until(lambda: len(access_lines(proxy)) >= 3, 5, "three access lines")
    protocols = sorted(line["protocol"] for line in access_lines(proxy))
    assert protocols == ["HTTP/1.1", "HTTP/2", "HTTP/2"]
    assert all(line["tls_version"].startswith("TLS") for line in access_lines(proxy))


def test_a_client_that_does_not_read_holds_its_server_back_and_memory_stays_bounded(
        ballast, backends):
    backend = backends.start("s1")
    proxy, _ = start_h2c_proxy(ballast, [backend], timeouts={"client_send": "3s"})
    before = proxy.rss_bytes()
    with H2Client(proxy.port, acknowledge=False) as stalled:
        stream_id = stalled.request("GET", f"/bytes/{1 << 30}")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            stalled.read_events(0.1)
        received = len(stalled.streams[stream_id].data)
        assert received <= 65535  # the client's window, never more
        grown = proxy.rss_bytes() - before
        assert grown < 16 << 20, f"ballast grew by {grown} bytes for a stalled stream"
        # Others are served meanwhile, on their own connections and on this one's peers.
        with H2Client(proxy.port) as other:
            assert other.get("/").status == 200
        # The zero-window stall ends at client_send: that stream is reset.
        stream = stalled.wait(stream_id, 10)
        assert stream.reset is not None or stalled.closed


def test_graceful_goaway_on_drain_lets_the_stream_in_flight_finish(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")])
    with H2Client(proxy.port) as client:
        stream_id = client.request("GET", "/delay/700")
        client.read_events(0.2)
        proxy.terminate()
        stream = client.wait(stream_id, 10)
        assert stream.status == 200
        client.wait_closed(10)
        assert client.goaway is not None and client.goaway[0] == 0  # NO_ERROR
        assert client.goaway[1] >= stream_id
    assert proxy.wait_exit(10) == 0


def test_a_reload_sends_goaway_after_the_next_answer(ballast, backends):
    s1, s2 = backends.start("s1"), backends.start("s2")
    proxy, config = start_h2c_proxy(ballast, [s1])
    with H2Client(proxy.port) as client:
        assert client.get("/").header("x-backend") == "s1"
        config["clusters"]["app"]["servers"] = [server_entry(s2)]
        proxy.reload(config)
        wait_until(lambda: log_events(proxy, "configuration reloaded"), 5, "reload")
        client.get("/")  # answered under the old configuration, then GOAWAY
        wait_until(lambda: client.read_events(0.1) and client.goaway is not None or
                   client.goaway is not None, 5, "GOAWAY")
    with H2Client(proxy.port) as client:
        assert client.get("/").header("x-backend") == "s2"


def test_an_idle_connection_is_closed_with_goaway(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")], timeouts={"keepalive": "1s"})
    with H2Client(proxy.port) as client:
        assert client.get("/").status == 200
        started = time.monotonic()
        client.wait_closed(10)
        assert 0.5 < time.monotonic() - started < 5
        assert client.goaway is not None


def test_a_connection_that_never_sends_a_request_is_closed(ballast, backends):
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")], timeouts={"client_header": "1s"})
    with H2Client(proxy.port) as client:
        client.wait_closed(10)


def test_metrics_and_status_count_by_protocol_and_show_open_streams(ballast, backends):
    proxy, config = start_h2c_proxy(ballast, [backends.start("s1")],
                              admin={"listen": f"{HOST}:{free_port()}"},
                              monitoring={"metrics": {"port": free_port()}})
    assert get(proxy.port, "/").status == 200
    with H2Client(proxy.port) as client:
        assert client.get("/").status == 200
        slow = [client.request("GET", "/delay/1500") for _ in range(3)]
        client.read_events(0.3)
        clients = admin_status(config)["clients"]
        assert clients["http2"]["connections"] == 1
        assert clients["http2"]["streams"] == 3
        assert clients["http2"]["streams_per_connection"] == 3
        for stream_id in slow:
            assert client.wait(stream_id).status == 200
    samples = parse_samples(scrape(config))
    assert metric(samples, "ballast_requests_by_protocol_total", protocol="HTTP/2") == 4
    assert metric(samples, "ballast_requests_by_protocol_total", protocol="HTTP/1.1") == 1
    wait_until(lambda: metric(parse_samples(scrape(config)), "ballast_http2_connections") == 0,
               5, "the HTTP/2 connection counted closed")
    assert metric(parse_samples(scrape(config)), "ballast_http2_streams") == 0
