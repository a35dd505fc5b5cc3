"""etcd discovery and the fleet (docs/fleet.md): three ballast instances take a cluster's servers
from a real etcd (one member, or three) started by the test on 127.0.0.1 (etcd_cluster.py).
Servers registered reach every instance within a second, a lease that expires takes its server
away everywhere, a member down changes nothing, every member down leaves the instances serving
the last set without a failed request, and they converge when etcd is back. A fleet-wide drain
written once is honoured by all."""

import json
import subprocess
import threading
import time

import pytest

from etcd_cluster import EtcdCluster
from events import admin_status, log_events, metric, parse_samples, scrape, wait_log
from harness import HOST, Process, ballast_binary, get, listen_port, served_by, wait_until

PREFIX = "/services/web/"
FLEET = "/ballast/"


def record(backend, **fields):
    return json.dumps({"host": HOST, "port": backend.port, **fields})


def key(backend):
    return f"{PREFIX}{HOST}:{backend.port}"


def start_fleet(ballast, etcd, count=3, endpoints=None):
    """`count` instances on one etcd-discovered cluster; [(process, config)]."""
    fleet = []
    for _ in range(count):
        config = ballast.short_config([])
        del config["load_balancer"]["servers"]
        config["load_balancer"]["discovery"] = {"etcd_prefix": PREFIX}
        config["etcd"] = {"endpoints": endpoints or etcd.endpoints, "timeout": "1s",
                          "fleet_prefix": FLEET}
        fleet.append((ballast.start(config, listen_port(config)), config))
    return fleet


def server_names(config):
    return {s["name"] for s in admin_status(config)["clusters"][0]["servers"]}


def names(*backends):
    return {f"{HOST}:{b.port}" for b in backends}


def wait_fleet_serves(fleet, expected, timeout_s):
    """Waits until every instance's cluster is exactly the `expected` servers."""
    for _, config in fleet:
        wait_until(lambda: server_names(config) == expected, timeout_s,
                   f"{sorted(expected)} in /status")


def serves(port, expected):
    """Whether 20 requests all come back 200 from exactly the backends named `expected`."""
    try:
        return set(served_by(port, 20)) == expected
    except AssertionError:  # a 503 before the servers are in, or healthy
        return False


def etcd_source(config):
    return next(s for s in admin_status(config)["discovery"] if s["target"] == PREFIX)


class Traffic:
    """Requests to every instance from a thread, counting what did not come back 200."""

    def __init__(self, fleet):
        self.ports = [process.port for process, _ in fleet]
        self.sent = 0
        self.failed = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for port in self.ports:
                try:
                    status = get(port, "/").status
                except OSError as error:
                    status = repr(error)
                self.sent += 1
                if status != 200:
                    self.failed.append(status)
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(5)


def test_registered_servers_reach_every_instance_within_a_second(ballast, backends, tmp_path):
    with EtcdCluster(tmp_path) as etcd:
        fleet = start_fleet(ballast, etcd)
        servers = backends.start_many(5)
        for backend in servers:
            etcd.put(key(backend), record(backend))
        # From the last registration (etcdctl's own start-up, a process per put, is not ours).
        began = time.monotonic()
        wait_fleet_serves(fleet, names(*servers), timeout_s=5.0)
        elapsed = time.monotonic() - began
        assert elapsed < 1.0, f"{elapsed:.3f} s to reach every instance"
        for process, _ in fleet:
            assert set(served_by(process.port, 50)) == {b.name for b in servers}
        print(f"five servers on three instances in {elapsed:.3f} s")

        # A lease that runs out takes its server away from every instance.
        lease = etcd.lease_grant(2)
        late = backends.start("late")
        etcd.put(key(late), record(late), lease=lease)
        wait_fleet_serves(fleet, names(*servers, late), timeout_s=1.0)
        wait_fleet_serves(fleet, names(*servers), timeout_s=5.0)
        for process, config in fleet:
            wait_log(process, "servers changed", 1, removed=f"{HOST}:{late.port}")
            source = etcd_source(config)
            assert source["up"] and source["servers"] == 5 and source["revision"] > 0, source


