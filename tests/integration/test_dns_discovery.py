"""DNS discovery (docs/fleet.md "DNS"): servers given by name are looked up again as their TTLs
run out, against a real DNS server the test runs on 127.0.0.1 (dns_server.py, dnslib): records
added and removed, TTLs honoured within ttl_min/ttl_max, SRV ports, weights and priorities, and
a server that answers SERVFAIL or nothing, through which the last answer keeps serving."""

import collections
import time

import pytest

from dns_server import DnsServer
from events import admin_request, admin_status, log_events, metric, parse_samples, scrape
from events import wait_log
from events import wait_server_state
from harness import HOST, free_port, get, listen_port, served_by, wait_until

PORT_FOR_ALL = free_port()  # one port on 127.0.0.1, .2 and .3: `resolve: all` keeps the port


@pytest.fixture
def dns():
    with DnsServer() as server:
        yield server


def start(ballast, dns, servers, ttl_min="100ms", ttl_max="5m", **load_balancer):
    config = ballast.short_config(servers, **load_balancer)
    config["resolver"] = {
        "nameservers": [f"{HOST}:{dns.port}"],
        "ttl_min": ttl_min,
        "ttl_max": ttl_max,
        "timeout": "300ms",
        "attempts": 2,
    }
    return ballast.start(config, listen_port(config)), config


def served(port, count=60):
    return set(served_by(port, count, fresh_connections=True))


def wait_served(port, expected, timeout_s=3):
    """Waits until 30 requests are all answered by exactly the backends named `expected`."""

    def served_as_expected():
        try:
            return served(port, 30) == set(expected)
        except AssertionError:  # a 503 while the set is still empty
            return False

    wait_until(served_as_expected, timeout_s, f"served by {expected}")


def dns_source(config):
    return next(s for s in admin_status(config)["discovery"] if s["source"] == "dns")


def test_every_address_becomes_a_server_and_the_set_follows_the_records(ballast, backends, dns):
    a, b, c = (backends.start(name, PORT_FOR_ALL, host=f"127.0.0.{i}")
               for i, name in ((1, "a"), (2, "b"), (3, "c")))
    dns.set_a("web.test", ["127.0.0.1", "127.0.0.2"], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "web.test", "port": PORT_FOR_ALL,
                                          "resolve": "all"}])
    assert served(proxy.port) == {"a", "b"}

    dns.set_a("web.test", ["127.0.0.1", "127.0.0.2", "127.0.0.3"], ttl=1)
    wait_served(proxy.port, {"a", "b", "c"})
    wait_log(proxy, "servers changed", 2, added=f"127.0.0.3:{PORT_FOR_ALL}")

    dns.set_a("web.test", ["127.0.0.2", "127.0.0.3"], ttl=1)
    wait_served(proxy.port, {"b", "c"})
    wait_log(proxy, "servers changed", 2, removed=f"127.0.0.1:{PORT_FOR_ALL}")

    source = dns_source(config)
    assert source["up"] and source["servers"] == 2 and source["target"] == "web.test"
    names = {s["name"] for s in admin_status(config)["clusters"][0]["servers"]}
    assert names == {f"127.0.0.2:{PORT_FOR_ALL}", f"127.0.0.3:{PORT_FOR_ALL}"}
    del a, b, c


def test_a_server_that_stays_keeps_its_state(ballast, backends, dns):
    """A drain (like health and breaker state) lives in the server's state, which a change of the
    set around it does not touch."""
    a = backends.start("a", PORT_FOR_ALL, host="127.0.0.1")
    backends.start("b", PORT_FOR_ALL, host="127.0.0.2")
    dns.set_a("web.test", ["127.0.0.1"], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "web.test", "port": PORT_FOR_ALL,
                                          "resolve": "all"}])
    address = f"127.0.0.1:{PORT_FOR_ALL}"
    assert admin_request(config, "POST", f"/servers/default/{address}/drain").status == 200
    dns.set_a("web.test", ["127.0.0.1", "127.0.0.2"], ttl=1)
    wait_served(proxy.port, {"b"})
    assert wait_server_state(config, a, "draining")["name"] == address


def test_resolve_first_follows_the_first_address_under_the_same_name(ballast, backends, dns):
    backends.start("a", PORT_FOR_ALL, host="127.0.0.1")
    backends.start("b", PORT_FOR_ALL, host="127.0.0.2")
    dns.set_a("web.test", ["127.0.0.1"], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "web.test", "port": PORT_FOR_ALL}])
    assert served(proxy.port) == {"a"}
    dns.set_a("web.test", ["127.0.0.2"], ttl=1)
    wait_served(proxy.port, {"b"})
    names = [s["name"] for s in admin_status(config)["clusters"][0]["servers"]]
    assert names == [f"web.test:{PORT_FOR_ALL}"]


