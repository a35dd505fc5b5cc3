"""ballast, nginx and HAProxy in front of the fleet, each configured with its own equivalent of one
balancing algorithm, with or without failure detection. One worker (thread) each, upstream
keep-alive, no access log: the same shape as bench/compare.

Retries are the same for all three in both modes: one more try on another server when a
connection cannot be made (nginx's default `proxy_next_upstream error timeout`, capped at two
tries; HAProxy `retries 1` + `option redispatch 1`; ballast `retry: {attempts: 2}`).

"Protected" adds each proxy's failure detection, tuned alike where they have the same thing:
- ballast: HTTP health checks every 1 s (2 failures out, 2 passes in), outlier ejection after 5
  consecutive failures (10 s), and a rate breaker per server that also opens on slow calls
  (half of 5 s of calls slower than 20 ms; normal calls take 2-14 ms).
- nginx (open source): passive only, `max_fails=3 fail_timeout=10s`; it has no active checks
  and no notion of a slow server. Unprotected: `max_fails=0` (its default is max_fails=1).
- HAProxy: `check inter 1s fall 2 rise 2` on GET /health plus `observe layer7 error-limit 5
  on-error mark-down`; it too has no slow-call detection.
"""

import os
import subprocess

from fleet import SERVERS, wait_for_port

PORTS = {"ballast": 19320, "nginx": 19321, "haproxy": 19322}
BALLAST_METRICS_PORT = 19323
BALLAST_ADMIN_PORT = 19324

# The table's rows: a short key (for --algorithms), a title, and each proxy's algorithm plus
# whether servers carry their weights (None: the proxy has no equivalent). Weights are
# capacity-proportional (fleet.py).
ALGORITHMS = [
    ("rr", "round robin",
     {"ballast": ("round_robin", False), "nginx": ("", False), "haproxy": ("roundrobin", False)}),
    ("wrr", "weighted round robin",
     {"ballast": ("smooth_weighted_round_robin", True), "nginx": ("", True),
      "haproxy": ("roundrobin", True)}),
    ("lc", "least connections",
     {"ballast": ("least_connections", False), "nginx": ("least_conn", False),
      "haproxy": ("leastconn", False)}),
    ("wlc", "weighted least connections",
     {"ballast": ("weighted_least_connections", True), "nginx": ("least_conn", True),
      "haproxy": ("leastconn", True)}),
    ("p2c", "power of two choices",
     {"ballast": ("p2c", False), "nginx": ("random two least_conn", False),
      "haproxy": ("random(2)", False)}),
    ("adaptive", "adaptive (latency-aware)",
     {"ballast": ("adaptive", False), "nginx": None, "haproxy": None}),
]


def ballast_config(algorithm, weighted, protected):
    servers = "\n".join(
        f"    - {{ host: 127.0.0.1, port: {s.port}"
        + (f", weight: {s.profile.weight}" if weighted else "") + " }"
        for s in SERVERS)
    protection = """
  health_check: { path: /health, interval: 1s, timeout: 500ms, healthy_threshold: 2,
                  unhealthy_threshold: 2, start_healthy: true }
  outlier_detection: { consecutive_failures: 5, base_ejection_time: 10s,
                       max_ejection_percent: 30 }
  circuit_breaker: { mode: rate, window_size: 5s, min_requests: 20, failure_threshold: 50,
                     slow_call_rate_threshold: 50, slow_call_duration: 20ms, timeout: 5s }"""
    return f"""workers: 1
load_balancer:
  listen: "127.0.0.1:{PORTS['ballast']}"
  algorithm: {algorithm}
  retry: {{ attempts: 2, on: [connect_failure] }}
  pool: {{ idle_per_server: 64 }}
  servers:
{servers}{protection if protected else ""}
monitoring:
  metrics: {{ port: {BALLAST_METRICS_PORT} }}
  logging: {{ level: warn, access_log: false }}
admin: {{ listen: "127.0.0.1:{BALLAST_ADMIN_PORT}" }}
"""


def nginx_config(work, algorithm, weighted, protected):
    fails = "max_fails=3 fail_timeout=10s" if protected else "max_fails=0"
    servers = "\n".join(
        f"    server 127.0.0.1:{s.port}" + (f" weight={s.profile.weight}" if weighted else "")
        + f" {fails};" for s in SERVERS)
    method = f"    {algorithm};\n" if algorithm else ""
    return f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  upstream fleet {{
{method}{servers}
    keepalive 128;
  }}
  server {{ listen 127.0.0.1:{PORTS['nginx']};
    location / {{ proxy_pass http://fleet; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_next_upstream_tries 2; }} }} }}
"""


def haproxy_config(algorithm, weighted, protected):
    check = " check inter 1s fall 2 rise 2 observe layer7 error-limit 5 on-error mark-down"
    servers = "\n".join(
        f"  server {s.name} 127.0.0.1:{s.port}"
        + (f" weight {s.profile.weight}" if weighted else "") + (check if protected else "")
        for s in SERVERS)
    return f"""global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  retries 1
  option redispatch 1
frontend proxy
  bind 127.0.0.1:{PORTS['haproxy']}
  default_backend fleet
backend fleet
  balance {algorithm}
  http-reuse always
{"  option httpchk GET /health" if protected else ""}
{servers}
"""


class Proxy:
    """One proxy process under test, started on its configuration and stopped after the run."""

    def __init__(self, name, binaries, work, algorithm, weighted, protected):
        self.name = name
        self.port = PORTS[name]
        if name == "ballast":
            path = os.path.join(work, "ballast.yaml")
            text = ballast_config(algorithm, weighted, protected)
            argv = [binaries["ballast"], "--config", path]
        elif name == "nginx":
            path = os.path.join(work, "nginx.conf")
            text = nginx_config(work, algorithm, weighted, protected)
            argv = ["nginx", "-c", path]
        else:
            path = os.path.join(work, "haproxy.cfg")
            text = haproxy_config(algorithm, weighted, protected)
            argv = ["haproxy", "-f", path]
        with open(path, "w") as f:
            f.write(text)
        log = open(os.path.join(work, f"{name}.log"), "ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=log)
        wait_for_port(self.port)

    def cpu_seconds(self):
        """utime + stime of the proxy and its children (nginx's worker), from /proc."""
        total = 0
        pids = [self.process.pid]
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