def test_a_record_that_does_not_parse_is_left_out(ballast, backends, tmp_path):
    with EtcdCluster(tmp_path) as etcd:
        (process, config), = start_fleet(ballast, etcd, count=1)
        good = backends.start("good")
        etcd.put(f"{PREFIX}broken", "{not json")
        etcd.put(f"{PREFIX}no-port", json.dumps({"host": HOST}))
        # A value no server record comes near in size is not even kept (memory stays bounded).
        huge = backends.start("huge")
        etcd.put(key(huge), record(huge, padding="x" * 5000))
        etcd.put(key(good), record(good, weight=2))
        wait_fleet_serves([(process, config)], names(good), timeout_s=2)
        assert {e["key"] for e in log_events(process, "etcd record ignored")} == {"broken",
                                                                                 "no-port"}
        left_out, = log_events(process, "etcd key left out")
        assert left_out["key"] == f"{HOST}:{huge.port}", left_out
        assert left_out["reason"] == "value longer than 4096 bytes", left_out


def test_the_fleet_survives_etcd_members_going_down_and_converges_after(
        ballast, backends, tmp_path):
    with EtcdCluster(tmp_path, size=3) as etcd:
        fleet = start_fleet(ballast, etcd)
        servers = backends.start_many(4)
        for backend in servers[:3]:
            etcd.put(key(backend), record(backend))
        wait_fleet_serves(fleet, names(*servers[:3]), timeout_s=2)

        with Traffic(fleet) as traffic:
            etcd.kill(0)  # the member every instance talks to first
            time.sleep(1.0)
            for _, config in fleet:
                assert server_names(config) == names(*servers[:3])
            # The two left still carry changes to every instance.
            etcd.put(key(servers[3]), record(servers[3]),)
            wait_fleet_serves(fleet, names(*servers), timeout_s=3)

            etcd.kill(1)
            etcd.kill(2)
            for _, config in fleet:
                wait_until(lambda: not etcd_source(config)["up"], 10, "etcd seen down")
            time.sleep(2.0)  # serving through the outage on the last known set
            for process, config in fleet:
                assert server_names(config) == names(*servers)
                samples = parse_samples(scrape(config))
                assert metric(samples, "ballast_discovery_up", cluster="default",
                              source="etcd") == 0
        assert traffic.sent > 100 and traffic.failed == [], traffic.failed

        for i in range(3):
            etcd.restart(i, wait=False)
        for i in range(3):
            etcd.wait_healthy(i)
        etcd.delete(key(servers[0]))
        wait_fleet_serves(fleet, names(*servers[1:]), timeout_s=10)
        for _, config in fleet:
            source = etcd_source(config)
            assert source["up"] and source["resyncs"] >= 1, source


def test_a_compacted_history_is_read_again_in_full(ballast, backends, tmp_path):
    with EtcdCluster(tmp_path, size=3) as etcd:
        servers = backends.start_many(3)
        etcd.put(key(servers[0]), record(servers[0]))
        # One instance that talks to member 0 alone, so its outage can be made to span changes.
        (process, config), = start_fleet(ballast, etcd, count=1, endpoints=[etcd.endpoints[0]])
        wait_fleet_serves([(process, config)], names(servers[0]), timeout_s=2)
        etcd.kill(0)
        others = etcd.endpoints[1:]

        def written():
            try:  # the first write may wait for an election, if member 0 led
                etcd.etcdctl("put", "--", key(servers[1]), record(servers[1]), endpoints=others)
                return True
            except RuntimeError:
                return False

        wait_until(written, 20, "a write to the members left", interval_s=0.2)
        etcd.etcdctl("del", "--", key(servers[0]), endpoints=others)
        etcd.etcdctl("put", "--", key(servers[2]), record(servers[2]), endpoints=others)
        revision = int(json.loads(etcd.etcdctl("get", "--write-out=json", "--", "/",
                                               endpoints=others))["header"]["revision"])
        etcd.etcdctl("compaction", "--physical", revision, endpoints=others)
        etcd.restart(0)
        wait_fleet_serves([(process, config)], names(servers[1], servers[2]), timeout_s=10)
        assert etcd_source(config)["resyncs"] >= 1


