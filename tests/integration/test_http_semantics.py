"""What HTTP/1.x says a proxy must do with versions, interim answers, early answers and
Max-Forwards, through the real proxy in front of a scripted server that writes exactly the bytes
each case needs and records what reached it.

- RFC 9112 §6.1: no chunked body to an HTTP/1.0 client (it is de-chunked, the close ends it).
- RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
- An answer before the request's end (an early answer) leaves the body flowing to the server;
  a server that closes instead cuts it short, which the access log and metrics say.
- RFC 9110 §7.6.2: Max-Forwards on OPTIONS and TRACE; TRACE refused unless allowed (§9.3.8).
"""

import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from differential import Peer
from events import metric_values, parse_samples, scrape
from harness import HOST, PatternCheck, free_port, listen_port, wait_until

IO_TIMEOUT_S = 5.0


class ScriptedServer:
    """A server on 127.0.0.1 that runs `script(connection, server)` for each connection it
    accepts, on a thread of its own; `received` keeps every connection's bytes."""

    def __init__(self, script):
        self.script = script
        self.port = free_port()
        self.connections = 0
        self.received = []
        self.lock = threading.Lock()
        self.listener = socket.create_server((HOST, self.port))
        self.listener.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.connections += 1
                self.received.append(bytearray())
                record = self.received[-1]
            threading.Thread(target=self._serve, args=(connection, record), daemon=True).start()

    def _serve(self, connection, record):
        connection.settimeout(IO_TIMEOUT_S)
        with connection:
            try:
                # differential.Peer records what it reads through `.record(data)`.
                self.script(Peer(connection, SimpleNamespace(record=record.extend)))
            except (OSError, EOFError):
                pass  # the proxy closed or reset the connection: the script ends with it

    def all_received(self):
        with self.lock:
            return b"".join(bytes(r) for r in self.received)

    def close(self):
        self.stopping = True
        self.thread.join()
        self.listener.close()


@pytest.fixture
def scripted(ballast):
    """scripted(script, **load_balancer) -> (server, ballast) with the server behind ballast."""
    servers = []

    def start(script, config_edit=None, **load_balancer):
        server = ScriptedServer(script)
        servers.append(server)
        config = ballast.short_config([server.port], **load_balancer)
        if config_edit:
            config_edit(config)
        return server, ballast.start(config, listen_port(config)), config

    yield start
    for server in servers:
        server.close()


def connect(port):
    client = socket.create_connection((HOST, port), timeout=IO_TIMEOUT_S)
    return client


def read_until_close(client):
    data = b""
    while True:
        chunk = client.recv(65536)
        if not chunk:
            return data
        data += chunk


def read_response(client, buffer=b""):
    """One response with a Content-Length body: (head text, body, the bytes after it)."""
    while b"\r\n\r\n" not in buffer:
        chunk = client.recv(65536)
        assert chunk, f"closed before a response head: {buffer!r}"
        buffer += chunk
    head, rest = buffer.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = client.recv(65536)
        assert chunk, "closed mid-body"
        rest += chunk
    return head.decode("latin-1"), rest[:length], rest[length:]


def field_names(head):
    return [line.split(":", 1)[0].strip().lower() for line in head.split("\r\n")[1:]]


def answer_each_request(response):
    """A script: answers every request on the connection (bodiless requests) with `response`."""

    def script(peer):
        while True:
            peer.read_head()
            peer.send(response)

    return script


CHUNKED_HELLO = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kept: yes\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
)


# ---- RFC 9112 §6.1: chunked never reaches an HTTP/1.0 client ------------------------------


@pytest.mark.parametrize("connection_field", ["", "Connection: keep-alive\r\n"])
def test_chunked_response_goes_dechunked_and_close_delimited_to_an_http10_client(
    scripted, connection_field
):
    _, proxy, _ = scripted(answer_each_request(CHUNKED_HELLO))
    with connect(proxy.port) as client:
        client.sendall(f"GET /x HTTP/1.0\r\n{connection_field}\r\n".encode())
        head, _, body = read_until_close(client).partition(b"\r\n\r\n")
    head = head.decode("latin-1")
    assert head.startswith("HTTP/1.1 200"), head
    assert "transfer-encoding" not in field_names(head), head
    assert "connection: close" in head.lower() and "x-kept: yes" in head.lower(), head
    assert body == b"hello world"


