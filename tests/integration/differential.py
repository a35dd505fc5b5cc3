"""The differential HTTP/1.x harness: one scripted, recording server per proxy, ballast, nginx and
HAProxy in front of them, and a raw client. test_differential.py holds the cases.

Each case sends the same bytes through each proxy; its server script (chosen by the request's
path, /case/NAME) writes exactly the bytes the case needs; the harness returns what the client
received and what reached the server, for the case to judge ballast and describe the peers.
"""

import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import HOST, Process, accepts_connections, free_port, wait_until

IO_TIMEOUT_S = 5.0
IDLE_S = 0.4  # a keep-alive exchange is over when the client has heard nothing for this long


class Peer:
    """The server's side of one connection: reads are recorded into the server's capture."""

    def __init__(self, connection, server):
        self.connection = connection
        self.server = server
        self.buffer = b""

    def _fill(self):
        data = self.connection.recv(65536)
        if not data:
            raise EOFError
        self.server.record(data)
        self.buffer += data

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return head.decode("latin-1")

    def read_exactly(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_chunked(self):
        """A chunked body, decoded (extensions and trailers dropped)."""
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._fill()
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while not self.buffer.startswith(b"\r\n"):
                    while b"\r\n" not in self.buffer:
                        self._fill()
                    _, self.buffer = self.buffer.split(b"\r\n", 1)
                self.buffer = self.buffer[2:]
                return body
            body += self.read_exactly(size + 2)[:-2]

    def read_body(self, head):
        """The request's body as its head frames it."""
        fields = head_fields(head)
        if "chunked" in fields.get("transfer-encoding", ""):
            return self.read_chunked()
        return self.read_exactly(int(fields.get("content-length", "0")))

    def send(self, data):
        self.connection.sendall(data)


def head_fields(head):
    """{lowercase name: value} of a head's field lines (the last of a repeated name)."""
    fields = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def default_script(peer, head):
    peer.read_body(head)
    peer.send(OK)


class RecordingServer:
    """Answers each request by the script of the case its path names (/case/NAME...), or with a
    plain 200; `capture` holds every byte received since the last begin()."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.port = free_port()
        self.lock = threading.Lock()
        self.capture = bytearray()
        self.connections = 0
        self.listener = socket.create_server((HOST, self.port))
        self.listener.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def begin(self):
        with self.lock:
            self.capture = bytearray()
            self.connections = 0

    def record(self, data):
        with self.lock:
            self.capture.extend(data)

    def received(self):
        with self.lock:
            return bytes(self.capture)

    def _accept(self):
        while not self.stopping:
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        connection.settimeout(IO_TIMEOUT_S)
        peer = Peer(connection, self)
        with connection:
            try:
                while True:
                    head = peer.read_head()
                    target = head.split(" ", 2)[1] if head.count(" ") >= 2 else ""
                    name = target.split("/")[2] if target.startswith("/case/") else ""
                    if self.scripts.get(name, default_script)(peer, head) == "close":
                        return
            except (OSError, EOFError, ValueError):
                pass  # the proxy closed or reset the connection, or sent what a script refuses

    def close(self):
        self.stopping = True
        self.thread.join()
        self.listener.close()


# ---- the three proxies --------------------------------------------------------------------


def nginx_config(work, listen, server):
    temp = "".join(f" {kind}_temp_path {work}/{kind};" for kind in
                   ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 256; }}
http {{ access_log off;{temp}
  upstream recorder {{ server {HOST}:{server}; keepalive 8; }}
  server {{ listen {HOST}:{listen};
    location / {{ proxy_pass http://recorder; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_set_header Host $http_host; }} }} }}
"""


def haproxy_config(listen, server):
    return f"""global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend proxy
  bind {HOST}:{listen}
  default_backend recorder
backend recorder
  http-reuse always
  server recorder {HOST}:{server}
"""


def ballast_config(listen, server):
    return f"""workers: 1
load_balancer:
  listen: "{HOST}:{listen}"
  servers: [{{ host: {HOST}, port: {server} }}]
monitoring:
  metrics: {{ port: {free_port()} }}
  logging: {{ level: warn, access_log: false }}
admin: {{ listen: "{HOST}:{free_port()}" }}
"""


@dataclass
class Proxy:
    name: str
    port: int
    server: RecordingServer
    process: Process


def start_proxy(name, binary, work, scripts):
    server = RecordingServer(scripts)
    port = free_port()
    folder = Path(work) / name
    folder.mkdir(parents=True, exist_ok=True)
    if name == "ballast":
        path = folder / "ballast.yaml"
        path.write_text(ballast_config(port, server.port))
        argv = [str(binary), "--config", str(path)]
    elif name == "nginx":
        path = folder / "nginx.conf"
        path.write_text(nginx_config(folder, port, server.port))
        argv = ["/usr/sbin/nginx", "-c", str(path)]
    else:
        path = folder / "haproxy.cfg"
        path.write_text(haproxy_config(port, server.port))
        argv = ["/usr/sbin/haproxy", "-f", str(path)]
    process = Process(argv, folder, name)
    wait_until(lambda: not process.alive() or accepts_connections(port), 10, name)
    assert process.alive(), process.logs()
    return Proxy(name, port, server, process)


def peer_versions():
    """'nginx/1.22.1, HAProxy 2.6.12', as the binaries say."""
    nginx = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True).stderr
    haproxy = subprocess.run(["/usr/sbin/haproxy", "-v"], capture_output=True, text=True).stdout
    return f"{nginx.strip().split()[-1]}, HAProxy {haproxy.split()[2]}"


