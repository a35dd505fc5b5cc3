"""ballast-testd, the benchmark fleet's backend (bench/testd): its latency, concurrency limit,
error rate and runtime /control do what the benchmarks rely on. Built beside the ballast binary
under test."""

import threading
import time

import pytest

from harness import Process, accepts_connections, free_port, get, wait_until


@pytest.fixture
def testd(ballast_bin, tmp_path):
    binary = ballast_bin.parent / "ballast-testd"
    if not binary.is_file():
        pytest.skip(f"no {binary}: it is built with the benchmarks (make build)")
    started = []

    def start(*args):
        port = free_port()
        process = Process([str(binary), "--port", str(port), "--name", "t1", *args], tmp_path,
                          f"testd{len(started)}")
        started.append(process)
        wait_until(lambda: accepts_connections(port), 5, "ballast-testd listening")
        return port

    yield start
    for process in started:
        process.stop()


def timed(port, target="/"):
    began = time.monotonic()
    response = get(port, target)
    return response, time.monotonic() - began


def test_it_answers_after_its_latency_and_names_itself(testd):
    port = testd("--latency-ms", "100")
    response, took = timed(port)
    assert (response.status, response.backend) == (200, "t1")
    assert 0.09 <= took < 1.0
    health, took = timed(port, "/health")  # never delayed: checks must not wait
    assert health.status == 200 and took < 0.09


def test_its_concurrency_limit_queues_the_rest(testd):
    port = testd("--latency-ms", "100", "--concurrency", "1")
    durations = []

    def one():
        durations.append(timed(port)[1])

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(durations) == 3 and max(durations) >= 0.28  # served one after another


def test_control_changes_latency_and_errors_while_it_runs(testd):
    port = testd()
    assert timed(port)[0].status == 200
    settings = get(port, "/control?error_percent=100&latency_ms=50").json()
    assert settings["error_percent"] == 100 and settings["latency_ms"] == 50
    response, took = timed(port)
    assert response.status == 500 and took >= 0.045
    assert get(port, "/control?error_percent=nope").status == 400
    get(port, "/control?error_percent=0&latency_ms=0")
    assert timed(port)[0].status == 200
