"""Slow start: a server that becomes healthy ramps up to its full share over `slow_start`,
rather than taking a full share the moment its check passes; hash algorithms are exempt (a
key's server must not change with the ramp).

The third server starts stopped, fails its first check, then starts once the other two have
finished their own start-up ramp: its ramp runs from its `health check changed` → healthy line.
Health checks every 100 ms with thresholds of 1.
"""

import time
from collections import Counter

from events import wait_health
from harness import HttpConnection, free_port, health_check, server_entry

SLOW_START_S = 3
WINDOW_S = 0.75
CHECK = health_check(interval="100ms", timeout="50ms", slow_start=f"{SLOW_START_S}s")


def start_with_third_down(backends, ballast, ramps=True, **load_balancer):
    """ballast over s1, s2 and a third port nobody listens on yet; returns (proxy, its port),
    once s1 and s2 are healthy (and, if `ramps`, past their ramp) and the third has failed its
    check."""
    s1, s2 = backends.start_many(2)
    third = free_port()
    proxy = ballast.start_short([s1, s2, server_entry(third)], health_check=CHECK, **load_balancer)
    wait_health(proxy, [s1.port, s2.port], "healthy")
    # s1 and s2 went unknown → healthy, which starts a ramp of their own: wait it out, or all
    # three ramp at once and s3's share shows nothing. The condition is time itself.
    if ramps:
        time.sleep(SLOW_START_S)
    wait_health(proxy, [third], "unhealthy")
    return proxy, third


def share_per_window(port, name, windows):
    """The share of requests `name` served in each of `windows` back-to-back windows of
    WINDOW_S, and the request count of each, over one keep-alive connection."""
    shares, totals = [], []
    with HttpConnection(port) as connection:
        for _ in range(windows):
            counts = Counter()
            end = time.monotonic() + WINDOW_S
            while time.monotonic() < end:
                response = connection.request("GET", "/")
                assert response.status == 200, response
                counts[response.backend] += 1
            total = sum(counts.values())
            shares.append(counts[name] / total)
            totals.append(total)
    return shares, totals


def test_a_returning_server_ramps_up_over_slow_start(backends, ballast):
    proxy, third = start_with_third_down(backends, ballast, algorithm="round_robin")
    backends.start("s3", port=third)
    wait_health(proxy, [third], "healthy")

    windows = int(SLOW_START_S / WINDOW_S) + 1  # the last one lies past the ramp
    shares, totals = share_per_window(proxy.port, "s3", windows)
    summary = f"s3 share per {WINDOW_S}s window: {[round(s, 3) for s in shares]}, totals {totals}"
    assert min(totals) >= 100, f"too few requests to judge; {summary}"
    # Passed over with probability 1 - factor, factor 0.1 → 1: expected share about factor / 3,
    # so ~0.07 in the first window (factor 0.1 → 0.33) and 1/3 in the last.
    assert shares[0] <= 0.2, summary
    assert shares[-1] >= 0.28, summary
    for earlier, later in zip(shares, shares[1:]):
        assert later >= earlier - 0.05, f"the share fell while ramping; {summary}"


def test_slow_start_leaves_hashed_keys_on_their_server(backends, ballast):
    proxy, third = start_with_third_down(
        backends, ballast, ramps=False, algorithm="consistent_hash", hash_on="header:X-User"
    )
    backends.start("s3", port=third)
    wait_health(proxy, [third], "healthy")
    ramp_started = time.monotonic()

    owner = {}
    with HttpConnection(proxy.port) as connection:
        for key in (f"user-{i}" for i in range(40)):
            names = []
            for _ in range(4):
                response = connection.request("GET", "/", [("X-User", key)])
                assert response.status == 200, response
                names.append(response.backend)
            assert len(set(names)) == 1, f"{key} split over {names} while s3 ramps"
            owner[key] = names[0]
    elapsed = time.monotonic() - ramp_started
    assert elapsed < SLOW_START_S / 2, f"took {elapsed:.2f}s: no longer inside the ramp"
    # s3 owns about a third of the keys at once; 40 keys all missing it: (2/3)^40, ~1e-7.
    assert "s3" in owner.values(), Counter(owner.values())
