"""Request rate limits (docs/config.md "Rate limits"): one count per key across both workers,
held to N a second within 10%; 429 with Retry-After and the RateLimit fields over HTTP/1.1 and
HTTP/2; keys from the client address (or a trusted proxy's X-Forwarded-For), a header, a cookie
or the route; refusals in the access log and in ballast_rate_limited_total. Global limits: two
instances sharing one real Redis hold one limit; with Redis gone each holds it alone, with no
error, and finds Redis again when it is back."""

import json
import subprocess
import threading
import time

import pytest

from events import admin_status, metric, parse_samples, scrape, wait_log
from h2client import H2Client
from harness import (HOST, HttpConnection, InBackground, Process, accepts_connections, free_port,
                     get, server_entry, wait_until)


def limited(ballast, backend, listener_limit=None, routes=None, workers=1, **top):
    port = free_port()
    listener = {
        "name": "web",
        "listen": f"{HOST}:{port}",
        "h2c": True,
        "routes": routes or [{"cluster": "app"}],
    }
    if listener_limit:
        listener["rate_limit"] = listener_limit
    config = {
        "workers": workers,
        "listeners": [listener],
        "clusters": {"app": {"servers": [server_entry(backend)]}},
        **top,
    }
    return config, ballast.start(config, port)


def statuses(port, count, target="/", headers=()):
    return [get(port, target, headers=headers).status for _ in range(count)]


def hammer(port, seconds, threads=8, target="/"):
    """Requests from `threads` clients as fast as they go for `seconds`, each on connections of
    its own (a 429 closes one): the count of each status."""
    counts = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        mine = {}
        connection = None
        while time.monotonic() < deadline:
            if connection is None:
                connection = HttpConnection(port)
            response = connection.request("GET", target)
            mine[response.status] = mine.get(response.status, 0) + 1
            if response.status != 200:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
        with lock:
            for status, n in mine.items():
                counts[status] = counts.get(status, 0) + n

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts


def test_a_limit_of_n_a_second_holds_across_two_workers(ballast, backends):
    backend = backends.start("app")
    rate, burst, seconds = 100, 10, 6
    config, proxy = limited(ballast, backend, workers=2,
                            listener_limit={"requests": rate, "burst": burst, "key": "route"})
    counts = hammer(proxy.port, seconds)
    expected = burst + rate * seconds
    assert counts.get(429, 0) > counts.get(200, 0), counts  # clients asked for far more
    assert abs(counts[200] - expected) <= expected * 0.10, (counts, expected)
    refused = metric(parse_samples(scrape(config)), "ballast_rate_limited_total",
                     listener="web", route="*", key="route")
    assert refused == counts[429]


def fields_of(headers):
    return {name.lower(): value for name, value in headers}


def test_429_says_when_to_come_back_over_http1_and_http2(ballast, backends):
    backend = backends.start("app")
    _, proxy = limited(ballast, backend, listener_limit={"requests": 6, "period": "1m",
                                                         "burst": 2})
    assert statuses(proxy.port, 2) == [200, 200]
    refused = get(proxy.port, "/")
    assert refused.status == 429
    fields = fields_of(refused.headers)
    assert 1 <= int(fields["retry-after"]) <= 10  # one interval: 60s / 6
    assert fields["ratelimit-limit"] == "2"
    assert fields["ratelimit-remaining"] == "0"
    assert 10 <= int(fields["ratelimit-reset"]) <= 20  # two intervals until the burst is back
    assert fields["ratelimit-policy"] == "6;w=60;burst=2"
    with H2Client(proxy.port) as client:
        stream = client.get("/")
    assert stream.status == 429
    assert dict(stream.headers)["ratelimit-policy"] == "6;w=60;burst=2"
    assert int(dict(stream.headers)["retry-after"]) >= 1
    assert backend.stats()["requests_received"] == 2  # nothing refused reached the server


