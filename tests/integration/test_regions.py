"""Regions: traffic stays in the primary region while enough of it is eligible, fails over to
the failover regions in their configured order, fails back when the primary recovers, and each
switch is logged once (`region changed`), however many workers see it.

Health checks every 200 ms with thresholds of 1; tests wait for log lines, not for fixed times.
"""

import time
from collections import Counter

from events import log_events, wait_health
from harness import HttpConnection, health_check, listen_port, server_entry, wait_until

# Long enough for several more health-check rounds: a second `region changed` line (a switch
# logged by each worker, or flapping) would show within it. Absence cannot be awaited.
SETTLE_S = 0.8


def region_changes(proxy):
    changes = log_events(proxy, "region changed")
    return [(e.get("cluster"), e.get("from"), e.get("to")) for e in changes]


def backends_of(port, count):
    """X-Backend of `count` GETs, on new connections in turn with a keep-alive one, so both
    workers answer. Fails on any status other than 200."""
    names = []
    with HttpConnection(port) as kept:
        for i in range(count):
            if i % 2:
                response = kept.request("GET", "/")
            else:
                with HttpConnection(port) as fresh:
                    response = fresh.request("GET", "/")
            assert response.status == 200, response
            names.append(response.backend)
    return Counter(names)


def wait_traffic_in(port, names, what):
    wait_until(lambda: set(backends_of(port, 6)) <= set(names), 5, f"traffic in {what}")


def start_regional(backends, ballast, layout, failover):
    """Backends named by `layout` ({name: region or None}); region None names no region, so it is
    in the primary, "us". Two workers, so a switch each worker logs would show twice."""
    started = {name: backends.start(name) for name in layout}
    entries = []
    for name, region in layout.items():
        fields = {"region": region} if region else {}
        entries.append(server_entry(started[name], **fields))
    regions = {"primary": "us", "failover": failover, "min_healthy_fraction": 0.5}
    config = ballast.short_config(entries, health_check=health_check(), regions=regions)
    config["workers"] = 2
    proxy = ballast.start(config, listen_port(config))
    wait_health(proxy, list(started.values()), "healthy")
    return started, proxy


def test_failover_to_the_next_region_and_back_each_logged_once(backends, ballast):
    # us1 names its region, us2 names none: both are in the primary, "us".
    layout = {"us1": "us", "us2": None, "eu1": "eu", "eu2": "eu"}
    b, proxy = start_regional(backends, ballast, layout, ["eu"])
    wait_traffic_in(proxy.port, ["us1", "us2"], "us")
    assert set(backends_of(proxy.port, 40)) == {"us1", "us2"}
    # Health checks may pass in any order at start, so the start may switch; count from here.
    baseline = len(region_changes(proxy))

    b["us1"].stop()
    wait_health(proxy, [b["us1"]], "unhealthy")
    # One of two eligible is exactly min_healthy_fraction: the primary still serves.
    assert backends_of(proxy.port, 20) == {"us2": 20}
    assert region_changes(proxy)[baseline:] == []

    b["us2"].stop()
    wait_health(proxy, [b["us2"]], "unhealthy")
    wait_traffic_in(proxy.port, ["eu1", "eu2"], "eu")
    assert set(backends_of(proxy.port, 40)) == {"eu1", "eu2"}
    time.sleep(SETTLE_S)
    assert region_changes(proxy)[baseline:] == [("default", "us", "eu")]

    b["us1"] = backends.start("us1", port=b["us1"].port)
    b["us2"] = backends.start("us2", port=b["us2"].port)
    wait_health(proxy, [b["us1"], b["us2"]], "healthy")
    wait_traffic_in(proxy.port, ["us1", "us2"], "us again")
    assert set(backends_of(proxy.port, 40)) == {"us1", "us2"}
    time.sleep(SETTLE_S)
    assert region_changes(proxy)[baseline:] == [("default", "us", "eu"), ("default", "eu", "us")]


def test_failover_follows_the_configured_order_and_fails_back_directly(backends, ballast):
    # "ap" sorts before "eu" and its server comes first in the list: only the order of
    # `failover` may decide.
    layout = {"ap1": "ap", "us1": None, "us2": None, "eu1": "eu"}
    b, proxy = start_regional(backends, ballast, layout, ["eu", "ap"])
    wait_traffic_in(proxy.port, ["us1", "us2"], "us")
    time.sleep(SETTLE_S)  # the reporter (every 500 ms) has logged the start-up's region
    baseline = len(region_changes(proxy))

    b["us1"].stop()
    b["us2"].stop()
    wait_health(proxy, [b["us1"], b["us2"]], "unhealthy")
    wait_traffic_in(proxy.port, ["eu1"], "eu")
    assert backends_of(proxy.port, 20) == {"eu1": 20}

    b["eu1"].stop()
    wait_health(proxy, [b["eu1"]], "unhealthy")
    wait_traffic_in(proxy.port, ["ap1"], "ap")
    assert backends_of(proxy.port, 20) == {"ap1": 20}

    # One of two primary servers back meets the fraction: straight back to us, not via eu.
    b["us1"] = backends.start("us1", port=b["us1"].port)
    wait_health(proxy, [b["us1"]], "healthy")
    wait_traffic_in(proxy.port, ["us1"], "us again")
    assert backends_of(proxy.port, 20) == {"us1": 20}
    time.sleep(SETTLE_S)
    expected = [("default", "us", "eu"), ("default", "eu", "ap"), ("default", "ap", "us")]
    assert region_changes(proxy)[baseline:] == expected
