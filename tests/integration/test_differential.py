"""HTTP/1.x through ballast, nginx and HAProxy side by side (differential.py): for each case the
same client bytes go through each proxy to its own scripted, recording server. ballast's outcome
is asserted, with the RFC section it rests on; every proxy's outcome is summarised, and with
BALLAST_CONFORMANCE_TABLE=FILE the table case × ballast × nginx × HAProxy is written there
(scripts/conformance-table makes docs/conformance.md from it). Runs in about a minute."""

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from differential import OK, default_script, peer_versions, peers_available, run_client
from differential import start_proxy
from harness import ballast_binary

PROXIES = ("ballast", "nginx", "haproxy")
REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r$", re.MULTILINE)


@dataclass
class Case:
    name: str
    rfc: str
    request: tuple  # the client's pieces (see run_client)
    check: object  # asserts ballast's Exchange
    script: object = default_script  # the server's answer to /case/NAME
    half_close: bool = False
    head_request: bool = False
    note: object = None  # Exchange -> extra words for the table


def get(name, version="1.1", fields=""):
    host = "Host: t\r\n" if version == "1.1" else ""
    return f"GET /case/{name} HTTP/{version}\r\n{host}{fields}\r\n".encode()


def close_get(name):
    return get(name, fields="Connection: close\r\n")


def statuses(exchange):
    return [status for status, _, _ in exchange.responses]


def answer(*parts, close=False):
    """A server script that reads the request (and its body) and writes `parts`."""

    def script(peer, head):
        peer.read_body(head)
        for part in parts:
            peer.send(part)
        return "close" if close else None

    return script


# ---- the cases ------------------------------------------------------------------------------

BIG = bytes(range(256)) * 8192  # 2 MiB


def check_pipelining(x):
    assert statuses(x) == [200, 200, 200], x.received[:300]
    assert [body for _, _, body in x.responses] == [b"a", b"b", b"c"]


def pipelined(peer, head):
    letter = head.split(" ")[1].rsplit("/", 1)[1]
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + letter.encode())


def check_request_chunk_extensions(x):
    assert statuses(x) == [200]
    assert b'5;ext="v"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n' in x.at_server, x.at_server


def check_response_trailers(x):
    assert statuses(x) == [200] and x.responses[0][2] == b"hello"
    assert b"5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" in x.received


def check_continue(x):
    assert statuses(x) == [100, 200], x.received[:200]
    assert x.at_server.endswith(b"body!")


def check_head(x):
    assert statuses(x) == [200] and x.responses[0][1]["content-length"] == ["5"]
    assert x.received.endswith(b"\r\n\r\n")  # no body


def check_stray_body(status):
    def check(x):
        assert statuses(x)[:1] == [status], x.received[:200]
        assert b"stray" not in x.received

    return check


def check_early_hints_11(x):
    assert statuses(x) == [103, 200]


def check_early_hints_10(x):
    assert statuses(x) == [200], x.received[:200]


def check_close_delimited(x):
    assert statuses(x) == [200] and x.responses[0][2] == b"until the close" and x.closed
    assert x.responses[0][1]["connection"] == ["close"]


def check_http10_plain(x):
    assert statuses(x) == [200] and x.closed


def check_http10_keep_alive(x):
    assert statuses(x) == [200, 200], x.received[:300]
    assert x.responses[0][1]["connection"] == ["keep-alive"]


def check_http10_chunked(x):
    assert statuses(x) == [200] and "transfer-encoding" not in x.responses[0][1]
    assert x.responses[0][2] == b"hello world" and x.closed


def check_big_upload(x):
    assert statuses(x) == [200]
    assert hashlib.sha256(BIG).hexdigest().encode() in x.received


def hash_body(peer, head):
    body = peer.read_body(head)
    digest = hashlib.sha256(body).hexdigest().encode()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" + digest)


def check_big_download(x):
    assert statuses(x) == [200] and x.responses[0][2] == BIG


def trickle_response(peer, head):
    peer.read_body(head)
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    for piece in (b"01", b"23", b"45", b"67", b"89"):
        time.sleep(0.05)
        peer.send(piece)


def check_trickled_download(x):
    assert statuses(x) == [200] and x.responses[0][2] == b"0123456789"


