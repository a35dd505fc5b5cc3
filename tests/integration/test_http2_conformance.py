"""RFC 9113 conformance at the frame level, against the real ballast with an HTTP/1.1 server
behind it, organised by the RFC's sections. Each test sends what the section forbids and expects
the error the RFC names; where a request is malformed, the server must not have seen it, and the
connection (for a stream error) or ballast (for a connection error) goes on serving."""

import hyperframe.frame as frames
import pytest

from h2client import start_h2c_proxy
from h2frames import (
    COMPRESSION_ERROR,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PREFACE,
    PROTOCOL_ERROR,
    STREAM_CLOSED,
    RawH2,
)
from harness import HOST


@pytest.fixture
def backend(backends):
    return backends.start("s1")


@pytest.fixture
def proxy(ballast, backend):
    return start_h2c_proxy(ballast, [backend])[0]


def requests_seen(backend):
    return backend.stats()["requests_received"]


def still_serving(proxy):
    with RawH2(proxy.port) as fresh:
        assert fresh.get(1)[0] == 200


# --- §3.4 HTTP/2 connection preface ----------------------------------------------------------


def test_3_4_the_first_frame_after_the_preface_must_be_settings(proxy):
    with RawH2(proxy.port, handshake=False) as client:
        client.send_bytes(PREFACE)
        client.send(frames.PingFrame(0, opaque_data=b"12345678"))
        client.expect_goaway(PROTOCOL_ERROR)
    still_serving(proxy)


def test_3_4_a_valid_preface_is_answered_with_settings(proxy):
    with RawH2(proxy.port) as client:
        settings = next(f for f in client.received if isinstance(f, frames.SettingsFrame))
        assert settings.settings[frames.SettingsFrame.MAX_CONCURRENT_STREAMS] == 128
        assert client.get(1)[0] == 200


# --- §4.2 frame size ---------------------------------------------------------------------------


def test_4_2_a_frame_over_max_frame_size_is_a_frame_size_error(proxy, backend):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/upload", "POST"), end_stream=False)
        client.data(1, b"x" * 16385)
        client.expect_goaway(FRAME_SIZE_ERROR)
    still_serving(proxy)


# --- §4.3 field section compression ------------------------------------------------------------


def test_4_3_an_undecodable_header_block_is_a_compression_error(proxy, backend):
    with RawH2(proxy.port) as client:
        # Indexed field 0x7e: beyond the static table, and the dynamic table is empty.
        client.send(frames.HeadersFrame(1, data=b"\xfe", flags=["END_HEADERS", "END_STREAM"]))
        client.expect_goaway(COMPRESSION_ERROR)
    assert requests_seen(backend) == 0
    still_serving(proxy)


def test_4_3_a_header_block_interrupted_by_another_frame_is_a_protocol_error(proxy):
    with RawH2(proxy.port) as client:
        block = client.block(client.request_fields())
        client.send(frames.HeadersFrame(1, data=block[:3], flags=["END_STREAM"]))
        client.send(frames.PingFrame(0, opaque_data=b"12345678"))
        client.expect_goaway(PROTOCOL_ERROR)


# --- §5.1 stream states ------------------------------------------------------------------------


def test_5_1_data_on_an_idle_stream_is_a_protocol_error(proxy):
    with RawH2(proxy.port) as client:
        client.data(1, b"hello", end_stream=True)
        client.expect_goaway(PROTOCOL_ERROR)


def test_5_1_1_a_client_stream_id_must_be_odd(proxy, backend):
    with RawH2(proxy.port) as client:
        client.headers(2, client.request_fields())
        client.expect_goaway(PROTOCOL_ERROR)
    assert requests_seen(backend) == 0


def test_5_1_1_stream_ids_must_increase(proxy):
    with RawH2(proxy.port) as client:
        assert client.get(5)[0] == 200
        client.headers(3, client.request_fields())
        client.expect_goaway(PROTOCOL_ERROR)


def test_5_1_data_after_end_stream_is_stream_closed(proxy):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/delay/300"))
        client.data(1, b"late")
        frame = client.expect(lambda f: isinstance(f, (frames.RstStreamFrame, frames.GoAwayFrame)))
        assert frame.error_code == STREAM_CLOSED


# --- §5.4 / §6.4 resets -----------------------------------------------------------------------


def test_6_4_a_reset_stream_ends_quietly_and_the_connection_goes_on(proxy):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/delay/300"))
        client.send(frames.RstStreamFrame(1, error_code=0x8))
        assert client.get(3)[0] == 200


# --- §6.5 SETTINGS, §6.7 PING, §6.9 WINDOW_UPDATE ------------------------------------------


def test_6_5_2_an_initial_window_over_the_maximum_is_a_flow_control_error(proxy):
    with RawH2(proxy.port) as client:
        client.send(frames.SettingsFrame(0, settings={frames.SettingsFrame.INITIAL_WINDOW_SIZE:
                                                      2**31}))
        client.expect_goaway(FLOW_CONTROL_ERROR)


def test_6_5_a_settings_ack_with_a_payload_is_a_frame_size_error(proxy):
    with RawH2(proxy.port) as client:
        client.send_bytes(b"\x00\x00\x06\x04\x01\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00\x01")
        client.expect_goaway(FRAME_SIZE_ERROR)


def test_6_7_a_ping_is_answered_with_its_payload(proxy):
    with RawH2(proxy.port) as client:
        client.send(frames.PingFrame(0, opaque_data=b"ballast!"))
        ack = client.expect(lambda f: isinstance(f, frames.PingFrame) and "ACK" in f.flags)
        assert ack.opaque_data == b"ballast!"


