#!/usr/bin/env python3
"""A test backend for ballast's integration tests: an HTTP/1.1 server, one thread per connection.

Every response carries `X-Backend: NAME`, and a body that names the backend unless the endpoint
says otherwise. Connections are kept alive (HTTP/1.1 rules; HTTP/1.0 only with keep-alive) and
pipelined requests are answered in order. Bodies are streamed, never held whole, so GiB streams
cost a few MiB.

Endpoints (any other path answers 200 with the backend's name):
  /echo              JSON: backend, method, target, version, headers (in order), body_length,
                     body_sha256, trailers, client ("ip:port" of the peer)
  /upload            reads the body (Content-Length or chunked); JSON: backend, length, sha256
  /status/CODE       answers CODE (200..599); 204 has no body, 304 a Content-Length but no body
  /delay/MS          answers after MS milliseconds
  /bytes/N           N bytes of PATTERN with Content-Length
  /chunked/N         N bytes of PATTERN chunked (varied chunk sizes), trailer X-Body-Length: N
  /response-headers?Name=Value&...   200 with those response headers added
  /head-bytes/N      200 whose head is about N bytes long (X-Fill-K fields of up to 4000 bytes)
  /close-after       a complete keep-alive response (no `Connection: close`) and FIN, in one segment
  /close-mid         Content-Length 1000000, 1000 bytes of body, then FIN; `?reset` sends RST
  /reset             reads the request, then RST without answering
  /hang              reads the request, never answers (closes once the peer does)
  /stats             JSON: connections_accepted, connections_open, requests_received,
                     requests_completed, health_checks (/stats, /control and /health requests are
                     not counted as requests; /health ones are counted in health_checks)
  /health            answers the `health` status of the control (default 200) after its
                     `health_delay_ms`; meant for ballast's health checks
  /control           changes how later requests are answered (below); JSON: the settings now
  /on/NAME/REST      serves /REST if this backend is NAME, else the default answer
A request carrying `Expect: 100-continue` and a body gets `100 Continue` before the body is read.

Runtime control, sent straight to the backend's own port (not through the proxy), as a query
(`GET /control?delay_ms=50&fail_percent=20&health=503`) or a JSON object
(`POST /control` with `{"delay_ms": 50}`); settings not named keep their value:
  delay_ms         added before answering any request other than /stats, /control, /health (0)
  jitter_ms        a further random delay of 0..jitter_ms on those requests (0)
  fail_percent     the share of those requests answered fail_status instead of the endpoint,
                   drawn from a random generator seeded with `seed`, so a run repeats (0)
  fail_status      the status of those failures, 200..599 (500)
  health           the status /health answers, 200..599 (200)
  health_delay_ms  how long /health waits before answering (0)
  seed             reseeds the generator (1)
--control QUERY sets them at start-up, in the query form (`--control health=503`), so a backend
is never seen with the defaults first.

Modes: --accept-only accepts TCP connections and never reads or answers; --echo is a raw TCP
echo server that, on the peer's FIN, sends "bye from NAME after N bytes\\n" and closes;
--unaccepting listens with a backlog of 0 and never accepts: once one connection fills the
accept queue (the harness's readiness probe, or after a second the backend's own), the kernel
drops every later SYN, so a connect to it stays pending until the connector's timeout, as to a
host that does not answer.

Body bytes come from PATTERN repeated: byte k of any /bytes or /chunked body is
PATTERN[k % len(PATTERN)], so a client can check data and order without a hash.
"""

import argparse
import hashlib
import http
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

PATTERN = random.Random(20240611).randbytes(1 << 20)
_PATTERN_TWICE = memoryview(PATTERN + PATTERN)
CHUNK_SIZES = (1, 13, 4096, 65536, 1 << 20)  # /chunked cycles through these
RECV_SIZE = 1 << 20
MAX_HEAD_BYTES = 1 << 20  # above the proxy's 64 KiB limit, so near-limit heads reach us
MAX_LINE_BYTES = 4096  # chunk-size and trailer lines
UNCOUNTED_PATHS = ("/stats", "/control", "/health")  # not requests_received/completed


def pattern_slice(offset, length):
    """The stream's bytes [offset, offset + length), length <= len(PATTERN), without copying."""
    assert length <= len(PATTERN)
    start = offset % len(PATTERN)
    return _PATTERN_TWICE[start : start + length]


class ProtocolError(Exception):
    """The peer sent bytes that are not valid HTTP/1.1 (the message says how)."""