def check_trickled_upload(x):
    assert statuses(x) == [200] and x.at_server.endswith(b"0123456789")


def check_ok(x):
    assert statuses(x) == [200], x.received[:200]


def check_obs_text(x):
    assert statuses(x) == [200]
    assert b"X-Latin: caf\xe9" in x.at_server


def check_set_cookies(x):
    assert x.responses[0][1]["set-cookie"] == ["a=1", "b=2"]


def check_bad_gateway(x):
    assert statuses(x) == [502], x.received[:200]


def check_te_and_cl(x):
    # RFC 9112 §6.3: a server that sends both is at fault; ballast refuses the response (502)
    # rather than guess, as a request with both is refused.
    assert statuses(x) == [502], x.received[:200]


def check_encoded_target(x):
    assert statuses(x) == [200]
    assert b"GET /case/encoded/b%2Fc HTTP/1.1" in x.at_server, x.at_server[:100]


def check_dot_segments(x):
    assert statuses(x) == [200]
    assert b"GET /case/dots/c HTTP/1.1" in x.at_server, x.at_server[:100]


def check_options_star(x):
    assert statuses(x) == [200] and x.at_server.startswith(b"OPTIONS * HTTP/1.1")


def early_answer(peer, head):
    peer.send(OK)
    peer.read_body(head)


def check_early_answer(x):
    assert statuses(x) == [200, 200], x.received[:300]
    # Both bodies reached the server, over the one pooled connection (none opened anew).
    assert x.at_server.count(b"hello world") == 2 and x.server_connections <= 1


def check_max_forwards_zero(x):
    assert statuses(x) == [200] and "allow" in x.responses[0][1] and x.at_server == b""


def check_max_forwards_decremented(x):
    assert statuses(x) == [200] and b"\r\nMax-Forwards: 4\r\n" in x.at_server


def check_trace(x):
    assert statuses(x) == [405] and x.at_server == b""


def stale_pool(peer, head):
    peer.read_body(head)
    peer.send(OK)
    return "close"  # closes the kept-alive connection without saying so


def check_stale_pool(x):
    assert statuses(x) == [200, 200], x.received[:300]


def check_half_close(x):
    assert statuses(x) == [200] and x.closed


def has_100(data):
    return b" 100 " in data


CHUNKED_HELLO = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
POST11 = "POST /case/{} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n{}\r\n"


def post(name, length, fields=""):
    return POST11.format(name, length, fields).encode()


def server_saw(pattern, yes, no):
    """A note: `yes` when the server received `pattern`, else `no`."""
    return lambda x: yes if pattern in x.at_server else no


def target_at_server(x):
    line = x.at_server.split(b"\r\n", 1)[0].decode("latin-1")
    return f"server target `{line.split(' ')[1]}`" if line.count(" ") >= 2 else "no target"


def max_forwards_at_server(x):
    for line in x.at_server.split(b"\r\n"):
        if line.lower().startswith(b"max-forwards:"):
            return f"server Max-Forwards {line.split(b':', 1)[1].strip().decode()}"
    return "no Max-Forwards at server"


