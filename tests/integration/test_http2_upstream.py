"""HTTP/2 to servers (`protocol: h2c`): HTTP/2 clients' streams carried stream to stream to
real HTTP/2 servers (h2_echo_server.py, on python3-h2), with curl, nghttp and python3-h2 as
clients: trailers both ways, `te: trailers`, bodies larger than every window (flow control end
to end), and the balancing and accounting of any other request."""

import subprocess

import pytest

from h2client import H2Client
from harness import HOST, free_port, server_entry


@pytest.fixture
def h2_servers(script_servers):
    return lambda name: script_servers("h2_echo_server.py", name)


def h2_proxy(ballast, servers):
    port = free_port()
    config = {
        "workers": 1,
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "h2c": True,
                       "routes": [{"cluster": "app"}]}],
        "clusters": {"app": {"protocol": "h2c",
                             "servers": [server_entry(s.port) for s in servers]}},
    }
    return ballast.start(config, port)


def test_trailers_go_both_ways_and_te_trailers_reaches_the_server(ballast, h2_servers):
    proxy = h2_proxy(ballast, [h2_servers("a")])
    with H2Client(proxy.port) as client:
        stream_id = client.request("POST", "/upload", [("te", "trailers")], body=b"payload",
                                   end=False)
        client.conn.send_headers(stream_id, [("x-checksum", "abc123")], end_stream=True)
        client.flush()
        stream = client.wait(stream_id)
    assert stream.status == 200
    assert stream.header("x-seen-te") == "trailers"
    assert stream.header("x-seen-authority") == HOST
    assert bytes(stream.data) == b"payload"
    assert dict(stream.trailers) == {"x-server": "a", "x-echo-x-checksum": "abc123"}


def test_curl_and_nghttp_reach_http2_servers_balanced(ballast, h2_servers):
    proxy = h2_proxy(ballast, [h2_servers("a"), h2_servers("b")])
    url = f"http://{HOST}:{proxy.port}/hello"
    bodies = []
    for _ in range(4):  # one URL a run: curl 7.88 cannot reuse a prior-knowledge connection
        done = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", url],
                              capture_output=True, timeout=20)
        assert done.returncode == 0, done.stderr
        bodies.append(done.stdout)
    assert sorted(bodies) == [b"a:/hello", b"a:/hello", b"b:/hello", b"b:/hello"]
    done = subprocess.run(["nghttp", "-nv", url], capture_output=True, timeout=20)
    assert done.returncode == 0 and b":status: 200" in done.stdout
    assert b"x-server: " in done.stdout  # the trailers, as nghttp prints them


def test_bodies_larger_than_every_window_arrive_whole(ballast, h2_servers):
    proxy = h2_proxy(ballast, [h2_servers("a")])
    body = bytes(range(256)) * 4096  # 1 MiB: sixteen stream windows each way
    with H2Client(proxy.port) as client:
        stream_id = client.request("POST", "/echo", body=body)
        stream = client.wait(stream_id, timeout_s=30)
    assert stream.status == 200
    assert bytes(stream.data) == body


def test_many_streams_at_once_through_one_server_connection(ballast, h2_servers):
    proxy = h2_proxy(ballast, [h2_servers("a")])
    with H2Client(proxy.port) as client:
        ids = [client.request("GET", f"/s/{i}") for i in range(50)]
        streams = [client.wait(stream_id) for stream_id in ids]
    assert [bytes(s.data) for s in streams] == [f"a:/s/{i}".encode() for i in range(50)]
