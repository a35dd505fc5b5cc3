"""`mode: tcp`: bytes pumped both ways unchanged, with half-close passed through."""

import socket

from harness import HOST, IO_TIMEOUT_S, HttpConnection, InBackground, free_port, send_pattern
from harness import PatternCheck, header_values


def tcp_proxy(backends, ballast, count=1, args=("--echo",)):
    servers = backends.start_many(count, args=args)
    return ballast.start_short(servers, mode="tcp")


def connect(port, timeout_s=IO_TIMEOUT_S):
    return socket.create_connection((HOST, port), timeout=timeout_s)


def read_to_eof(sock):
    parts = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return b"".join(parts)
        parts.append(data)


def test_bytes_are_echoed_unchanged_both_ways(backends, ballast):
    proxy = tcp_proxy(backends, ballast)
    length = 16 << 20
    with connect(proxy.port) as sock:

        def send_then_half_close():
            send_pattern(sock, length)
            sock.shutdown(socket.SHUT_WR)

        sender = InBackground(send_then_half_close)
        check = PatternCheck()
        while check.length < length:  # read while sending, or both sides' buffers fill up
            data = sock.recv(min(1 << 20, length - check.length))
            assert data, f"EOF after {check.length} of {length} bytes"
            check(memoryview(data))
        tail = read_to_eof(sock)
        sender.result()
    assert tail == f"bye from s1 after {length} bytes\n".encode()


def test_half_close_from_the_client_keeps_the_return_path_open(backends, ballast):
    proxy = tcp_proxy(backends, ballast)
    with connect(proxy.port) as sock:
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        # The server answers only after it has seen our FIN, so this proves both directions.
        assert read_to_eof(sock) == b"hellobye from s1 after 5 bytes\n"


def test_half_close_with_no_bytes_sent(backends, ballast):
    proxy = tcp_proxy(backends, ballast)
    with connect(proxy.port) as sock:
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"bye from s1 after 0 bytes\n"


def test_connections_rotate_over_servers(backends, ballast):
    proxy = tcp_proxy(backends, ballast, count=3)
    names = []
    for _ in range(9):
        with connect(proxy.port) as sock:
            sock.shutdown(socket.SHUT_WR)
            names.append(read_to_eof(sock).split()[2].decode())
    assert sorted(names[:3]) == ["s1", "s2", "s3"], names
    assert names == names[:3] * 3


def test_http_passes_through_without_being_rewritten(backends, ballast):
    proxy = tcp_proxy(backends, ballast, args=())
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/echo", [("Connection", "keep-alive, X-Hop")])
    assert (response.status, response.backend) == (200, "s1")
    headers = response.json()["headers"]
    assert header_values(headers, "X-Forwarded-For") == []
    assert header_values(headers, "Connection") == ["keep-alive, X-Hop"]


def test_refused_server_closes_the_client_promptly(ballast):
    proxy = ballast.start_short([free_port()], mode="tcp")
    with connect(proxy.port, timeout_s=3) as sock:
        try:
            sock.sendall(b"anyone there?")
            assert read_to_eof(sock) == b""
        except ConnectionResetError:
            pass  # a reset is as good as a FIN here
