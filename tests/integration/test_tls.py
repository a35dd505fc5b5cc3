"""TLS termination, tried with real clients (curl, openssl s_client, Python's ssl) against
certificates made at test time by openssl: the certificate chosen by SNI and the default without
it, ALPN, resumption in another worker and across a reload, certificates replaced under load,
client certificates, redirect to HTTPS, and what the metrics and the access log say."""

import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from backend import SocketReader
from events import log_events, metric_values, parse_samples, scrape
from harness import HOST, HttpConnection, ballast_binary, build_request, free_port, get, server_entry, wait_until
from tls_pki import Pki, s_client, served_subject


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


class TlsConnection(HttpConnection):
    """HttpConnection over TLS, verifying the server against `ca` for `server_name`."""

    def __init__(self, port, ca, server_name, client_cert=None, timeout_s=10):
        context = ssl.create_default_context(cafile=str(ca))
        if client_cert is not None:
            context.load_cert_chain(*[str(path) for path in client_cert])
        raw = socket.create_connection((HOST, port), timeout=timeout_s)
        self.sock = context.wrap_socket(raw, server_hostname=server_name)
        self.reader = SocketReader(self.sock)
        self.server_name = server_name

    def get(self, target="/echo", headers=()):
        self.send(build_request("GET", target, headers, host=self.server_name))
        return self.read_response()

    def subject_cn(self):
        subject = dict(part[0] for part in self.sock.getpeercert()["subject"])
        return subject["commonName"]


def start_tls(ballast, backend, tls, workers=1, **listener):
    port = free_port()
    config = {
        "workers": workers,
        "drain_timeout": "5s",
        "listeners": [
            {"name": "web", "listen": f"{HOST}:{port}", "routes": [{"cluster": "app"}],
             "tls": tls, **listener},
        ],
        "clusters": {"app": {"servers": [server_entry(backend)]}},
    }
    return ballast.start(config, port), config


def pair(files):
    cert, key = files
    return {"cert": str(cert), "key": str(key)}


def tls_metric(config, name, **labels):
    values = metric_values(parse_samples(scrape(config)), name, listener="web", **labels)
    assert len(values) == 1, (name, labels, values)
    return values[0]


def test_the_certificate_is_chosen_by_sni_and_the_first_serves_without_it(ballast, backends, pki):
    backend = backends.start("app")
    first = pki.leaf("first", ["first.test"])
    second = pki.leaf("second", ["second.test", "*.wild.test"])
    proxy, _ = start_tls(ballast, backend, {"certificates": [pair(first), pair(second)]})
    assert "CN = second.test" in served_subject(proxy.port, "-servername", "second.test")
    assert "CN = second.test" in served_subject(proxy.port, "-servername", "x.wild.test")
    assert "CN = first.test" in served_subject(proxy.port, "-servername", "unknown.test")
    assert "CN = first.test" in served_subject(proxy.port, "-noservername")
    # curl verifies the chain and the name, for each.
    for name in ("first.test", "second.test", "api.wild.test"):
        result = subprocess.run(
            ["curl", "-sS", "--cacert", str(pki.ca), "--resolve", f"{name}:{proxy.port}:{HOST}",
             "-o", "/dev/null", "-w", "%{http_code}", f"https://{name}:{proxy.port}/echo"],
            capture_output=True, text=True, timeout=20,
        )
        assert result.stdout == "200", (name, result.stderr)


