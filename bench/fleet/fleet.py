"""The benchmark fleet: ten ballast-testd processes of unequal capacity on 127.0.0.1.

A server's capacity is its concurrency limit over its mean latency; requests beyond the limit wait
in the server's FIFO queue, as they would at a real server with a fixed worker pool. Latency is
`latency_ms` plus a uniform jitter of up to `jitter_ms`.

    kind     count  latency      slots  capacity       weight (∝ capacity)
    fast       2    2 + U(0,1)    20    ~8,000 req/s      10
    medium     5    5 + U(0,2)    10    ~1,700 req/s       2
    slow       3   10 + U(0,4)    10      ~830 req/s       1

So the fleet can serve ~27,000 req/s when each server gets its share, but only ~8,300 req/s when
every server gets a tenth (round robin): the three slow servers fill first.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass

FIRST_PORT = 19301


@dataclass(frozen=True)
class Profile:
    kind: str
    latency_ms: float
    jitter_ms: float
    concurrency: int
    weight: int


PROFILES = [Profile("fast", 2, 1, 20, 10)] * 2 + [Profile("medium", 5, 2, 10, 2)] * 5 + \
    [Profile("slow", 10, 4, 10, 1)] * 3


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    profile: Profile


SERVERS = [Server(f"{p.kind}-{i + 1}", FIRST_PORT + i, p) for i, p in enumerate(PROFILES)]


def wait_for_port(port, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Fleet:
    """Starts, reconfigures, kills and restarts the ten servers. Every process is killed by
    stop(), and each dies with the harness (PR_SET_PDEATHSIG is not reachable from here, so the
    harness's own exit handler calls stop())."""

    def __init__(self, testd_binary, log_dir):
        self.binary = testd_binary
        self.log_dir = log_dir
        self.processes = {}

    def start_all(self):
        for server in SERVERS:
            self.start(server)
        for server in SERVERS:
            wait_for_port(server.port)

    def start(self, server):
        p = server.profile
        log = open(os.path.join(self.log_dir, f"{server.name}.log"), "ab")
        self.processes[server.name] = subprocess.Popen(
            [self.binary, "--port", str(server.port), "--name", server.name,
             "--latency-ms", str(p.latency_ms), "--jitter-ms", str(p.jitter_ms),
             "--concurrency", str(p.concurrency)],
            stdout=log, stderr=log)

    def kill(self, server):
        """A hard failure: the process dies, its port refuses connections."""
        process = self.processes.pop(server.name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def restart(self, server):
        self.start(server)
        wait_for_port(server.port)

    def control(self, server, **settings):
        query = "&".join(f"{key}={value}" for key, value in settings.items())
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/control?{query}",
                                    timeout=5) as answer:
            answer.read()

    def reset(self):
        """Every server running with its own profile again (after a scenario)."""
        for server in SERVERS:
            if server.name not in self.processes:
                self.restart(server)
            p = server.profile
            self.control(server, latency_ms=p.latency_ms, jitter_ms=p.jitter_ms,
                         concurrency=p.concurrency, error_percent=0)

    def stop(self):
        for process in self.processes.values():
            process.kill()
        for process in self.processes.values():
            process.wait()
        self.processes.clear()
