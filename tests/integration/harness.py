"""Helpers for ballast's integration tests: ports, processes, raw HTTP over sockets, /proc.

Everything listens and connects on 127.0.0.1 only. Every wait is a bounded poll on a condition:
a test that would hang fails with a message instead.
"""

import ctypes
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import yaml

from backend import PATTERN, ProtocolError, SocketReader, body_framing, header_values
from backend import parse_head, pattern_slice

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BACKEND_PY = HERE / "backend.py"
HOST = "127.0.0.1"
IO_TIMEOUT_S = 10.0  # any single socket wait in a test


def ballast_binary():
    return Path(os.environ.get("BALLAST_BIN", REPO / "build" / "release" / "ballast"))


def wait_until(condition, timeout_s, what, interval_s=0.01):
    """Polls condition() until it returns a truthy value, and returns it; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


# ---------------------------------------------------------------------------------------------
# Ports

_handed_out = set()


def free_port():
    """A port nobody listens on, below the kernel's ephemeral range so no outgoing connection
    takes it between now and its use. Randomised so parallel runs rarely collide."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(1000):
        port = random.randrange(10000, low)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def accepts_connections(port, host=HOST):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# /proc


def rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class PeakRss:
    """Samples a process's RSS every interval_s on a thread while the `with` block runs."""

    def __init__(self, pid, interval_s=0.02):
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, rss_bytes(self.pid))
                self.samples += 1
            except (FileNotFoundError, ProcessLookupError):
                return
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------
# Processes


def _die_with_parent():
    """Runs in the child before exec: SIGKILL it when the test run dies, so no process outlives
    an interrupted run (PR_SET_PDEATHSIG, Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class Process:
    """A child process writing stdout and stderr to files under log_dir."""

    def __init__(self, argv, log_dir, label):
        self.label = label
        self.stdout_path = Path(log_dir) / f"{label}.stdout"
        self.stderr_path = Path(log_dir) / f"{label}.stderr"
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
            )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def logs(self, tail_bytes=4000):
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            data = path.read_bytes() if path.exists() else b""
            parts.append(f"--- {path.name} (last {tail_bytes} bytes) ---\n")
            parts.append(data[-tail_bytes:].decode("utf-8", "replace"))
        return "".join(parts)

    def output(self):
        """Everything written to stdout and stderr so far."""
        return b"".join(p.read_bytes() for p in (self.stdout_path, self.stderr_path)).decode(
            "utf-8", "replace"
        )

    def wait_exit(self, timeout_s):
        """The exit code, failing if the process is still running after timeout_s."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.label} still running after {timeout_s}s") from None

    def stop(self, timeout_s=10.0):
        """SIGTERM, then SIGKILL after timeout_s. Returns (exit code, whether it was killed)."""
        if not self.alive():
            return self.proc.returncode, False
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=timeout_s), True


class Backend(Process):
    """One backend.py process, listening when the constructor returns."""

    def __init__(self, name, port, log_dir, extra_args=(), host=HOST):
        self.name = name
        self.port = port
        self.host = host
        self.extra_args = tuple(extra_args)
        argv = [sys.executable, str(BACKEND_PY), "--port", str(port), "--name", name]
        argv += ["--host", host]
        super().__init__(argv + list(self.extra_args), log_dir, f"backend-{name}")
        wait_until(lambda: not self.alive() or accepts_connections(port, host), 10,
                   f"backend {name}")
        assert self.alive(), f"backend {name} exited at start\n{self.logs()}"
        self._control = None

    def stats(self):
        """The backend's /stats, over one kept-alive control connection (counted once, at its
        first use), so differences between two calls count only other traffic."""
        if self._control is None:
            self._control = HttpConnection(self.port)
        response = self._control.request("GET", "/stats")
        assert response.status == 200, response
        return response.json()

    def stop(self, timeout_s=10.0):
        if self._control is not None:
            self._control.close()
            self._control = None
        return super().stop(timeout_s)


class ScriptServer(Process):
    """A server script of this folder (grpc_echo_server.py, h2_echo_server.py) on a free port,
    started as `script --port P --name NAME *args`, once it accepts connections."""

    def __init__(self, log_dir, script, name, args=()):
        self.name = name
        self.port = free_port()
        argv = [sys.executable, str(Path(__file__).with_name(script)), "--port", str(self.port),
                "--name", name, *map(str, args)]
        super().__init__(argv, log_dir, f"{Path(script).stem}-{name}")
        wait_until(lambda: not self.alive() or accepts_connections(self.port), 10, name)
        assert self.alive(), self.logs()


