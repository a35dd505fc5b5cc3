"""ballast-load, the benchmark harness's load generator (bench/load): exact request counts,
latency quantiles, error classes, the open-loop rate and its coordinated-omission correction,
the timeline and windows. Run against ballast-testd; both are built beside the ballast binary
under test."""

import csv
import subprocess
import time

import pytest

from harness import Process, accepts_connections, free_port, wait_until

RUN_TIMEOUT_S = 30


@pytest.fixture
def binaries(ballast_bin):
    found = {name: ballast_bin.parent / name for name in ("ballast-load", "ballast-testd")}
    for path in found.values():
        if not path.is_file():
            pytest.skip(f"no {path}: it is built with the benchmarks (make build)")
    return found


@pytest.fixture
def testd(binaries, tmp_path):
    started = []

    def start(*args):
        port = free_port()
        process = Process([str(binaries["ballast-testd"]), "--port", str(port), "--name", "t1",
                           *args], tmp_path, f"testd{len(started)}")
        started.append(process)
        wait_until(lambda: accepts_connections(port), 5, "ballast-testd listening")
        return port

    yield start
    for process in started:
        process.stop()


def parse(stdout):
    """{"total": {...}, "window NAME": {...}} from ballast-load's key=value lines."""
    lines = {}
    for line in stdout.splitlines():
        words = line.split()
        label_words = 2 if words[0] == "window" else 1
        values = dict(word.split("=", 1) for word in words[label_words:])
        lines[" ".join(words[:label_words])] = {
            key: float(value) if "." in value else int(value) for key, value in values.items()
        }
    return lines


@pytest.fixture
def load(binaries):
    def run(port, *args, expect_exit=0):
        command = [str(binaries["ballast-load"]), "--port", str(port), *map(str, args)]
        began = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        took = time.monotonic() - began
        assert result.returncode == expect_exit, result.stderr
        return (parse(result.stdout) if expect_exit == 0 else result.stderr), took

    return run


def test_it_sends_exactly_the_requests_asked_and_measures_the_latency(testd, load):
    port = testd("--latency-ms", "5")
    lines, _ = load(port, "--requests", 2000, "--connections", 50)
    total = lines["total"]
    assert total["requests"] == 2000 and total["errors"] == 0
    assert 4.5 <= total["p50_ms"] <= 8
    assert total["p50_ms"] <= total["p90_ms"] <= total["p99_ms"] <= total["max_ms"]


def test_server_errors_count_as_5xx(testd, load):
    port = testd("--error-percent", "50")
    total = load(port, "--requests", 2000)[0]["total"]
    assert total["requests"] == 2000
    assert 0.35 * 2000 <= total["status_5xx"] <= 0.65 * 2000
    assert total["errors"] == total["status_5xx"] and total["socket_errors"] == 0


def test_a_closed_port_gives_socket_errors_without_hanging(load):
    lines, took = load(free_port(), "--requests", 500, "--connections", 10)
    total = lines["total"]
    assert total["requests"] == 500 and total["socket_errors"] == 500
    assert took < 5


def test_unanswered_requests_time_out(testd, load):
    port = testd("--latency-ms", "2000")
    lines, took = load(port, "--requests", 4, "--connections", 2, "--timeout-ms", 100)
    assert lines["total"]["timeouts"] == 4 and lines["total"]["requests"] == 4
    assert took < 2


def test_the_rate_paces_requests_and_the_timeline_has_a_row_per_second(testd, load, tmp_path):
    port = testd()
    timeline = tmp_path / "timeline.csv"
    total = load(port, "--rate", 200, "--duration", 2, "--timeline", timeline)[0]["total"]
    assert 350 <= total["requests"] <= 450
    with open(timeline, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["second", "requests", "errors", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
                       "max_ms"]
    assert len(rows) - 1 >= 2
    assert [int(row[0]) for row in rows[1:]] == list(range(len(rows) - 1))
    assert sum(int(row[1]) for row in rows[1:]) == total["requests"]


def test_the_open_loop_counts_the_time_requests_waited_to_be_sent(testd, load):
    # 50 requests/s into one connection to a server that takes 100 ms each: they queue, and the
    # latency from each one's due time grows (wrk2's coordinated-omission correction).
    port = testd("--latency-ms", "100", "--concurrency", "1")
    total = load(port, "--connections", 1, "--rate", 50, "--duration", 1)[0]["total"]
    assert total["requests"] >= 5
    assert total["p99_ms"] >= 300


def test_windows_summarise_a_part_of_the_run(testd, load):
    port = testd("--latency-ms", "1")
    lines = load(port, "--duration", 1.5, "--connections", 4, "--window", "first:0:0.5",
                 "--window", "rest:0.5:10")[0]
    total, first, rest = lines["total"], lines["window first"], lines["window rest"]
    assert first["requests"] > 0 and rest["requests"] > 0
    assert first["requests"] + rest["requests"] == total["requests"]
    assert abs(first["seconds"] - 0.5) < 0.01  # a window past the end covers the run only
    assert first["max_ms"] <= total["max_ms"]


@pytest.mark.parametrize("args", [
    ["--connections", 1],                                     # neither --requests nor --duration
    ["--requests", 10, "--duration", 1],                      # both
    ["--requests", 10, "--window", "late:2:1"],               # FROM after TO
    ["--requests", 10, "--window", "nocolons"],
])
def test_bad_flags_exit_2(load, args):
    assert load(free_port(), *args, expect_exit=2)[0].strip()  # CLI11 says what is wrong
