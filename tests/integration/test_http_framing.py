"""HTTP/1.1 message framing through the proxy, and the headers it adds, keeps and removes."""

import hashlib
import time
from collections import Counter

import pytest

from harness import HttpConnection, InBackground, PatternCheck, build_request, chunked
from harness import header_values


@pytest.fixture
def proxy(backends, ballast):
    return ballast.start_short(backends.start_many(2))


def echo(port, headers=(), host="127.0.0.1"):
    """What the backend received for GET /echo: (its headers as [(name, value)], the document)."""
    with HttpConnection(port) as connection:
        response = connection.request("GET", "/echo", headers, host=host)
    assert response.status == 200, response
    document = response.json()
    return [tuple(pair) for pair in document["headers"]], document


def test_chunked_request_body_arrives_whole(proxy):
    pieces = [b"hello ", b"x" * 100_000, b"", b"world"]
    body = b"".join(pieces)
    with HttpConnection(proxy.port) as connection:
        connection.send(
            build_request("POST", "/upload", [("Transfer-Encoding", "chunked")], chunked(*pieces))
        )
        response = connection.read_response()
    assert response.status == 200
    assert response.json()["length"] == len(body)
    assert response.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_chunk_extensions_and_trailers_are_accepted(proxy):
    raw = b'5;name=value\r\nhello\r\n6 ; x="y"\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n'
    with HttpConnection(proxy.port) as connection:
        connection.send(build_request("POST", "/upload", [("Transfer-Encoding", "chunked")], raw))
        response = connection.read_response()
    assert response.status == 200
    assert response.json()["length"] == len(b"hello world")


def test_content_length_request_body_arrives_whole(proxy):
    body = bytes(range(256)) * 4096
    with HttpConnection(proxy.port) as connection:
        response = connection.request("POST", "/upload", body=body)
    assert response.status == 200
    assert response.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_response_body_arrives_whole(proxy):
    check = PatternCheck()
    with HttpConnection(proxy.port) as connection:
        connection.send(build_request("GET", "/chunked/300000"))
        response = connection.read_response(sink=check)
        assert response.status == 200
        assert check.length == 300_000
        assert connection.request("GET", "/").status == 200  # the framing ended where it should


def test_empty_chunked_response(proxy):
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/chunked/0")
        assert (response.status, response.body) == (200, b"")
        assert connection.request("GET", "/").status == 200


def test_response_never_has_both_content_length_and_chunked(proxy):
    with HttpConnection(proxy.port) as connection:
        for target in ("/chunked/1000", "/bytes/1000", "/"):
            response = connection.request("GET", target)
            framing = {h.lower() for h, _ in response.headers}
            assert not {"content-length", "transfer-encoding"} <= framing, response


@pytest.mark.parametrize("target", ["/bytes/5000", "/chunked/5000", "/echo"])
def test_head_response_has_no_body(proxy, target):
    with HttpConnection(proxy.port) as connection:
        response = connection.request("HEAD", target)
        assert response.status == 200
        # Had the proxy sent a body, these bytes would be read as the next response.
        follow_up = connection.request("GET", "/")
        assert (follow_up.status, follow_up.body[-1:]) == (200, b"\n")


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_status_has_no_body(proxy, status):
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", f"/status/{status}")
        assert response.status == status
        follow_up = connection.request("GET", "/")
        assert (follow_up.status, follow_up.body[-1:]) == (200, b"\n")


def test_pipelined_requests_are_answered_in_order(proxy):
    requests = [
        build_request("GET", "/echo?n=1"),
        build_request("HEAD", "/bytes/100"),
        build_request("GET", "/status/404"),
        build_request("GET", "/chunked/1000"),
        build_request("POST", "/upload", body=b"0123456789"),
        build_request("GET", "/status/204"),
        build_request("GET", "/bytes/7"),
    ]
    with HttpConnection(proxy.port) as connection:
        connection.send(b"".join(requests))
        responses = [
            connection.read_response(head_request=request.startswith(b"HEAD"))
            for request in requests
        ]
    assert [r.status for r in responses] == [200, 200, 404, 200, 200, 204, 200]
    assert responses[0].json()["target"] == "/echo?n=1"
    assert responses[1].body == b""
    assert len(responses[3].body) == 1000
    assert responses[4].json()["length"] == 10
    assert len(responses[6].body) == 7


