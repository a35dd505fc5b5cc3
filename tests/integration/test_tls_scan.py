"""A TLS listener scanned by testssl.sh (Debian's `testssl`), as an auditor would: protocols,
cipher categories and every vulnerability check it has. Nothing may be rated as a finding (LOW
or worse), and nothing below TLS 1.2 may be offered. About 40 s."""

import json
import subprocess

from harness import HOST
from test_tls import pair, start_tls
from tls_pki import Pki

SCAN_TIMEOUT_S = 600
FINDING_SEVERITIES = {"LOW", "MEDIUM", "HIGH", "CRITICAL"}


def test_testssl_finds_nothing_vulnerable_and_nothing_below_tls12(ballast, backends, tmp_path):
    pki = Pki(tmp_path / "pki")
    backend = backends.start("app")
    # ECDSA and RSA for the same name: the RSA key brings the RSA checks (ROBOT, DROWN) in.
    tls = {"certificates": [pair(pki.leaf("ec", ["scan.test"], kind="ec")),
                            pair(pki.leaf("rsa", ["scan.test"], kind="rsa"))]}
    proxy, _ = start_tls(ballast, backend, tls)
    report = tmp_path / "testssl.json"
    scan = subprocess.run(
        ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--protocols", "--std",
         "--vulnerable", "--jsonfile", str(report), f"{HOST}:{proxy.port}"],
        capture_output=True, timeout=SCAN_TIMEOUT_S)
    assert report.exists(), scan.stdout.decode(errors="replace")[-2000:]
    findings = {entry["id"]: entry for entry in json.loads(report.read_text())}
    rated = [entry for entry in findings.values() if entry["severity"] in FINDING_SEVERITIES]
    assert not rated, rated
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert findings[old]["finding"] == "not offered", findings[old]
    assert findings["TLS1_2"]["finding"] == "offered"
    assert findings["TLS1_3"]["finding"].startswith("offered")
    for check in ("heartbleed", "CCS", "ROBOT", "secure_client_renego", "SWEET32", "LOGJAM"):
        assert findings[check]["severity"] == "OK", findings[check]