def test_keys_from_a_header_a_cookie_and_the_route(ballast, backends):
    backend = backends.start("app")
    one_a_minute = {"requests": 1, "period": "1m", "burst": 1}
    routes = [
        {"path_prefix": "/by-key/", "name": "by-key", "cluster": "app",
         "rate_limit": {**one_a_minute, "key": "header:X-Api-Key"}},
        {"path_prefix": "/by-cookie/", "name": "by-cookie", "cluster": "app",
         "rate_limit": {**one_a_minute, "key": "cookie:session"}},
        {"path_prefix": "/shared/", "name": "shared", "cluster": "app",
         "rate_limit": {**one_a_minute, "key": "route"}},
        {"cluster": "app"},
    ]
    config, proxy = limited(ballast, backend, routes=routes)
    port = proxy.port
    assert statuses(port, 2, "/by-key/", [("X-Api-Key", "alice")]) == [200, 429]
    assert statuses(port, 1, "/by-key/", [("X-Api-Key", "bob")]) == [200]
    assert statuses(port, 3, "/by-key/") == [200, 200, 200]  # no key: not counted
    assert statuses(port, 2, "/by-cookie/", [("Cookie", "a=1; session=s1")]) == [200, 429]
    assert statuses(port, 1, "/by-cookie/", [("Cookie", "session=s2")]) == [200]
    assert statuses(port, 1, "/shared/", [("X-Api-Key", "carol")]) == [200]
    assert statuses(port, 1, "/shared/", [("X-Api-Key", "dave")]) == [429]
    assert statuses(port, 3, "/other") == [200, 200, 200]
    samples = parse_samples(scrape(config))
    for route, key in (("by-key", "header"), ("by-cookie", "cookie"), ("shared", "route")):
        assert metric(samples, "ballast_rate_limited_total", listener="web", route=route,
                      key=key) == 1
    edge = admin_status(config)["edge"]
    assert edge["rate_limit_store"] is None
    by_name = {limit["name"]: limit for limit in edge["rate_limits"]}
    assert by_name["web/by-key"] == {
        "name": "web/by-key", "listener": "web", "route": "by-key", "key": "header",
        "key_name": "X-Api-Key", "requests": 1, "period_ms": 60000, "burst": 1,
        "global": False, "refused": 1}


def test_the_client_a_trusted_proxy_names_is_the_key(ballast, backends):
    backend = backends.start("app")
    _, proxy = limited(ballast, backend,
                       listener_limit={"requests": 1, "period": "1m", "burst": 1},
                       forwarding={"trusted_proxies": ["127.0.0.1"]})

    def via_proxy(client):
        return get(proxy.port, "/", headers=[("X-Forwarded-For", f"10.9.9.9, {client}")]).status

    assert [via_proxy("192.0.2.1"), via_proxy("192.0.2.1"), via_proxy("192.0.2.2")] == [
        200, 429, 200]


def test_refusals_are_in_the_access_log(ballast, backends, tmp_path):
    backend = backends.start("app")
    log_path = tmp_path / "access.log"
    _, proxy = limited(ballast, backend, listener_limit={"requests": 1, "period": "1m"},
                       monitoring={"logging": {"output": str(log_path)}})
    assert statuses(proxy.port, 2) == [200, 429]

    def lines():
        return [json.loads(line) for line in log_path.read_text().splitlines()
                if '"type":"access"' in line]

    wait_until(lambda: len(lines()) >= 2, 5, "two access lines")
    passed, refused = lines()[:2]
    assert "rate_limit" not in passed
    assert refused["status"] == 429 and refused["rate_limit"] == "web"