def test_pipelined_responses_keep_order_when_a_later_one_is_faster(proxy):
    targets = ["/delay/300", "/bytes/7", "/delay/100", "/bytes/11"]
    with HttpConnection(proxy.port) as connection:
        connection.send(b"".join(build_request("GET", t) for t in targets))
        lengths = [len(connection.read_response().body) for _ in targets]
    assert lengths == [3, 7, 3, 11]  # a /delay body is the backend's name and a newline


def test_pipelined_bodiless_responses_wait_for_a_client_that_reads_late(proxy):
    # A bodiless response is only a head, which waits in the proxy's output buffer while the
    # client reads nothing. Later requests must wait for that buffer to drain: answered into
    # a full one, a head does not fit, and the answer to that was a 502 in mid-stream.
    count = 2000  # 4 KiB heads: more than the socket buffers hold
    request = build_request("HEAD", "/response-headers?X-Pad=" + "p" * 4000)
    with HttpConnection(proxy.port, timeout_s=30) as connection:
        sender = InBackground(connection.send, request * count)
        time.sleep(1.0)  # the proxy answers all it can while nothing is read
        statuses = Counter(
            connection.read_response(head_request=True).status for _ in range(count)
        )
        sender.result()
    assert statuses == {200: count}


def test_x_forwarded_headers_are_added(proxy):
    headers, _ = echo(proxy.port, host="app.example:8443")
    assert header_values(headers, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(headers, "X-Real-IP") == ["127.0.0.1"]
    assert header_values(headers, "X-Forwarded-Proto") == ["http"]
    assert header_values(headers, "X-Forwarded-Host") == ["app.example:8443"]
    assert header_values(headers, "X-Forwarded-Port") == [str(proxy.port)]
    assert header_values(headers, "Via") == ["1.1 ballast"]
    assert header_values(headers, "Forwarded") == []  # only with forwarding.forwarded


def test_x_real_ip_from_the_client_is_not_trusted(proxy):
    headers, _ = echo(proxy.port, [("X-Real-IP", "203.0.113.7")])
    assert header_values(headers, "X-Real-IP") == ["127.0.0.1"]


def test_host_header_is_kept(proxy):
    headers, _ = echo(proxy.port, host="app.example.test:8443")
    assert header_values(headers, "Host") == ["app.example.test:8443"]


def test_end_to_end_headers_and_query_are_kept(proxy):
    headers, document = echo(
        proxy.port, [("X-Custom", "a, b"), ("X-Custom", "c"), ("Cookie", "k=v")]
    )
    assert header_values(headers, "X-Custom") == ["a, b", "c"]
    assert header_values(headers, "Cookie") == ["k=v"]
    assert document["method"] == "GET"


def test_hop_by_hop_request_headers_are_removed(proxy):
    sent = [
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "secret"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Proxy-Connection", "keep-alive"),
        ("X-End-To-End", "kept"),
    ]
    headers, _ = echo(proxy.port, sent)
    names = {name.lower() for name, _ in headers}
    leaked = names & {"x-hop", "keep-alive", "te", "proxy-connection"}
    assert not leaked, f"hop-by-hop headers reached the backend: {leaked}"
    connection_options = ",".join(header_values(headers, "Connection")).lower()
    assert "x-hop" not in connection_options
    assert header_values(headers, "X-End-To-End") == ["kept"]


def test_hop_by_hop_response_headers_are_removed(proxy):
    query = "Connection=X-Hop&X-Hop=secret&Keep-Alive=timeout%3D1234&X-End-To-End=kept"
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", f"/response-headers?{query}")
    assert response.status == 200
    assert response.header_all("X-Hop") == []
    assert "timeout=1234" not in response.header_all("Keep-Alive")
    assert "x-hop" not in ",".join(response.header_all("Connection")).lower()
    assert response.header_all("X-End-To-End") == ["kept"]


def test_expect_100_continue_gets_continue_before_the_body(proxy):
    body = b"y" * 5000
    head = build_request("POST", "/upload", [("Expect", "100-continue")], body)[: -len(body)]
    with HttpConnection(proxy.port, timeout_s=3) as connection:
        connection.send(head)
        interim = connection.read_head()  # times out if the proxy waits for the body
        assert interim.status == 100
        connection.send(body)
        response = connection.read_response()
    assert response.status == 200
    assert response.json()["length"] == len(body)
