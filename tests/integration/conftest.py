"""Fixtures for ballast's integration tests.

  backends  starts backend.py processes (listening on return) and kills them at teardown
  ballast   writes a config under tmp_path and starts ballast on it (accepting on return); at
            teardown SIGTERM, SIGKILL after a bound, and an error if ballast crashed, had to be
            killed or exited non-zero

Environment: BALLAST_BIN (default build/release/ballast); BALLAST_QUICK=1 skips the tests
marked `slow` (GiB streams, 100,000 requests).
"""

import os
import signal

import pytest

from harness import HOST, Backend, Ballast, ballast_binary, free_port, listen_port, server_entry
from harness import ScriptServer, write_config

STOP_TIMEOUT_S = 10.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: GiB streams or 100,000 requests; BALLAST_QUICK=1 skips"
    )


def pytest_collection_modifyitems(config, items):
    if os.environ.get("BALLAST_QUICK") == "1":
        skip = pytest.mark.skip(reason="BALLAST_QUICK=1")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def call_failed(request):
    report = getattr(request.node, "report_call", None)
    return report is not None and report.failed


@pytest.fixture(scope="session")
def ballast_bin():
    path = ballast_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no ballast binary at {path}: run `make build` or set BALLAST_BIN")
    return path


class Backends:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started = []

    def start(self, name, port=None, args=(), host=HOST):
        """One backend named `name`, on `port` (a fresh one if None); args e.g. ["--echo"]."""
        backend = Backend(name, port or free_port(), self.log_dir, args, host)
        self.started.append(backend)
        return backend

    def start_many(self, count, prefix="s", args=()):
        """Backends named s1..sN."""
        return [self.start(f"{prefix}{i}", args=args) for i in range(1, count + 1)]


@pytest.fixture
def backends(tmp_path, request):
    pool = Backends(tmp_path)
    yield pool
    for backend in pool.started:
        backend.stop()
        if call_failed(request):
            print(backend.logs())


@pytest.fixture
def script_servers(tmp_path):
    """start(script, name, args=()): a ScriptServer, stopped after the test."""
    started = []

    def start(script, name, args=()):
        started.append(ScriptServer(tmp_path, script, name, args))
        return started[-1]

    yield start
    for server in started:
        server.stop()


class BallastFactory:
    """Starts ballast processes for one test; `.port` on each is where it listens."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.started = []

    def short_config(self, servers, **load_balancer):
        """A short-shape config dict listening on a fresh port. `servers` may hold Backends,
        bare ports or ready `servers:` entries; keyword arguments go into `load_balancer:`."""
        entries = [s if isinstance(s, dict) else server_entry(s) for s in servers]
        return {
            "workers": 1,
            "drain_timeout": "5s",
            "load_balancer": {
                "listen": f"{HOST}:{free_port()}",
                "mode": "http",
                "algorithm": "round_robin",
                **load_balancer,
                "servers": entries,
            },
        }

    def start(self, config, port, flag="--config"):
        """ballast on `config` (a dict or YAML text), once `port` accepts connections."""
        index = len(self.started)
        if isinstance(config, dict):
            # Off the default ports, so a ballast running elsewhere on this machine is no clash.
            metrics = config.setdefault("monitoring", {}).setdefault("metrics", {})
            metrics.setdefault("port", free_port())
            config.setdefault("admin", {}).setdefault("listen", f"{HOST}:{free_port()}")
        path = write_config(self.tmp_path / f"ballast{index}.yaml", config)
        process = Ballast(path, self.tmp_path, flag=flag, label=f"ballast{index}")
        process.port = port
        self.started.append(process)
        try:
            process.wait_listening(port)
        except AssertionError:
            process.expected_exit = True  # reported here, with its output; not again at teardown
            raise
        return process

    def start_short(self, servers, **load_balancer):
        """ballast on short_config(servers, **load_balancer)."""
        config = self.short_config(servers, **load_balancer)
        return self.start(config, listen_port(config))


def exit_text(code):
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


@pytest.fixture
def ballast(ballast_bin, tmp_path, request):
    factory = BallastFactory(tmp_path)
    yield factory
    problems = []
    for process in factory.started:
        if not process.alive():
            if not process.expected_exit:
                problems.append(f"{process.label} crashed: {exit_text(process.proc.returncode)}")
            continue
        code, killed = process.stop(STOP_TIMEOUT_S)
        if killed:
            problems.append(f"{process.label} ignored SIGTERM for {STOP_TIMEOUT_S}s; killed")
        elif code != 0:
            problems.append(f"{process.label} ended with {exit_text(code)} on SIGTERM")
    if problems or call_failed(request):
        for process in factory.started:
            print(process.logs())
    if problems:
        pytest.fail("; ".join(problems))
