"""Signals: SIGTERM drains and exits 0; SIGHUP reloads the config, keeping the old on a bad file."""

import threading
import time

from harness import (
    HttpConnection,
    InBackground,
    ProtocolError,
    get,
    in_flight,
    listen_port,
    server_entry,
)
from harness import served_by, wait_until


def start(ballast, servers, drain_timeout="5s", **load_balancer):
    config = ballast.short_config(servers, **load_balancer)
    config["drain_timeout"] = drain_timeout
    return ballast.start(config, listen_port(config)), config


def serves_a_new_connection(port):
    try:
        with HttpConnection(port, timeout_s=0.5) as connection:
            return connection.request("GET", "/").status == 200
    except (OSError, ProtocolError):  # refused, reset, closed or timed out
        return False


def test_sigterm_finishes_in_flight_requests_then_exits_0(backends, ballast):
    server = backends.start("s1")
    proxy, _ = start(ballast, [server])
    held = [InBackground(get, proxy.port, "/delay/3000") for _ in range(4)]
    wait_until(lambda: in_flight(server) == 4, 5, "4 requests at the server")
    proxy.terminate()
    wait_until(lambda: not serves_a_new_connection(proxy.port), 2, "new connections turned away")
    assert all(not request.done() for request in held), "in-flight requests ended early"
    assert [request.result().status for request in held] == [200] * 4
    assert proxy.wait_exit(5) == 0


def test_sigterm_does_not_wait_for_idle_keepalive_connections(backends, ballast):
    proxy, _ = start(ballast, [backends.start("s1")], drain_timeout="20s")
    with HttpConnection(proxy.port) as idle:
        assert idle.request("GET", "/").status == 200
        proxy.terminate()
        assert proxy.wait_exit(3) == 0
        assert idle.closed_by_peer(timeout_s=1)


def test_sigterm_gives_up_on_requests_after_the_drain_timeout(backends, ballast):
    server = backends.start("s1")
    proxy, _ = start(ballast, [server], drain_timeout="1s")
    hung = InBackground(get, proxy.port, "/hang")
    wait_until(lambda: in_flight(server) == 1, 5, "the request at the server")
    started = time.monotonic()
    proxy.terminate()
    proxy.wait_exit(4)
    assert time.monotonic() - started >= 0.9, "exited before the drain timeout"
    try:
        hung.result(timeout_s=2)  # a 5xx, or a closed connection: either way, not a hang
    except (OSError, ProtocolError):
        pass


class Load:
    """Client threads sending GET / in a loop until stopped: two over keep-alive connections,
    two with a new connection per request. A request that finds its kept-alive connection
    closed before any response byte is retried once on a new one, as HTTP clients do."""

    def __init__(self, port):
        self.port = port
        self.results = []  # (status, backend) or ("error", description)
        self._stop = threading.Event()
        self._threads = [InBackground(self._run, fresh) for fresh in (False, False, True, True)]

    def _run(self, fresh):
        connection = None
        while not self._stop.is_set():
            reused = connection is not None and not fresh
            try:
                if not reused:
                    connection = HttpConnection(self.port)
                try:
                    response = connection.request("GET", "/")
                except ConnectionError:
                    if not reused:
                        raise
                    connection = HttpConnection(self.port)
                    response = connection.request("GET", "/")
                self.results.append((response.status, response.backend))
            except (OSError, ProtocolError) as error:
                self.results.append(("error", repr(error)))
                connection = None
            if fresh and connection is not None:
                connection.close()
                connection = None

    def wait_for(self, more, what):
        target = len(self.results) + more
        wait_until(lambda: len(self.results) >= target, 10, what)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.result()


def test_sighup_reload_under_load_fails_no_request(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1])
    load = Load(proxy.port)
    try:
        load.wait_for(200, "load before the reload")
        config["load_balancer"]["servers"] = [server_entry(s2)]
        proxy.reload(config)
        wait_until(lambda: (200, "s2") in load.results[-100:], 5, "a response from s2")
        load.wait_for(1000, "load after the reload")
    finally:
        load.stop()
    failures = [r for r in load.results if r[0] != 200]
    assert failures == [], f"{len(failures)} of {len(load.results)} failed: {failures[:5]}"
    only_s2 = ["s2"] * 10
    wait_until(lambda: served_by(proxy.port, 10, fresh_connections=True) == only_s2, 5, "only s2")


def test_sighup_with_a_bad_file_keeps_serving_the_old_config(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1])
    proxy.reload("load_balancer:\n  servers: [unclosed\n")
    wait_until(lambda: str(proxy.config_path) in proxy.output(), 5, "the reload error, logged")
    assert proxy.alive()
    assert served_by(proxy.port, 20) == ["s1"] * 20
    config["load_balancer"]["servers"] = [server_entry(s2)]
    proxy.reload(config)  # and it still takes a good file afterwards
    wait_until(lambda: served_by(proxy.port, 1, fresh_connections=True) == ["s2"], 5, "s2")
