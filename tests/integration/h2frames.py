"""HTTP/2 frames by hand (Debian's python3-hyperframe and python3-hpack), for tests that send what
a well-behaved client never would and read exactly which frame comes back."""

import socket
import time

import hpack
import hyperframe.frame as frames

from harness import HOST

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7 error codes.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB


class RawH2:
    """One HTTP/2 connection in clear (prior knowledge), spoken frame by frame."""

    def __init__(self, port, settings=None, handshake=True, timeout_s=5):
        self.sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.pending = b""
        self.received = []  # every frame read, in order
        self.closed = False
        if handshake:
            self.sock.sendall(PREFACE)
            self.send(frames.SettingsFrame(0, settings=settings or {}))
            # Read acknowledges it (as every SETTINGS and PING that arrives).
            self.expect(lambda f: isinstance(f, frames.SettingsFrame) and "ACK" not in f.flags)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.sock.close()

    def send(self, frame):
        self.send_bytes(frame.serialize())

    def send_bytes(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def block(self, fields):
        """An HPACK header block for `fields` (a list of (name, value))."""
        return self.encoder.encode(fields)

    def request_fields(self, path="/", method="GET", extra=()):
        return [(":method", method), (":scheme", "http"), (":path", path),
                (":authority", HOST)] + list(extra)

    def headers(self, stream_id, fields, end_stream=True, end_headers=True):
        flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
        self.send(frames.HeadersFrame(stream_id, data=self.block(fields), flags=flags))

    def data(self, stream_id, payload, end_stream=False):
        self.send(frames.DataFrame(stream_id, data=payload,
                                   flags=["END_STREAM"] if end_stream else []))

    def read_frame(self, deadline):
        while True:
            if len(self.pending) >= 9:
                length = int.from_bytes(self.pending[:3], "big")
                if len(self.pending) >= 9 + length:
                    frame, _ = frames.Frame.parse_frame_header(memoryview(self.pending[:9]))
                    frame.parse_body(memoryview(self.pending[9:9 + length]))
                    self.pending = self.pending[9 + length:]
                    self.received.append(frame)
                    if isinstance(frame, frames.SettingsFrame) and "ACK" not in frame.flags:
                        self.send(frames.SettingsFrame(0, flags=["ACK"]))
                    if isinstance(frame, frames.PingFrame) and "ACK" not in frame.flags:
                        self.send(frames.PingFrame(0, opaque_data=frame.opaque_data,
                                                   flags=["ACK"]))
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.pending += chunk

    def expect(self, condition, timeout_s=5):
        """The first frame meeting `condition` within timeout_s; fails otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.read_frame(deadline)
            if frame is None:
                raise AssertionError(f"no such frame; got {self.received[-8:]}, "
                                     f"closed={self.closed}")
            if condition(frame):
                return frame

    def expect_goaway(self, error_code, timeout_s=5):
        frame = self.expect(lambda f: isinstance(f, frames.GoAwayFrame), timeout_s)
        assert frame.error_code == error_code, f"GOAWAY {frame.error_code:#x}, not {error_code:#x}"
        return frame

    def expect_reset(self, stream_id, error_code, timeout_s=5):
        frame = self.expect(lambda f: isinstance(f, (frames.RstStreamFrame, frames.GoAwayFrame))
                            and f.stream_id in (stream_id, 0), timeout_s)
        assert isinstance(frame, frames.RstStreamFrame), f"{frame} instead of RST_STREAM"
        assert frame.error_code == error_code, f"RST_STREAM {frame.error_code:#x}"
        return frame

    def response(self, stream_id, timeout_s=5):
        """(status, fields, body) of the stream's response, read to its END_STREAM."""
        fields, body = None, b""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.read_frame(deadline)
            assert frame is not None, f"stream {stream_id} did not end; got {self.received[-8:]}"
            if frame.stream_id != stream_id:
                continue
            if isinstance(frame, frames.HeadersFrame) and fields is None:
                fields = [(n.decode() if isinstance(n, bytes) else n,
                           v.decode() if isinstance(v, bytes) else v)
                          for n, v in self.decoder.decode(frame.data)]
            elif isinstance(frame, frames.DataFrame):
                body += frame.data
                if frame.data:
                    self.send(frames.WindowUpdateFrame(0, window_increment=len(frame.data)))
                    self.send(frames.WindowUpdateFrame(stream_id,
                                                       window_increment=len(frame.data)))
            elif isinstance(frame, frames.RstStreamFrame):
                raise AssertionError(f"stream {stream_id} reset: {frame.error_code:#x}")
            if "END_STREAM" in frame.flags:
                return int(dict(fields)[":status"]), fields, body

    def get(self, stream_id, path="/"):
        self.headers(stream_id, self.request_fields(path))
        return self.response(stream_id)