def test_6_9_a_zero_window_increment_is_a_protocol_error(proxy):
    # On a stream, a stream error, which §5.4.1 lets an endpoint treat as a connection error:
    # nghttp2 does.
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/delay/300"))
        client.send_bytes(b"\x00\x00\x04\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00")
        frame = client.expect(lambda f: isinstance(f, (frames.RstStreamFrame, frames.GoAwayFrame)))
        assert frame.error_code == PROTOCOL_ERROR
    still_serving(proxy)


def test_6_9_1_a_window_beyond_2_31_minus_1_is_a_flow_control_error(proxy):
    with RawH2(proxy.port) as client:
        client.send(frames.WindowUpdateFrame(0, window_increment=2**31 - 1))
        client.expect_goaway(FLOW_CONTROL_ERROR)


def test_6_9_more_data_than_the_window_allows_is_a_flow_control_error(proxy):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/hang", "POST"), end_stream=False)
        for _ in range(5):  # 80 KiB into a 64 KiB stream window, nothing granted back
            client.data(1, b"x" * 16384)
        frame = client.expect(lambda f: isinstance(f, (frames.RstStreamFrame, frames.GoAwayFrame)))
        assert frame.error_code == FLOW_CONTROL_ERROR


# --- §8.1.1 malformed messages: content-length --------------------------------------------


@pytest.mark.parametrize("declared, sent", [("10", b"hello"), ("3", b"hello world")],
                         ids=["less_data", "more_data"])
def test_8_1_1_data_that_disagrees_with_content_length_is_malformed(proxy, declared, sent):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/upload", "POST", [("content-length", declared)]),
                       end_stream=False)
        client.data(1, sent, end_stream=True)
        client.expect_reset(1, PROTOCOL_ERROR)
        assert client.get(3)[0] == 200


def test_8_1_1_the_smuggled_request_never_reaches_the_server(proxy, backend):
    """H2.CL: a declared length of 0 with a body that is another HTTP/1.1 request."""
    smuggled = b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields("/echo", "POST", [("content-length", "0")]),
                       end_stream=False)
        client.data(1, smuggled, end_stream=True)
        client.expect_reset(1, PROTOCOL_ERROR)
        assert client.get(3, "/stats-probe")[0] == 200
    assert requests_seen(backend) <= 2  # the probe, and /echo if it went before its DATA


# --- §8.2 fields --------------------------------------------------------------------------


@pytest.mark.parametrize("field", [
    ("connection", "keep-alive"),
    ("transfer-encoding", "chunked"),
    ("keep-alive", "timeout=5"),
    ("proxy-connection", "keep-alive"),
    ("upgrade", "websocket"),
    ("te", "gzip"),
], ids=lambda f: f[0])
def test_8_2_2_connection_specific_fields_are_malformed(proxy, backend, field):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields(extra=[field]))
        client.expect_reset(1, PROTOCOL_ERROR)
        assert client.get(3)[0] == 200
    assert requests_seen(backend) == 1


def test_8_2_2_te_trailers_is_allowed(proxy):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields(extra=[("te", "trailers")]))
        assert client.response(1)[0] == 200


@pytest.mark.parametrize("field", [
    ("X-Upper", "1"),
    ("x-bad", "a\r\nInjected: yes"),
    ("x-nul", "a\x00b"),
    ("x bad", "1"),
], ids=["uppercase-name", "crlf-in-value", "nul-in-value", "space-in-name"])
def test_8_2_1_forbidden_field_bytes_are_malformed(proxy, backend, field):
    with RawH2(proxy.port) as client:
        client.headers(1, client.request_fields(extra=[field]))
        client.expect_reset(1, PROTOCOL_ERROR)
        assert client.get(3)[0] == 200
    assert requests_seen(backend) == 1


# --- §8.3 pseudo-header fields --------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    [(":scheme", "http"), (":path", "/"), (":authority", HOST)],
    [(":method", "GET"), (":scheme", "http"), (":authority", HOST)],
    [(":method", "GET"), (":path", "/"), (":authority", HOST)],
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":path", "/x"),
     (":authority", HOST)],
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", HOST),
     (":custom", "x")],
    [(":method", "GET"), (":scheme", "http"), ("x-regular", "1"), (":path", "/"),
     (":authority", HOST)],
    [(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", HOST)],
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", HOST),
     (":status", "200")],
], ids=["no-method", "no-path", "no-scheme", "duplicate-path", "unknown-pseudo",
        "pseudo-after-regular", "empty-path", "response-pseudo"])
def test_8_3_invalid_pseudo_header_fields_are_malformed(proxy, backend, fields):
    with RawH2(proxy.port) as client:
        client.headers(1, fields)
        client.expect_reset(1, PROTOCOL_ERROR)
        assert client.get(3)[0] == 200
    assert requests_seen(backend) == 1


def test_8_3_1_authority_becomes_the_host_the_server_sees(proxy):
    with RawH2(proxy.port) as client:
        fields = [(":method", "GET"), (":scheme", "http"), (":path", "/echo"),
                  (":authority", "example.test")]
        client.headers(1, fields)
        status, _, body = client.response(1)
    assert status == 200 and b'["Host", "example.test"]' in body


# --- §8.1 early response ----------------------------------------------------------------------


def test_8_1_a_complete_early_response_ends_the_request_with_no_error(proxy):
    with RawH2(proxy.port) as client:
        # TRACE is refused by ballast itself, before the body it said would follow.
        client.headers(1, client.request_fields("/", "TRACE"), end_stream=False)
        status, _, _ = client.response(1)
        assert status == 405
        frame = client.expect(lambda f: isinstance(f, frames.RstStreamFrame) and f.stream_id == 1)
        assert frame.error_code == NO_ERROR