def test_ttls_are_held_within_ttl_min_and_ttl_max(ballast, backends, dns):
    backend = backends.start("a")
    dns.set_a("capped.test", ["127.0.0.1"], ttl=3600)
    dns.set_a("floored.test", ["127.0.0.1"], ttl=0)
    start(ballast, dns, [{"host": "capped.test", "port": backend.port},
                         {"host": "floored.test", "port": backend.port}],
          ttl_min="500ms", ttl_max="1s")
    capped, floored = dns.queries["capped.test"], dns.queries["floored.test"]
    time.sleep(2.1)
    assert dns.queries["capped.test"] >= capped + 1, "an answer was kept past ttl_max"
    # A lookup asks for A and AAAA: at most 2 × (2.1 s / 500 ms + 1) queries.
    assert dns.queries["floored.test"] - floored <= 10, "a TTL of 0 was not held to ttl_min"


def test_a_ttl_is_kept_until_it_runs_out(ballast, backends, dns):
    backend = backends.start("a")
    dns.set_a("web.test", ["127.0.0.1"], ttl=2)
    start(ballast, dns, [{"host": "web.test", "port": backend.port}])
    asked = dns.queries["web.test"]
    time.sleep(1.2)
    assert dns.queries["web.test"] == asked, "asked again before the TTL ran out"
    wait_until(lambda: dns.queries["web.test"] > asked, 3, "asked again once the TTL ran out")


def test_srv_records_give_ports_weights_and_backups(ballast, backends, dns):
    heavy, light, spare = backends.start("heavy"), backends.start("light"), backends.start("spare")
    for name in ("heavy.test", "light.test", "spare.test"):
        dns.set_a(name, ["127.0.0.1"], ttl=1)
    dns.set_srv("_http._tcp.web.test", [(10, 3, heavy.port, "heavy.test"),
                                        (10, 1, light.port, "light.test"),
                                        (20, 1, spare.port, "spare.test")], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "_http._tcp.web.test", "resolve": "srv"}],
                          algorithm="weighted_round_robin")
    counts = collections.Counter(served_by(proxy.port, 400))
    assert set(counts) == {"heavy", "light"}, counts
    assert 2.6 < counts["heavy"] / counts["light"] < 3.4, counts
    servers = {s["name"]: s for s in admin_status(config)["clusters"][0]["servers"]}
    assert servers[f"127.0.0.1:{spare.port}"]["backup"] is True

    # The priority-10 records go: the priority-20 one is the primary now.
    dns.set_srv("_http._tcp.web.test", [(20, 1, spare.port, "spare.test")], ttl=1)
    wait_served(proxy.port, {"spare"})


def test_servfail_keeps_the_last_answer_serving(ballast, backends, dns):
    backend = backends.start("a")
    dns.set_a("web.test", ["127.0.0.1"], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "web.test", "port": backend.port}])
    dns.servfail("web.test")
    # c-ares 1.18 reports a SERVFAIL from every nameserver as "server failure".
    wait_log(proxy, "dns lookup failed: keeping the last answer", 3, name="web.test",
             error="server failure")
    for _ in range(20):
        assert get(proxy.port, "/").status == 200
        time.sleep(0.1)
    source = dns_source(config)
    assert not source["up"] and "server failure" in source["error"], source
    assert metric(parse_samples(scrape(config)), "ballast_discovery_up", cluster="default",
                  source="dns") == 0

    dns.servfail("web.test", on=False)
    wait_until(lambda: dns_source(config)["up"], 5, "the source up again")
    assert len(log_events(proxy, "dns lookup answered again", name="web.test")) == 1


def test_a_silent_server_keeps_the_last_answer_serving(ballast, backends, dns):
    backend = backends.start("a")
    dns.set_a("web.test", ["127.0.0.1"], ttl=1)
    proxy, config = start(ballast, dns, [{"host": "web.test", "port": backend.port}])
    dns.silent()
    wait_until(lambda: not dns_source(config)["up"], 5, "the lookup failing")
    assert "timeout" in dns_source(config)["error"].lower()
    failures = [get(proxy.port, "/").status for _ in range(30)]
    assert failures == [200] * 30
    dns.silent(on=False)
    wait_until(lambda: dns_source(config)["up"], 8, "the source up again")


def test_a_name_that_is_gone_takes_its_servers_with_it(ballast, backends, dns):
    kept, gone = backends.start("kept"), backends.start("gone")
    dns.set_a("kept.test", ["127.0.0.1"], ttl=1)
    dns.set_a("gone.test", ["127.0.0.1"], ttl=1)
    proxy, _ = start(ballast, dns, [{"host": "kept.test", "port": kept.port},
                                    {"host": "gone.test", "port": gone.port}])
    assert served(proxy.port) == {"kept", "gone"}
    dns.remove("gone.test")  # NXDOMAIN: an answer, not a failure
    wait_served(proxy.port, {"kept"})