class Ballast(Process):
    """A ballast process started on a config file; see wait_listening()."""

    def __init__(self, config_path, log_dir, flag="--config", label="ballast"):
        self.config_path = Path(config_path)
        super().__init__([str(ballast_binary()), flag, str(self.config_path)], log_dir, label)
        self.expected_exit = False  # set once a test has reaped it on purpose

    def wait_listening(self, port, timeout_s=10.0):
        wait_until(lambda: not self.alive() or accepts_connections(port), timeout_s, "ballast")
        assert self.alive(), f"ballast exited at start with {self.proc.returncode}\n{self.logs()}"

    def reload(self, config):
        """Writes a new config over the old file and sends SIGHUP."""
        write_config(self.config_path, config)
        self.proc.send_signal(signal.SIGHUP)

    def terminate(self):
        """SIGTERM, as a test step: the test then owns the exit (see wait_exit)."""
        self.proc.send_signal(signal.SIGTERM)
        self.expected_exit = True

    def rss_bytes(self):
        return rss_bytes(self.pid)

    def fd_count(self):
        return fd_count(self.pid)


# ---------------------------------------------------------------------------------------------
# Configuration


def write_config(path, config):
    """Writes a config given as a dict (dumped as block YAML) or as YAML text."""
    text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
    Path(path).write_text(text)
    return Path(path)


def listen_port(config):
    """The port of a short-shape config's `load_balancer.listen`."""
    return int(config["load_balancer"]["listen"].rsplit(":", 1)[1])


def server_entry(backend_or_port, **fields):
    """One `servers:` entry for a Backend (or a bare port, e.g. one nobody listens on)."""
    port = backend_or_port if isinstance(backend_or_port, int) else backend_or_port.port
    return {"host": HOST, "port": port, **fields}


# ---------------------------------------------------------------------------------------------
# HTTP over a raw socket


class Response:
    def __init__(self, status, reason, version, headers):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # [(name, value)] in the order received
        self.body = b""
        self.trailers = []
        self.interim = []  # 1xx responses that came first

    def header(self, name):
        """The single value of a header, or None; fails if it appears more than once."""
        values = header_values(self.headers, name)
        assert len(values) <= 1, f"{name} appears {len(values)} times: {values}"
        return values[0] if values else None

    def header_all(self, name):
        return header_values(self.headers, name)

    @property
    def backend(self):
        return self.header("X-Backend")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} body={self.body[:200]!r}>"


def build_request(method, target, headers=(), body=None, host=HOST):
    """Request bytes: Host first unless given, Content-Length added for a body unless framed."""
    headers = list(headers)
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        headers.insert(0, ("Host", host))
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1") + b"\r\n" + (body or b"")


def chunked(*pieces, trailers=()):
    """A chunked body of the given pieces (bytes), with optional trailer fields."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return out + b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"


class HttpConnection:
    """One client connection: send exact bytes, read responses strictly, with timeouts."""

    def __init__(self, port, timeout_s=IO_TIMEOUT_S, source=None):
        """`source`: the loopback address to connect from (127.0.0.x), else the default."""
        self.sock = socket.create_connection(
            (HOST, port), timeout=timeout_s, source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = SocketReader(self.sock)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=(), body=None, host=HOST):
        self.send(build_request(method, target, headers, body, host))
        return self.read_response(head_request=method == "HEAD")

    def read_head(self):
        """The next response's status line and headers (a 1xx comes back as itself)."""
        head = self.reader.read_head()
        if head is None:
            raise ConnectionError("connection closed before a response")
        start, headers = parse_head(head)
        version, _, rest = start.partition(" ")
        status_text, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(status_text) != 3:
            raise ProtocolError(f"bad status line {start!r}")
        return Response(int(status_text), reason, version, headers)

    def read_response(self, head_request=False, sink=None):
        """The next final response, 1xx ones collected in .interim. The body goes to
        sink(memoryview) when given (then .body stays empty), else into .body."""
        interim = []
        response = self.read_head()
        while 100 <= response.status < 200:
            interim.append(response)
            response = self.read_head()
        response.interim = interim
        self.read_body(response, head_request, sink)
        return response

    def read_body(self, response, head_request=False, sink=None):
        parts = []
        sink = sink or (lambda view: parts.append(bytes(view)))
        if head_request or response.status in (204, 304):
            return
        kind, length = body_framing(response.headers)
        if kind == "chunked":
            response.trailers = self.reader.read_chunked(sink)
        elif kind == "length":
            self.reader.read_exact(length, sink)
        else:
            self.reader.read_to_eof(sink)
        response.body = b"".join(parts)

    def closed_by_peer(self, timeout_s=2.0):
        """True if the peer closes (FIN or RST) within timeout_s with no further bytes; fails if
        bytes arrive, False if the connection is still open."""
        if self.reader.buf:
            raise AssertionError(f"unexpected bytes after the response: {bytes(self.reader.buf)!r}")
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        if data:
            raise AssertionError(f"unexpected bytes after the response: {data!r}")
        return True


