#!/usr/bin/env python3
"""bench/discovery/run's helper: writes server records to etcd and times what ballast does with
them. Speaks etcd's HTTP/JSON gateway (v3 API: POST /v3/kv/put, /v3/kv/txn, /v3/kv/deleterange,
keys and values in base64) over one keep-alive connection (http.client); standard library only.

    etcd_bench.py fill ENDPOINT PREFIX COUNT FIRST_PORT [txn|put]
        COUNT records PREFIX s00000.. -> {"host": "127.0.0.1", "port": FIRST_PORT + i,
        "weight": 1}: `txn` 128 puts per transaction (etcd's --max-txn-ops), `put` one call each.
        Prints the seconds taken.
    etcd_bench.py clear ENDPOINT PREFIX                   deletes every key under PREFIX
    etcd_bench.py register ENDPOINT PREFIX NAME PORT...   NAME-PORT -> a record for 127.0.0.1:PORT
    etcd_bench.py listen PORT TIMEOUT_S READY_FILE
        Creates READY_FILE, then tries to connect to 127.0.0.1:PORT every 1 ms until it accepts;
        prints when it did (Unix nanoseconds). Started before the process it waits for.
    etcd_bench.py status ADMIN_PORT [CLUSTER]
        From GET /status: "servers N source_servers N updates N revision R generation G".
    etcd_bench.py pickup ENDPOINT PREFIX COUNT FIRST_PORT txn|put LOG ADMIN_PORT [TIMEOUT_S]
        `fill`s while ballast runs, then waits for ballast's log (LOG, JSON lines, level info) to
        say "servers changed" with COUNT servers; prints the seconds from the first write to that
        line's timestamp, the seconds the writes took, the lag after the last write, the number of
        "servers changed" lines, and /status's count after.
    etcd_bench.py churn ENDPOINT PREFIX NAME SECONDS RATE SEED PORT...
        A paced loop: every 1/RATE s one change, a put of NAME-PORT (PORT chosen at random) when
        that record is absent, a delete when it is present; late ticks are made at once (catch
        up), never skipped; a change etcd refuses or times out is counted as failed (and said on
        stderr), and the loop goes on. At the end the records still present are deleted (not
        counted). Prints JSON: changes, puts, deletes, failed, seconds, rate, worst lateness.
"""

import base64
import calendar
import http.client
import json
import random
import socket
import sys
import time
import urllib.request

HOST = "127.0.0.1"
TXN_OPS = 128  # etcd's default --max-txn-ops


def b64(text):
    return base64.b64encode(text.encode()).decode()


def record(port, weight=1):
    return json.dumps({"host": HOST, "port": port, "weight": weight})


def prefix_end(prefix):
    """The range end that covers every key starting with `prefix` (etcd's prefix convention)."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode()


class Etcd:
    """One keep-alive connection to a member's gateway."""

    def __init__(self, endpoint, timeout_s=10.0):
        host, port = endpoint.rsplit(":", 1)
        self.address = (host, int(port), timeout_s)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)

    def reconnect(self):
        self.connection.close()
        host, port, timeout_s = self.address
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout_s)

    def call(self, path, body):
        self.connection.request("POST", path, json.dumps(body),
                                {"Content-Type": "application/json"})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"etcd {path}: {answer.status} {data[:200]!r}")
        return json.loads(data)

    def put(self, key, value):
        return self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def delete(self, key):
        return self.call("/v3/kv/deleterange", {"key": b64(key)})

    def clear(self, prefix):
        return self.call("/v3/kv/deleterange", {"key": b64(prefix), "range_end": prefix_end(prefix)})

    def put_many(self, items):
        """Puts (key, value) pairs, TXN_OPS per transaction."""
        for start in range(0, len(items), TXN_OPS):
            ops = [{"requestPut": {"key": b64(k), "value": b64(v)}}
                   for k, v in items[start:start + TXN_OPS]]
            self.call("/v3/kv/txn", {"success": ops})


def fill(etcd, prefix, count, first_port, mode):
    items = [(f"{prefix}s{i:05d}", record(first_port + i)) for i in range(count)]
    if mode == "txn":
        etcd.put_many(items)
    elif mode == "put":
        for key, value in items:
            etcd.put(key, value)
    else:
        sys.exit(f"fill mode is txn or put, not {mode}")


def get_status(admin_port, timeout_s=30.0):
    with urllib.request.urlopen(f"http://{HOST}:{admin_port}/status", timeout=timeout_s) as answer:
        return json.load(answer)


