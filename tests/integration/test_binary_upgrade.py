"""Binary upgrade (SIGUSR2): the running ballast starts the binary at its own path, hands it every
listening socket over a UNIX socket (SCM_RIGHTS) with the servers' state, and drains once the new
process serves. Nothing listening is ever closed, so no connection is refused or reset.

Each new process is a child of the one it replaces; the test makes itself a child subreaper
(PR_SET_CHILD_SUBREAPER) so orphaned generations come back to it to be reaped and, at the end,
stopped."""

import ctypes
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from events import admin_request, admin_status, log_events, server_status, wait_log
from harness import (
    HOST,
    Process,
    RequestLoop,
    accepts_connections,
    control,
    fd_count,
    free_port,
    get,
    health_check,
    rss_bytes,
    server_entry,
    wait_until,
    write_config,
)

PR_SET_CHILD_SUBREAPER = 36
UPGRADES = 20
SERVING = "binary upgrade: the new process serves; draining"
FAILED = "binary upgrade failed: this process keeps serving"


@pytest.fixture(autouse=True)
def reaper():
    """Orphaned ballast generations are reparented to this process; every one still running at
    the end is stopped."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    adopted = []
    yield adopted
    for pid in adopted:
        if not exited(pid):
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: exited(pid), 15, f"pid {pid} stopped")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0)
    assert all(EXIT_CODES.get(pid, 0) == 0 for pid in adopted), EXIT_CODES


EXIT_CODES = {}  # of the generations reaped here


def exited(pid):
    """Whether `pid` has ended (reaping it when it is ours)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            EXIT_CODES[pid] = os.waitstatus_to_exitcode(status)
            return True
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def upgrade(proxy, config, old_pid, adopted, count=1):
    """SIGUSR2 to `old_pid`; returns the new process's pid once it serves and the old is gone."""
    os.kill(old_pid, signal.SIGUSR2)
    event = wait_log(proxy, SERVING, 20, count=count)[count - 1]
    new_pid = int(event["new_pid"])
    adopted.append(new_pid)
    if old_pid == proxy.pid:  # the test's own child: its exit code is the fixture's to read
        proxy.expected_exit = True
        assert proxy.wait_exit(20) == 0
    else:
        wait_until(lambda: exited(old_pid), 20, f"the old process {old_pid} exited")
    assert admin_status(config)["process"]["pid"] == new_pid
    return new_pid


def start(ballast, backends, workers=2, **cluster):
    servers = [backends.start(f"s{i}") for i in (1, 2)]
    config = {
        "workers": workers,
        "drain_timeout": "10s",
        # The tests read the log for each upgrade's lines: without the access log, it stays short
        # under load.
        "monitoring": {"logging": {"access_log": False}},
        "listeners": [{"name": "web", "listen": f"{HOST}:{free_port()}",
                       "routes": [{"cluster": "web"}]}],
        "clusters": {"web": {"servers": [server_entry(s) for s in servers], **cluster}},
    }
    proxy = ballast.start(config, listen_port_of(config))
    return proxy, config, servers


def listen_port_of(config):
    return int(config["listeners"][0]["listen"].rsplit(":", 1)[1])


def wrk(port, seconds, connections=32):
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://{HOST}:{port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(process):
    """(requests, problems) from wrk's summary, after SIGINT stops it."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    problems = [line.strip() for line in output.splitlines()
                if "Socket errors" in line or "Non-2xx" in line]
    return requests, problems, output


def settle(pid, seconds=2.5):
    """The process's descriptors and RSS once idle for `seconds`."""
    time.sleep(seconds)
    return fd_count(pid), rss_bytes(pid)


