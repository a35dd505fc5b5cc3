"""`ballast status`: a running ballast's servers as a table, from its admin API, with the address
given (`--admin HOST:PORT`) or read from the config (`-c FILE`); and a clear error with exit
code 1 when the admin API cannot be reached.

The table's rows are `CLUSTER  SERVER  STATE …` where STATE may hold spaces
(`down (failing health checks)`), so a row is read as cluster, server, then the rest.
"""

import re
import subprocess
import urllib.parse

from events import address, admin_address, admin_request, wait_healthy, wait_server_state
from harness import free_port, health_check, listen_port, write_config

STATUS_TIMEOUT_S = 15  # the command's own bound is 5 s


def run_status(ballast_bin, *args):
    return subprocess.run(
        [str(ballast_bin), "status", *args],
        capture_output=True,
        text=True,
        timeout=STATUS_TIMEOUT_S,
    )


def table_rows(stdout):
    """{server: (cluster, state text up to the WEIGHT column)} of each server row."""
    lines = stdout.splitlines()
    header = next((line for line in lines if line.startswith("CLUSTER")), None)
    assert header is not None, f"no table header in:\n{stdout}"
    state_at, weight_at = header.index("STATE"), header.index("WEIGHT")
    rows = {}
    for line in lines[lines.index(header) + 1 :]:
        if not re.match(r"^\S+\s+\S+:\d+\s", line):
            continue
        cluster, server = line.split()[:2]
        rows[server] = (cluster, line[state_at:weight_at].strip())
    return rows


def started_with_three_states(backends, ballast):
    """s1 up, s2 drained through the API, s3 stopped and down: (servers, proxy, config)."""
    servers = backends.start_many(3)
    config = ballast.short_config(servers, health_check=health_check())
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, servers)
    s1, s2, s3 = servers
    drain = f"/servers/default/{urllib.parse.quote(address(s2), safe='')}/drain"
    assert admin_request(config, "POST", drain).status == 200
    s3.stop()
    wait_server_state(config, s3, "down", timeout_s=3)
    return servers, proxy, config


EXPECTED_STATES = ("up", "draining", "down (failing health checks)")


def state_words(rows, servers):
    """Each server's state as the table shows it, a reason that only repeats the state word
    (`draining (draining)`) taken as the word alone."""
    states = []
    for server in servers:
        state = rows[address(server)][1]
        word, _, why = state.partition(" (")
        states.append(word if why == f"{word})" else state)
    return states


def test_status_prints_every_server_with_its_state(ballast_bin, backends, ballast):
    servers, _, config = started_with_three_states(backends, ballast)
    result = run_status(ballast_bin, "--admin", admin_address(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("generation 1, "), result.stdout
    rows = table_rows(result.stdout)
    assert sorted(rows) == sorted(address(s) for s in servers), result.stdout
    assert {cluster for cluster, _ in rows.values()} == {"default"}, result.stdout
    assert state_words(rows, servers) == list(EXPECTED_STATES), result.stdout


def test_status_finds_the_admin_api_through_the_config(ballast_bin, backends, ballast):
    servers, proxy, _ = started_with_three_states(backends, ballast)
    result = run_status(ballast_bin, "-c", str(proxy.config_path))
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert state_words(rows, servers) == list(EXPECTED_STATES), result.stdout


def test_status_of_an_unreachable_admin_api_fails_clearly(ballast_bin, tmp_path):
    nobody = f"127.0.0.1:{free_port()}"
    result = run_status(ballast_bin, "--admin", nobody)
    assert result.returncode == 1, result
    assert result.stdout == "", result.stdout
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert nobody in message, message
    # Nothing listens there: the kernel refuses at once, and the message must say so.
    assert "refused" in message.lower(), message

    config = {
        "load_balancer": {
            "listen": f"127.0.0.1:{free_port()}",
            "servers": [{"host": "127.0.0.1", "port": free_port()}],
        },
        "admin": {"listen": nobody},
    }
    path = write_config(tmp_path / "unreachable.yaml", config)
    result = run_status(ballast_bin, "-c", str(path))
    assert result.returncode == 1, result
    assert nobody in result.stderr, result.stderr
