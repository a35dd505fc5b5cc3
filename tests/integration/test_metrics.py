"""The Prometheus metrics endpoint of the real proxy: what a scrape counts after known traffic,
the gauges that follow a server's state, the process's own metrics, `promtool check metrics` on
a live page, and a real Prometheus server scraping ballast and answering a PromQL query.

Counts are read from scrapes of `monitoring.metrics` (events.scrape, parsed by
events.parse_samples). A response is counted when the worker finishes it, which may be a moment
after the client has read it, so a test first waits (bounded) for a total to arrive and then
asserts it exactly: a count that overshoots still fails.
"""

import math
import shutil
import subprocess
import time
import urllib.parse

import pytest

from events import address, metric, metric_sum, metric_values, metrics_port, parse_samples
from events import scrape, wait_healthy, wait_log
from harness import HOST, InBackground, Process, control, free_port, get, health_check, in_flight
from harness import listen_port, served_by, wait_until

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
BREAKER = {"mode": "consecutive", "failure_threshold": 3, "timeout": "30s"}
PROMETHEUS_WAIT_S = 20


def samples_of(config):
    return parse_samples(scrape(config))


def wait_samples(config, condition, what, timeout_s=3):
    """Scrapes until condition(samples) holds; those samples."""
    return wait_until(
        lambda: condition(samples := samples_of(config)) and samples, timeout_s, what, 0.05
    )


def start(ballast, servers, **load_balancer):
    """ballast on a short config: (the process, the config dict, into which start() wrote the
    metrics and admin ports)."""
    config = ballast.short_config(servers, **load_balancer)
    return ballast.start(config, listen_port(config)), config


def requests_total(samples, **labels):
    return metric_sum(samples, "loadbalancer_requests_total", **labels)