class SocketReader:
    """Buffered reads from a socket: message heads, CRLF lines, and bodies streamed to a sink."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self._scratch = bytearray(RECV_SIZE)

    def _fill(self):
        data = self.sock.recv(RECV_SIZE)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self, limit=MAX_HEAD_BYTES):
        """Bytes up to and including the blank line; None on EOF before any byte."""
        searched = 0
        while True:
            end = self.buf.find(b"\r\n\r\n", searched)
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > limit:
                raise ProtocolError(f"head larger than {limit} bytes")
            searched = max(0, len(self.buf) - 3)
            if not self._fill():
                if self.buf:
                    raise ProtocolError("EOF inside a message head")
                return None

    def read_line(self, limit=MAX_LINE_BYTES):
        """One CRLF-terminated line, without the CRLF."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            if len(self.buf) > limit:
                raise ProtocolError(f"line longer than {limit} bytes")
            if not self._fill():
                raise ProtocolError("EOF inside a line")

    def read_exact(self, length, sink):
        """Feeds exactly `length` bytes to sink(memoryview), in pieces of up to RECV_SIZE."""
        if self.buf:
            take = min(length, len(self.buf))
            sink(memoryview(self.buf)[:take])
            del self.buf[:take]
            length -= take
        view = memoryview(self._scratch)
        while length > 0:
            got = self.sock.recv_into(view, min(length, RECV_SIZE))
            if got == 0:
                raise ProtocolError(f"EOF with {length} body bytes missing")
            sink(view[:got])
            length -= got

    def read_to_eof(self, sink):
        if self.buf:
            sink(memoryview(self.buf))
            self.buf.clear()
        view = memoryview(self._scratch)
        while True:
            got = self.sock.recv_into(view, RECV_SIZE)
            if got == 0:
                return
            sink(view[:got])

    def read_chunked(self, sink):
        """Decodes a chunked body into sink; returns the trailer fields as (name, value) pairs."""
        while True:
            line = self.read_line()
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not size_text or len(size_text) > 16 or not all(c in HEX_DIGITS for c in size_text):
                raise ProtocolError(f"bad chunk size line {line!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            self.read_exact(size, sink)
            if self.read_line() != b"":
                raise ProtocolError("chunk data not followed by CRLF")
        trailers = []
        while True:
            line = self.read_line(MAX_HEAD_BYTES)
            if line == b"":
                return trailers
            trailers.append(parse_field_line(line))


HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
TOKEN_CHARS = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def parse_field_line(line):
    name, colon, value = line.partition(b":")
    if not colon or not name or not all(c in TOKEN_CHARS for c in name):
        raise ProtocolError(f"bad header line {line!r}")
    if b"\r" in value or b"\n" in value or b"\0" in value:
        raise ProtocolError(f"bad header value {line!r}")
    return name.decode("latin-1"), value.strip(b" \t").decode("latin-1")


def parse_head(head):
    """(start line, [(name, value)]) of a head ending in CRLFCRLF; obs-fold is an error."""
    lines = head[:-4].split(b"\r\n")
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(f"obs-fold line {line!r}")
    return lines[0].decode("latin-1"), [parse_field_line(line) for line in lines[1:]]


def header_values(headers, name):
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


def header_tokens(headers, name):
    return [
        t.strip().lower() for v in header_values(headers, name) for t in v.split(",") if t.strip()
    ]


def body_framing(headers):
    """('chunked', None), ('length', N) or ('none', 0) for a request or a response with a body."""
    codings = header_tokens(headers, "Transfer-Encoding")
    lengths = {
        v.strip() for v in ",".join(header_values(headers, "Content-Length")).split(",") if v
    }
    if codings and lengths:
        raise ProtocolError("both Transfer-Encoding and Content-Length")
    if codings:
        if codings[-1] != "chunked":
            raise ProtocolError(f"Transfer-Encoding {codings} does not end in chunked")
        return "chunked", None
    if len(lengths) > 1:
        raise ProtocolError(f"conflicting Content-Length values {sorted(lengths)}")
    if lengths:
        (text,) = lengths
        if not text.isdigit():
            raise ProtocolError(f"bad Content-Length {text!r}")
        return "length", int(text)
    return "none", 0


def reason_phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def send_parts(sock, parts):
    """sendall for several buffers, with one system call when the kernel takes them all."""
    views = [memoryview(p) for p in parts if len(p)]
    while views:
        sent = sock.sendmsg(views)
        while sent:
            if sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(
            (
                "connections_accepted",
                "connections_open",
                "requests_received",
                "requests_completed",
                "health_checks",
            ),
            0,
        )

    def add(self, key, delta=1):
        with self._lock:
            self.counts[key] += delta

    def snapshot(self):
        with self._lock:
            return dict(self.counts)


class ControlError(ValueError):
    """A /control setting that is unknown or out of range (the message says which)."""


class Control:
    """The runtime settings of /control, shared by every connection's thread."""

    LIMITS = {  # name: (lowest, highest)
        "delay_ms": (0, 600_000),
        "jitter_ms": (0, 600_000),
        "fail_percent": (0, 100),
        "fail_status": (200, 599),
        "health": (200, 599),
        "health_delay_ms": (0, 600_000),
        "seed": (0, 2**63),
    }

    def __init__(self):
        self._lock = threading.Lock()
        self.settings = {"delay_ms": 0, "jitter_ms": 0, "fail_percent": 0, "fail_status": 500}
        self.settings.update(health=200, health_delay_ms=0, seed=1)
        self._random = random.Random(1)

    def update(self, changes):
        """Applies {name: value} (ints, or their decimal text) all or nothing; the settings now."""
        checked = {}
        for name, value in changes.items():
            if name not in self.LIMITS:
                raise ControlError(f"unknown setting {name!r}; known: {', '.join(self.LIMITS)}")
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            low, high = self.LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ControlError(f"{name} must be an integer from {low} to {high}, got {value!r}")
            checked[name] = value
        with self._lock:
            self.settings.update(checked)
            if "seed" in checked:
                self._random.seed(checked["seed"])
            return dict(self.settings)

    def update_from_query(self, query):
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        return self.update(dict(pairs))

    def snapshot(self):
        with self._lock:
            return dict(self.settings)

    def draw(self):
        """For one ordinary request: (seconds to wait, the failure status or None)."""
        with self._lock:
            wait_ms = self.settings["delay_ms"]
            if self.settings["jitter_ms"]:
                wait_ms += self._random.uniform(0, self.settings["jitter_ms"])
            failed = self._random.uniform(0, 100) < self.settings["fail_percent"]
            return wait_ms / 1000, self.settings["fail_status"] if failed else None


class Request:
    def __init__(self, head):
        start, self.headers = parse_head(head)
        parts = start.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise ProtocolError(f"bad request line {start!r}")
        self.method, self.target, self.version = parts
        self.path, _, self.query = self.target.partition("?")
        self.framing = body_framing(self.headers)
        connection = header_tokens(self.headers, "Connection")
        if self.version == "HTTP/1.1":
            self.keep_alive = "close" not in connection
        else:
            self.keep_alive = "keep-alive" in connection
        self.body_length = 0
        self.body_sha256 = hashlib.sha256()
        self.trailers = []
        # Bodies stream through unkept, except a /control request's small JSON document.
        self.kept_body = bytearray() if self.path == "/control" else None

    def absorb(self, view):
        self.body_length += len(view)
        self.body_sha256.update(view)
        if self.kept_body is not None and len(self.kept_body) < MAX_HEAD_BYTES:
            self.kept_body += view


class Connection:
    """One accepted connection: reads requests in order and answers each."""

    def __init__(self, server, sock, peer):
        self.server = server
        self.name = server.name
        self.sock = sock
        self.peer = peer
        self.reader = SocketReader(sock)

    def serve(self):
        try:
            while True:
                try:
                    head = self.reader.read_head()
                    if head is None:
                        return
                    request = Request(head)
                except ProtocolError as error:
                    self.respond(None, 400, f"{self.name}: {error}\n".encode(), keep_alive=False)
                    return
                counted = request.path not in UNCOUNTED_PATHS
                if counted:
                    self.server.stats.add("requests_received")
                elif request.path == "/health":
                    self.server.stats.add("health_checks")
                keep_alive = self.handle(request)
                if keep_alive is not None and counted:
                    self.server.stats.add("requests_completed")
                if not keep_alive:
                    return
        except (ConnectionError, TimeoutError):
            pass
        except ProtocolError as error:
            print(f"{self.name}: {error}", file=sys.stderr)
        finally:
            self.sock.close()
            self.server.stats.add("connections_open", -1)

    def read_body(self, request):
        kind, length = request.framing
        if kind != "none" and "100-continue" in header_tokens(request.headers, "Expect"):
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if kind == "chunked":
            request.trailers = self.reader.read_chunked(request.absorb)
        elif kind == "length":
            self.reader.read_exact(length, request.absorb)

    def handle(self, request):
        """Answers one request. True: the response is complete and the connection stays open;
        False: complete, close the connection; None: no complete response, close."""
        self.read_body(request)
        path = request.path
        if path == "/control":
            return self.control(request)
        if path == "/health":
            settings = self.server.control.snapshot()
            time.sleep(settings["health_delay_ms"] / 1000)
            return self.respond(request, settings["health"], self.name_body(), request.keep_alive)
        if path != "/stats":
            wait_s, fail_status = self.server.control.draw()
            time.sleep(wait_s)
            if fail_status is not None:
                return self.respond(request, fail_status, self.name_body(), request.keep_alive)
        if path.startswith("/on/"):
            _, _, target_name, rest = (path + "/").split("/", 3)
            path = "/" + rest.rstrip("/") if target_name == self.name else "/"
        keep = request.keep_alive
        word, _, arg = path[1:].partition("/")
        if word == "echo":
            return self.respond_json(request, self.echo(request))
        if word == "upload":
            body = {"backend": self.name, "length": request.body_length}
            body["sha256"] = request.body_sha256.hexdigest()
            return self.respond_json(request, body)
        if word == "status":
            status = int(arg) if arg.isdigit() else 0
            if not 200 <= status <= 599:
                return self.respond(request, 400, b"status must be 200..599\n", keep)
            return self.respond(request, status, self.name_body(), keep)
        if word == "delay" and arg.isdigit():
            time.sleep(int(arg) / 1000)
            return self.respond(request, 200, self.name_body(), keep)
        if word == "bytes" and arg.isdigit():
            return self.send_bytes(request, int(arg))
        if word == "chunked" and arg.isdigit():
            return self.send_chunked(request, int(arg))
        if word == "response-headers":
            extra = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
            return self.respond(request, 200, self.name_body(), keep, extra)
        if word == "head-bytes" and arg.isdigit():
            fill, left, index = [], int(arg), 0
            while left > 0:
                size = min(left, 4000)
                fill.append((f"X-Fill-{index}", "f" * size))
                left, index = left - size - 12, index + 1
            return self.respond(request, 200, self.name_body(), keep, fill)
        if word == "close-after":
            # Corked: the FIN rides on the response's segment, so the proxy learns of both at once.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            self.respond(request, 200, self.name_body(), True)
            return False  # close without having said so, as a server timing out an idle one
        if word == "close-mid":
            return self.close_mid(request, reset="reset" in request.query)
        if word == "reset":
            self.reset()
            return None
        if word == "hang":
            self.reader.read_to_eof(lambda _: None)
            return None
        if word == "stats":
            return self.respond_json(request, self.server.stats.snapshot())
        return self.respond(request, 200, self.name_body(), keep)

    def control(self, request):
        try:
            if request.method == "POST":
                document = json.loads(request.kept_body or b"{}")
                if not isinstance(document, dict):
                    raise ControlError("the body must be a JSON object")
                settings = self.server.control.update(document)
            else:
                settings = self.server.control.update_from_query(request.query)
        except (ControlError, ValueError) as error:
            return self.respond(request, 400, f"{error}\n".encode(), request.keep_alive)
        return self.respond_json(request, settings)

    def name_body(self):
        return f"{self.name}\n".encode()

    def echo(self, request):
        return {
            "backend": self.name,
            "method": request.method,
            "target": request.target,
            "version": request.version,
            "headers": request.headers,
            "body_length": request.body_length,
            "body_sha256": request.body_sha256.hexdigest(),
            "trailers": request.trailers,
            "client": f"{self.peer[0]}:{self.peer[1]}",
        }

    def respond_json(self, request, document):
        body = json.dumps(document).encode() + b"\n"
        headers = [("Content-Type", "application/json")]
        return self.respond(request, 200, body, request.keep_alive, headers)

    def head_bytes(self, status, headers, keep_alive):
        lines = [f"HTTP/1.1 {status} {reason_phrase(status)}", f"X-Backend: {self.name}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def respond(self, request, status, body, keep_alive, headers=()):
        """A complete response with a known body; HEAD, 204 and 304 send no body bytes."""
        headers = list(headers)
        if status != 204:
            headers.append(("Content-Length", str(len(body))))
        send_body = status not in (204, 304) and (request is None or request.method != "HEAD")
        self.sock.sendall(
            self.head_bytes(status, headers, keep_alive) + (body if send_body else b"")
        )
        return keep_alive

    def send_bytes(self, request, length):
        headers = [("Content-Length", str(length))]
        self.sock.sendall(self.head_bytes(200, headers, request.keep_alive))
        if request.method != "HEAD":
            offset = 0
            while offset < length:
                piece = pattern_slice(offset, min(len(PATTERN), length - offset))
                self.sock.sendall(piece)
                offset += len(piece)
        return request.keep_alive

    def send_chunked(self, request, length):
        headers = [("Transfer-Encoding", "chunked"), ("Trailer", "X-Body-Length")]
        self.sock.sendall(self.head_bytes(200, headers, request.keep_alive))
        if request.method == "HEAD":
            return request.keep_alive
        offset = 0
        turn = 0
        while offset < length:
            size = min(CHUNK_SIZES[turn % len(CHUNK_SIZES)], length - offset)
            send_parts(self.sock, [b"%x\r\n" % size, pattern_slice(offset, size), b"\r\n"])
            offset += size
            turn += 1
        self.sock.sendall(b"0\r\nX-Body-Length: %d\r\n\r\n" % length)
        return request.keep_alive

    def close_mid(self, request, reset):
        headers = [("Content-Length", "1000000")]
        self.sock.sendall(self.head_bytes(200, headers, request.keep_alive))
        self.sock.sendall(pattern_slice(0, 1000))
        time.sleep(0.05)  # let the proxy start forwarding before the cut
        if reset:
            self.reset()
        return None

    def reset(self):
        # Linger on, timeout 0: close() discards unsent data and sends RST instead of FIN.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Server:
    def __init__(self, name, listener, control):
        self.name = name
        self.listener = listener
        self.stats = Stats()
        self.control = control

    def accept_forever(self, on_connection):
        while True:
            sock, peer = self.listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.stats.add("connections_accepted")
            self.stats.add("connections_open")
            threading.Thread(target=on_connection, args=(sock, peer), daemon=True).start()

    def serve_http(self, sock, peer):
        Connection(self, sock, peer).serve()

    def serve_echo(self, sock, _peer):
        echoed = 0
        try:
            with sock:
                while True:
                    data = sock.recv(RECV_SIZE)
                    if not data:
                        break
                    sock.sendall(data)
                    echoed += len(data)
                sock.sendall(f"bye from {self.name} after {echoed} bytes\n".encode())
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self.stats.add("connections_open", -1)

    def hold_forever(self):
        held = []  # accepted and never read: the peer's requests wait in our receive buffer
        while True:
            sock, _ = self.listener.accept()
            held.append(sock)

    def never_accept(self):
        # Backlog 0 admits one connection to the accept queue (Linux: full once queued > backlog)
        # and the kernel drops every SYN that comes while it is full. The first to connect fills
        # it, usually the test harness's readiness probe; if nobody has within a second, our own
        # connection does.
        self.listener.listen(0)
        deadline = time.monotonic() + 1
        while accept_queue_length(self.listener) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        filler = None
        if accept_queue_length(self.listener) == 0:
            filler = socket.create_connection(self.listener.getsockname())
        while True:
            time.sleep(3600)
        del filler  # held open for the process's life


def accept_queue_length(listener):
    """Connections waiting in a listening socket's accept queue: tcp_info's tcpi_unacked, which
    Linux fills with the queue length for a socket in LISTEN (8 bytes of u8 fields, then u32
    rto, ato, snd_mss, rcv_mss, unacked)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    return struct.unpack_from("I", info, 24)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--accept-only", action="store_true", help="accept, never read or answer")
    mode.add_argument("--echo", action="store_true", help="raw TCP echo, 'bye' line on FIN")
    mode.add_argument("--unaccepting", action="store_true", help="connects to it stay pending")
    parser.add_argument("--control", default="", help="initial /control settings, as a query")
    args = parser.parse_args()
    control = Control()
    try:
        control.update_from_query(args.control)
    except ValueError as error:
        parser.error(f"--control: {error}")

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    server = Server(args.name, listener, control)
    try:
        if args.unaccepting:
            server.never_accept()
        listener.listen(1024)
        if args.accept_only:
            server.hold_forever()
        elif args.echo:
            server.accept_forever(server.serve_echo)
        else:
            server.accept_forever(server.serve_http)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