def get(port, target, headers=(), method="GET", body=None, host=HOST):
    """One request on a fresh connection."""
    with HttpConnection(port) as connection:
        return connection.request(method, target, headers, body, host)


# ---------------------------------------------------------------------------------------------
# Streams of PATTERN bytes


class PatternCheck:
    """A sink that checks a body is PATTERN repeated (byte k == PATTERN[k % len]), without
    keeping it."""

    def __init__(self):
        self.length = 0

    def __call__(self, view):
        offset = 0
        while offset < len(view):
            size = min(len(PATTERN), len(view) - offset)
            # bytes() copies, yet compares ten times faster than memoryview's element-wise ==.
            if bytes(view[offset : offset + size]) != bytes(pattern_slice(self.length, size)):
                raise AssertionError(f"body differs from the pattern within bytes {self.length}+")
            offset += size
            self.length += size


def send_pattern(sock, length, chunk_size=None):
    """Sends `length` PATTERN bytes, raw or (chunk_size given) chunked; returns their sha256."""
    digest = hashlib.sha256()
    offset = 0
    while offset < length:
        piece = pattern_slice(offset, min(chunk_size or len(PATTERN), length - offset))
        digest.update(piece)
        if chunk_size:
            sock.sendall(b"%x\r\n" % len(piece))
        sock.sendall(piece)
        if chunk_size:
            sock.sendall(b"\r\n")
        offset += len(piece)
    if chunk_size:
        sock.sendall(b"0\r\n\r\n")
    return digest.hexdigest()


def served_by(port, count, target="/", headers=(), fresh_connections=False):
    """X-Backend of `count` sequential GETs: over one keep-alive connection, or one connection
    each. Fails on any status other than 200."""
    names = []
    connection = None
    for _ in range(count):
        if connection is None or fresh_connections:
            if connection is not None:
                connection.close()
            connection = HttpConnection(port)
        response = connection.request("GET", target, headers)
        assert response.status == 200, response
        names.append(response.backend)
    connection.close()
    return names


def in_flight(backend):
    """Requests the backend has received and not yet answered."""
    stats = backend.stats()
    return stats["requests_received"] - stats["requests_completed"]


class InBackground:
    """Runs fn(*args) on a thread at once; result() waits (bounded) for its value or error."""

    def __init__(self, fn, *args):
        self._value = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as error:  # handed to the caller of result()
            self._error = error

    def done(self):
        return not self._thread.is_alive()

    def result(self, timeout_s=IO_TIMEOUT_S):
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"background call still running after {timeout_s}s"
        if self._error is not None:
            raise self._error
        return self._value


# ---------------------------------------------------------------------------------------------
# Health checks and backend behaviour

# Short intervals so a whole health timeline runs in about a second.
CHECK = {"path": "/health", "interval": "200ms", "timeout": "100ms"}
CHECK.update(healthy_threshold=1, unhealthy_threshold=1)


def health_check(**overrides):
    """A `health_check:` block: CHECK (every 200 ms, thresholds of 1) with `overrides`."""
    return {**CHECK, **overrides}


def control(backend, **settings):
    """Changes how `backend` answers later requests (backend.py's /control); the settings now."""
    response = get(backend.port, "/control?" + urllib.parse.urlencode(settings))
    assert response.status == 200, response
    return response.json()


def timed_get(port, target="/"):
    """One GET on a fresh connection: (response, seconds it took)."""
    started = time.monotonic()
    response = get(port, target)
    return response, time.monotonic() - started


class RequestLoop:
    """Sequential GETs over a keep-alive connection (or, with `fresh_connections`, a new one for
    each) on a thread, for the `with` block; each is recorded as (monotonic start, status or the
    error's text, X-Backend)."""

    def __init__(self, port, target="/", fresh_connections=False):
        self.port = port
        self.target = target
        self.fresh_connections = fresh_connections
        self.results = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        connection = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if connection is None:
                    connection = HttpConnection(self.port, timeout_s=5)
                response = connection.request("GET", self.target)
                self.results.append((started, response.status, response.backend))
                if self.fresh_connections or "close" in (response.header("Connection") or "").lower():
                    connection.close()
                    connection = None
            except (OSError, ProtocolError) as error:
                self.results.append((started, f"{type(error).__name__}: {error}", None))
                if connection is not None:
                    connection.close()
                connection = None
            self._stop.wait(0.005)
        if connection is not None:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the request loop did not stop"

    def served_since(self, since):
        """The X-Backend names of the requests started at or after `since` (monotonic)."""
        return {backend for started, _, backend in list(self.results) if started >= since}

    def wait_served(self, names, timeout_s=3):
        """Waits until every one of `names` has served a request started from now."""
        since = time.monotonic()
        wait_until(lambda: self.served_since(since) >= set(names), timeout_s, f"{names} serving")

    def failures(self):
        return [result for result in self.results if result[1] != 200]