def peers_available():
    return all(shutil.which(path) for path in ("/usr/sbin/nginx", "/usr/sbin/haproxy"))


# ---- the client ---------------------------------------------------------------------------


@dataclass
class Exchange:
    """What one case did through one proxy."""

    received: bytes = b""  # by the client
    closed: bool = False  # the proxy closed the client's connection
    at_server: bytes = b""  # every byte the server received
    server_connections: int = 0
    responses: list = field(default_factory=list)  # (status, head fields, body) in order


def run_client(proxy, pieces, half_close=False, head_request=False):
    """Sends `pieces` (bytes, or a number: seconds to wait, or a callable taking the bytes
    received so far and returning whether to go on), then reads until the proxy closes or has
    been quiet IDLE_S. Returns an Exchange with the server's side too."""
    proxy.server.begin()
    exchange = Exchange()
    with socket.create_connection((HOST, proxy.port), timeout=IO_TIMEOUT_S) as client:
        for piece in pieces:
            if isinstance(piece, bytes):
                client.sendall(piece)
            elif callable(piece):
                deadline = time.monotonic() + IO_TIMEOUT_S
                while not piece(exchange.received) and time.monotonic() < deadline:
                    if not _read_some(client, exchange, 0.05):
                        break
            else:
                time.sleep(piece)
        if half_close:
            client.shutdown(socket.SHUT_WR)
        while _read_some(client, exchange, IDLE_S):
            pass
    time.sleep(0.05)  # what the server reads after the client is done (an early answer's body)
    exchange.at_server = proxy.server.received()
    exchange.server_connections = proxy.server.connections
    exchange.responses = parse_responses(exchange.received, head_request)
    return exchange


def _read_some(client, exchange, timeout_s):
    """One read within timeout_s: False when the proxy closed or was quiet that long."""
    client.settimeout(timeout_s)
    try:
        data = client.recv(65536)
    except socket.timeout:
        return False
    except ConnectionResetError:
        exchange.closed = True
        return False
    if not data:
        exchange.closed = True
        return False
    exchange.received += data
    return True


def parse_responses(data, head_request=False):
    """The responses in `data`: (status, {lowercase name: [values]}, body). A body is framed by
    chunked (decoded), Content-Length, or runs to the end; 1xx, 204 and 304 have none."""
    responses = []
    while b"\r\n\r\n" in data:
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ")[1])
        except (IndexError, ValueError):
            break
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), []).append(value.strip())
        body = b""
        if status < 200 or status in (204, 304) or head_request:
            pass
        elif "chunked" in ",".join(fields.get("transfer-encoding", [])):
            body, data = _dechunk(data)
        elif "content-length" in fields:
            length = int(fields["content-length"][0])
            body, data = data[:length], data[length:]
        else:
            body, data = data, b""
        responses.append((status, fields, body))
    return responses


def _dechunk(data):
    body = b""
    while b"\r\n" in data:
        line, rest = data.split(b"\r\n", 1)
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            end = rest.find(b"\r\n\r\n") if not rest.startswith(b"\r\n") else -2
            return body, rest[end + 4:] if end >= 0 else b""
        body += rest[:size]
        data = rest[size + 2:]
    return body, b""
