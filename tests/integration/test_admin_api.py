"""The admin API of the real proxy (docs/admin.md): /status names every server with whether it
may be picked and why not, drain/disable/enable change where new requests go (seen in the
backends' own request counts), writes need the token when one is set, and POST /reload reloads
the configuration file as SIGHUP does. Every write must leave an `admin action` log line.
"""

import urllib.parse

from events import address, admin_port, admin_request, admin_status, log_events, server_status
from events import wait_healthy
from events import wait_log, wait_server_state
from harness import InBackground, get, health_check, in_flight, listen_port, served_by
from harness import server_entry, wait_until, write_config

TOKEN = "s3cret-Token_42"


def start(ballast, servers, **load_balancer):
    """ballast on a short config: (the process, the config dict, into which start() wrote the
    metrics and admin ports)."""
    config = ballast.short_config(servers, **load_balancer)
    return ballast.start(config, listen_port(config)), config


def write(config, server, action, token=None):
    """POST /servers/default/{server}/{action}; the response."""
    path = f"/servers/default/{urllib.parse.quote(address(server), safe='')}/{action}"
    return admin_request(config, "POST", path, token=token)


def test_status_lists_every_server_with_eligibility_and_reasons(backends, ballast):
    s1, s2 = backends.start_many(2)
    s3 = backends.start("s3", args=["--control", "health=503"])
    servers = [s1, server_entry(s2, weight=2), s3]
    proxy, config = start(ballast, servers, health_check=health_check())
    wait_healthy(proxy, [s1, s2])
    wait_log(proxy, "health check changed", 3, server=address(s3), to="unhealthy")
    assert served_by(proxy.port, 10, fresh_connections=True).count("s3") == 0

    status = admin_status(config)
    assert status["process"]["generation"] == 1 and status["process"]["workers"] == 1, status
    (cluster,) = status["clusters"]
    assert (cluster["name"], cluster["algorithm"]) == ("default", "round_robin"), cluster
    assert (cluster["eligible_servers"], cluster["panic"]) == (2, False), cluster
    by_name = {entry["name"]: entry for entry in cluster["servers"]}
    assert list(by_name) == [address(s) for s in (s1, s2, s3)]
    for server, weight in ((s1, 1), (s2, 2)):
        entry = by_name[address(server)]
        assert (entry["eligible"], entry["state"], entry["reasons"]) == (True, "up", []), entry
        assert (entry["health"], entry["admin"], entry["weight"]) == ("healthy", "enabled", weight)
        assert entry["breaker"] is None, entry
    down = by_name[address(s3)]
    assert (down["eligible"], down["state"]) == (False, "down"), down
    assert (down["reasons"], down["health"]) == (["failing health checks"], "unhealthy"), down
    # The totals follow the traffic (counted as each response ends: wait, then exact).
    wait_until(
        lambda: sum(e["requests_total"] for e in admin_status(config)["clusters"][0]["servers"])
        >= 10,
        2,
        "ten requests in /status",
    )
    totals = [server_status(config, s)["responses"]["2xx"] for s in (s1, s2, s3)]
    assert totals == [5, 5, 0], totals


def test_a_drained_server_finishes_its_requests_takes_no_new_ones_until_enabled(backends, ballast):
    s1, s2, s3 = backends.start_many(3)
    proxy, config = start(ballast, [s1, s2, s3])
    # A slow request in flight at s2 when it is drained: round robin sends one of three there.
    slow = []
    for _ in range(3):
        slow.append(InBackground(get, proxy.port, "/on/s2/delay/800"))
        wait_until(lambda: slow[-1].done() or in_flight(s2) == 1, 2, "a request answered or at s2")
        if in_flight(s2) == 1:
            break
    assert in_flight(s2) == 1, "no request reached s2"

    response = write(config, s2, "drain")
    assert response.status == 200, response
    entry = response.json()
    assert (entry["name"], entry["state"], entry["admin"]) == (address(s2), "draining", "draining")
    assert (entry["eligible"], entry["reasons"]) == (False, ["draining"]), entry
    (logged,) = wait_log(proxy, "admin action", 5, action="drain")  # the writer is a thread
    assert (logged["cluster"], logged["server"], logged["client"]) == (
        "default",
        address(s2),
        "127.0.0.1",
    ), logged

    received = s2.stats()["requests_received"]
    assert set(served_by(proxy.port, 12, fresh_connections=True)) == {"s1", "s3"}
    assert s2.stats()["requests_received"] == received, "a drained server got a new request"
    finished = slow[-1].result()
    assert (finished.status, finished.backend) == (200, "s2"), finished
    assert server_status(config, s2)["state"] == "draining"

    response = write(config, s2, "enable")
    assert response.status == 200, response
    assert (response.json()["state"], response.json()["reasons"]) == ("up", [])
    wait_log(proxy, "admin action", 2, action="enable", server=address(s2))
    assert set(served_by(proxy.port, 12, fresh_connections=True)) == {"s1", "s2", "s3"}