def test_a_fleet_wide_drain_issued_once_is_honoured_by_all(ballast, backends, tmp_path):
    with EtcdCluster(tmp_path) as etcd:
        fleet = start_fleet(ballast, etcd)
        a, b = backends.start("a"), backends.start("b")
        for backend in (a, b):
            etcd.put(key(backend), record(backend))
        wait_fleet_serves(fleet, names(a, b), timeout_s=2)

        etcd.put(f"{FLEET}admin/default/{HOST}:{a.port}", "drain")
        for process, config in fleet:
            wait_until(lambda: {s["name"]: s["state"] for s in
                                admin_status(config)["clusters"][0]["servers"]}
                       [f"{HOST}:{a.port}"] == "draining", 2, "a draining")
            assert set(served_by(process.port, 20)) == {"b"}
            wait_log(process, "fleet admin action", 1, action="drain",
                     server=f"{HOST}:{a.port}")

        # A server registered after the drain was issued takes it on as it arrives.
        c = backends.start("c")
        etcd.put(f"{FLEET}admin/default/{HOST}:{c.port}", "disable")
        etcd.put(key(c), record(c))
        wait_fleet_serves(fleet, names(a, b, c), timeout_s=2)
        for process, _ in fleet:
            assert set(served_by(process.port, 20)) == {"b"}

        etcd.delete(f"{FLEET}admin/default/{HOST}:{a.port}")
        for process, _ in fleet:
            wait_until(lambda: set(served_by(process.port, 20)) == {"a", "b"}, 2, "a back")


@pytest.mark.parametrize("bad", ["drian", ""])
def test_a_fleet_action_that_is_not_one_drains_nothing(ballast, backends, tmp_path, bad):
    with EtcdCluster(tmp_path) as etcd:
        (process, config), = start_fleet(ballast, etcd, count=1)
        a = backends.start("a")
        etcd.put(key(a), record(a))
        wait_fleet_serves([(process, config)], names(a), timeout_s=2)
        etcd.put(f"{FLEET}admin/default/{HOST}:{a.port}", bad)
        wait_log(process, "fleet admin key ignored", 2)
        assert set(served_by(process.port, 10)) == {"a"}


def test_ballast_register_keeps_a_server_in_while_it_runs(ballast, backends, tmp_path):
    """The sidecar: SIGTERM takes the server out at once (its lease revoked); a sidecar that
    dies without a word takes it out when the lease runs out."""
    with EtcdCluster(tmp_path) as etcd:
        fleet = start_fleet(ballast, etcd, count=2)
        a, b = backends.start("a"), backends.start("b")

        def sidecar(backend, label):
            return Process([str(ballast_binary()), "register", "--etcd", *etcd.endpoints,
                            "--prefix", PREFIX, "--host", HOST, "--port", str(backend.port),
                            "--ttl", "2s"], tmp_path, label)

        first, second = sidecar(a, "register-a"), sidecar(b, "register-b")
        try:
            wait_fleet_serves(fleet, names(a, b), timeout_s=3)
            assert json.loads(etcd.get(key(a))[key(a)]) == {"host": HOST, "port": a.port,
                                                            "weight": 1}
            assert first.stop() == (0, False)
            wait_fleet_serves(fleet, names(b), timeout_s=1.0)
            assert "revoked" in first.output()

            second.proc.kill()
            began = time.monotonic()
            wait_fleet_serves(fleet, set(), timeout_s=5)
            assert time.monotonic() - began > 0.5, "gone before its lease ran out"
        finally:
            first.stop()
            second.stop()