def test_a_large_chunked_body_reaches_an_http10_client_whole(backends, ballast):
    proxy = ballast.start_short(backends.start_many(1))
    check = PatternCheck()
    with connect(proxy.port) as client:
        client.sendall(b"GET /chunked/300000 HTTP/1.0\r\n\r\n")
        data = read_until_close(client)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower(), head
    check(memoryview(body))
    assert check.length == 300_000


def test_chunked_still_goes_as_chunked_to_an_http11_client(scripted):
    _, proxy, _ = scripted(answer_each_request(CHUNKED_HELLO))
    with connect(proxy.port) as client:
        client.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_until_close(client)
    assert b"Transfer-Encoding: chunked" in data and data.endswith(b"0\r\nX-Trailer: t\r\n\r\n")


# ---- RFC 9110 §15.2: no 1xx to an HTTP/1.0 client -----------------------------------------

INTERIM_THEN_OK = (
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
)


def test_interim_responses_are_not_relayed_to_an_http10_client(scripted):
    _, proxy, _ = scripted(answer_each_request(INTERIM_THEN_OK))
    with connect(proxy.port) as client:
        client.sendall(b"GET /x HTTP/1.0\r\n\r\n")
        data = read_until_close(client)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
    assert b" 103 " not in data and b" 100 " not in data
    assert data.endswith(b"\r\n\r\nok")


def test_interim_responses_are_relayed_to_an_http11_client(scripted):
    _, proxy, _ = scripted(answer_each_request(INTERIM_THEN_OK))
    with connect(proxy.port) as client:
        client.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_until_close(client)
    assert data.startswith(b"HTTP/1.1 103 Early Hints\r\n"), data
    assert b"\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" in data


def test_a_server_that_sends_interim_responses_without_end_gets_a_502(scripted):
    flood = b"HTTP/1.1 103 Early Hints\r\n\r\n" * 1000  # and never a final response
    _, proxy, _ = scripted(answer_each_request(flood))
    with connect(proxy.port) as client:
        client.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_until_close(client)
    assert data.count(b" 103 Early Hints") == 16, data[:200]
    assert b"HTTP/1.1 502 " in data
    wait_until(lambda: "too many interim (1xx) responses" in proxy.output(), 5, "the failure logged")


# ---- Early answers: the body still reaches the server ------------------------------------

BODY = b"hello world"
EARLY_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def access_lines(path):
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("type") == "access"]


def logging_to(path):
    def edit(config):
        config.setdefault("monitoring", {})["logging"] = {"output": str(path)}

    return edit


def test_an_early_answer_leaves_the_body_flowing_to_the_server(scripted, tmp_path):
    bodies = []

    def answer_then_read(peer):
        while True:
            head = peer.read_head()
            length = int(head.lower().split("content-length:")[1].split("\r\n")[0])
            peer.send(EARLY_OK)  # before a byte of the body was read
            bodies.append(peer.read_exactly(length))

    log_path = tmp_path / "access.log"
    server, proxy, _ = scripted(answer_then_read, logging_to(log_path))
    with connect(proxy.port) as client:
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")
        head, body, rest = read_response(client)
        assert head.startswith("HTTP/1.1 200") and body == b"ok"
        assert "connection: keep-alive" in head.lower(), head
        time.sleep(0.2)  # the body comes well after the answer
        client.sendall(BODY)
        wait_until(lambda: bodies == [BODY], IO_TIMEOUT_S, "the body at the server")
        # Both connections carry on: the client's next request, over the same pooled one.
        client.sendall(b"POST /again HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n" + BODY)
        head, body, _ = read_response(client, rest)
        assert head.startswith("HTTP/1.1 200") and body == b"ok"
    wait_until(lambda: len(bodies) == 2, IO_TIMEOUT_S, "the second body")
    assert server.connections == 1
    wait_until(lambda: len(access_lines(log_path)) == 2, IO_TIMEOUT_S, "two access lines")
    assert all("request_body_cut_short" not in line for line in access_lines(log_path))


