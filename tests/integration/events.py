"""Reading ballast's JSON log lines in integration tests: events by message and fields, waiting for
one, and each server's health state as the `health check changed` lines tell it.

The log is read afresh from the process's output files on every call, so a caller polls it with
harness.wait_until; no state is kept here. A line still being written is not yet valid JSON and is
skipped until the next read. Cost: one read and parse of the whole log per call, fine for the few
thousand lines a test writes.

Below those, helpers for the metrics page and the admin API of a ballast started on a dict
config: where they listen, a scrape parsed into samples, /status and a server's object in it.
"""

import json
import re

from harness import HOST, get, wait_until

HEALTH_CHANGED = "health check changed"


def address(server):
    """A server (a Backend, or a bare port) as ballast's logs name it: `127.0.0.1:PORT`."""
    port = server if isinstance(server, int) else server.port
    return f"{HOST}:{port}"


def log_events(process, msg=None, **fields):
    """The JSON log lines `process` has written so far, parsed, in order: every one, or those
    whose "msg" is `msg` and whose fields equal `fields` (`from`, a keyword, goes in as
    **{"from": …})."""
    found = []
    for line in process.output().splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:  # a line being written, or not JSON
            continue
        if not isinstance(event, dict) or (msg is not None and event.get("msg") != msg):
            continue
        if all(event.get(name) == value for name, value in fields.items()):
            found.append(event)
    return found


def wait_log(process, msg, timeout_s, count=1, **fields):
    """Waits until at least `count` log lines like log_events(process, msg, **fields) have
    appeared; all of them."""
    what = f"{count} log line(s) {msg!r} with {fields}"
    return wait_until(
        lambda: (found := log_events(process, msg, **fields)) and len(found) >= count and found,
        timeout_s,
        what,
        interval_s=0.02,
    )


def health_states(process):
    """{address: state} from the last `health check changed` line of each server logged."""
    return {event.get("server"): event.get("to") for event in log_events(process, HEALTH_CHANGED)}


def health(process, server):
    """The state the last `health check changed` line gave `server` (Backend or port), or None
    if none has yet."""
    return health_states(process).get(address(server))


def healthy_servers(process):
    """The addresses whose last `health check changed` line says healthy."""
    return {server for server, state in health_states(process).items() if state == "healthy"}


def wait_health(process, servers, state, timeout_s=5):
    """Waits until the last `health check changed` line of every one of `servers` (Backends or
    ports) says `state`."""
    names = ", ".join(getattr(s, "name", None) or f"port {s}" for s in servers)
    wait_until(
        lambda: all(health(process, s) == state for s in servers),
        timeout_s,
        f"{names} {state} in the log",
    )


def wait_healthy(process, servers, timeout_s=3):
    """Waits, server by server, for a `health check changed` line taking each of `servers` to
    healthy (at any time: a later change does not undo it), each within timeout_s."""
    for server in servers:
        wait_log(process, HEALTH_CHANGED, timeout_s, server=address(server), to="healthy")


# ---------------------------------------------------------------------------------------------
# The metrics endpoint and the admin API of a ballast started on a dict config. BallastFactory
# fills in free ports for both (monitoring.metrics.port, admin.listen) when the config lacks
# them, into the dict itself, so after start() the dict says where they are.

SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
UNESCAPE = re.compile(r"\\(.)")


def metrics_port(config):
    """The port `monitoring.metrics.port` of a started dict config."""
    return int(config["monitoring"]["metrics"]["port"])


def metrics_path(config):
    return config["monitoring"]["metrics"].get("path", "/metrics")


def admin_port(config):
    """The port of `admin.listen` of a started dict config."""
    return int(config["admin"]["listen"].rsplit(":", 1)[1])


def admin_address(config):
    """`admin.listen` as `127.0.0.1:PORT`, the form `ballast status --admin` takes."""
    return f"{HOST}:{admin_port(config)}"


def scrape(config):
    """The text of one GET of the metrics page (fails on any status but 200)."""
    response = get(metrics_port(config), metrics_path(config))
    assert response.status == 200, response
    return response.body.decode()


def parse_samples(text):
    """[(name, {label: value}, float value)] of every sample line of a Prometheus text page.
    Label values are unescaped (\\\\, \\" and \\n); a line that is neither a comment nor a
    sample fails."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, label_text, value = match.groups()
        labels = {}
        if label_text:
            pairs = LABEL_PAIR.findall(label_text)
            assert pairs, f"bad labels in {line!r}"
            for label, raw in pairs:
                labels[label] = UNESCAPE.sub(lambda m: "\n" if m[1] == "n" else m[1], raw)
        samples.append((name, labels, float(value)))
    return samples


def metric_values(samples, name, **labels):
    """The values of the samples of `name` whose labels include `labels`."""
    return [
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    ]


def metric_sum(samples, name, **labels):
    return sum(metric_values(samples, name, **labels))


def metric(samples, name, **labels):
    """The one value of `name` with `labels`; fails unless exactly one sample matches."""
    values = metric_values(samples, name, **labels)
    assert len(values) == 1, f"{len(values)} samples of {name}{labels}: {values}"
    return values[0]


def admin_request(config, method, path, token=None, headers=()):
    """One request to the admin API; `token` goes in as `Authorization: Bearer`."""
    headers = list(headers)
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    return get(admin_port(config), path, headers, method=method)


def admin_status(config):
    """GET /status, parsed."""
    response = admin_request(config, "GET", "/status")
    assert response.status == 200, response
    return response.json()


def server_status(config, server, cluster="default"):
    """The /status object of `server` (a Backend or a port) in `cluster`."""
    for cluster_status in admin_status(config)["clusters"]:
        if cluster_status["name"] == cluster:
            for entry in cluster_status["servers"]:
                if entry["name"] == address(server):
                    return entry
    raise AssertionError(f"no server {address(server)} in cluster {cluster} in /status")


def wait_server_state(config, server, state, timeout_s=5, cluster="default"):
    """Waits until /status gives `server` the `state` (up, down, draining, …); its object."""
    return wait_until(
        lambda: (entry := server_status(config, server, cluster))["state"] == state and entry,
        timeout_s,
        f"{address(server)} {state} in /status",
        interval_s=0.05,
    )