def test_requests_and_durations_count_every_response_by_server_and_class(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1, s2])
    ok, not_found = 40, 6
    assert sorted(served_by(proxy.port, ok)) == ["s1"] * (ok // 2) + ["s2"] * (ok // 2)
    for _ in range(not_found):
        assert get(proxy.port, "/status/404").status == 404
    samples = wait_samples(
        config, lambda s: requests_total(s) >= ok + not_found, f"{ok + not_found} counted"
    )
    for server in (s1, s2):
        name = address(server)
        counts = {
            c: metric(samples, "loadbalancer_requests_total", server=name, status=c)
            for c in CLASSES
        }
        assert counts == {"1xx": 0, "2xx": ok // 2, "3xx": 0, "4xx": not_found // 2, "5xx": 0}
        labels = {"cluster": "default", "server": name}
        count = metric(samples, "loadbalancer_request_duration_seconds_count", **labels)
        assert count == (ok + not_found) // 2, count
        buckets = [
            (float(bucket_labels["le"]), value)
            for sample_name, bucket_labels, value in samples
            if sample_name == "loadbalancer_request_duration_seconds_bucket"
            and bucket_labels["server"] == name
        ]
        assert buckets[-1] == (math.inf, count), buckets
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
        duration_sum = metric(samples, "loadbalancer_request_duration_seconds_sum", **labels)
        assert 0 < duration_sum < count, duration_sum  # milliseconds each, not seconds
    assert requests_total(samples, status="2xx") == ok
    assert requests_total(samples, server="none") == 0
    # No breaker configured: its series are left out rather than shown as a claim of "closed".
    assert metric_values(samples, "circuit_breaker_state") == []
    assert metric(samples, "ballast_config_generation") == 1


def test_active_connections_count_the_request_in_flight(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1, s2])
    samples = samples_of(config)
    assert metric_values(samples, "loadbalancer_active_connections") == [0, 0]
    slow = InBackground(get, proxy.port, "/delay/1000")
    wait_until(lambda: in_flight(s1) + in_flight(s2) == 1, 2, "the slow request at a backend")
    busy = s1 if in_flight(s1) else s2
    idle = s2 if busy is s1 else s1
    samples = samples_of(config)
    active = "loadbalancer_active_connections"
    assert metric(samples, active, server=address(busy)) == 1
    assert metric(samples, active, server=address(idle)) == 0
    assert slow.result().status == 200
    wait_samples(config, lambda s: metric_sum(s, active) == 0, "no connection active")


def test_server_healthy_follows_the_health_checks(backends, ballast):
    s1, s2 = backends.start_many(2)
    proxy, config = start(ballast, [s1, s2], health_check=health_check())
    wait_healthy(proxy, [s1, s2])
    healthy = "loadbalancer_server_healthy"
    samples = samples_of(config)
    assert [metric(samples, healthy, server=address(s)) for s in (s1, s2)] == [1, 1]
    control(s2, health=503)
    samples = wait_samples(
        config, lambda s: metric(s, healthy, server=address(s2)) == 0, "s2 unhealthy in metrics"
    )
    assert metric(samples, healthy, server=address(s1)) == 1
    checks = "loadbalancer_health_checks_total"
    assert metric(samples, checks, server=address(s2), result="failed") >= 1
    assert metric(samples, checks, server=address(s1), result="failed") == 0
    control(s2, health=200)
    wait_samples(
        config, lambda s: metric(s, healthy, server=address(s2)) == 1, "s2 healthy in metrics"
    )


def test_circuit_breaker_state_shows_an_open_breaker(backends, ballast):
    s1 = backends.start("s1", args=["--control", "fail_percent=100"])
    s2 = backends.start("s2")
    proxy, config = start(ballast, [s1, s2], circuit_breaker=BREAKER)
    samples = samples_of(config)
    state = "circuit_breaker_state"
    assert [metric(samples, state, server=address(s)) for s in (s1, s2)] == [0, 0]
    statuses = [get(proxy.port, "/").status for _ in range(6)]  # round robin: 3 reach s1
    assert sorted(statuses) == [200] * 3 + [500] * 3, statuses
    wait_log(proxy, "circuit breaker changed", 2, server=address(s1), to="open")
    samples = samples_of(config)
    assert metric(samples, state, server=address(s1)) == 1
    assert metric(samples, state, server=address(s2)) == 0
    openings = "loadbalancer_breaker_openings_total"
    assert [metric(samples, openings, server=address(s)) for s in (s1, s2)] == [1, 0]
    failures = "loadbalancer_upstream_failures_total"
    assert metric(samples, failures, server=address(s1), kind="server_error") == 3


def test_process_metrics_describe_the_ballast_process(backends, ballast):
    proxy, config = start(ballast, backends.start_many(1))
    samples = samples_of(config)
    open_fds = metric(samples, "process_open_fds")
    assert abs(open_fds - proxy.fd_count()) <= 4, (open_fds, proxy.fd_count())
    rss = metric(samples, "process_resident_memory_bytes")
    assert 0.5 * proxy.rss_bytes() <= rss <= 2 * proxy.rss_bytes(), (rss, proxy.rss_bytes())
    assert metric(samples, "process_virtual_memory_bytes") >= rss
    assert abs(metric(samples, "process_start_time_seconds") - time.time()) < 60
    assert metric(samples, "process_cpu_seconds_total") >= 0
    assert metric(samples, "process_max_fds") >= open_fds
    assert metric(samples, "process_threads") >= 2  # a worker and the admin thread at least
    assert metric_values(samples, "ballast_build_info") == [1]


def test_promtool_accepts_a_live_scrape_on_a_configured_path(backends, ballast):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool on PATH (Debian package prometheus)")
    s1 = backends.start("s1", args=["--control", "fail_percent=100"])
    s2, s3 = backends.start("s2"), backends.start("s3")
    config = ballast.short_config(
        [s1, s2, s3],
        health_check=health_check(),
        circuit_breaker=BREAKER,
        outlier_detection={"consecutive_failures": 50},
        retry={"attempts": 2, "on": ["5xx"]},
    )
    config["monitoring"] = {"metrics": {"port": free_port(), "path": "/custom/metrics"}}
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, [s1, s2, s3])
    served_by(proxy.port, 12)  # with retries, every request ends at s2 or s3
    response = get(metrics_port(config), "/custom/metrics")
    assert response.status == 200, response
    assert response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert get(metrics_port(config), "/metrics").status == 404
    samples = parse_samples(response.body.decode())
    families = {name for name, _, _ in samples}
    for family in (
        "loadbalancer_retries_total",
        "loadbalancer_ejections_total",
        "loadbalancer_received_bytes_total",
        "loadbalancer_sent_bytes_total",
    ):
        assert family in families, f"{family} missing"
    assert metric(samples, "loadbalancer_retries_total", cluster="default") >= 1
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=response.body, capture_output=True, timeout=20
    )
    output = (checked.stdout + checked.stderr).decode()
    assert checked.returncode == 0, f"promtool check metrics failed:\n{output}"


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ballast
    metrics_path: {path}
    static_configs:
      - targets: ["{target}"]
"""


def prometheus_query(port, query):
    """The value of an instant query's first sample as a float, or None while there is none."""
    response = get(port, "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    if response.status != 200:
        return None
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_a_prometheus_server_scrapes_the_request_count(backends, ballast, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("no prometheus binary on PATH (Debian package prometheus)")
    proxy, config = start(ballast, backends.start_many(2))
    requests = 37
    served_by(proxy.port, requests)
    config_path = tmp_path / "prometheus.yml"
    target = f"{HOST}:{metrics_port(config)}"
    config_path.write_text(PROMETHEUS_CONFIG.format(path="/metrics", target=target))
    web_port = free_port()
    server = Process(
        [
            prometheus,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={HOST}:{web_port}",
            "--log.level=warn",
        ],
        tmp_path,
        "prometheus",
    )
    query = 'sum(loadbalancer_requests_total{status="2xx"})'
    seen = []
    try:
        deadline = time.monotonic() + PROMETHEUS_WAIT_S
        while time.monotonic() < deadline:
            assert server.alive(), f"prometheus exited\n{server.logs()}"
            try:
                seen.append(prometheus_query(web_port, query))
            except OSError:  # not listening yet
                pass
            if seen and seen[-1] == requests:
                break
            time.sleep(0.25)
        assert (
            seen and seen[-1] == requests
        ), f"{query} was {seen[-5:]} after {PROMETHEUS_WAIT_S}s, not {requests}\n{server.logs()}"
        assert prometheus_query(web_port, 'up{job="ballast"}') == 1
    finally:
        server.stop()