def test_a_server_that_closes_after_an_early_answer_cuts_the_body_short_and_says_so(
    scripted, tmp_path
):
    closed = threading.Event()

    def answer_and_close(peer):
        peer.read_head()
        peer.send(EARLY_OK)
        peer.connection.close()
        closed.set()

    log_path = tmp_path / "access.log"
    _, proxy, config = scripted(answer_and_close, logging_to(log_path))
    with connect(proxy.port) as client:
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")
        head, body, _ = read_response(client)
        assert head.startswith("HTTP/1.1 200") and body == b"ok"
        # The body leaves once the server has closed. (Sent before, to a server still open, it
        # is a body that reached the server: nothing was cut short.)
        assert closed.wait(IO_TIMEOUT_S)
        try:
            client.sendall(BODY)
            read_until_close(client)  # ballast closes: the request's rest cannot be delivered
        except ConnectionResetError:
            pass
    wait_until(lambda: access_lines(log_path), IO_TIMEOUT_S, "the access line")
    [line] = access_lines(log_path)
    assert line["status"] == 200 and line["request_body_cut_short"] is True, line
    samples = parse_samples(scrape(config))
    assert metric_values(
        samples, "loadbalancer_request_bodies_cut_short_total", cluster="default"
    ) == [1.0]


def test_a_response_streams_while_the_request_body_still_arrives(scripted):
    """Full duplex: a server that echoes each piece of the body as it comes, having sent its
    response head first, gets every piece, and the client each echo before its next piece."""

    def echo_pieces(peer):
        peer.read_head()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            piece = peer.read_exactly(4)
            peer.send(b"4\r\n" + piece + b"\r\n")
        peer.send(b"0\r\n\r\n")

    _, proxy, _ = scripted(echo_pieces)
    with connect(proxy.port) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n")
        received = b""
        for piece in (b"one.", b"two.", b"end."):
            client.sendall(piece)
            while piece not in received:
                chunk = client.recv(65536)
                assert chunk, received
                received += chunk
        while not received.endswith(b"0\r\n\r\n"):
            received += client.recv(65536)


# ---- RFC 9110 §7.6.2 and §9.3.8: Max-Forwards, TRACE -------------------------------------

OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def exchange(port, request):
    with connect(port) as client:
        client.sendall(request)
        return read_response(client)


@pytest.mark.parametrize("target", ["*", "/x"])
def test_options_with_max_forwards_zero_is_answered_by_ballast(scripted, target):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY))
    head, body, _ = exchange(
        proxy.port, f"OPTIONS {target} HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n".encode()
    )
    assert head.startswith("HTTP/1.1 200"), head
    assert "allow: get, head, post, put, patch, delete, options" in head.lower(), head
    assert "content-length: 0" in head.lower() and body == b""
    assert server.connections == 0


@pytest.mark.parametrize("sent, forwarded", [("10", b"09"), ("1", b"0"), ("5", b"4")])
def test_max_forwards_goes_on_one_less(scripted, sent, forwarded):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY))
    head, _, _ = exchange(
        proxy.port, f"OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: {sent}\r\n\r\n".encode()
    )
    assert head.startswith("HTTP/1.1 200"), head
    assert b"\r\nMax-Forwards: " + forwarded + b"\r\n" in server.all_received()


def test_max_forwards_on_other_methods_is_passed_on_untouched(scripted):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY))
    exchange(proxy.port, b"GET /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n")
    assert b"\r\nMax-Forwards: 0\r\n" in server.all_received()


def test_an_invalid_max_forwards_on_options_is_refused(scripted):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY))
    head, _, _ = exchange(proxy.port, b"OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: -1\r\n\r\n")
    assert head.startswith("HTTP/1.1 400"), head
    assert server.connections == 0


def test_trace_is_refused_by_default(scripted):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY))
    head, _, _ = exchange(proxy.port, b"TRACE /x HTTP/1.1\r\nHost: a\r\nCookie: secret\r\n\r\n")
    assert head.startswith("HTTP/1.1 405"), head
    assert server.connections == 0


def test_an_allowed_trace_is_forwarded_and_reflected_at_max_forwards_zero(scripted):
    server, proxy, _ = scripted(answer_each_request(OK_EMPTY), allow_trace=True)
    head, _, _ = exchange(proxy.port, b"TRACE /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 2\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    assert b"TRACE /x HTTP/1.1\r\n" in server.all_received()
    assert b"\r\nMax-Forwards: 1\r\n" in server.all_received()
    connections = server.connections
    head, body, _ = exchange(
        proxy.port,
        b"TRACE /y HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nCookie: secret\r\n"
        b"Authorization: Basic eDp5\r\nX-Seen: 1\r\n\r\n",
    )
    assert head.startswith("HTTP/1.1 200") and "content-type: message/http" in head.lower(), head
    assert body == b"TRACE /y HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nX-Seen: 1\r\n\r\n"
    assert server.connections == connections
