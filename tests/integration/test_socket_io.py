"""Both ways ballast reads and sends in clear: in batches through io_uring (the default, where the
kernel allows it) and one syscall each (`io_uring: false`). The same traffic must pass either way:
keep-alive, pipelined requests, many connections at once, a body larger than any socket buffer
to a client that reads slowly (short sends, then EAGAIN), an upload, and a client that leaves
mid-response."""

import socket
import threading
import time

import pytest

from events import wait_log
from harness import (
    HOST,
    HttpConnection,
    PatternCheck,
    build_request,
    listen_port,
    send_pattern,
    served_by,
)

BIG = 32 << 20


@pytest.fixture(params=[True, False], ids=["io_uring", "syscalls"])
def proxy(request, backends, ballast):
    config = ballast.short_config([backends.start("s1"), backends.start("s2")])
    config["io_uring"] = request.param
    process = ballast.start(config, listen_port(config))
    socket_io = wait_log(process, "ballast started", 5)[0]["socket_io"]
    if request.param and socket_io != "io_uring":
        pytest.skip("the kernel gives this process no io_uring")
    assert socket_io == ("io_uring" if request.param else "syscalls")
    return process


def test_keep_alive_requests_alternate_servers(proxy):
    names = served_by(proxy.port, 200)
    assert set(names) == {"s1", "s2"}
    assert all(a != b for a, b in zip(names, names[1:]))


def test_pipelined_requests_are_answered_in_order(proxy):
    with HttpConnection(proxy.port) as connection:
        connection.send(b"".join(build_request("GET", f"/echo?n={i}") for i in range(20)))
        targets = [connection.read_response().json()["target"] for _ in range(20)]
    assert targets == [f"/echo?n={i}" for i in range(20)]


def test_many_connections_at_once(proxy):
    failures = []

    def client():
        try:
            served_by(proxy.port, 20)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures[:3]


def test_a_slow_reader_gets_every_byte_of_a_large_body(proxy):
    check = PatternCheck()

    def slowly(view):
        check(view)
        if check.length < (8 << 20):
            time.sleep(0.02)  # meanwhile the proxy's sends fill the socket and come up short

    with HttpConnection(proxy.port, timeout_s=30) as connection:
        connection.send(build_request("GET", f"/bytes/{BIG}"))
        response = connection.read_response(sink=slowly)
    assert response.status == 200
    assert check.length == BIG


def test_an_upload_arrives_whole(proxy):
    with HttpConnection(proxy.port, timeout_s=30) as connection:
        connection.send(build_request("POST", "/upload", [("Content-Length", str(BIG))]))
        sha256 = send_pattern(connection.sock, BIG)
        response = connection.read_response()
    assert response.status == 200
    assert (response.json()["length"], response.json()["sha256"]) == (BIG, sha256)


def test_a_client_leaving_mid_response_leaves_the_proxy_serving(proxy):
    for _ in range(5):
        sock = socket.create_connection((HOST, proxy.port))
        sock.sendall(build_request("GET", f"/bytes/{BIG}"))
        sock.recv(1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset while the proxy is sending
    assert served_by(proxy.port, 10)
