"""Requests that could be framed two ways get 400 and a closed connection, and never reach a
server; oversized heads get 431."""

import pytest

from harness import HttpConnection, build_request, get

# A request hidden in the body: if anything frames the message differently from the proxy,
# this becomes a second request.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def post(*header_lines, body=b""):
    head = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        h + b"\r\n" for h in header_lines
    )
    return head + b"\r\n" + body


# Shapes rejected while reading the head: the server must never see any of them.
HEAD_SHAPES = {
    "content_length_and_chunked": post(
        b"Content-Length: 6", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED
    ),
    "chunked_and_content_length": post(
        b"Transfer-Encoding: chunked", b"Content-Length: 6", body=b"0\r\n\r\n" + SMUGGLED
    ),
    "differing_content_lengths": post(b"Content-Length: 5", b"Content-Length: 50", body=b"hello"),
    "differing_content_length_list": post(b"Content-Length: 5, 50", body=b"hello"),
    "signed_content_length": post(b"Content-Length: +5", body=b"hello"),
    "non_numeric_content_length": post(b"Content-Length: 5x", body=b"hello"),
    "chunked_not_last_coding": post(b"Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n"),
    "obs_fold": post(b"X-A: a", b" folded", b"Content-Length: 0"),
    "obs_fold_in_transfer_encoding": post(b"Transfer-Encoding:", b" chunked", body=b"0\r\n\r\n"),
    "bare_cr_in_value": post(b"X-A: a\rb", b"Content-Length: 0"),
    "bare_cr_in_request_line": b"GET /\r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "nul_in_value": post(b"X-A: a\0b", b"Content-Length: 0"),
    "space_in_header_name": post(b"X A: 1", b"Content-Length: 0"),
    "space_before_colon": post(b"Content-Length : 5", body=b"hello"),
    "control_char_in_header_name": post(b"X-A\x01: 1", b"Content-Length: 0"),
    "empty_header_name": post(b": 1", b"Content-Length: 0"),
    "missing_host": b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
}

# Shapes found in the body: the head may already be on its way to a server.
BODY_SHAPES = {
    "non_hex_chunk_size": post(b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"),
    "negative_chunk_size": post(b"Transfer-Encoding: chunked", body=b"-5\r\nhello\r\n0\r\n\r\n"),
    "hex_prefixed_chunk_size": post(
        b"Transfer-Encoding: chunked", body=b"0x5\r\nhello\r\n0\r\n\r\n"
    ),
    "overflowing_chunk_size": post(
        b"Transfer-Encoding: chunked", body=b"10000000000000005\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk_data_longer_than_size": post(
        b"Transfer-Encoding: chunked", body=b"3\r\nhello\r\n0\r\n\r\n"
    ),
}


def rejected_with_close(port, raw, statuses=(400,)):
    """Sends raw and then SMUGGLED; expects one response with a status in `statuses`, then a close
    with no second response."""
    with HttpConnection(port, timeout_s=3) as connection:
        connection.send(raw + SMUGGLED)
        response = connection.read_response()
        assert response.status in statuses, response
        assert connection.closed_by_peer(), "connection left open after a rejected request"


@pytest.mark.parametrize("shape", HEAD_SHAPES, ids=list(HEAD_SHAPES))
def test_ambiguous_head_gets_400_and_close_and_never_reaches_the_server(backends, ballast, shape):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    received_before = server.stats()["requests_received"]
    rejected_with_close(proxy.port, HEAD_SHAPES[shape])
    assert server.stats()["requests_received"] == received_before
    assert get(proxy.port, "/").status == 200  # and the proxy still serves


@pytest.mark.parametrize("shape", BODY_SHAPES, ids=list(BODY_SHAPES))
def test_bad_chunked_body_gets_400_and_close(backends, ballast, shape):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    rejected_with_close(proxy.port, BODY_SHAPES[shape])
    assert server.stats()["requests_received"] <= 1  # its head at most; never /smuggled
    assert get(proxy.port, "/").status == 200


def test_unknown_transfer_coding_is_refused(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    raw = post(b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n")
    rejected_with_close(proxy.port, raw, statuses=(400, 501))  # RFC 9112 allows 501 here


HEAD_LIMIT = 64 * 1024


def test_head_just_under_the_limit_is_forwarded(backends, ballast):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    value = "v" * (HEAD_LIMIT - 4096)
    with HttpConnection(proxy.port) as connection:
        response = connection.request("GET", "/echo", [("X-Big", value)])
    assert response.status == 200
    assert [v for n, v in response.json()["headers"] if n.lower() == "x-big"] == [value]


@pytest.mark.parametrize("layout", ["one_big_header", "many_headers"])
def test_head_over_64_kib_gets_431(backends, ballast, layout):
    server = backends.start("s1")
    proxy = ballast.start_short([server])
    if layout == "one_big_header":
        headers = [("X-Big", "v" * (HEAD_LIMIT + 1))]
    else:
        headers = [(f"X-H{i}", "v" * 100) for i in range(HEAD_LIMIT // 100)]
    with HttpConnection(proxy.port, timeout_s=3) as connection:
        connection.send(build_request("GET", "/", headers))
        assert connection.read_response().status == 431
    assert server.stats()["requests_received"] == 0
    assert get(proxy.port, "/").status == 200
