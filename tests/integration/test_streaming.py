"""1 GiB up and down through the proxy, with its memory sampled all along.

Marked slow: BALLAST_QUICK=1 skips these.
"""

import pytest

from harness import HttpConnection, PatternCheck, PeakRss, build_request, send_pattern

pytestmark = pytest.mark.slow

GIB = 1 << 30
MAX_RSS_BYTES = 64 << 20
UPLOAD_CHUNK_BYTES = 256 << 10


@pytest.fixture
def proxy(backends, ballast):
    timeouts = {"connect": "1s", "client": "30s", "server": "30s"}
    return ballast.start_short([backends.start("s1")], timeouts=timeouts)


def assert_small(peak):
    assert peak.samples >= 10, f"only {peak.samples} RSS samples"
    assert peak.peak_bytes < MAX_RSS_BYTES, f"peak RSS {peak.peak_bytes >> 20} MiB"


@pytest.mark.parametrize("target", [f"/bytes/{GIB}", f"/chunked/{GIB}"], ids=["length", "chunked"])
def test_one_gib_download_streams_in_bounded_memory(proxy, target):
    check = PatternCheck()
    with PeakRss(proxy.pid) as peak, HttpConnection(proxy.port, timeout_s=30) as connection:
        connection.send(build_request("GET", target))
        response = connection.read_response(sink=check)
    assert response.status == 200
    assert check.length == GIB
    assert_small(peak)


@pytest.mark.parametrize("chunk_bytes", [None, UPLOAD_CHUNK_BYTES], ids=["length", "chunked"])
def test_one_gib_upload_streams_in_bounded_memory(proxy, chunk_bytes):
    framing = ("Transfer-Encoding", "chunked") if chunk_bytes else ("Content-Length", str(GIB))
    with PeakRss(proxy.pid) as peak, HttpConnection(proxy.port, timeout_s=30) as connection:
        connection.send(build_request("POST", "/upload", [framing]))
        sha256 = send_pattern(connection.sock, GIB, chunk_bytes)
        response = connection.read_response()
    assert response.status == 200
    assert response.json()["length"] == GIB
    assert response.json()["sha256"] == sha256
    assert_small(peak)
