"""The command line: --version, --help, --check, -c, and `ballast demo --listen`."""

import re
import subprocess

import pytest

from harness import HOST, Process, accepts_connections, free_port, get, listen_port, wait_until

CHECK_TIMEOUT_S = 10

# Line numbers matter: the bad cases below name the line they break.
GOOD_CONFIG = """\
workers: 1
load_balancer:
  listen: "127.0.0.1:18080"
  mode: http
  algorithm: round_robin
  servers:
    - {host: 127.0.0.1, port: 9001, weight: 1, max_connections: 100, backup: false}
    - {host: 127.0.0.1, port: 9002, weight: 2}
  retry: {attempts: 2, on: [connect_failure, timeout, 5xx], per_try_timeout: 1s}
  timeouts: {connect: 1s, client: 10s, server: 2s}
drain_timeout: 5s
"""


def run(ballast_bin, *args):
    return subprocess.run(
        [str(ballast_bin), *args], capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
    )


def located_errors(path, stderr):
    """(line, column, key, problem) of every `FILE:LINE:COL: key: problem` line about path."""
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): (\S+): (.+)$", re.MULTILINE)
    return [(int(m[1]), int(m[2]), m[3], m[4]) for m in pattern.finditer(stderr)]


def test_version_prints_name_and_semver(ballast_bin):
    result = run(ballast_bin, "--version")
    assert result.returncode == 0
    assert re.match(r"^ballast \d+\.\d+\.\d+", result.stdout), result.stdout


def test_help_names_the_entry_points(ballast_bin):
    result = run(ballast_bin, "--help")
    assert result.returncode == 0
    for word in ("--config", "--check", "--version", "demo"):
        assert word in result.stdout, f"{word} missing from --help:\n{result.stdout}"


def test_check_accepts_a_good_config(ballast_bin, tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD_CONFIG)
    result = run(ballast_bin, "--check", str(path))
    assert result.returncode == 0, result.stderr
    assert located_errors(path, result.stderr) == []


BAD_CASES = {
    # name: (replace this, with that, line, key)
    "unknown_algorithm": ("round_robin", "round_robbin", 5, "load_balancer.algorithm"),
    "unknown_mode": ("mode: http", "mode: udp", 4, "load_balancer.mode"),
    "listen_without_port": ('"127.0.0.1:18080"', '"127.0.0.1"', 3, "load_balancer.listen"),
    "port_out_of_range": ("port: 9001", "port: 70000", 7, "load_balancer.servers[0].port"),
    "zero_weight": ("weight: 2", "weight: 0", 8, "load_balancer.servers[1].weight"),
    "duration_without_unit": ("server: 2s", "server: 2", 10, "load_balancer.timeouts.server"),
    "unknown_retry_condition": ("5xx]", "4xx]", 9, "load_balancer.retry.on"),
    "misspelt_key": ("  algorithm:", "  algoritm:", 5, "load_balancer.algoritm"),
    "negative_workers": ("workers: 1", "workers: -1", 1, "workers"),
}


@pytest.mark.parametrize("case", BAD_CASES, ids=list(BAD_CASES))
def test_check_rejects_a_bad_value_with_its_location(ballast_bin, tmp_path, case):
    old, new, line, key = BAD_CASES[case]
    assert GOOD_CONFIG.count(old) == 1
    path = tmp_path / f"{case}.yaml"
    path.write_text(GOOD_CONFIG.replace(old, new))
    result = run(ballast_bin, "--check", str(path))
    assert result.returncode == 2, result.stderr
    errors = located_errors(path, result.stderr)
    assert errors, f"no FILE:LINE:COL: key: problem line in:\n{result.stderr}"
    assert any(e[0] == line and e[2].startswith(key) and e[1] >= 1 for e in errors), errors


def test_check_rejects_a_yaml_syntax_error(ballast_bin, tmp_path):
    path = tmp_path / "syntax.yaml"
    path.write_text("load_balancer:\n  servers: [\n  listen: x\n")
    result = run(ballast_bin, "--check", str(path))
    assert result.returncode == 2, result.stderr
    assert located_errors(path, result.stderr), result.stderr


def test_check_rejects_a_missing_file(ballast_bin, tmp_path):
    path = tmp_path / "absent.yaml"
    result = run(ballast_bin, "--check", str(path))
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr


def test_short_flag_c_runs_the_proxy(backends, ballast):
    server = backends.start("s1")
    config = ballast.short_config([server])
    proxy = ballast.start(config, listen_port(config), flag="-c")
    response = get(proxy.port, "/")
    assert (response.status, response.backend) == (200, "s1")


def test_demo_serves_from_several_named_backends(ballast_bin, tmp_path):
    port = free_port()
    argv = [str(ballast_bin), "demo", "--listen", f"{HOST}:{port}"]
    argv += ["--admin", f"{HOST}:{free_port()}", "--metrics-port", str(free_port())]
    demo = Process(argv, tmp_path, "demo")
    try:
        wait_until(lambda: not demo.alive() or accepts_connections(port), 10, "the demo")
        assert demo.alive(), demo.logs()
        names = [get(port, "/").backend for _ in range(6)]
        assert len(set(names) - {None}) >= 2, f"responses named {names}"
    finally:
        code, killed = demo.stop()
    assert not killed and code == 0, demo.logs()