@pytest.mark.parametrize("block, error", [
    ({"requests": 0}, "requests"),
    ({"requests": 5, "key": "header:"}, "key"),
    ({"requests": 5, "key": "ip"}, "key"),
    ({"requests": 5, "global": True}, "rate_limits.redis"),
])
def test_a_bad_limit_is_refused_with_its_place(ballast_bin, tmp_path, block, error):
    config = tmp_path / "bad.yaml"
    config.write_text(json.dumps({
        "listeners": [{"name": "web", "listen": f"{HOST}:{free_port()}",
                       "rate_limit": block, "routes": [{"cluster": "app"}]}],
        "clusters": {"app": {"servers": [{"host": HOST, "port": 1}]}},
    }))
    result = subprocess.run([ballast_bin, "--check", str(config)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode != 0
    assert error in result.stderr and "bad.yaml:" in result.stderr, result.stderr


class Redis(Process):
    """A real redis-server on a loopback port of its own, keeping nothing on disk."""

    def __init__(self, tmp_path, port, label="redis"):
        super().__init__(["redis-server", "--port", str(port), "--bind", HOST, "--save", "",
                          "--appendonly", "no", "--dir", str(tmp_path)], tmp_path, label)
        self.port = port
        wait_until(lambda: not self.alive() or accepts_connections(port), 10, "redis")
        assert self.alive(), self.logs()


def fleet_member(ballast, backend, redis_port, rate, burst):
    limit = {"requests": rate, "burst": burst, "key": "route", "global": True}
    return limited(ballast, backend, workers=2,
                   routes=[{"cluster": "app", "name": "api", "rate_limit": limit}],
                   rate_limits={"redis": {"address": f"{HOST}:{redis_port}"}})


def fleet(ballast, backend, redis_port, rate, burst):
    """Two fleet members, once each has found Redis: [(config, process)]."""
    members = [fleet_member(ballast, backend, redis_port, rate, burst) for _ in range(2)]
    for config, _ in members:
        wait_until(lambda c=config: metric(parse_samples(scrape(c)),
                                           "ballast_rate_limit_store_up") == 1, 5, "redis up")
    return members


def hammer_all(ports, seconds):
    """hammer() on every port at once: the count of each status over them all."""
    results = [InBackground(hammer, port, seconds, 4) for port in ports]
    totals = {}
    for result in results:
        for status, n in result.result(timeout_s=seconds + 30).items():
            totals[status] = totals.get(status, 0) + n
    return totals


def test_two_instances_sharing_one_redis_hold_one_limit(ballast, backends, tmp_path):
    backend = backends.start("app")
    redis = Redis(tmp_path, free_port())
    rate, burst, seconds = 100, 10, 6
    members = fleet(ballast, backend, redis.port, rate, burst)
    counts = hammer_all([proxy.port for _, proxy in members], seconds)
    expected = burst + rate * seconds
    assert counts.get(429, 0) > counts[200], counts
    assert abs(counts[200] - expected) <= expected * 0.10, (counts, expected)
    assert set(counts) == {200, 429}, counts
    redis.stop()


def test_with_redis_gone_each_instance_limits_on_its_own(ballast, backends, tmp_path):
    backend = backends.start("app")
    redis = Redis(tmp_path, free_port())
    rate, burst, seconds = 50, 5, 4
    members = fleet(ballast, backend, redis.port, rate, burst)
    redis.proc.kill()  # killed, not stopped: connections cut without a word
    redis.proc.wait(timeout=5)
    for config, proxy in members:
        wait_log(proxy, "rate limit store unreachable", 5)
    counts = hammer_all([proxy.port for _, proxy in members], seconds)
    # No errors, and each instance holds the limit by itself: twice the fleet's.
    assert set(counts) == {200, 429}, counts
    expected = 2 * (burst + rate * seconds)
    assert abs(counts[200] - expected) <= expected * 0.10, (counts, expected)
    for config, _ in members:
        samples = parse_samples(scrape(config))
        assert metric(samples, "ballast_rate_limit_store_up") == 0
        assert metric(samples, "ballast_rate_limit_batches_dropped_total") >= 1
    # Back: the instances find it again by themselves.
    redis = Redis(tmp_path, redis.port, "redis-again")
    for config, proxy in members:
        wait_log(proxy, "rate limit store reachable", 10)
    redis.stop()
