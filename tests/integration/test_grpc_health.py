"""Active health checks of type grpc: the standard grpc.health.v1 service of a real gRPC server
(Debian's python3-grpcio, grpc_health_server.py) decides whether each server may take traffic.
The checks speak HTTP/2 in clear (h2c), as gRPC servers without TLS do."""

import sys
from pathlib import Path

import pytest

from events import HEALTH_CHANGED, address, wait_health, wait_log
from harness import Process, accepts_connections, free_port, listen_port, server_entry, wait_until

SERVER_PY = Path(__file__).with_name("grpc_health_server.py")
GRPC_CHECK = {"type": "grpc", "interval": "300ms", "timeout": "300ms", "healthy_threshold": 1,
              "unhealthy_threshold": 1}


class GrpcServer(Process):
    """grpc_health_server.py on a free port, answering as `states` says ({service: status})."""

    def __init__(self, tmp_path, name, states):
        self.port = free_port()
        self.state_path = tmp_path / f"{name}.state"
        self.set(states)
        argv = [sys.executable, str(SERVER_PY), "--port", str(self.port),
                "--state", str(self.state_path)]
        super().__init__(argv, tmp_path, f"grpc-{name}")
        wait_until(lambda: not self.alive() or accepts_connections(self.port), 10, name)
        assert self.alive(), self.logs()

    def set(self, states):
        self.state_path.write_text("".join(f"{name}={status}\n" for name, status in states.items()))


@pytest.fixture
def grpc_servers(tmp_path):
    started = []

    def start(name, states):
        started.append(GrpcServer(tmp_path, name, states))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def checked_by(ballast, servers, **check):
    config = ballast.short_config([server_entry(s.port) for s in servers],
                                  health_check={**GRPC_CHECK, **check})
    return ballast.start(config, listen_port(config))


def test_serving_servers_are_healthy_and_the_others_are_not(grpc_servers, ballast):
    up = grpc_servers("up", {"": "SERVING"})
    down = grpc_servers("down", {"": "NOT_SERVING"})
    proxy = checked_by(ballast, [up, down])
    (healthy,) = wait_log(proxy, HEALTH_CHANGED, 5, server=address(up.port), to="healthy")
    assert healthy["detail"] == "SERVING"
    (unhealthy,) = wait_log(proxy, HEALTH_CHANGED, 5, server=address(down.port), to="unhealthy")
    assert unhealthy["detail"] == "NOT_SERVING"

    down.set({"": "SERVING"})  # it recovers: the next check says so
    wait_health(proxy, [down.port], "healthy")
    up.set({"": "NOT_SERVING"})
    wait_health(proxy, [up.port], "unhealthy")


def test_the_named_service_is_the_one_asked_about(grpc_servers, ballast):
    server = grpc_servers("svc", {"": "SERVING", "orders": "NOT_SERVING"})
    proxy = checked_by(ballast, [server], service="orders")
    (line,) = wait_log(proxy, HEALTH_CHANGED, 5, server=address(server.port), to="unhealthy")
    assert line["detail"] == "NOT_SERVING"
    server.set({"": "SERVING", "orders": "SERVING"})
    wait_health(proxy, [server.port], "healthy")


def test_an_unknown_service_fails_with_the_servers_status(grpc_servers, ballast):
    server = grpc_servers("unknown", {"": "SERVING"})
    proxy = checked_by(ballast, [server], service="payments")
    (line,) = wait_log(proxy, HEALTH_CHANGED, 5, server=address(server.port), to="unhealthy")
    assert line["detail"] == "grpc-status 5: unknown service"


def test_a_server_that_does_not_speak_http2_fails_its_check(backends, ballast):
    http1 = backends.start("s1")  # an HTTP/1.1 server: the preface is not a request it knows
    config = ballast.short_config([http1], health_check=GRPC_CHECK)
    proxy = ballast.start(config, listen_port(config))
    (line,) = wait_log(proxy, HEALTH_CHANGED, 5, server=address(http1), to="unhealthy")
    assert line["detail"].startswith(("bad response", "connection closed", "receive failed", "timed out")), line
