"""Route policy (docs/config.md "Header rules, rewrites and redirects"): request and response
headers set, added and removed with values from the request, a path prefix rewritten, redirects
with each status — for HTTP/1.1 clients and HTTP/2 clients alike."""

import json

import pytest

from events import metric, parse_samples, scrape
from h2client import H2Client
from harness import HOST, HttpConnection, free_port, get, server_entry


def routed(ballast, backend):
    port = free_port()
    config = {
        "workers": 1,
        "listeners": [{
            "name": "web",
            "listen": f"{HOST}:{port}",
            "h2c": True,
            "routes": [
                {"path_prefix": "/old/", "name": "moved",
                 "redirect": {"location": "https://new.example${path}", "status": 308}},
                {"path_prefix": "/temp/", "redirect": {"location": "/elsewhere?from=${host}"}},
                {"path_prefix": "/api/", "name": "api", "cluster": "app",
                 "rewrite_prefix": "/",
                 "request_headers": {
                     "set": {"X-Env": "prod", "User-Agent": "ballast-route ${route}"},
                     "add": {"X-Client": "${client_ip}", "X-Seen": "${scheme}://${host}${path}"},
                     "remove": ["X-Debug"],
                 },
                 "response_headers": {
                     "set": {"Cache-Control": "no-store"},
                     "add": {"X-Served-By": "${server} for ${route}",
                             "X-Request": "${request_id}"},
                     "remove": ["X-Secret"],
                 }},
                {"cluster": "app"},
            ],
        }],
        "clusters": {"app": {"servers": [server_entry(backend)]}},
    }
    proxy = ballast.start(config, port)
    proxy.config = config
    return proxy


def http1(port, target, headers=()):
    response = get(port, target, headers=headers)
    return response.status, {name.lower(): value for name, value in response.headers}, response


def http2(port, target, headers=()):
    with H2Client(port) as client:
        stream = client.get(target, headers=list(headers))
    return stream.status, dict(stream.headers), stream


@pytest.mark.parametrize("client", [http1, http2], ids=["http1", "http2"])
def test_request_headers_and_the_rewritten_prefix_reach_the_server(ballast, backends, client):
    backend = backends.start("web")
    proxy = routed(ballast, backend)
    status, _, response = client(proxy.port, "/api/echo?q=1",
                                 [("x-debug", "1"), ("x-env", "dev"), ("user-agent", "curl")])
    assert status == 200
    echo = json.loads(response.data if client is http2 else response.body)
    assert echo["target"] == "/echo?q=1"  # /api/ became /
    seen = {}
    for name, value in echo["headers"]:
        seen.setdefault(name.lower(), []).append(value)
    assert "x-debug" not in seen
    assert seen["x-env"] == ["prod"]  # set replaces the client's
    assert seen["user-agent"] == ["ballast-route api"]
    assert seen["x-client"] == [HOST]
    assert seen["x-seen"] == [f"http://{HOST}/api/echo?q=1"]
    # Other routes are untouched.
    status, _, response = client(proxy.port, "/echo", [("x-debug", "1")])
    echo = json.loads(response.data if client is http2 else response.body)
    assert echo["target"] == "/echo"
    assert any(name.lower() == "x-debug" for name, _ in echo["headers"])


@pytest.mark.parametrize("client", [http1, http2], ids=["http1", "http2"])
def test_response_headers_are_set_added_and_removed(ballast, backends, client):
    backend = backends.start("web")
    proxy = routed(ballast, backend)
    status, headers, _ = client(
        proxy.port, "/api/response-headers?X-Secret=s3cret&Cache-Control=public&X-Kept=1")
    assert status == 200
    assert "x-secret" not in headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-kept"] == "1"
    assert headers["x-served-by"] == f"{HOST}:{backend.port} for api"
    assert len(headers["x-request"]) == 32  # the request's id, as the server got it
    # A route without rules passes the server's fields as they are.
    _, plain, _ = client(proxy.port, "/response-headers?X-Secret=s3cret")
    assert plain["x-secret"] == "s3cret" and "x-served-by" not in plain


@pytest.mark.parametrize("client", [http1, http2], ids=["http1", "http2"])
def test_redirects_answer_without_a_server(ballast, backends, client):
    backend = backends.start("web")
    proxy = routed(ballast, backend)
    received = backend.stats()["requests_received"]
    status, headers, _ = client(proxy.port, "/old/page?a=1")
    assert status == 308
    assert headers["location"] == "https://new.example/old/page?a=1"
    status, headers, _ = client(proxy.port, "/temp/x")
    assert status == 302  # the default
    assert headers["location"] == f"/elsewhere?from={HOST}"
    assert backend.stats()["requests_received"] == received
    assert metric(parse_samples(scrape(proxy.config)), "ballast_redirects_total") == 2


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_each_redirect_status(ballast, backends, status):
    port = free_port()
    config = {
        "workers": 1,
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "routes": [
            {"redirect": {"location": "https://example.com${path}", "status": status}}]}],
        "clusters": {"app": {"servers": [server_entry(backends.start("web"))]}},
    }
    redirector = ballast.start(config, port)
    # As every answer of ballast's own, the connection closes after it (the body is not read).
    with HttpConnection(redirector.port) as connection:
        response = connection.request("POST", "/a?b", body=b"x" * 10)
        assert response.status == status
        assert response.header("Location") == "https://example.com/a?b"
        assert connection.closed_by_peer()
