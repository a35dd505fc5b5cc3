"""gRPC through ballast: Debian's python3-grpcio client calls real python3-grpcio servers
(grpc_echo_server.py) through an h2c listener and a cluster with `protocol: h2c` (or h2 over
TLS): unary, server-streaming, client-streaming and bidirectional calls, trailers, grpc-status
judged against the cluster's failure codes, streams multiplexed under the per-connection cap, and a server killed
mid-stream — the call fails cleanly and the next goes elsewhere."""

import queue
import threading
import time

import grpc
import pytest

from events import address, metric, parse_samples, scrape, wait_log
from harness import HOST, free_port, get, server_entry, wait_until
from tls_pki import Pki

BREAKER = {"mode": "consecutive", "failure_threshold": 2, "timeout": "30s"}


@pytest.fixture
def echo_servers(script_servers):
    def start(name, tls=None):
        return script_servers("grpc_echo_server.py", name,
                              ["--cert", tls[0], "--key", tls[1]] if tls else [])
    return start


def grpc_proxy(ballast, servers, protocol="h2c", **cluster):
    port = free_port()
    config = {
        "workers": 1,
        "listeners": [{"name": "grpc", "listen": f"{HOST}:{port}", "h2c": True,
                       "routes": [{"cluster": "echo"}]}],
        "clusters": {"echo": {"protocol": protocol,
                              "servers": [server_entry(s.port) for s in servers], **cluster}},
        "admin": {"listen": f"{HOST}:{free_port()}"},
        "monitoring": {"metrics": {"port": free_port()}},
    }
    return ballast.start(config, port), config


def proxy_server(config):
    """The port of the one server of the config's cluster."""
    return config["clusters"]["echo"]["servers"][0]["port"]


def call(channel, method, request, timeout_s=10):
    return channel.unary_unary(f"/ballast.test.Echo/{method}").with_call(
        request, timeout=timeout_s)


@pytest.fixture
def channel_to():
    opened = []

    def open_channel(proxy):
        opened.append(grpc.insecure_channel(f"{HOST}:{proxy.port}"))
        return opened[-1]

    yield open_channel
    for channel in opened:
        channel.close()


def test_unary_calls_are_balanced_and_carry_trailers(ballast, echo_servers, channel_to):
    servers = [echo_servers("a"), echo_servers("b")]
    proxy, _ = grpc_proxy(ballast, servers)
    channel = channel_to(proxy)
    answers = set()
    for i in range(6):
        response, call_info = call(channel, "Say", f"hello {i}".encode())
        name, _, echoed = response.partition(b":")
        assert echoed == f"hello {i}".encode()
        answers.add(name)
        trailers = dict(call_info.trailing_metadata())
        assert trailers["x-seen-forwarded-for"] == HOST  # ballast's forwarding fields went on
        assert call_info.code() == grpc.StatusCode.OK
    assert answers == {b"a", b"b"}


def test_server_streaming_arrives_whole_and_in_order(ballast, echo_servers, channel_to):
    proxy, _ = grpc_proxy(ballast, [echo_servers("a")])
    stream = channel_to(proxy).unary_stream("/ballast.test.Echo/Count")
    messages = list(stream(b"500,0", timeout=20))
    assert messages == [f"a:{i}".encode() for i in range(500)]


def test_client_streaming_and_bidirectional_calls(ballast, echo_servers, channel_to):
    proxy, _ = grpc_proxy(ballast, [echo_servers("a")])
    channel = channel_to(proxy)
    join = channel.stream_unary("/ballast.test.Echo/Join")
    parts = [f"part{i}".encode() * 100 for i in range(200)]  # 120 KiB: past every window
    assert join(iter(parts), timeout=20) == b"a:" + b",".join(parts)

    chat = channel.stream_stream("/ballast.test.Echo/Chat")
    outbox = queue.Queue()
    replies = chat(iter(outbox.get, None), timeout=20)
    for i in range(20):  # each reply comes before the next message goes: a conversation
        outbox.put(f"m{i}".encode())
        assert next(replies) == f"a:m{i}".encode()
    outbox.put(None)
    assert list(replies) == []


def test_an_application_status_reaches_the_client_and_is_not_a_server_failure(
        ballast, echo_servers, channel_to):
    proxy, config = grpc_proxy(ballast, [echo_servers("a")],
                               circuit_breaker=BREAKER)
    channel = channel_to(proxy)
    for _ in range(4):
        with pytest.raises(grpc.RpcError) as error:
            call(channel, "Fail", b"NOT_FOUND")
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        assert error.value.details() == "asked to fail"
    assert breaker_state(config, proxy_server(config)) == "closed"
    lines = wait_log(proxy, None, 5, count=4, type="access")
    assert {line["grpc_status"] for line in lines} == {5}


def test_unavailable_counts_as_the_servers_failure_and_opens_its_breaker(
        ballast, echo_servers, channel_to):
    a, b = echo_servers("a"), echo_servers("b")
    proxy, config = grpc_proxy(ballast, [a, b], circuit_breaker=BREAKER)
    channel = channel_to(proxy)
    for _ in range(4):
        with pytest.raises(grpc.RpcError) as error:
            call(channel, "Fail", b"UNAVAILABLE")
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert [breaker_state(config, s) for s in (a, b)] == ["open", "open"]


