"""Each balancing algorithm, seen through the real proxy: who served is read from X-Backend.

One worker (the short config's default here), so per-worker cursors and counts are the proxy's.
"""

from collections import Counter

import pytest

from harness import InBackground, get, in_flight, server_entry, served_by, wait_until


def test_round_robin_rotates_exactly_over_three_servers(backends, ballast):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm="round_robin")
    names = served_by(proxy.port, 30)
    assert sorted(names[:3]) == ["s1", "s2", "s3"], names
    assert names == names[:3] * 10


def test_round_robin_rotates_across_client_connections(backends, ballast):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm="round_robin")
    names = served_by(proxy.port, 12, fresh_connections=True)
    assert sorted(names[:3]) == ["s1", "s2", "s3"], names
    assert names == names[:3] * 4


def weighted(servers, weights):
    return [server_entry(s, weight=w) for s, w in zip(servers, weights)]


def test_weighted_round_robin_gives_exact_shares_5_3_2(backends, ballast):
    servers = backends.start_many(3)
    proxy = ballast.start_short(weighted(servers, (5, 3, 2)), algorithm="weighted_round_robin")
    assert Counter(served_by(proxy.port, 100)) == {"s1": 50, "s2": 30, "s3": 20}


def test_smooth_weighted_round_robin_gives_exact_shares_in_every_cycle(backends, ballast):
    servers = backends.start_many(3)
    config = weighted(servers, (5, 1, 1))
    proxy = ballast.start_short(config, algorithm="smooth_weighted_round_robin")
    names = served_by(proxy.port, 70)
    for start in range(0, 64):  # the order repeats every 7 picks, so any 7 in a row is a cycle
        assert Counter(names[start : start + 7]) == {"s1": 5, "s2": 1, "s3": 1}, names


def hold(port, count, delay_ms):
    """`count` slow requests in flight at once, each on its own connection."""
    return [InBackground(get, port, f"/delay/{delay_ms}") for _ in range(count)]


def busy_servers(servers, expected):
    """Waits until exactly `expected` requests are in flight over all servers; their names."""

    def busy():
        counts = {s.name: in_flight(s) for s in servers}
        return counts if sum(counts.values()) == expected else None

    counts = wait_until(busy, 5, f"{expected} requests in flight")
    return {name for name, count in counts.items() if count}


@pytest.mark.parametrize("algorithm", ["least_connections", "weighted_least_connections"])
def test_least_connections_avoids_the_busy_servers(backends, ballast, algorithm):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm=algorithm)
    held = hold(proxy.port, 1, 1500)
    busy_servers(servers, 1)
    held += hold(proxy.port, 1, 1500)
    busy = busy_servers(servers, 2)
    assert len(busy) == 2, "the second slow request joined the first one's server"
    (idle,) = {"s1", "s2", "s3"} - busy
    assert served_by(proxy.port, 10) == [idle] * 10
    for request in held:
        assert request.result().status == 200


def test_p2c_with_two_servers_always_picks_the_idle_one(backends, ballast):
    servers = backends.start_many(2)
    proxy = ballast.start_short(servers, algorithm="p2c")
    held = hold(proxy.port, 1, 1500)
    (busy,) = busy_servers(servers, 1)
    (idle,) = {"s1", "s2"} - {busy}
    assert served_by(proxy.port, 20) == [idle] * 20
    assert held[0].result().status == 200


@pytest.mark.parametrize("algorithm", ["p2c", "random"])
def test_randomised_algorithms_spread_evenly(backends, ballast, algorithm):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm=algorithm)
    counts = Counter(served_by(proxy.port, 300))
    assert min(counts[name] for name in ("s1", "s2", "s3")) >= 60, counts  # 100 each, sigma 8


def test_adaptive_moves_traffic_away_from_a_slow_server(backends, ballast):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm="adaptive")
    counts = Counter(served_by(proxy.port, 150, target="/on/s1/delay/50"))
    assert counts["s1"] <= 15, counts  # an even share would be 50


def test_random_follows_weights(backends, ballast):
    servers = backends.start_many(2)
    proxy = ballast.start_short(weighted(servers, (3, 1)), algorithm="random")
    counts = Counter(served_by(proxy.port, 400))
    assert 260 <= counts["s1"] <= 340, counts  # expected 300, sigma 8.7


@pytest.mark.parametrize("algorithm", ["ip_hash", "consistent_hash", "maglev"])
def test_hashing_on_the_client_address_sticks_to_one_server(backends, ballast, algorithm):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm=algorithm)
    assert len(set(served_by(proxy.port, 20, fresh_connections=True))) == 1


@pytest.mark.parametrize("algorithm", ["consistent_hash", "maglev"])
def test_hashing_on_a_header_is_sticky_per_key_and_spreads_keys(backends, ballast, algorithm):
    servers = backends.start_many(3)
    proxy = ballast.start_short(servers, algorithm=algorithm, hash_on="header:X-User")
    owner = {}
    for user in range(60):
        names = served_by(proxy.port, 3, headers=[("X-User", f"user-{user}")])
        assert len(set(names)) == 1, f"user-{user} went to {names}"
        owner[user] = names[0]
    counts = Counter(owner.values())
    assert set(counts) == {"s1", "s2", "s3"}, counts  # 60 keys all missing one server: ~1e-10


def test_backup_serves_only_when_every_primary_is_down(backends, ballast):
    s1, s2, b1 = backends.start("s1"), backends.start("s2"), backends.start("b1")
    entries = [server_entry(s1), server_entry(s2), server_entry(b1, backup=True)]
    retry = {"attempts": 3, "on": ["connect_failure"]}
    proxy = ballast.start_short(entries, algorithm="round_robin", retry=retry)
    assert set(served_by(proxy.port, 20)) == {"s1", "s2"}

    s1.stop()
    s2.stop()
    assert set(served_by(proxy.port, 10)) == {"b1"}

    backends.start("s1", port=s1.port)
    assert set(served_by(proxy.port, 10)) == {"s1"}