def status_line(admin_port, cluster="default"):
    status = get_status(admin_port)
    servers = next((len(c["servers"]) for c in status["clusters"] if c["name"] == cluster), -1)
    source = next((s for s in status.get("discovery", []) if s["cluster"] == cluster), {})
    return (f"servers {servers} source_servers {source.get('servers', -1)} "
            f"updates {source.get('updates', -1)} revision {source.get('revision', -1)} "
            f"generation {status['process'].get('generation', -1)}")


def listen(port, timeout_s, ready_file):
    open(ready_file, "w").close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                print(time.time_ns())
                return
        except OSError:
            time.sleep(0.001)
    sys.exit(f"nothing listens on {HOST}:{port} after {timeout_s} s")


def log_ms(line):
    """A log line's "ts" ("2026-12-06T06:45:53.992Z", UTC) in Unix milliseconds."""
    stamp = line["ts"]
    seconds = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1000 + int(stamp[20:23])


class LogTail:
    """The "servers changed" lines ballast's log (JSON lines) gets after this is made."""

    def __init__(self, path):
        self.file = open(path, "rb")
        self.file.seek(0, 2)
        self.partial = b""
        self.changes = []  # [(unix_ms, servers)]

    def read(self):
        data = self.partial + self.file.read()
        lines = data.split(b"\n")
        self.partial = lines.pop()  # not yet ended
        for raw in lines:
            if b'"servers changed"' in raw:
                line = json.loads(raw)
                self.changes.append((log_ms(line), int(line.get("servers", -1))))
        return self.changes


def pickup(etcd, prefix, count, first_port, mode, log_path, admin_port, timeout_s):
    tail = LogTail(log_path)
    first = time.time()
    fill(etcd, prefix, count, first_port, mode)
    last = time.time()
    deadline = time.monotonic() + timeout_s
    while True:
        done = [ms for ms, servers in tail.read() if servers == count]
        if done:
            break
        if time.monotonic() > deadline:
            sys.exit(f"pickup: ballast did not log {count} servers within {timeout_s} s after the "
                     f"writes; its last changes: {tail.changes[-3:]}")
        time.sleep(0.02)
    applied_s = done[0] / 1000 - first
    print(f"first_to_all_s {applied_s:.3f} writes_s {last - first:.3f} "
          f"lag_after_last_write_s {applied_s - (last - first):.3f} applies {len(tail.changes)} "
          f"{status_line(admin_port)}")


def churn(etcd, prefix, name, seconds, rate, seed, ports):
    rng = random.Random(seed)
    present = set()
    puts = deletes = failed = 0
    worst_late = 0.0
    interval = 1.0 / rate
    start = time.monotonic()
    tick = 0
    while True:
        due = start + tick * interval
        if due >= start + seconds:
            break
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        else:
            worst_late = max(worst_late, now - due)
        tick += 1
        port = rng.choice(ports)
        key = f"{prefix}{name}-{port}"
        try:
            if port in present:
                etcd.delete(key)
                present.discard(port)
                deletes += 1
            else:
                etcd.put(key, record(port))
                present.add(port)
                puts += 1
        except (OSError, RuntimeError, http.client.HTTPException) as error:
            # etcd refused or timed out (an overloaded member answers 503 "request timed out"):
            # counted, and the loop goes on, on a new connection.
            failed += 1
            print(f"churn: {error}", file=sys.stderr)
            etcd.reconnect()
    elapsed = time.monotonic() - start
    for port in sorted(present):
        etcd.delete(f"{prefix}{name}-{port}")
    print(json.dumps({"changes": puts + deletes, "puts": puts, "deletes": deletes,
                      "failed": failed, "seconds": round(elapsed, 3),
                      "rate": round((puts + deletes) / elapsed, 1),
                      "worst_late_ms": round(worst_late * 1000, 1)}))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "fill":
        started = time.monotonic()
        fill(Etcd(args[0]), args[1], int(args[2]), int(args[3]), args[4] if len(args) > 4 else "txn")
        print(f"{time.monotonic() - started:.3f}")
    elif command == "clear":
        Etcd(args[0]).clear(args[1])
    elif command == "register":
        etcd = Etcd(args[0])
        for port in args[3:]:
            etcd.put(f"{args[1]}{args[2]}-{port}", record(int(port)))
    elif command == "listen":
        listen(int(args[0]), float(args[1]), args[2])
    elif command == "status":
        print(status_line(int(args[0]), args[1] if len(args) > 1 else "default"))
    elif command == "pickup":
        pickup(Etcd(args[0]), args[1], int(args[2]), int(args[3]), args[4], args[5], int(args[6]),
               float(args[7]) if len(args) > 7 else 300.0)
    elif command == "churn":
        churn(Etcd(args[0]), args[1], args[2], float(args[3]), float(args[4]), int(args[5]),
              [int(port) for port in args[6:]])
    else:
        sys.exit(f"unknown command {command}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