def test_failure_codes_are_configurable(ballast, echo_servers, channel_to):
    proxy, config = grpc_proxy(ballast, [echo_servers("a")],
                               circuit_breaker=BREAKER,
                               grpc={"failure_codes": ["NOT_FOUND", 13]})
    channel = channel_to(proxy)
    for _ in range(2):
        with pytest.raises(grpc.RpcError):
            call(channel, "Fail", b"NOT_FOUND")
    assert breaker_state(config, proxy_server(config)) == "open"


def breaker_state(config, server):
    state = metric(parse_samples(scrape(config)), "circuit_breaker_state", server=address(server))
    return ["closed", "open", "half-open"][int(state)]


def test_a_server_killed_mid_stream_fails_the_call_and_the_next_goes_elsewhere(
        ballast, echo_servers, channel_to):
    a, b = echo_servers("a"), echo_servers("b")
    proxy, _ = grpc_proxy(ballast, [a, b], retry={"attempts": 2})  # a refused connect: retried
    channel = channel_to(proxy)
    stream = channel.unary_stream("/ballast.test.Echo/Count")
    received, failure = [], []

    def consume():
        try:
            for message in stream(b"1000,20", timeout=30):
                received.append(message)
        except grpc.RpcError as error:
            failure.append(error.code())

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    wait_until(lambda: len(received) >= 5, 10, "the stream flowing")
    victim = a if received[0].startswith(b"a:") else b
    survivor = b if victim is a else a
    victim.proc.kill()
    reader.join(15)
    assert not reader.is_alive(), "the call hung after its server died"
    assert failure and failure[0] in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                                      grpc.StatusCode.UNKNOWN), failure
    for _ in range(4):
        response, _ = call(channel, "Say", b"after")
        assert response == survivor.name.encode() + b":after"


def test_a_server_that_never_answers_is_timed_out_and_its_stream_given_up(
        ballast, echo_servers, channel_to):
    """HOSTILE.md, servers: one that never answers holds a call no longer than timeouts.server;
    the client hears 504 (gRPC: UNAVAILABLE), the stream is reset, the connection serves on."""
    proxy, config = grpc_proxy(ballast, [echo_servers("a")], timeouts={"server": "500ms"})
    channel = channel_to(proxy)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as error:
        call(channel, "Hold", b"5000")
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - started < 3
    (line,) = wait_log(proxy, None, 5, type="access", path="/ballast.test.Echo/Hold")
    assert line["status"] == 504
    assert metric(parse_samples(scrape(config)), "loadbalancer_http2_streams_open",
                  cluster="echo") == 0
    response, _ = call(channel, "Say", b"still here")
    assert response == b"a:still here"


def test_streams_share_connections_up_to_the_cap(ballast, echo_servers, channel_to):
    proxy, config = grpc_proxy(ballast, [echo_servers("a")], http2={"max_concurrent_streams": 2})
    channel = channel_to(proxy)
    peers, errors = [], []

    def hold():
        try:
            response, _ = call(channel, "Hold", b"1500")
            peers.append(response.partition(b":")[2])
        except grpc.RpcError as error:
            errors.append(error.code())

    def gauge(name):
        return metric(parse_samples(scrape(config)), name, cluster="echo")

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for thread in threads:
        thread.start()
    wait_until(lambda: gauge("loadbalancer_http2_streams_open") == 8, 5, "8 streams in flight")
    assert gauge("loadbalancer_http2_connections_open") == 4
    for thread in threads:
        thread.join(20)
    assert not errors and len(peers) == 8
    # Eight calls at once, two streams per connection: four connections, each carrying two.
    assert len(set(peers)) == 4, peers
    assert gauge("loadbalancer_http2_streams_open") == 0
    assert gauge("loadbalancer_http2_connections_open") == 4  # kept for the next calls


def test_h2_over_tls_with_alpn(ballast, echo_servers, channel_to, tmp_path):
    pki = Pki(tmp_path / "pki")
    server = echo_servers("secure", tls=pki.leaf("server", ["localhost"], ips=[HOST]))
    proxy, _ = grpc_proxy(ballast, [server], protocol="h2", upstream_tls={"ca": str(pki.ca)})
    response, call_info = call(channel_to(proxy), "Say", b"over tls")
    assert response == b"secure:over tls"
    assert call_info.code() == grpc.StatusCode.OK


def test_http1_clients_are_told_to_use_http2(ballast, echo_servers):
    proxy, _ = grpc_proxy(ballast, [echo_servers("a")])
    response = get(proxy.port, "/ballast.test.Echo/Say")
    assert response.status == 505
    assert b"HTTP/2" in response.body


def test_grpc_calls_are_counted_by_protocol(ballast, echo_servers, channel_to):
    proxy, config = grpc_proxy(ballast, [echo_servers("a")])
    channel = channel_to(proxy)
    for _ in range(3):
        call(channel, "Say", b"x")
    samples = parse_samples(scrape(config))
    assert metric(samples, "ballast_requests_by_protocol_total", protocol="HTTP/2") == 3
