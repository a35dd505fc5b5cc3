"""Tracing through the real proxy: W3C traceparent propagated to the backend with ballast's own
span id, created when absent, and spans exported as OTLP/HTTP JSON to a collector that the test
runs (a small HTTP server on a thread) and whose received span tree the test checks."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import HOST, get, wait_until

PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


class Collector:
    """An OTLP/HTTP JSON receiver: keeps every span it is sent, flattened."""

    def __init__(self, host=HOST, port=0):
        self.spans = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                document = json.loads(body)
                assert self.headers["Content-Type"].startswith("application/json")
                with collector.lock:
                    for resource in document["resourceSpans"]:
                        for scope in resource["scopeSpans"]:
                            collector.spans.extend(scope["spans"])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_trace(self, trace_id):
        with self.lock:
            return [span for span in self.spans if span["traceId"] == trace_id]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def collector():
    running = Collector()
    yield running
    running.close()


def attributes(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def traced(ballast, servers, collector, **load_balancer):
    config = ballast.short_config(servers, **load_balancer)
    config["tracing"] = {
        "sample_rate": 1.0,
        "endpoint": f"http://{HOST}:{collector.port}/v1/traces",
    }
    return ballast.start(config, int(config["load_balancer"]["listen"].rsplit(":", 1)[1]))


def test_a_retried_request_exports_a_server_span_and_one_client_span_per_attempt(
    backends, ballast, collector
):
    s1, s2 = backends.start_many(2)
    retry = {"attempts": 2, "on": ["5xx"]}
    proxy = traced(ballast, [s1, s2], collector, retry=retry)
    traceparent = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
    # s1 fails, the retry reaches s2, which echoes what it was sent.
    response = get(proxy.port, "/on/s1/status/503", headers=[("traceparent", traceparent)])
    if response.backend != "s2":  # round robin began at s2: one more to land on s1 first
        response = get(proxy.port, "/on/s1/status/503", headers=[("traceparent", traceparent)])
    assert response.status == 200 and response.backend == "s2"

    wait_until(lambda: len(collector.of_trace(PARENT_TRACE)) >= 3, 10, "spans at the collector")
    spans = collector.of_trace(PARENT_TRACE)
    servers = [s for s in spans if s["kind"] == 2]
    clients = [s for s in spans if s["kind"] == 3]
    retried = next(s for s in servers if attributes(s).get("http.response.status_code") == "200")
    assert retried["parentSpanId"] == PARENT_SPAN
    attempts = [c for c in clients if c["parentSpanId"] == retried["spanId"]]
    assert sorted(attributes(c)["ballast.attempt"] for c in attempts) == ["1", "2"]
    first, second = sorted(attempts, key=lambda c: attributes(c)["ballast.attempt"])
    assert attributes(first)["http.response.status_code"] == "503"
    assert attributes(first)["server.address"] == f"{HOST}:{s1.port}"
    assert attributes(second)["server.address"] == f"{HOST}:{s2.port}"
    assert attributes(second)["ballast.retry"] in (True, "true")
    assert attributes(retried)["url.path"] == "/on/s1/status/503"
    for span in attempts + [retried]:
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])


def test_the_backend_gets_ballasts_span_id_and_a_trace_is_started_when_absent(
    backends, ballast, collector
):
    server = backends.start("s1")
    proxy = traced(ballast, [server], collector)
    echoed = get(proxy.port, "/echo", headers=[("traceparent", f"00-{PARENT_TRACE}-{PARENT_SPAN}-01")]).json()
    sent = dict((name.lower(), value) for name, value in echoed["headers"])["traceparent"]
    version, trace_id, span_id, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", PARENT_TRACE, "01")
    assert span_id != PARENT_SPAN  # ballast's attempt span, not the caller's
    wait_until(lambda: any(s["spanId"] == span_id for s in collector.of_trace(PARENT_TRACE)), 10,
               "the attempt span named in traceparent")
    # The request id the server got is on the spans, to find one from the other.
    request_id = dict((name.lower(), value) for name, value in echoed["headers"])["x-request-id"]
    wait_until(lambda: len(collector.of_trace(PARENT_TRACE)) >= 2, 10, "both spans")
    for span in collector.of_trace(PARENT_TRACE):
        assert attributes(span)["ballast.request_id"] == request_id

    fresh = get(proxy.port, "/echo").json()
    created = dict((name.lower(), value) for name, value in fresh["headers"])["traceparent"]
    version, trace_id, span_id, flags = created.split("-")
    assert version == "00" and len(trace_id) == 32 and trace_id != "0" * 32 and flags == "01"
    wait_until(lambda: len(collector.of_trace(trace_id)) == 2, 10, "the new trace's two spans")
    root = next(s for s in collector.of_trace(trace_id) if s["kind"] == 2)
    assert "parentSpanId" not in root or root["parentSpanId"] == ""