def test_twenty_upgrades_under_load_fail_no_request_and_refuse_no_connection(
        backends, ballast, reaper):
    # Idle pooled connections close after 1 s, so descriptors at rest are the same whatever the
    # load left in the pools.
    proxy, config, _ = start(ballast, backends, pool={"idle_timeout": "1s"})
    port = proxy.port
    warm = wrk(port, 60)
    time.sleep(2)
    wrk_result(warm)
    base_fds, base_rss = settle(proxy.pid)

    load = wrk(port, 300)
    pid = proxy.pid
    with RequestLoop(port, fresh_connections=True) as fresh:
        time.sleep(1)
        for round_number in range(1, UPGRADES + 1):
            pid = upgrade(proxy, config, pid, reaper, count=round_number)
            time.sleep(0.3)  # load on the new process before the next round
    requests, problems, output = wrk_result(load)
    assert problems == [], output
    assert requests > 1000, output
    assert fresh.failures() == [], fresh.failures()[:5]
    assert len(fresh.results) > 20

    warm = wrk(port, 60)
    time.sleep(2)
    wrk_result(warm)
    fds, rss = settle(pid)
    print(f"{UPGRADES} upgrades: wrk {requests} requests, 0 errors; "
          f"{len(fresh.results)} fresh connections; descriptors {base_fds} -> {fds}; RSS {base_rss >> 10} -> {rss >> 10} KiB")
    assert abs(fds - base_fds) <= 2, (base_fds, fds)
    assert rss < base_rss * 1.25 + (4 << 20), (base_rss, rss)
    assert len(log_events(proxy, "ballast started")) == UPGRADES + 1
    assert len(log_events(proxy, "ballast stopped")) == UPGRADES


def test_state_carries_over_an_upgrade(backends, ballast, reaper):
    proxy, config, (s1, s2) = start(
        ballast, backends,
        circuit_breaker={"mode": "consecutive", "failure_threshold": 2, "timeout": "60s"},
        health_check=health_check(slow_start="60s"))
    wait_until(lambda: server_status(config, s2, "web")["health"] == "healthy", 5, "s2 healthy")
    control(s1, fail_percent=100)  # s1 answers 500s: two open its breaker
    wait_until(lambda: get(proxy.port, "/") and
               server_status(config, s1, "web")["breaker"]["state"] == "open", 10,
               "s1's breaker open")
    assert admin_request(config, "POST", f"/servers/web/{HOST}:{s2.port}/drain").status == 200
    before = server_status(config, s1, "web")["breaker"]["half_open_in_ms"]

    upgrade(proxy, config, proxy.pid, reaper)
    after = server_status(config, s1, "web")
    assert after["breaker"]["state"] == "open"
    assert 50_000 < after["breaker"]["half_open_in_ms"] <= before
    assert after["health"] == "healthy"
    assert server_status(config, s2, "web")["admin"] == "draining"
    assert server_status(config, s2, "web")["health"] == "healthy"
    # Both out (s1's breaker, s2 drained): nothing reaches either.
    received = s1.stats()["requests_received"] + s2.stats()["requests_received"]
    assert get(proxy.port, "/").status == 503
    assert s1.stats()["requests_received"] + s2.stats()["requests_received"] == received
    event = log_events(proxy, "binary upgrade: serving; the old process drains")[-1]
    assert event["servers_resumed"] == "2"


def test_slow_start_carries_over_an_upgrade(backends, ballast, reaper):
    # start_healthy: neither ramps at start-up, so s1's ramp after its return is the only one.
    proxy, config, (s1, s2) = start(
        ballast, backends, health_check=health_check(slow_start="30s", start_healthy=True))
    control(s1, health=503)
    wait_log(proxy, "health check changed", 5, to="unhealthy")
    control(s1, health=200)  # back: it ramps from 10% of its share over 30 s
    wait_until(lambda: server_status(config, s1, "web")["health"] == "healthy", 5, "s1 back")
    upgrade(proxy, config, proxy.pid, reaper)
    served = [get(proxy.port, "/").backend for _ in range(200)]
    # Still ramping in the new process: well under its half of the requests.
    assert served.count("s1") < 60, served.count("s1")


def test_a_new_worker_count_takes_effect_through_an_upgrade(backends, ballast, reaper):
    proxy, config, _ = start(ballast, backends, workers=3)
    config["workers"] = 1
    write_config(proxy.config_path, config)
    os.kill(proxy.pid, signal.SIGHUP)
    warning = wait_log(proxy, "reload: this setting is read at start-up; a binary upgrade "
                       "(SIGUSR2) applies it", 5)[0]
    assert warning["setting"] == "workers: 3 -> 1"

    with RequestLoop(proxy.port, fresh_connections=True) as fresh:
        time.sleep(0.3)
        pid = upgrade(proxy, config, proxy.pid, reaper)
        assert admin_status(config)["process"]["workers"] == 1
        time.sleep(0.5)  # one worker accepts from all three sockets
        config["workers"] = 4
        write_config(proxy.config_path, config)
        pid = upgrade(proxy, config, pid, reaper, count=2)
        assert admin_status(config)["process"]["workers"] == 4
        time.sleep(0.5)
    assert fresh.failures() == [], fresh.failures()[:5]
    assert len(fresh.results) > 10