def test_disable_takes_a_server_out_and_says_so(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1, s2])
    response = write(config, s1, "disable")
    assert response.status == 200, response
    assert (response.json()["state"], response.json()["reasons"]) == ("disabled", ["disabled"])
    assert served_by(proxy.port, 6, fresh_connections=True) == ["s2"] * 6
    status = admin_status(config)["clusters"][0]
    assert status["eligible_servers"] == 1, status
    wait_log(proxy, "admin action", 2, action="disable", server=address(s1))
    assert write(config, s1, "enable").status == 200
    assert set(served_by(proxy.port, 6, fresh_connections=True)) == {"s1", "s2"}


def test_writes_need_the_token_when_one_is_set(backends, ballast):
    s1, s2 = backends.start_many(2)
    config = ballast.short_config([s1, s2])
    config["admin"] = {"token": TOKEN}  # start() adds the listen address
    proxy = ballast.start(config, listen_port(config))

    missing = write(config, s1, "drain")
    assert missing.status == 401, missing
    assert (missing.header("WWW-Authenticate") or "").startswith("Bearer"), missing
    wrong = write(config, s1, "drain", token=TOKEN[:-1] + "x")
    assert wrong.status == 401, wrong
    assert admin_request(config, "POST", "/reload", token="nope").status == 401
    assert server_status(config, s1)["state"] == "up"  # reads need no token
    refused = wait_log(proxy, "admin action refused", 2, count=3, reason="missing or wrong token")
    assert [event["action"] for event in refused] == ["drain", "drain", "reload"], refused
    assert log_events(proxy, "configuration reloaded") == []

    right = write(config, s1, "drain", token=TOKEN)
    assert right.status == 200, right
    assert right.json()["state"] == "draining"
    wait_log(proxy, "admin action", 2, action="drain", server=address(s1))
    assert served_by(proxy.port, 4, fresh_connections=True) == ["s2"] * 4
    # The log says who was refused and why, never the token itself.
    assert TOKEN not in proxy.output()


def test_a_reload_applies_a_new_token_and_new_allowed_hosts(backends, ballast):
    s1, s2 = backends.start_many(2)
    config = ballast.short_config([s1, s2])
    config["admin"] = {"token": TOKEN}
    proxy = ballast.start(config, listen_port(config))
    port = admin_port(config)
    headers = [("Authorization", f"Bearer {TOKEN}")]
    path = f"/servers/default/{urllib.parse.quote(address(s1), safe='')}/drain"
    assert get(port, path, headers, method="POST", host="ops.example").status == 421

    rotated = TOKEN + "-rotated"
    config["admin"].update(token=rotated, allowed_hosts=["ops.example"])
    proxy.reload(config)
    wait_log(proxy, "configuration reloaded", 5)
    assert write(config, s1, "drain", token=TOKEN).status == 401  # the old token is gone
    new_headers = [("Authorization", f"Bearer {rotated}")]
    response = get(port, path, new_headers, method="POST", host="ops.example")
    assert response.status == 200, response
    assert server_status(config, s1)["state"] == "draining"


def test_reload_through_the_api_bumps_the_generation_and_keeps_a_drain(backends, ballast):
    s1, s2, s3 = backends.start_many(3)
    proxy, config = start(ballast, [s1, s2])
    assert admin_status(config)["process"]["generation"] == 1
    assert write(config, s2, "drain").status == 200

    config["load_balancer"]["servers"] = [server_entry(s, weight=3) for s in (s1, s2, s3)]
    write_config(proxy.config_path, config)
    response = admin_request(config, "POST", "/reload")
    assert response.status == 202, response
    wait_log(proxy, "configuration reloaded", 3, generation="2")
    wait_log(proxy, "admin action", 2, action="reload", client="127.0.0.1")

    status = admin_status(config)
    assert status["process"]["generation"] == 2, status["process"]
    entries = {entry["name"]: entry for entry in status["clusters"][0]["servers"]}
    assert list(entries) == [address(s) for s in (s1, s2, s3)]
    assert [entry["weight"] for entry in entries.values()] == [3, 3, 3]
    assert entries[address(s2)]["state"] == "draining", "the drain did not survive the reload"
    assert set(served_by(proxy.port, 8, fresh_connections=True)) == {"s1", "s3"}


def test_bad_requests_get_the_documented_errors(backends, ballast):
    s1 = backends.start("s1")
    _, config = start(ballast, [s1])
    unknown_server = admin_request(config, "POST", "/servers/default/127.0.0.1:1/drain")
    assert unknown_server.status == 404, unknown_server
    assert "127.0.0.1:1" in unknown_server.json()["error"]
    assert admin_request(config, "POST", "/servers/nocluster/127.0.0.1:1/drain").status == 404
    assert write(config, s1, "explode").status == 404
    wrong_method = admin_request(config, "GET", f"/servers/default/{address(s1)}/drain")
    assert (wrong_method.status, wrong_method.header("Allow")) == (405, "POST"), wrong_method
    assert admin_request(config, "POST", "/status").status == 405
    assert admin_request(config, "GET", "/nowhere").status == 404
    assert wait_server_state(config, s1, "up")["admin"] == "enabled"
