"""The full configuration shape: listeners route by host and path prefix to clusters."""

from harness import HOST, free_port, get, server_entry


def routed_config(port, api, static, default):
    return {
        "workers": 1,
        "listeners": [
            {
                "name": "web",
                "listen": f"{HOST}:{port}",
                "routes": [
                    {"host": "api.example.com", "cluster": "api"},
                    {"path_prefix": "/static/", "cluster": "static"},
                    {"cluster": "default"},
                ],
            }
        ],
        "clusters": {
            "api": {"servers": [server_entry(api)]},
            "static": {"servers": [server_entry(static)]},
            "default": {"servers": [server_entry(default)]},
        },
        "monitoring": {"metrics": {"port": free_port()}},
        "admin": {"listen": f"{HOST}:{free_port()}"},
    }


def test_requests_go_to_the_cluster_their_host_and_path_route_to(backends, ballast):
    api, static, default = backends.start("api"), backends.start("static"), backends.start("web")
    port = free_port()
    proxy = ballast.start(routed_config(port, api, static, default), port)
    assert get(proxy.port, "/v1/users", host="api.example.com").header("X-Backend") == "api"
    assert get(proxy.port, "/v1/users", host="API.Example.com:80").header("X-Backend") == "api"
    assert get(proxy.port, "/static/app.css", host="www.example.com").header("X-Backend") == "static"
    assert get(proxy.port, "/", host="www.example.com").header("X-Backend") == "web"


def test_a_request_no_route_matches_gets_404(backends, ballast):
    api = backends.start("api")
    port = free_port()
    config = routed_config(port, api, api, api)
    config["listeners"][0]["routes"] = [{"host": "api.example.com", "cluster": "api"}]
    config["clusters"] = {"api": {"servers": [server_entry(api)]}}
    proxy = ballast.start(config, port)
    assert get(proxy.port, "/", host="other.example.com").status == 404
    assert get(proxy.port, "/", host="api.example.com").status == 200
