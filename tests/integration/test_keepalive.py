"""Connection reuse on both sides: keep-alive to clients, a keep-alive pool to servers."""

import time

from harness import HttpConnection, build_request, served_by

REQUESTS = 200
MAX_UPSTREAM_CONNECTIONS = 5  # one worker, sequential requests: one pooled connection suffices


def accepted_during(backend, action):
    before = backend.stats()["connections_accepted"]
    action()
    return backend.stats()["connections_accepted"] - before


def test_one_client_connection_reuses_pooled_server_connections(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    accepted = accepted_during(server, lambda: served_by(proxy.port, REQUESTS))
    assert 1 <= accepted <= MAX_UPSTREAM_CONNECTIONS, f"{accepted} accepts for {REQUESTS} requests"


def test_many_client_connections_share_pooled_server_connections(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    accepted = accepted_during(
        server, lambda: served_by(proxy.port, REQUESTS, fresh_connections=True)
    )
    assert 1 <= accepted <= MAX_UPSTREAM_CONNECTIONS, f"{accepted} accepts for {REQUESTS} requests"


def test_client_connection_stays_open_between_requests(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    with HttpConnection(proxy.port) as connection:
        for _ in range(50):
            assert connection.request("GET", "/").status == 200
        assert not connection.closed_by_peer(timeout_s=0.3)
        assert connection.request("GET", "/").status == 200


def test_connection_close_from_the_client_closes_after_the_response(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/", [("Connection", "close")])
        assert response.status == 200
        assert connection.closed_by_peer()


def test_http_1_0_without_keep_alive_closes_after_the_response(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    with HttpConnection(proxy.port) as connection:
        connection.send(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        response = connection.read_response()
        assert (response.status, response.body) == (200, b"s1\n")
        assert connection.closed_by_peer()


def test_http_1_0_with_keep_alive_stays_open(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    request = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
    with HttpConnection(proxy.port) as connection:
        for _ in range(3):
            connection.send(request)
            response = connection.read_response()
            assert (response.status, response.body) == (200, b"s1\n")
        assert not connection.closed_by_peer(timeout_s=0.3)


def test_server_connections_are_reused_across_requests_with_bodies(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])

    def uploads():
        with HttpConnection(proxy.port) as connection:
            for i in range(REQUESTS):
                connection.send(build_request("POST", "/upload", body=b"x" * i))
                response = connection.read_response()
                assert (response.status, response.json()["length"]) == (200, i)

    accepted = accepted_during(server, uploads)
    assert 1 <= accepted <= MAX_UPSTREAM_CONNECTIONS, f"{accepted} accepts for {REQUESTS} requests"


def test_connection_the_server_closed_as_it_answered_is_not_pooled(backends, ballast):
    # The server's FIN came with its keep-alive response (bodiless: the exchange completes
    # before another read could see the EOF). Pooling that connection would send the next
    # request into a closed socket, and a request with a body cannot be replayed.
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    with HttpConnection(proxy.port) as connection:
        for _ in range(20):
            assert connection.request("HEAD", "/close-after").status == 200
            time.sleep(0.02)  # the FIN is in; a server closing just as a request goes is a race
            response = connection.request("POST", "/upload", body=b"x" * 1000)
            assert response.status == 200, response
            assert response.json()["length"] == 1000
