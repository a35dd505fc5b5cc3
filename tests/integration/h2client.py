"""An HTTP/2 client for the tests, on Debian's python3-h2: requests on streams of one connection,
with control over what a real client does for itself (acknowledging DATA, settings), and every
event kept so a test can see resets and GOAWAY."""

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import hyperframe.frame

from harness import HOST, free_port, server_entry


class Stream:
    def __init__(self):
        self.headers = []
        self.data = bytearray()
        self.trailers = []
        self.ended = False
        self.reset = None  # the RST_STREAM error code, if reset

    @property
    def status(self):
        return int(dict(self.headers)[":status"])

    def header(self, name):
        return dict(self.headers).get(name)


class H2Client:
    """One HTTP/2 connection in clear (prior knowledge) or over TLS (ALPN h2)."""

    def __init__(self, port, tls_ca=None, server_name="localhost", acknowledge=True,
                 settings=None, timeout_s=10):
        raw = socket.create_connection((HOST, port), timeout=timeout_s)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=str(tls_ca))
            context.set_alpn_protocols(["h2"])
            raw = context.wrap_socket(raw, server_hostname=server_name)
            assert raw.selected_alpn_protocol() == "h2"
        self.sock = raw
        self.acknowledge = acknowledge
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                           validate_outbound_headers=False,
                                           normalize_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.streams = {}
        self.goaway = None  # (error code, last stream id) once received
        self.pending = bytearray()  # bytes of a frame not yet whole
        self.closed = False
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, headers=(), body=None, end=True, authority=None):
        """Opens a stream; returns its id. `body` (bytes) goes in DATA frames; `end`=False leaves
        the stream open for send_data()."""
        stream_id = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":path", path),
                  (":authority", authority or f"{HOST}")] + list(headers)
        self.conn.send_headers(stream_id, fields, end_stream=end and body is None)
        self.streams[stream_id] = Stream()
        self.flush()
        if body is not None:
            self.send_data(stream_id, body, end=end)
        return stream_id

    def send_data(self, stream_id, data, end=False):
        offset = 0
        while True:
            window = min(self.conn.local_flow_control_window(stream_id),
                         self.conn.max_outbound_frame_size)
            piece = data[offset:offset + max(window, 0)]
            last = offset + len(piece) >= len(data)
            if piece or last:
                self.conn.send_data(stream_id, piece, end_stream=end and last)
                self.flush()
            offset += len(piece)
            if last:
                return
            self.read_events(0.05)  # waits for WINDOW_UPDATE

    def read_events(self, timeout_s):
        """Reads what arrives within timeout_s (at least one read); False once the peer closed."""
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (ConnectionResetError, ssl.SSLError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        self.pending += data
        while len(self.pending) >= 9:
            length = int.from_bytes(self.pending[:3], "big")
            if len(self.pending) < 9 + length:
                break
            frame, self.pending = self.pending[:9 + length], self.pending[9 + length:]
            if self.goaway is None:
                for event in self.conn.receive_data(bytes(frame)):
                    self.handle(event)
            else:
                self.after_goaway(bytes(frame))
        self.flush()
        return True

    def after_goaway(self, data):
        """python-h2 closes its state machine at GOAWAY, but RFC 9113 §6.8 lets the streams up to
        its last stream id finish: their frames are read here by hand."""
        frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        stream = self.streams.get(frame.stream_id)
        if stream is None:
            return
        if isinstance(frame, hyperframe.frame.DataFrame):
            stream.data += frame.data
        elif isinstance(frame, hyperframe.frame.HeadersFrame):
            fields = [(n.decode() if isinstance(n, bytes) else n,
                       v.decode() if isinstance(v, bytes) else v)
                      for n, v in self.conn.decoder.decode(frame.data)]
            if stream.headers:
                stream.trailers = fields
            else:
                stream.headers = fields
        elif isinstance(frame, hyperframe.frame.RstStreamFrame):
            stream.reset = frame.error_code
            stream.ended = True
        if "END_STREAM" in frame.flags:
            stream.ended = True

    def handle(self, event):
        stream = self.streams.get(getattr(event, "stream_id", None))
        if isinstance(event, h2.events.ResponseReceived):
            stream.headers = event.headers
        elif isinstance(event, h2.events.TrailersReceived):
            stream.trailers = event.headers
        elif isinstance(event, h2.events.DataReceived):
            stream.data += event.data
            if self.acknowledge:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream.ended = True
        elif isinstance(event, h2.events.StreamReset):
            if stream is not None:
                stream.reset = event.error_code
                stream.ended = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = (event.error_code, event.last_stream_id)

    def wait(self, stream_id, timeout_s=10):
        """Reads until the stream has ended (or was reset); the Stream."""
        deadline = time.monotonic() + timeout_s
        stream = self.streams[stream_id]
        while not stream.ended:
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {stream_id} did not end in {timeout_s}s")
            if not self.read_events(0.2) and not stream.ended:
                raise AssertionError(f"connection closed before stream {stream_id} ended")
        return stream

    def get(self, path, headers=(), timeout_s=10):
        return self.wait(self.request("GET", path, headers), timeout_s)

    def wait_closed(self, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        while not self.closed:
            if time.monotonic() > deadline:
                raise AssertionError(f"connection still open after {timeout_s}s")
            self.read_events(0.2)


def start_h2c_proxy(ballast, servers, **extra):
    """ballast with one worker and an `h2c: true` listener in front of `servers`; returns the
    process and the config it was given (for a reload)."""
    port = free_port()
    config = {
        "workers": 1,
        "drain_timeout": "5s",
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "h2c": True,
                       "routes": [{"cluster": "app"}]}],
        "clusters": {"app": {"servers": [server_entry(s) for s in servers]}},
        **extra,
    }
    return ballast.start(config, port), config
