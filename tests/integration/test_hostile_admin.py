"""The admin API against a web page in the operator's browser (DNS rebinding: the page's own
name resolves to 127.0.0.1, and it chooses Origin and every field but Host) and against an
operator who opens it to the network without a token."""

import subprocess

from events import admin_port, server_status
from harness import HOST, ballast_binary, free_port, get, write_config


def started(ballast, backends, **admin):
    server = backends.start("s1")
    config = ballast.short_config([server])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    if admin:
        config["admin"] = admin
    proxy = ballast.start(config, port)
    return proxy, config, server


def post(config, path, host):
    port = admin_port(config)
    return get(port, path, [("Origin", f"http://{host}")], method="POST", host=host)


def test_a_rebound_page_cannot_disable_a_server(ballast, backends):
    _, config, server = started(ballast, backends)
    port = admin_port(config)
    response = post(config, f"/servers/default/{HOST}:{server.port}/disable", f"evil.example:{port}")
    assert response.status == 421
    assert server_status(config, server)["admin"] == "enabled"
    response = post(config, f"/servers/default/{HOST}:{server.port}/disable", f"127.0.0.1:{port}")
    assert response.status == 200
    assert server_status(config, server)["admin"] == "disabled"


def test_an_allowed_host_may_write(ballast, backends):
    listen = f"{HOST}:{free_port()}"
    _, config, server = started(ballast, backends, listen=listen, allowed_hosts=["ops.internal"])
    port = admin_port(config)
    target = f"/servers/default/{HOST}:{server.port}/drain"
    assert post(config, target, f"ops.internal:{port}").status == 200
    assert post(config, target, f"other.internal:{port}").status == 421


def test_an_admin_api_open_to_the_network_without_a_token_refuses_to_start(tmp_path, backends):
    server = backends.start("s1")
    config = {
        "load_balancer": {
            "listen": f"{HOST}:18080",
            "servers": [{"host": HOST, "port": server.port}],
        },
        "admin": {"listen": "0.0.0.0:19091"},
    }
    path = write_config(tmp_path / "open.yaml", config)
    for flag in ("--check", "--config"):
        result = subprocess.run(
            [str(ballast_binary()), flag, str(path)], capture_output=True, text=True, timeout=10
        )
        assert result.returncode == 2, result
        assert "admin.listen" in result.stderr and "admin.token" in result.stderr, result.stderr
