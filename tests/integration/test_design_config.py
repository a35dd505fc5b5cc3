"""The design document's own `config.yaml` (examples/design-document.yaml, copied verbatim from
the document) loads, and runs doing what it says, with only its addresses moved onto this
machine: the two backends' hosts and ports, the listener, the metrics and admin ports, and the
Jaeger host (whose OTLP port, 4318, is where ballast sends spans)."""

from pathlib import Path

import pytest
import yaml

from events import log_events, metric_values, parse_samples, scrape
from harness import HOST, REPO, free_port, get, wait_until
from test_tracing import Collector

DESIGN = REPO / "examples" / "design-document.yaml"
SEED = REPO.parent / "shared" / "seeds" / "load-balancers-and-circuit-breakers.md"
JAEGER_HOST = "127.0.0.9"  # a loopback address of its own, so port 4318 is free on it


def test_the_example_is_the_documents_block_verbatim():
    if not SEED.exists():
        pytest.skip("the design documents are not beside the repository")
    text = SEED.read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert DESIGN.read_text() == block


def test_the_block_passes_check(run_ballast_check):
    result = run_ballast_check(DESIGN)
    assert result.returncode == 0, result.stderr
    # The short shape has one cluster, so the document's per-service breakers name none of its.
    assert "circuit_breaker.services.database" in result.stderr


@pytest.fixture
def run_ballast_check():
    import subprocess

    from harness import ballast_binary

    def run(path):
        return subprocess.run(
            [str(ballast_binary()), "--check", str(path)], capture_output=True, text=True, timeout=10
        )

    return run


def localised(backends):
    """The document's config with its addresses on this machine; nothing else changed."""
    config = yaml.safe_load(DESIGN.read_text())
    balancer = config["load_balancer"]
    balancer["listen"] = f"{HOST}:{free_port()}"
    for server, backend in zip(balancer["servers"], backends):
        server["host"], server["port"] = HOST, backend.port
    config["monitoring"]["metrics"]["port"] = free_port()
    config["admin"] = {"listen": f"{HOST}:{free_port()}"}
    tracing = config["monitoring"]["tracing"]
    tracing["jaeger_endpoint"] = tracing["jaeger_endpoint"].replace("//jaeger:", f"//{JAEGER_HOST}:")
    return config


def test_the_block_runs_and_does_what_it_says(ballast, backends):
    collector = Collector(host=JAEGER_HOST, port=4318)
    try:
        servers = backends.start_many(2)
        config = localised(servers)
        port = int(config["load_balancer"]["listen"].rsplit(":", 1)[1])
        proxy = ballast.start(config, port)

        # Health checks on /health make both servers eligible; weighted least connections and
        # a session cookie named session_id send a client back to its server.
        wait_until(lambda: get(port, "/").status == 200, 10, "a server to be healthy")
        first = get(port, "/")
        cookie = first.header("Set-Cookie")
        assert cookie and cookie.startswith("session_id="), first.headers
        sticky = {get(port, "/", [("Cookie", cookie.split(";")[0])]).backend for _ in range(20)}
        assert sticky == {first.backend}
        for _ in range(200):
            assert get(port, "/").status == 200

        # Metrics on the configured path, JSON logs on stdout at INFO, spans at Jaeger's OTLP port.
        samples = parse_samples(scrape(config))
        assert sum(metric_values(samples, "loadbalancer_requests_total")) >= 200
        started = log_events(proxy, "tracing")
        assert started and started[0]["endpoint"] == f"http://{JAEGER_HOST}:4318/v1/traces"
        wait_until(lambda: len(collector.spans) >= 5, 10, "spans at the Jaeger collector")
    finally:
        collector.close()