def test_a_fleet_command_and_ballast_status_over_the_fleet(ballast, backends, tmp_path):
    with EtcdCluster(tmp_path) as etcd:
        fleet = start_fleet(ballast, etcd)
        a, b = backends.start("a"), backends.start("b")
        for backend in (a, b):
            etcd.put(key(backend), record(backend))
        wait_fleet_serves(fleet, names(a, b), timeout_s=2)

        def cli(*args):
            return subprocess.run([str(ballast_binary()), *args], capture_output=True, text=True,
                                  timeout=20)

        done = cli("fleet", "drain", "default", f"{HOST}:{a.port}", "--etcd", *etcd.endpoints)
        assert done.returncode == 0, done.stderr
        for process, _ in fleet:
            wait_until(lambda: set(served_by(process.port, 20)) == {"b"}, 2, "a drained")

        listing = cli("status", "--etcd", etcd.endpoints[0])
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.startswith("3 instances registered under /ballast/")
        for _, config in fleet:
            assert f"admin {config['admin']['listen']}" in listing.stdout
        assert listing.stdout.count("draining") == 3, listing.stdout

        assert cli("fleet", "enable", "default", f"{HOST}:{a.port}",
                   "--etcd", *etcd.endpoints).returncode == 0
        for process, _ in fleet:
            wait_until(lambda: set(served_by(process.port, 20)) == {"a", "b"}, 2, "a back")

        # An instance that stops leaves the list at once.
        fleet[0][0].expected_exit = True
        fleet[0][0].stop()
        listing = cli("status", "--etcd", etcd.endpoints[0])
        assert listing.stdout.startswith("2 instances"), listing.stdout


def test_servers_that_stay_are_checked_and_served_through_churn(ballast, backends, tmp_path):
    """Ten changes a second to the cluster's servers: the health checks of those that stay go on
    at their interval (they are not restarted by each change) and no request fails."""
    with EtcdCluster(tmp_path) as etcd:
        config = ballast.short_config([])
        del config["load_balancer"]["servers"]
        config["load_balancer"]["discovery"] = {"etcd_prefix": PREFIX}
        config["load_balancer"]["health_check"] = {"interval": "300ms", "timeout": "250ms",
                                                   "path": "/"}
        config["etcd"] = {"endpoints": etcd.endpoints}
        process = ballast.start(config, listen_port(config))
        a, b, c = backends.start("a"), backends.start("b"), backends.start("c")
        for backend in (a, b):
            etcd.put(key(backend), record(backend))
        wait_until(lambda: serves(process.port, {"a", "b"}), 5, "a and b healthy")

        def checks_passed(backend):
            for server in admin_status(config)["clusters"][0]["servers"]:
                if server["name"] == f"{HOST}:{backend.port}":
                    return server["checks_passed"]
            raise AssertionError(f"{backend.name} not in /status")

        before = checks_passed(a)
        with Traffic([(process, config)]) as traffic:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                etcd.put(key(c), record(c))
                time.sleep(0.05)
                etcd.delete(key(c))
                time.sleep(0.05)
        assert traffic.sent > 50 and traffic.failed == [], traffic.failed
        assert checks_passed(a) - before >= 6, "checks restarted by the changes"
        updates = etcd_source(config)["updates"]
        assert updates >= 10, updates


def test_a_reload_keeps_the_discovered_servers_and_can_drop_discovery(ballast, backends,
                                                                      tmp_path):
    with EtcdCluster(tmp_path) as etcd:
        (process, config), = start_fleet(ballast, etcd, count=1)
        a, b, c = backends.start("a"), backends.start("b"), backends.start("c")
        for backend in (a, b):
            etcd.put(key(backend), record(backend))
        wait_fleet_serves([(process, config)], names(a, b), timeout_s=2)

        with Traffic([(process, config)]) as traffic:
            config["load_balancer"]["algorithm"] = "least_connections"
            process.reload(config)
            wait_log(process, "configuration reloaded", 3)
            time.sleep(0.5)
        assert traffic.sent > 20 and traffic.failed == [], traffic.failed
        assert server_names(config) == names(a, b)

        del config["load_balancer"]["discovery"]
        config["load_balancer"]["servers"] = [{"host": HOST, "port": c.port}]
        process.reload(config)
        wait_log(process, "configuration reloaded", 3, count=2)
        assert set(served_by(process.port, 10)) == {"c"}
        etcd.put(key(b), record(b, weight=3))  # etcd no longer speaks for this cluster
        time.sleep(0.5)
        assert set(served_by(process.port, 10)) == {"c"}
