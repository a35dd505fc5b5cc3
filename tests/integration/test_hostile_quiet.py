"""A quiet hot path: a server failing every attempt costs one log line a second, with a count,
not a line per failure; and an idle worker sleeps until its next deadline instead of waking
at every tick of its timer wheel."""

import time
from pathlib import Path

from events import log_events
from harness import free_port, get, wait_until


def worker_wakeups(pid):
    """Context switches of the worker threads so far (each sleep-and-wake counts one)."""
    total = 0
    workers = [
        task
        for task in Path(f"/proc/{pid}/task").iterdir()
        if (task / "comm").read_text().strip().startswith("worker-")
    ]
    assert workers, "no thread named worker-N"
    for task in workers:
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def test_an_idle_worker_wakes_at_most_twice_a_second(ballast, backends):
    server = backends.start("s1")
    config = ballast.short_config([server])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    assert get(port, "/").status == 200  # it has served, logged, pooled a connection
    time.sleep(0.5)  # the access log line is flushed
    before = worker_wakeups(proxy.pid)
    time.sleep(4.0)
    woken = worker_wakeups(proxy.pid) - before
    assert woken <= 2 * 4 + 1, f"an idle worker woke {woken} times in 4 s"


def test_a_failing_server_is_logged_once_a_second_with_a_count(ballast, backends):
    dead = free_port()  # nobody listens: every attempt is a connect failure
    config = ballast.short_config([dead])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    failures = 0
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        assert get(port, "/").status == 502
        failures += 1
    assert failures > 20
    lines = wait_until(
        lambda: log_events(proxy, "upstream attempt failed") or None, 5, "a failure line"
    )
    time.sleep(1.1)  # the next line, with the count of those in between
    get(port, "/")
    lines = log_events(proxy, "upstream attempt failed")
    assert len(lines) <= 4, f"{len(lines)} lines for {failures} failures"
    assert sum(int(line["count"]) for line in lines) >= failures * 0.9
    assert all(line["failure"] == "connect_failure" for line in lines)
