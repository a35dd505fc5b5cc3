"""WebSocket through ballast, with a real client and server (python3-websockets): the Upgrade
request is passed on, the 101 turns the connection into a tunnel, and messages, pings and close
codes flow both ways until either side closes or the tunnel idles out."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import websockets

from events import log_events, metric, parse_samples, scrape
from harness import HOST, HERE, accepts_connections, free_port, get, server_entry, wait_until

ONE_MIB = 1 << 20


@pytest.fixture
def ws_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "ws_server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "ws_server.py"), str(port)], stdout=log, stderr=log
    )
    wait_until(lambda: accepts_connections(port), 10, "the WebSocket server")
    yield port
    process.kill()
    process.wait(timeout=10)
    log.close()


def start_proxy(ballast, ws_port, **timeouts):
    config = ballast.short_config([server_entry(ws_port)])
    if timeouts:
        config["load_balancer"]["timeouts"] = timeouts
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    return ballast.start(config, port), config


def url(proxy, path="/chat"):
    return f"ws://{HOST}:{proxy.port}{path}"


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_messages_of_every_size_echo_through_the_tunnel(ballast, ws_server):
    proxy, config = start_proxy(ballast, ws_server)

    async def session():
        async with websockets.connect(url(proxy), max_size=None) as socket:
            await socket.send("hello")
            assert await socket.recv() == "hello"
            payload = os.urandom(ONE_MIB)
            await socket.send(payload)
            assert await socket.recv() == payload
            big_text = "x" * ONE_MIB
            await socket.send(big_text)
            assert await socket.recv() == big_text
            pong = await socket.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            await socket.send("headers")
            headers = dict((k.lower(), v) for k, v in json.loads(await socket.recv()))
            return headers

    headers = run(session())
    assert headers["upgrade"].lower() == "websocket"
    assert "upgrade" in headers["connection"].lower()
    assert headers["x-forwarded-for"] == "127.0.0.1"
    samples = parse_samples(scrape(config))
    assert metric(samples, "loadbalancer_tunnels_total", cluster="default") == 1
    wait_until(
        lambda: metric(parse_samples(scrape(config)), "loadbalancer_tunnels_open", cluster="default")
        == 0,
        5,
        "the tunnel to close",
    )
    access = wait_until(
        lambda: [e for e in log_events(proxy) if e.get("type") == "access"], 5, "an access line"
    )
    assert access[-1]["status"] == 101
    assert access[-1]["bytes_received"] > ONE_MIB  # the text compresses (permessage-deflate)
    assert access[-1]["bytes_sent"] > ONE_MIB


@pytest.mark.parametrize("side", ["server", "client"])
def test_close_codes_pass_both_ways(ballast, ws_server, side):
    proxy, _ = start_proxy(ballast, ws_server)

    async def session():
        async with websockets.connect(url(proxy)) as socket:
            if side == "server":
                await socket.send("close 4001 server says bye")
                with pytest.raises(websockets.ConnectionClosed):
                    await socket.recv()
            else:
                await socket.close(4002, "client says bye")
            return socket.close_code, socket.close_reason

    code, reason = run(session())
    if side == "server":
        assert (code, reason) == (4001, "server says bye")
    else:
        assert code == 4002  # the server echoed the client's close frame back


def test_a_thousand_sockets_at_once(ballast, ws_server):
    proxy, config = start_proxy(ballast, ws_server)
    count = 1000

    async def one(index, ready, go):
        async with websockets.connect(url(proxy, f"/s/{index}"), open_timeout=30) as socket:
            ready.append(index)
            await go.wait()
            await socket.send(f"message {index}")
            assert await socket.recv() == f"message {index}"

    async def everyone():
        ready, go = [], asyncio.Event()
        tasks = [asyncio.create_task(one(i, ready, go)) for i in range(count)]
        while len(ready) < count:
            done = [t for t in tasks if t.done() and t.exception()]
            if done:
                raise done[0].exception()
            await asyncio.sleep(0.05)
        open_now = metric(parse_samples(scrape(config)), "loadbalancer_tunnels_open", cluster="default")
        go.set()
        await asyncio.gather(*tasks)
        return open_now

    assert run(everyone()) == count
    wait_until(
        lambda: metric(parse_samples(scrape(config)), "loadbalancer_tunnels_open", cluster="default")
        == 0,
        10,
        "every tunnel to close",
    )


def test_an_idle_tunnel_is_closed_after_the_tunnel_timeout(ballast, ws_server):
    proxy, _ = start_proxy(ballast, ws_server, tunnel="1s")

    async def session():
        async with websockets.connect(url(proxy), ping_interval=None) as socket:
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(socket.recv(), 5)
            return time.monotonic() - started

    assert 0.8 < run(session()) < 3


def test_shutdown_closes_tunnels_at_the_drain_deadline(ballast, ws_server):
    config = ballast.short_config([server_entry(ws_server)])
    config["drain_timeout"] = "1s"
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)

    async def session():
        async with websockets.connect(url(proxy), ping_interval=None) as socket:
            await socket.send("before")
            assert await socket.recv() == "before"
            proxy.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            await socket.send("during the drain")  # the tunnel still carries traffic
            assert await socket.recv() == "during the drain"
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(socket.recv(), 5)
            return time.monotonic() - started

    assert run(session()) < 2.5
    assert proxy.wait_exit(5) == 0
    proxy.expected_exit = True


def test_an_upgrade_field_without_connection_upgrade_is_a_plain_request(ballast, backends):
    # Upgrade is hop-by-hop; without "Connection: upgrade" it asks for nothing, and the request is
    # served as any other (the field is not passed on).
    server = backends.start("s1")
    config = ballast.short_config([server])
    port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
    proxy = ballast.start(config, port)
    response = get(proxy.port, "/", headers=[("Upgrade", "websocket")])  # no Connection: upgrade
    assert response.status == 200