CASES = [
    Case("pipelining", "RFC 9112 §9.3.2", (get("pipe/a") + get("pipe/b") + close_get("pipe/c"),),
         check_pipelining, pipelined),
    Case("request-chunk-extensions-trailers", "RFC 9112 §7.1.1, §7.1.2",
         (b"POST /case/request-chunk-extensions-trailers HTTP/1.1\r\nHost: t\r\n"
          b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          b'5;ext="v"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n',), check_request_chunk_extensions,
         note=server_saw(b'5;ext="v"', "extensions and trailers passed on", "re-chunked")),
    Case("response-chunk-extensions-trailers", "RFC 9112 §7.1.1, §7.1.2",
         (close_get("response-chunk-extensions-trailers"),),
         check_response_trailers,
         answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")),
    Case("expect-100-continue", "RFC 9110 §10.1.1",
         (post("expect-100-continue", 5, "Expect: 100-continue\r\nConnection: close\r\n"),
          has_100, b"body!"), check_continue),
    Case("head", "RFC 9110 §9.3.2", (b"HEAD /case/head HTTP/1.1\r\nHost: t\r\n"
                                     b"Connection: close\r\n\r\n",),
         check_head, answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), head_request=True),
    Case("204-with-stray-body", "RFC 9110 §15.3.5", (close_get("204-with-stray-body"),),
         check_stray_body(204), answer(b"HTTP/1.1 204 No Content\r\n\r\nstray", close=True)),
    Case("304-with-stray-body", "RFC 9110 §15.4.5", (close_get("304-with-stray-body"),),
         check_stray_body(304), answer(b"HTTP/1.1 304 Not Modified\r\n\r\nstray", close=True)),
    Case("103-to-http11", "RFC 9110 §15.2", (close_get("103-to-http11"),), check_early_hints_11,
         answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", OK)),
    Case("1xx-to-http10", "RFC 9110 §15.2", (get("1xx-to-http10", "1.0"),), check_early_hints_10,
         answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\n", OK)),
    Case("close-delimited-response", "RFC 9112 §6.3 (7)", (get("close-delimited-response"),),
         check_close_delimited, answer(b"HTTP/1.1 200 OK\r\n\r\nuntil the close", close=True)),
    Case("http10-without-keep-alive", "RFC 9112 §9.3", (get("http10-without-keep-alive", "1.0"),),
         check_http10_plain),
    Case("http10-keep-alive", "RFC 9112 Appendix C.2.2",
         (get("http10-keep-alive", "1.0", "Connection: keep-alive\r\n"),
          lambda data: data.endswith(b"ok"), get("http10-keep-alive", "1.0")),
         check_http10_keep_alive),
    Case("chunked-to-http10", "RFC 9112 §6.1", (get("chunked-to-http10", "1.0"),),
         check_http10_chunked, answer(CHUNKED_HELLO)),
    Case("large-upload-2mib", "RFC 9112 §6.2", (post("large-upload-2mib", len(BIG),
                                                     "Connection: close\r\n") + BIG,),
         check_big_upload, hash_body),
    Case("large-download-2mib", "RFC 9112 §6.2", (close_get("large-download-2mib"),),
         check_big_download,
         answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG)),
    Case("slow-upload", "RFC 9112 §6.2",
         (post("slow-upload", 10, "Connection: close\r\n"), 0.05, b"01", 0.05, b"23", 0.05,
          b"45", 0.05, b"67", 0.05, b"89"), check_trickled_upload),
    Case("slow-download", "RFC 9112 §6.2", (close_get("slow-download"),),
         check_trickled_download, trickle_response),
    Case("long-url-8k", "RFC 9112 §3", (close_get("long-url-8k?" + "q" * 8000),), check_ok),
    Case("many-headers-90", "RFC 9110 §5",
         (get("many-headers-90", fields="".join(f"X-H{i}: {i}\r\n" for i in range(90))
              + "Connection: close\r\n"),), check_ok),
    Case("obs-text-in-a-value", "RFC 9110 §5.5",
         (get("obs-text-in-a-value").replace(b"\r\n\r\n", b"\r\nX-Latin: caf\xe9\r\n"
                                              b"Connection: close\r\n\r\n"),), check_obs_text,
         note=server_saw(b"caf\xe9", "obs-text passed on", "obs-text not passed on")),
    Case("repeated-set-cookie", "RFC 9110 §5.3", (close_get("repeated-set-cookie"),),
         check_set_cookies, answer(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                                   b"Content-Length: 0\r\n\r\n")),
    Case("server-sends-cl-and-te", "RFC 9112 §6.3 (3)", (close_get("server-sends-cl-and-te"),),
         check_te_and_cl, answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                                 close=True)),
    Case("server-sends-two-lengths", "RFC 9112 §6.3 (5)", (close_get("server-sends-two-lengths"),),
         check_bad_gateway, answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                   b"Content-Length: 3\r\n\r\nok", close=True)),
    Case("encoded-slash", "RFC 3986 §2.2, §6.2.2", (close_get("encoded/b%2fc"),),
         check_encoded_target, note=target_at_server),
    Case("dot-segments", "RFC 3986 §5.2.4", (close_get("dots/a/%2e%2e/b/../c"),),
         check_dot_segments, note=target_at_server),
    Case("options-asterisk", "RFC 9112 §3.2.4",
         (b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",), check_options_star),
    Case("early-answer", "RFC 9112 §9.3, RFC 9110 §15",
         (post("early-answer", 11), lambda data: data.endswith(b"ok"), 0.2, b"hello world",
          post("early-answer", 11, "Connection: close\r\n") + b"hello world"),
         check_early_answer, early_answer),
    Case("max-forwards-0", "RFC 9110 §7.6.2",
         (b"OPTIONS /case/max-forwards-0 HTTP/1.1\r\nHost: t\r\nMax-Forwards: 0\r\n"
          b"Connection: close\r\n\r\n",), check_max_forwards_zero),
    Case("max-forwards-5", "RFC 9110 §7.6.2",
         (b"OPTIONS /case/max-forwards-5 HTTP/1.1\r\nHost: t\r\nMax-Forwards: 5\r\n"
          b"Connection: close\r\n\r\n",), check_max_forwards_decremented,
         note=max_forwards_at_server),
    Case("trace", "RFC 9110 §9.3.8",
         (b"TRACE /case/trace HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",), check_trace),
    Case("stale-pooled-connection", "RFC 9112 §9.3.1",
         (get("stale-pooled-connection"), lambda data: data.endswith(b"ok"), 0.2,
          close_get("stale-pooled-connection")), check_stale_pool, stale_pool),
    Case("half-closed-client", "RFC 9112 §9.6", (get("half-closed-client"),), check_half_close,
         half_close=True),
]


# ---- running them ---------------------------------------------------------------------------


def describe(case, x):
    """A short account of an Exchange for the table: what the client got, whether its connection
    was closed, how many requests reached the server, and the case's own note."""
    if not x.responses:
        words = ["no response"]
    else:
        words = ["+".join(str(status) for status in statuses(x))]
        final = x.responses[-1]
        if "transfer-encoding" in final[1]:
            words.append("chunked")
        if final[2] and 200 <= final[0] < 300:
            words.append(f"{len(final[2])} B")
    words.append("closed" if x.closed else "left open")
    requests = len(REQUEST_LINE.findall(x.at_server))
    words.append(f"server: {requests} request{'s' if requests != 1 else ''}")
    if case.note is not None:
        words.append(case.note(x))
    return ", ".join(words)


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    if not peers_available():
        pytest.fail("nginx and haproxy are needed (scripts/install-deps installs them)")
    scripts = {case.name.split("/")[0]: case.script for case in CASES}
    scripts.update({"pipe": pipelined, "encoded": default_script, "dots": default_script})
    work = tmp_path_factory.mktemp("differential")
    started = {name: start_proxy(name, ballast_binary(), work, scripts) for name in PROXIES}
    yield started
    for proxy in started.values():
        proxy.process.stop()
        proxy.server.close()


RESULTS = {}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(proxies, case):
    outcomes = {name: run_client(proxy, case.request, case.half_close, case.head_request)
                for name, proxy in proxies.items()}
    RESULTS[case.name] = (case, outcomes)
    summary = {name: describe(case, outcome) for name, outcome in outcomes.items()}
    print(f"\n{case.name} ({case.rfc}): " + " | ".join(f"{n}: {s}" for n, s in summary.items()))
    case.check(outcomes["ballast"])


def departs(case, outcomes):
    """Whether ballast's outcome differs from a peer's in what the client or server saw."""
    mine = describe(case, outcomes["ballast"])
    return any(describe(case, outcomes[peer]) != mine for peer in ("nginx", "haproxy"))


def write_table(path):
    lines = [
        "| case | RFC | ballast | nginx | HAProxy |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        if case.name not in RESULTS:
            continue
        _, outcomes = RESULTS[case.name]
        marker = " **≠**" if departs(case, outcomes) else ""
        cells = [describe(case, outcomes[name]) for name in PROXIES]
        lines.append(f"| `{case.name}`{marker} | {case.rfc} | " + " | ".join(cells) + " |")
    Path(path).write_text(f"<!-- generated by scripts/conformance-table with {peer_versions()} "
                          "-->\n" + "\n".join(lines) + "\n")


def teardown_module(_module):
    table = os.environ.get("BALLAST_CONFORMANCE_TABLE")
    if table and RESULTS:
        write_table(table)
