"""A careless operator's reload: a file that passes --check but asks for absurd sizes, an admin
action posted while the new generation is being built, and a reload in the middle of long
requests to a server at its max_connections. The process lives, nothing an operator did is
lost, and no limit is exceeded."""

import signal
import time

from events import admin_request, log_events, server_status, wait_log
from harness import (
    HOST,
    InBackground,
    free_port,
    get,
    server_entry,
    wait_until,
    write_config,
)


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
    port = free_port()
    # The target's cluster is built first, then two of 10,000 servers nobody listens on:
    # building a generation takes a while, and most of it comes after the target's state was
    # carried over. An action posted in that part used to land on the running generation only,
    # and was lost when the new one was published.
    config = {
        "workers": 1,
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "routes": [{"cluster": "web"}]}],
        "clusters": {
            "web": {"servers": [server_entry(target, weight=1)]},
            "pad1": {"servers": [{"host": HOST, "port": 10000 + i} for i in range(10000)]},
            "pad2": {"servers": [{"host": HOST, "port": 10000 + i} for i in range(10000)]},
        },
    }
    proxy = ballast.start(config, port)
    name = f"{HOST}:{target.port}"
    reloads = 0

    def reload_with_weight(weight):
        """Starts a reload that changes the target's settings (its state is rebuilt)."""
        nonlocal reloads
        config["clusters"]["web"]["servers"][0]["weight"] = weight
        write_config(proxy.config_path, config)  # slow in Python: before the clock starts
        started = time.monotonic()
        proxy.proc.send_signal(signal.SIGHUP)
        reloads += 1
        return started

    def wait_reloaded():
        wait_until(
            lambda: len(log_events(proxy, "configuration reloaded")) >= reloads,
            20,
            "the reload",
            interval_s=0.005,
        )

    started = reload_with_weight(2)
    wait_reloaded()
    reload_s = time.monotonic() - started
    # Actions posted at points spread over the reload's second half.
    for cycle, fraction in enumerate((0.5, 0.6, 0.7, 0.8, 0.9, 0.95)):
        action = "disable" if cycle % 2 == 0 else "enable"
        reload_with_weight(3 + cycle)
        time.sleep(reload_s * fraction)
        response = admin_request(config, "POST", f"/servers/web/{name}/{action}")
        assert response.status == 200, response
        wait_reloaded()
        expected = "disabled" if action == "disable" else "enabled"
        state = server_status(config, target, cluster="web")["admin"]
        assert state == expected, f"cycle {cycle}: the {action} was lost across the reload"


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
