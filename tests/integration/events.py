"""Reading ballast's JSON log lines in integration tests: events by message and fields, waiting for
one, and each server's health state as the `health check changed` lines tell it.

The log is read afresh from the process's output files on every call, so a caller polls it with
harness.wait_until; no state is kept here. A line still being written is not yet valid JSON and is
skipped until the next read. Cost: one read and parse of the whole log per call, fine for the few
thousand lines a test writes.
"""

import json

from harness import HOST, wait_until

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