def test_a_successor_that_cannot_start_leaves_the_old_process_serving(backends, ballast, reaper):
    proxy, config, _ = start(ballast, backends)
    proxy.config_path.write_text("listeners: [oops\n")
    os.kill(proxy.pid, signal.SIGUSR2)
    failure = wait_log(proxy, FAILED, 20)[0]
    assert "exited with status 2" in failure["error"]
    assert get(proxy.port, "/").status == 200
    assert admin_status(config)["process"]["pid"] == proxy.pid

    write_config(proxy.config_path, config)
    upgrade(proxy, config, proxy.pid, reaper)
    assert get(proxy.port, "/").status == 200


def test_the_successor_runs_the_binary_now_at_the_path(backends, ballast_bin, tmp_path, reaper):
    # As a package upgrade does: the file at the path ballast was started from is replaced (a new
    # inode renamed over it); SIGUSR2 then starts the new file, not the running one's deleted copy.
    binary = tmp_path / "sbin" / "ballast"
    binary.parent.mkdir()
    shutil.copy(ballast_bin, binary)
    server = backends.start("s1")
    port = free_port()
    config = {"workers": 1, "monitoring": {"logging": {"access_log": False},
                                           "metrics": {"port": free_port()}},
              "admin": {"listen": f"{HOST}:{free_port()}"},
              "listeners": [{"name": "web", "listen": f"{HOST}:{port}",
                             "routes": [{"cluster": "web"}]}],
              "clusters": {"web": {"servers": [server_entry(server)]}}}
    path = write_config(tmp_path / "ballast.yaml", config)
    proxy = Process([str(binary), "--config", str(path)], tmp_path, "upgraded")
    wait_until(lambda: accepts_connections(port), 10, "ballast listening")
    old_inode = os.stat(f"/proc/{proxy.pid}/exe").st_ino

    replacement = binary.with_name("ballast.new")
    shutil.copy(ballast_bin, replacement)
    os.rename(replacement, binary)
    os.kill(proxy.pid, signal.SIGUSR2)
    new_pid = int(wait_log(proxy, SERVING, 20)[0]["new_pid"])
    reaper.append(new_pid)
    assert proxy.wait_exit(20) == 0
    assert os.stat(f"/proc/{new_pid}/exe").st_ino == os.stat(binary).st_ino != old_inode
    assert os.readlink(f"/proc/{new_pid}/exe") == str(binary)
    assert get(port, "/").status == 200


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET; each message with
    the pid that sent it (SCM_CREDENTIALS)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.messages = []  # (sender pid, {field: value})

    def read(self):
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except (socket.timeout, BlockingIOError):
                return self.messages
            pid = None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", value[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((pid, fields))

    def wait(self, what, predicate, timeout_s=10):
        return wait_until(lambda: any(predicate(pid, m) for pid, m in self.read()), timeout_s, what)


def test_systemd_hears_ready_reloading_watchdog_the_new_main_pid_and_stopping(
        backends, ballast, reaper, tmp_path, monkeypatch):
    notify = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a keep-alive every 200 ms
    proxy, config, _ = start(ballast, backends)
    old = proxy.pid
    notify.wait("READY=1 with MAINPID", lambda pid, m: m.get("READY") == "1" and
                m.get("MAINPID") == str(old) and pid == old)
    notify.wait("WATCHDOG=1", lambda pid, m: m.get("WATCHDOG") == "1" and pid == old)

    os.kill(old, signal.SIGHUP)
    notify.wait("RELOADING=1", lambda pid, m: m.get("RELOADING") == "1")
    ready_after_reload = len([m for _, m in notify.read() if m.get("READY") == "1"])
    assert ready_after_reload >= 1

    new = upgrade(proxy, config, old, reaper)
    notify.wait("READY=1 from the new process", lambda pid, m: m.get("MAINPID") == str(new) and
                m.get("READY") == "1" and pid == new)
    notify.wait("WATCHDOG=1 from the new process",
                lambda pid, m: m.get("WATCHDOG") == "1" and pid == new)
    # The old process drained and exited without telling systemd the service stops.
    assert not any(m.get("STOPPING") for _, m in notify.read()), notify.messages

    os.kill(new, signal.SIGTERM)
    notify.wait("STOPPING=1", lambda pid, m: m.get("STOPPING") == "1" and pid == new)