def test_ecdsa_and_rsa_for_one_name_each_reach_the_client_that_wants_it(ballast, backends, pki):
    backend = backends.start("app")
    ec = pki.leaf("dual-ec", ["dual.test"], kind="ec", common_name="dual-ec")
    rsa = pki.leaf("dual-rsa", ["dual.test"], kind="rsa", common_name="dual-rsa")
    proxy, _ = start_tls(ballast, backend, {"certificates": [pair(rsa), pair(ec)]})
    assert "CN = dual-ec" in served_subject(proxy.port, "-servername", "dual.test")
    rsa_only = ("-servername", "dual.test", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
    assert "CN = dual-rsa" in served_subject(proxy.port, *rsa_only)


def test_alpn_offers_http11_and_tls_below_12_is_refused(ballast, backends, pki):
    backend = backends.start("app")
    proxy, config = start_tls(ballast, backend, {"certificates": [pair(pki.leaf("a", ["a.test"]))]})
    assert "ALPN protocol: http/1.1" in s_client(proxy.port, "-alpn", "h2,http/1.1")
    assert "No ALPN negotiated" in s_client(proxy.port, "-alpn", "h2")
    old = s_client(proxy.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert "alert protocol version" in old, old
    wait_until(lambda: tls_metric(config, "ballast_tls_handshake_errors_total",
                                  kind="protocol_version") == 1, 5, "the refusal counted")


def test_renegotiation_is_refused(ballast, backends, pki, tmp_path):
    """A TLS 1.2 client asking to renegotiate (s_client's R command) gets a no_renegotiation
    alert (SSL_OP_NO_RENEGOTIATION: client-initiated renegotiation is a CPU-exhaustion lever)."""
    backend = backends.start("app")
    proxy, _ = start_tls(ballast, backend, {"certificates": [pair(pki.leaf("a", ["a.test"]))]})
    output = tmp_path / "s_client.out"
    with output.open("wb") as out:
        client = subprocess.Popen(
            ["openssl", "s_client", "-connect", f"{HOST}:{proxy.port}", "-tls1_2",
             "-servername", "a.test"],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: b"Extended master secret" in output.read_bytes(), 10,
                       "the handshake")
            client.stdin.write(b"R\n")  # s_client's command: renegotiate
            client.stdin.flush()
            client.wait(timeout=10)  # the alert ends the connection; stdin stays open
        finally:
            client.kill()
            client.stdin.close()
    text = output.read_text(errors="replace")
    assert "RENEGOTIATING" in text and "no renegotiation" in text, text[-800:]
    with TlsConnection(proxy.port, pki.ca, "a.test") as connection:
        assert connection.get().status == 200  # and the listener serves on


def test_a_ticket_resumes_in_another_worker_and_after_a_reload(ballast, backends, pki, tmp_path):
    backend = backends.start("app")
    proxy, config = start_tls(
        ballast, backend, {"certificates": [pair(pki.leaf("r", ["r.test"]))]}, workers=2
    )
    session = tmp_path / "session.pem"
    # TLS 1.3 tickets follow the handshake: stdin held open a moment lets s_client read them.
    first = subprocess.run(
        ["bash", "-c", f"sleep 0.5 | openssl s_client -connect {HOST}:{proxy.port} "
                       f"-servername r.test -sess_out {session}"],
        capture_output=True, text=True, timeout=20,
    )
    assert "New, TLSv1.3" in first.stdout, first.stdout
    # SO_REUSEPORT spreads connections over the two workers by their ports: twelve resumptions
    # all on one worker would happen once in 2,048 runs.
    for attempt in range(12):
        output = s_client(proxy.port, "-servername", "r.test", "-sess_in", str(session))
        assert "Reused, TLSv1.3" in output, (attempt, output)
    assert tls_metric(config, "ballast_tls_handshakes_total", resumed="true") >= 12
    proxy.reload(config)
    wait_until(lambda: log_events(proxy, "configuration reloaded"), 10, "the reload")
    output = s_client(proxy.port, "-servername", "r.test", "-sess_in", str(session))
    assert "Reused, TLSv1.3" in output, output
    # TLS 1.2 resumes too (a ticket, or the session cache for a client without tickets).
    session12 = tmp_path / "session12.pem"
    assert "New, TLSv1.2" in s_client(proxy.port, "-tls1_2", "-sess_out", str(session12))
    assert "Reused, TLSv1.2" in s_client(proxy.port, "-tls1_2", "-sess_in", str(session12))
    no_ticket = tmp_path / "no_ticket.pem"
    s_client(proxy.port, "-tls1_2", "-no_ticket", "-sess_out", str(no_ticket))
    assert "Reused, TLSv1.2" in s_client(
        proxy.port, "-tls1_2", "-no_ticket", "-sess_in", str(no_ticket)
    )


def test_a_key_file_lets_two_instances_resume_each_others_sessions(ballast, backends, pki, tmp_path):
    backend = backends.start("app")
    keys = tmp_path / "ticket.keys"
    keys.write_text(subprocess.run(["bash", "-c", "openssl rand 80 | base64 -w0"],
                                   capture_output=True, text=True, check=True).stdout + "\n")
    tls = {"certificates": [pair(pki.leaf("k", ["k.test"]))], "session_ticket_keys": str(keys)}
    one, _ = start_tls(ballast, backend, tls)
    two, _ = start_tls(ballast, backend, tls)
    session = tmp_path / "session.pem"
    subprocess.run(["bash", "-c", f"sleep 0.5 | openssl s_client -connect {HOST}:{one.port} "
                                  f"-servername k.test -sess_out {session}"],
                   capture_output=True, timeout=20)
    output = s_client(two.port, "-servername", "k.test", "-sess_in", str(session))
    assert "Reused, TLSv1.3" in output, output


class HttpsLoop:
    """HTTPS GETs on fresh connections from two threads, verifying the chain, until stopped;
    records each one's served certificate CN or error."""

    def __init__(self, port, ca, server_name):
        self.port, self.ca, self.server_name = port, ca, server_name
        self.results = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self):
        while not self._stop.is_set():
            try:
                with TlsConnection(self.port, self.ca, self.server_name) as connection:
                    response = connection.get()
                    self.results.append((response.status, connection.subject_cn()))
            except (OSError, ssl.SSLError) as error:
                self.results.append((f"{type(error).__name__}: {error}", None))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def failures(self):
        return [result for result in self.results if result[0] != 200]


def test_certificates_replaced_under_load_fail_no_request(ballast, backends, pki):
    backend = backends.start("app")
    cert, key = pki.leaf("live", ["live.test"], common_name="live-v1")
    proxy, config = start_tls(ballast, backend, {"certificates": [pair((cert, key))]}, workers=2)
    with HttpsLoop(proxy.port, pki.ca, "live.test") as loop:
        wait_until(lambda: len(loop.results) > 20, 20, "traffic before the change")
        for version in (2, 3):
            new_cert, new_key = pki.leaf(f"live-v{version}", ["live.test"],
                                         common_name=f"live-v{version}")
            os.replace(new_key, key)
            os.replace(new_cert, cert)
            os.kill(proxy.pid, signal.SIGHUP)
            since = len(loop.results)
            wait_until(lambda: any(cn == f"live-v{version}" for _, cn in loop.results[since:]),
                       20, f"live-v{version} served")
        count = len(loop.results)
        wait_until(lambda: len(loop.results) > count + 20, 20, "traffic after the change")
    assert loop.failures() == [], loop.failures()[:5]
    assert len(loop.results) > 60


def test_a_broken_certificate_file_keeps_the_one_being_served(ballast, backends, pki):
    backend = backends.start("app")
    cert, key = pki.leaf("kept", ["kept.test"])
    proxy, config = start_tls(ballast, backend, {"certificates": [pair((cert, key))]})
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    os.kill(proxy.pid, signal.SIGHUP)
    failed = wait_until(lambda: log_events(proxy, "reload failed: keeping the running configuration"),
                        10, "the refused reload")
    assert str(cert) in failed[-1]["error"] and "listeners[0].tls.certificates[0].cert" in \
        failed[-1]["error"], failed[-1]
    with TlsConnection(proxy.port, pki.ca, "kept.test") as connection:
        assert connection.get().status == 200
    # --check says the same before anything is signalled.
    check = subprocess.run([str(ballast_binary()), "--check", str(proxy.config_path)],
                           capture_output=True, text=True, timeout=20)
    assert check.returncode == 2 and str(cert) in check.stderr, check.stderr


def test_client_certificates_required_optional_and_passed_to_the_server(ballast, backends, pki,
                                                                        tmp_path):
    backend = backends.start("app")
    server = pki.leaf("m", ["m.test"])
    alice = pki.leaf("alice", [], common_name="alice")
    stranger_ca = Pki(tmp_path / "other", name="stranger CA")
    mallory = stranger_ca.leaf("mallory", [], common_name="mallory")
    required, config = start_tls(ballast, backend, {
        "certificates": [pair(server)], "client_certificate": "required",
        "client_ca": str(pki.ca)})
    with TlsConnection(required.port, pki.ca, "m.test", client_cert=alice) as connection:
        seen = connection.get("/echo", [("X-Client-Cert-Subject", "CN=admin")]).json()
    headers = {name.lower(): value for name, value in seen["headers"]}
    assert headers["x-client-cert-subject"] == "O=ballast tests,CN=alice"
    fingerprint = subprocess.run(
        ["openssl", "x509", "-in", str(alice[0]), "-noout", "-fingerprint", "-sha256"],
        capture_output=True, text=True, check=True).stdout.split("=", 1)[1].strip()
    assert headers["x-client-cert-fingerprint"] == fingerprint.replace(":", "").lower()
    assert [v for n, v in seen["headers"] if n.lower() == "x-client-cert-subject"] == \
        ["O=ballast tests,CN=alice"]
    assert headers["x-forwarded-proto"] == "https"
    for refused in (None, mallory):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with TlsConnection(required.port, pki.ca, "m.test", client_cert=refused) as connection:
                connection.get()
    wait_until(lambda: tls_metric(config, "ballast_tls_handshake_errors_total",
                                  kind="client_certificate") == 2, 5, "two refusals counted")

    optional, _ = start_tls(ballast, backend, {
        "certificates": [pair(server)], "client_certificate": "optional",
        "client_ca": str(pki.ca)})
    with TlsConnection(optional.port, pki.ca, "m.test") as connection:
        seen = connection.get("/echo", [("X-Client-Cert-Subject", "CN=admin")]).json()
    assert not [n for n, _ in seen["headers"] if n.lower().startswith("x-client-cert")]


def test_a_plain_listener_redirects_to_https(ballast, backends, pki):
    backend = backends.start("app")
    plain_port = free_port()
    https, config = start_tls(ballast, backend, {"certificates": [pair(pki.leaf("h", ["h.test"]))]})
    config["listeners"].append({"name": "plain", "listen": f"{HOST}:{plain_port}",
                                "routes": [{"cluster": "app"}], "redirect_to_https": True,
                                "https_port": https.port})
    https.reload(config)
    wait_until(lambda: log_events(https, "configuration reloaded"), 10, "the reload")
    response = get(plain_port, "/a/b?c=1", host="h.test")
    assert response.status == 301
    assert response.header("Location") == f"https://h.test:{https.port}/a/b?c=1"
    post = get(plain_port, "/form", method="POST", body=b"x=1", host="h.test:80")
    assert post.status == 308
    assert post.header("Location") == f"https://h.test:{https.port}/form"
    assert backend.stats()["requests_received"] == 0


def test_handshake_failures_are_counted_by_kind_and_plain_http_is_told_why(ballast, backends, pki):
    backend = backends.start("app")
    proxy, config = start_tls(ballast, backend, {
        "certificates": [pair(pki.leaf("e", ["e.test"]))], "handshake_timeout": "300ms"})
    response = get(proxy.port, "/")
    assert response.status == 400 and b"HTTPS" in response.body
    silent = socket.create_connection((HOST, proxy.port), timeout=5)
    assert silent.recv(1) == b""  # closed at the handshake deadline
    silent.close()
    wait_until(lambda: tls_metric(config, "ballast_tls_handshake_errors_total", kind="timeout") == 1
               and tls_metric(config, "ballast_tls_handshake_errors_total", kind="not_tls") == 1,
               5, "both failures counted")


def test_the_access_log_and_metrics_say_what_tls_agreed(ballast, backends, pki):
    backend = backends.start("app")
    proxy, config = start_tls(ballast, backend, {"certificates": [pair(pki.leaf("l", ["l.test"]))]})
    with TlsConnection(proxy.port, pki.ca, "l.test") as connection:
        assert connection.get("/logged").status == 200
        version, cipher = connection.sock.version(), connection.sock.cipher()[0]
    line = wait_until(lambda: log_events(proxy, None, type="access", path="/logged"), 5,
                      "the access line")[-1]
    assert (line["tls_version"], line["tls_cipher"], line["sni"]) == (version, cipher, "l.test")
    assert tls_metric(config, "ballast_tls_handshakes_total", resumed="false") == 1
    left = metric_values(parse_samples(scrape(config)), "ballast_tls_certificate_expiry_seconds",
                         listener="web", names="l.test")
    assert len(left) == 1 and 29 * 86400 < left[0] <= 30 * 86400


def test_a_certificate_near_its_end_is_warned_about(ballast, backends, pki):
    backend = backends.start("app")
    proxy, _ = start_tls(ballast, backend,
                         {"certificates": [pair(pki.leaf("soon", ["soon.test"], days=5))]})
    warning = wait_until(lambda: log_events(proxy, "TLS certificate expires soon"), 5, "a warning")
    assert warning[0]["days_left"] in ("4", "5") and warning[0]["listener"] == "web"


def test_a_client_hello_claiming_16_mib_is_refused_without_being_buffered(ballast, backends, pki):
    backend = backends.start("app")
    proxy, config = start_tls(ballast, backend, {"certificates": [pair(pki.leaf("big", ["b.t"]))]})
    rss_before = proxy.rss_bytes()
    hostile = socket.create_connection((HOST, proxy.port), timeout=5)
    # A handshake record whose ClientHello says it is 16 MiB long, then bytes to fill it.
    record = bytes([1, 0xFF, 0xFF, 0xFF]) + b"\0" * 16380
    hostile.sendall(bytes([0x16, 3, 1, 0x40, 0x00]) + record)
    closed = False
    try:
        for _ in range(64):
            hostile.sendall(bytes([0x16, 3, 1, 0x40, 0x00]) + b"\0" * 16384)
    except OSError:
        closed = True
    if not closed:
        hostile.settimeout(5)
        try:
            while hostile.recv(65536):
                pass
        except ConnectionResetError:
            pass
    hostile.close()
    assert proxy.rss_bytes() < rss_before + 8 * 1024 * 1024
    wait_until(lambda: tls_metric(config, "ballast_tls_handshake_errors_total", kind="other") == 1,
               5, "the refusal counted")
    with TlsConnection(proxy.port, pki.ca, "b.t") as connection:
        assert connection.get().status == 200
