"""The access log through the real proxy: one JSON line per request with the fields the issue
names, sampling, and a log output that stops draining (a FIFO nobody reads) never stalls
proxying: lines are dropped and counted instead."""

import json
import os
import socket
import time

from events import metric, parse_samples, scrape
from harness import HOST, HttpConnection, get, listen_port, wait_until

FIELDS = {"ts", "type", "client_ip", "method", "path", "protocol", "status", "cluster", "route",
          "server", "duration_ms", "bytes_received", "bytes_sent", "attempts", "trace_id",
          "request_id"}


def access_lines(path):
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("type") == "access"]


def logged_to(ballast, servers, log_path, **logging):
    config = ballast.short_config(servers, retry={"attempts": 2, "on": ["5xx"]})
    config["monitoring"] = {"logging": {"output": str(log_path), **logging}}
    return config, ballast.start(config, listen_port(config))


def test_every_request_gets_one_line_with_what_happened(backends, ballast, tmp_path):
    s1, s2 = backends.start_many(2)
    log_path = tmp_path / "access.log"
    _, proxy = logged_to(ballast, [s1, s2], log_path)
    with HttpConnection(proxy.port) as connection:
        assert connection.request("GET", "/hello?x=1").status == 200
        assert connection.request("POST", "/upload", body=b"0123456789").status == 200
    # A 5xx from s1 is retried on s2: two attempts for one line.
    retried = get(proxy.port, "/on/s1/status/500")
    if retried.backend != "s2":
        retried = get(proxy.port, "/on/s1/status/500")
    wait_until(lambda: len(access_lines(log_path)) >= 3, 5, "the access lines")
    lines = access_lines(log_path)
    assert all(set(line) == FIELDS for line in lines), lines[0]
    hello = next(line for line in lines if line["path"] == "/hello?x=1")
    assert hello["method"] == "GET" and hello["status"] == 200
    assert hello["protocol"] == "HTTP/1.1"
    assert hello["client_ip"] == "127.0.0.1" and hello["cluster"] == "default"
    assert hello["server"] in (f"127.0.0.1:{s1.port}", f"127.0.0.1:{s2.port}")
    assert hello["attempts"] == 1 and hello["duration_ms"] > 0 and hello["bytes_sent"] > 0
    upload = next(line for line in lines if line["method"] == "POST")
    assert upload["bytes_received"] >= 10 + len("POST /upload HTTP/1.1\r\n")
    twice = [line for line in lines if line["path"] == "/on/s1/status/500" and line["attempts"] == 2]
    assert twice and twice[-1]["server"] == f"127.0.0.1:{s2.port}" and twice[-1]["status"] == 200


def test_sampling_logs_about_its_share_and_off_logs_none(backends, ballast, tmp_path):
    server = backends.start("s1")
    sampled_path = tmp_path / "sampled.log"
    _, sampled = logged_to(ballast, [server], sampled_path, access_log_sample=0.25)
    off_path = tmp_path / "off.log"
    _, off = logged_to(ballast, [server], off_path, access_log=False)
    with HttpConnection(sampled.port) as a, HttpConnection(off.port) as b:
        for _ in range(400):
            assert a.request("GET", "/").status == 200
            assert b.request("GET", "/").status == 200
    time.sleep(0.3)  # two flush intervals: whatever was logged has been written
    assert 60 <= len(access_lines(sampled_path)) <= 140  # 100 expected; 4 sigma is about 35
    assert access_lines(off_path) == []


def test_a_log_output_that_blocks_costs_dropped_lines_not_requests(backends, ballast, tmp_path):
    server = backends.start("s1")
    fifo = tmp_path / "stuck.log"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads
    try:
        config, proxy = logged_to(ballast, [server], fifo)
        started = time.monotonic()
        with HttpConnection(proxy.port) as connection:
            for _ in range(5000):  # far more than the pipe and the writer's buffers hold
                assert connection.request("GET", "/" + "x" * 200).status == 200
        assert time.monotonic() - started < 30
        wait_until(
            lambda: metric(parse_samples(scrape(config)), "ballast_access_log_dropped_total") > 0,
            5,
            "dropped lines counted",
        )
    finally:
        os.close(holder)


def test_the_line_says_which_http_version_the_client_spoke(backends, ballast, tmp_path):
    log_path = tmp_path / "access.log"
    _, proxy = logged_to(ballast, [backends.start("s1")], log_path)
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /ten HTTP/1.0\r\nHost: a\r\n\r\n")
        while sock.recv(65536):  # an HTTP/1.0 answer ends with the connection
            pass
    assert get(proxy.port, "/eleven").status == 200
    wait_until(lambda: len(access_lines(log_path)) >= 2, 5, "two access lines")
    protocols = {line["path"]: line["protocol"] for line in access_lines(log_path)}
    assert protocols == {"/ten": "HTTP/1.0", "/eleven": "HTTP/1.1"}
