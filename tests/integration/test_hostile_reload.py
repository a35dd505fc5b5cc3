"""A careless operator's reload: a file that passes --check but asks for absurd sizes, an admin
action posted while the new generation is being built, and a reload in the middle of long
requests to a server at its max_connections. The process lives, nothing an operator did is
lost, and no limit is exceeded."""

import signal
import time

from events import admin_request, log_events, server_status, wait_log
from harness import HOST, InBackground, free_port, get, server_entry, wait_until


def test_a_reload_that_cannot_be_built_keeps_the_running_configuration(ballast, backends):
    server = backends.start("s1")
    config = ballast.short_config([server])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    config["load_balancer"]["pool"] = {"idle_per_server": 4_000_000_000}
    proxy.reload(config)
    wait_log(proxy, "reload failed: keeping the running configuration", 5)
    assert proxy.alive()
    assert get(port, "/").status == 200
    assert len(log_events(proxy, "reload failed: keeping the running configuration")) == 1


def test_an_admin_action_during_a_reload_is_not_lost(ballast, backends):
    target = backends.start("s1")
    # Thousands of servers make each generation take a while to build; the target's settings
    # change at every reload, so its state is rebuilt and must carry the admin action over.
    filler = [server_entry(free_port() if i == 0 else 20000 + i) for i in range(3000)]
    config = ballast.short_config([target] + filler[1:])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    name = f"{HOST}:{target.port}"
    for round_number in range(6):
        action = "disable" if round_number % 2 == 0 else "enable"
        config["load_balancer"]["servers"][0]["weight"] = round_number + 2
        proxy.reload(config)
        response = admin_request(config, "POST", f"/servers/default/{name}/{action}")
        assert response.status == 200, response
        wait_log(proxy, "configuration reloaded", 10, count=round_number + 1)
        expected = "disabled" if action == "disable" else "enabled"
        assert server_status(config, target)["admin"] == expected, f"round {round_number}"


def test_max_connections_holds_across_a_reload(ballast, backends):
    server = backends.start("s1")
    config = ballast.short_config([server_entry(server, max_connections=2)])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    long_requests = [InBackground(get, port, "/delay/3000") for _ in range(2)]
    wait_until(lambda: server.stats()["connections_open"] >= 2, 5, "two requests in flight")
    config["load_balancer"]["servers"][0]["weight"] = 5  # rebuilds the server's state
    proxy.reload(config)
    wait_log(proxy, "configuration reloaded", 5)
    started = time.monotonic()
    third = get(port, "/")
    assert third.status == 503, "a third request reached a server already at max_connections"
    assert time.monotonic() - started < 1.0
    assert [request.result().status for request in long_requests] == [200, 200]
    assert get(port, "/").status == 200
    assert proxy.proc.poll() is None
    proxy.proc.send_signal(signal.SIGTERM)
    assert proxy.wait_exit(10) == 0
    proxy.expected_exit = True
