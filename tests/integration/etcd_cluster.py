"""A real etcd cluster for the discovery tests: one or three members on 127.0.0.1, each with its
own client and peer port and a data directory under the test's tmp_path.

    with EtcdCluster(tmp_path, size=3) as etcd:
        etcd.put("/services/web/a", '{"host": "127.0.0.1", "port": 9001}')
        etcd.kill(0)            # SIGKILL: the member's connections drop at once
        etcd.etcdctl("get", "--prefix", "/services/")   # the other two still answer
        etcd.restart(0)         # same data directory, rejoins the cluster

Elections are made fast (50 ms heartbeats, 500 ms election timeout), so a cluster that loses its
leader has a new one within a second or so. Each member's output goes to member-N.log in
tmp_path. Debian packages: etcd-server, etcd-client.
"""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from harness import HOST, free_port, wait_until

ETCD = os.environ.get("BALLAST_ETCD", "/usr/bin/etcd")
ETCDCTL = os.environ.get("BALLAST_ETCDCTL", "/usr/bin/etcdctl")
START_TIMEOUT_S = 20.0
ETCDCTL_TIMEOUT_S = 10.0


class EtcdCluster:
    def __init__(self, tmp_path, size=1, base_port=None):
        """Starts `size` members and waits until every one is healthy. With `base_port`, member i
        listens for clients on base_port + i and for peers on base_port + size + i; otherwise
        on free ports."""
        assert size >= 1
        self.dir = Path(tmp_path)
        self.size = size
        if base_port is None:
            self.client_ports = [free_port() for _ in range(size)]
            self.peer_ports = [free_port() for _ in range(size)]
        else:
            self.client_ports = [base_port + i for i in range(size)]
            self.peer_ports = [base_port + size + i for i in range(size)]
        self.endpoints = [f"{HOST}:{port}" for port in self.client_ports]
        self.processes = [None] * size
        try:
            for i in range(size):
                self._start(i, "new")
            for i in range(size):
                self.wait_healthy(i)
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- members ------------------------------------------------------------------------------

    def _name(self, i):
        return f"member-{i}"

    def _start(self, i, state):
        initial_cluster = ",".join(
            f"{self._name(j)}=http://{HOST}:{self.peer_ports[j]}" for j in range(self.size))
        args = [
            ETCD,
            "--name", self._name(i),
            "--data-dir", str(self.dir / f"{self._name(i)}.etcd"),
            "--listen-client-urls", f"http://{self.endpoints[i]}",
            "--advertise-client-urls", f"http://{self.endpoints[i]}",
            "--listen-peer-urls", f"http://{HOST}:{self.peer_ports[i]}",
            "--initial-advertise-peer-urls", f"http://{HOST}:{self.peer_ports[i]}",
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", f"ballast-test-{self.client_ports[0]}",
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
            "--log-level", "error",
        ]
        log = open(self.dir / f"{self._name(i)}.log", "ab")
        try:
            self.processes[i] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=subprocess.STDOUT)
        finally:
            log.close()

    def _healthy(self, i):
        process = self.processes[i]
        if process is None or process.poll() is not None:
            log = (self.dir / f"{self._name(i)}.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"etcd {self._name(i)} is not running; its log ends:\n{log}")
        try:
            with urllib.request.urlopen(f"http://{self.endpoints[i]}/health", timeout=1) as answer:
                return b'"health":"true"' in answer.read()
        except OSError:
            return False

    def wait_healthy(self, i, timeout_s=START_TIMEOUT_S):
        """Waits until member i says it is healthy (it is running and the cluster has a
        leader)."""
        wait_until(lambda: self._healthy(i), timeout_s, f"etcd {self._name(i)} to be healthy",
                   interval_s=0.1)

    def kill(self, i):
        """SIGKILLs member i and reaps it."""
        process = self.processes[i]
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        self.processes[i] = None

    def restart(self, i, wait=True):
        """Starts member i again on its data directory. With `wait`, returns once it is healthy
        (which, in a three-member cluster, needs one other member up)."""
        self.kill(i)
        self._start(i, "existing")
        if wait:
            self.wait_healthy(i)

    def stop(self):
        for i in range(self.size):
            self.kill(i)

    # ---- etcdctl ------------------------------------------------------------------------------

    def etcdctl(self, *args, endpoints=None):
        """Runs etcdctl against the members (all of them unless `endpoints`); its stdout.
        Raises on a non-zero exit, with etcdctl's stderr."""
        command = [ETCDCTL, "--endpoints", ",".join(endpoints or self.endpoints),
                   "--dial-timeout", "2s", "--command-timeout", "5s", *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True,
                                env={**os.environ, "ETCDCTL_API": "3"},
                                timeout=ETCDCTL_TIMEOUT_S)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: "
                               f"{result.stderr.strip()}")
        return result.stdout

    def put(self, key, value, lease=None):
        options = [] if lease is None else [f"--lease={lease}"]
        # "--" so that a value starting with "-" is not taken for a flag.
        self.etcdctl("put", *options, "--", key, value)

    def get(self, key, prefix=False):
        """{key: value} of `key`, or of every key under it with `prefix`."""
        lines = self.etcdctl("get", *(["--prefix"] if prefix else []), "--", key).splitlines()
        return dict(zip(lines[0::2], lines[1::2]))

    def delete(self, key):
        self.etcdctl("del", "--", key)

    def lease_grant(self, ttl):
        """A new lease of `ttl` seconds; its ID as etcdctl prints it (hex), which --lease takes."""
        # "lease 694d7ab1e2d2e40c granted with TTL(10s)"
        return self.etcdctl("lease", "grant", ttl).split()[1]

    def revoke(self, lease):
        self.etcdctl("lease", "revoke", lease)

    def revision(self):
        """The store's current revision."""
        answer = json.loads(self.etcdctl("get", "--write-out=json", "--", "/"))
        return int(answer["header"]["revision"])

    def compact(self, revision):
        """Compacts the history up to `revision`: a watch from before it is cancelled."""
        self.etcdctl("compaction", "--physical", revision)
