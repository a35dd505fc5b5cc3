"""The Debian package, installed on this machine: what it installs, and its service run as its unit
says.

`make test-package` builds the package (`make deb`) and runs this with BALLAST_DEB set to it.
Needs root: it installs the package with apt-get, runs ballast as the package's user, and purges
the package at the end (and removes the `ballast` user if the test's install created it), so the
machine is left as it was found. It refuses to run where ballast is already installed.

There is no systemd here (PID 1 is not systemd), so the service is run the way systemd would run
it, from the installed unit file itself: ExecStartPre, ExecStart and ExecReload (with $MAINPID)
as User=/Group=, with the unit's AmbientCapabilities, CapabilityBoundingSet, NoNewPrivileges,
LimitNOFILE and UMask (setpriv), NOTIFY_SOCKET pointing at a datagram socket the test reads, and
WATCHDOG_USEC/WATCHDOG_PID set. The configuration file the unit names is swapped for the test's:
127.0.0.1 only, on a free port below 1024, in front of the test's own backends. The sandboxing
settings (ProtectSystem=, SystemCallFilter= ...) need systemd; `systemd-analyze verify` checks
them.
"""

import array
import contextlib
import grp
import http.client
import http.server
import os
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

DEB = os.environ.get("BALLAST_DEB", "")
UNIT = Path("/lib/systemd/system/ballast.service")
CONFIG = "/etc/ballast/ballast.yaml"
BINARY = "/usr/sbin/ballast"
MAN_PAGE = Path("/usr/share/man/man1/ballast.1.gz")
DOCS = Path("/usr/share/doc/ballast")
HOST = "127.0.0.1"
WATCHDOG_USEC = 2_000_000

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="installs the package with apt-get and runs ballast as its user: needs root",
    ),
    pytest.mark.skipif(not DEB, reason="BALLAST_DEB is not set (make test-package sets it)"),
]


def run(args, check=True, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(
            f"{shlex.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def wait_until(condition, timeout_s, what, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def installed_version():
    result = run(["dpkg-query", "-W", "-f=${Status} ${Version}", "ballast"], check=False)
    if result.returncode != 0 or not result.stdout.startswith("install ok installed"):
        return None
    return result.stdout.split()[-1]


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# ---------------------------------------------------------------------------------------------
# The installed package: one install for the module, purged at its end.


@pytest.fixture(scope="module")
def package():
    deb = Path(DEB).resolve()
    if not deb.is_file():
        pytest.fail(f"no package at {deb}: run `make deb`")
    if installed_version() is not None:
        pytest.skip("ballast is already installed here; the test would remove it")
    user_before = user_exists("ballast")
    processes = []
    try:
        # apt-get takes a local package by a path with a slash in it (here, absolute).
        run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", str(deb)],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        yield {"deb": deb, "processes": processes}
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        run(
            ["apt-get", "purge", "-y", "-q", "ballast"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if not user_before and user_exists("ballast"):
            run(["deluser", "--system", "ballast"], check=False)
        shutil.rmtree("/run/ballast", ignore_errors=True)


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", str(deb), field]).stdout.strip()


def test_installs_and_reports_the_package_version(package):
    version = deb_field(package["deb"], "Version")
    assert installed_version() == version
    upstream = version.rsplit("-", 1)[0]  # 0.1.0-1 -> 0.1.0, CMake's project VERSION
    assert run([BINARY, "--version"]).stdout.strip() == f"ballast {upstream}"
    assert deb_field(package["deb"], "Package") == "ballast"
    depends = deb_field(package["deb"], "Depends")
    assert "adduser" in depends and "libc6" in depends


def test_installs_its_files(package):
    assert os.access(BINARY, os.X_OK)
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "ballast"]).stdout
    assert CONFIG in conffiles, f"{CONFIG} is not a conffile: {conffiles!r}"
    for doc in ("README.md", "config.md", "observability.md", "operations.md", "copyright"):
        assert (DOCS / doc).is_file(), f"{DOCS / doc} missing"
    assert UNIT.is_file()
    # The default configuration points its reader to the documentation that is installed.
    assert "/usr/share/doc/ballast/config.md" in Path(CONFIG).read_text()


def test_default_configuration_passes_check(package):
    result = run([BINARY, "--check", CONFIG])
    assert "configuration is valid" in result.stdout
    # And a broken one does not, with exit status 2 (what ExecReload relies on).
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as broken:
        broken.write("load_balancer:\n  servers: [\n")
        broken.flush()
        assert run([BINARY, "--check", broken.name], check=False).returncode == 2


def test_man_page_renders_without_warnings(package):
    assert MAN_PAGE.is_file()
    result = run(
        ["man", "--warnings", "-E", "UTF-8", "-l", str(MAN_PAGE)],
        env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"},
    )
    assert result.stderr == "", f"man warned:\n{result.stderr}"
    text = re.sub(r".\x08", "", result.stdout)  # overstrikes (bold, underline), as col -b does
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "SIGNALS", "FILES", "EXIT STATUS",
                    "SEE ALSO"):
        assert re.search(rf"^{heading}$", text, re.M), f"no {heading} section"
    for word in ("--config", "--check", "--version", "demo", "policies", "status", "register",
                 "fleet", "SIGHUP", "SIGTERM", "SIGUSR2", "/etc/ballast/ballast.yaml"):
        assert word in text, f"the man page does not mention {word}"


def test_system_user_has_no_login(package):
    user = pwd.getpwnam("ballast")
    assert user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin")
    assert user.pw_dir == "/nonexistent" and not Path("/nonexistent").exists()
    assert grp.getgrgid(user.pw_gid).gr_name == "ballast"
    assert user.pw_uid < 1000, "not a system user"


def test_unit_passes_systemd_analyze_verify(package):
    # The unit file alone (no booted systemd needed): its syntax, every setting known, the
    # executables of its Exec*= lines present, and its Documentation=man:ballast(1) installed.
    result = run(["systemd-analyze", "verify", str(UNIT)], check=False)
    assert result.returncode == 0 and result.stderr.strip() == "", (
        f"systemd-analyze verify exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    # systemd's own score of its sandboxing, read from the file (--offline: no running manager).
    security = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(UNIT)],
                   check=False)
    score = re.search(r"Overall exposure level for ballast\.service: ([0-9.]+)", security.stdout)
    assert score, security.stdout + security.stderr
    assert float(score.group(1)) <= 2.5, security.stdout
    # And the settings the service depends on, as written.
    service = parse_unit(UNIT)
    for key, value in {
        "Type": "notify",
        "NotifyAccess": "all",
        "WatchdogSec": "30s",
        "Restart": "on-failure",
        "User": "ballast",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallErrorNumber": "EPERM",
    }.items():
        assert service[key] == [value], f"{key}={service.get(key)}"
    assert "io_uring_setup" in service["SystemCallFilter"][0]


# ---------------------------------------------------------------------------------------------
# The unit, read as systemd reads it (the subset this test uses).


def parse_unit(path):
    """The [Service] section: each key's values in order (ExecReload= may be given twice)."""
    service = {}
    section = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            service.setdefault(key.strip(), []).append(value.strip())
    return service


def command_line(value, config_path, main_pid=None):
    """An Exec*= value as argv: its prefixes (-, @, +, !) dropped, $MAINPID substituted, the
    configuration file swapped for the test's."""
    value = value.lstrip("-@:+!")
    if main_pid is not None:
        value = value.replace("$MAINPID", str(main_pid)).replace("${MAINPID}", str(main_pid))
    return [config_path if arg == CONFIG else arg for arg in shlex.split(value)]


def capability_names(value):
    return [cap.lower().removeprefix("cap_") for cap in value.split()]


class UnitRunner:
    """Runs the unit's commands as systemd would: as User=/Group= with exactly its capabilities,
    its limits and umask, the environment systemd gives a Type=notify service with a watchdog."""

    def __init__(self, service, notify_socket):
        self.service = service
        self.notify_socket = notify_socket
        self.user = service["User"][-1]
        self.group = service["Group"][-1]

    def setpriv(self):
        ambient = [c for v in self.service.get("AmbientCapabilities", []) for c in
                   capability_names(v)]
        bounding = [c for v in self.service.get("CapabilityBoundingSet", []) for c in
                    capability_names(v)]
        args = ["setpriv", f"--reuid={self.user}", f"--regid={self.group}", "--init-groups"]
        if ambient:
            caps = ",".join(f"+{c}" for c in ambient)
            args += [f"--inh-caps={caps}", f"--ambient-caps={caps}"]
        args.append("--bounding-set=-all" + "".join(f",+{c}" for c in bounding))
        if self.service.get("NoNewPrivileges", ["no"])[-1] == "yes":
            args.append("--no-new-privs")
        return args + ["--"]

    def preexec(self):
        limits = self.service.get("LimitNOFILE")
        umask = self.service.get("UMask", ["0022"])[-1]

        def apply():
            if limits:
                soft, _, hard = limits[-1].partition(":")
                try:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (int(soft), int(hard or soft)))
                except (ValueError, OSError):
                    # Raising the hard limit needs CAP_SYS_RESOURCE, which a container may not
                    # grant even to root: then as high as this machine allows.
                    _, allowed = resource.getrlimit(resource.RLIMIT_NOFILE)
                    resource.setrlimit(resource.RLIMIT_NOFILE, (allowed, allowed))
            os.umask(int(umask, 8))
            os.chdir("/")

        return apply

    def environment(self):
        environment = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "NOTIFY_SOCKET": self.notify_socket,
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
        }
        if "RuntimeDirectory" in self.service:
            environment["RUNTIME_DIRECTORY"] = "/run/" + self.service["RuntimeDirectory"][-1]
        if "LogsDirectory" in self.service:
            environment["LOGS_DIRECTORY"] = "/var/log/" + self.service["LogsDirectory"][-1]
        return environment

    def make_directories(self):
        user = pwd.getpwnam(self.user)
        group = grp.getgrnam(self.group)
        for key, parent in (("RuntimeDirectory", "/run"), ("LogsDirectory", "/var/log")):
            for name in self.service.get(key, []):
                path = Path(parent) / name
                path.mkdir(mode=0o755, exist_ok=True)
                os.chown(path, user.pw_uid, group.gr_gid)

    def start(self, argv, log):
        # systemd sets WATCHDOG_PID to the main process's pid: the shell's pid is the one that
        # setpriv and then ballast keep through exec.
        wrapper = ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"]
        return subprocess.Popen(
            wrapper + self.setpriv() + argv,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec(),
        )

    def run(self, argv):
        """A control command (ExecStartPre=, ExecReload=): as the service's user."""
        return subprocess.run(
            self.setpriv() + argv,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=self.preexec(),
        )


# ---------------------------------------------------------------------------------------------
# What systemd would receive, and the test's backends.


class NotifyListener:
    """The NOTIFY_SOCKET: an AF_UNIX datagram socket; each message with the sender's pid."""

    def __init__(self, directory):
        self.path = str(Path(directory) / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)  # the service's user sends to it
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, sender pid, {field: value})
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        creds_size = socket.CMSG_SPACE(array.array("i", [0, 0, 0]).itemsize * 3)
        while not self.stopped:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, creds_size)
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = array.array("i", payload[:12])[0]
            fields = dict(
                line.split("=", 1) for line in data.decode().splitlines() if "=" in line
            )
            with self.lock:
                self.messages.append((time.monotonic(), pid, fields))

    def mark(self):
        with self.lock:
            return len(self.messages)

    def since(self, mark=0):
        with self.lock:
            return [fields for _, _, fields in self.messages[mark:]]

    def wait_for(self, field, value, mark=0, timeout_s=15.0):
        def found():
            for fields in self.since(mark):
                if fields.get(field) == value:
                    return fields
            return None

        return wait_until(found, timeout_s, f"{field}={value} on NOTIFY_SOCKET (got "
                          f"{self.since(mark)})")

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


class Backend:
    """A tiny HTTP backend on 127.0.0.1: answers every GET with its name."""

    def __init__(self, name):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                body = f"{name}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Backend", name)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.name = name
        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port_below_1024():
    """A port below 1024 free on 127.0.0.1, found by binding it (as root)."""
    for port in range(1010, 0, -1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024 on 127.0.0.1")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def get(port, path="/"):
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def try_get(port, path="/"):
    try:
        return get(port, path)
    except OSError:
        return None


def service_config(port, admin_port, backends, label):
    servers = "\n".join(f"      - {{host: {HOST}, port: {b.port}}}" for b in backends)
    return f"""\
# Written by tests/package: the service's unit run with this file in place of {CONFIG}.
workers: 1
drain_timeout: 5s
listeners:
  - name: web
    listen: "{HOST}:{port}"
    routes:
      - cluster: app
        response_headers:
          set: {{X-Config: {label}}}
clusters:
  app:
    servers:
{servers}
admin:
  listen: "{HOST}:{admin_port}"
monitoring:
  metrics:
    enabled: false
  logging:
    level: info
    format: json
    output: stdout
"""


def write_readable(path, text):
    """Replaced whole (a rename), readable by the service's user."""
    temporary = Path(str(path) + ".new")
    temporary.write_text(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


@pytest.fixture
def workspace():
    # Under /tmp (world-traversable), not pytest's tmp_path (0700, root's): the service's user
    # reads the configuration here and sends to the notify socket here.
    directory = tempfile.mkdtemp(prefix="ballast-package-")
    os.chmod(directory, 0o755)
    try:
        yield Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def backend_pair():
    pair = [Backend("b1"), Backend("b2")]
    yield pair
    for backend in pair:
        backend.close()


def test_privileged_port_needs_the_units_capability(package):
    """The control: without the unit's capability, the service's user cannot bind below 1024
    (so the lifecycle test's listener proves the capability works)."""
    port = free_port_below_1024()
    unprivileged_start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if port >= unprivileged_start:
        pytest.skip(f"ip_unprivileged_port_start is {unprivileged_start}: any user may bind {port}")
    bind = f"import socket; socket.socket().bind(('{HOST}', {port}))"
    result = run(
        ["setpriv", "--reuid=ballast", "--regid=ballast", "--init-groups", "--inh-caps=-all",
         "--bounding-set=-all", "--no-new-privs", "--", "/usr/bin/python3", "-c", bind],
        check=False,
    )
    assert result.returncode != 0 and "PermissionError" in result.stderr, result.stderr


def test_service_starts_answers_reloads_and_stops(package, workspace, backend_pair):
    service = parse_unit(UNIT)
    assert service["Type"] == ["notify"]
    notify = NotifyListener(workspace)
    runner = UnitRunner(service, notify.path)
    runner.make_directories()
    b1, b2 = backend_pair
    port = free_port_below_1024()
    admin_port = free_port()
    config = workspace / "ballast.yaml"
    write_readable(config, service_config(port, admin_port, [b1], "v1"))
    log_path = workspace / "ballast.log"
    process = None

    def log_text():
        return log_path.read_text(errors="replace") if log_path.exists() else ""

    try:
        # ExecStartPre=: the configuration is checked first, as the service's user.
        for value in service.get("ExecStartPre", []):
            result = runner.run(command_line(value, str(config)))
            assert result.returncode == 0, f"ExecStartPre {value}: {result.stdout}{result.stderr}"

        # ExecStart=, the unit's own line.
        (start_line,) = service["ExecStart"]
        argv = command_line(start_line, str(config))
        assert str(config) in argv, f"ExecStart does not name {CONFIG}: {start_line}"
        with open(log_path, "wb") as log:
            process = runner.start(argv, log)
        package["processes"].append(process)

        # Ready: READY=1 with MAINPID= this process (it runs as ballast, pid kept through exec).
        ready = notify.wait_for("READY", "1")
        assert process.poll() is None, log_text()
        assert ready.get("MAINPID") == str(process.pid), ready
        assert "STATUS" in ready, ready
        status = Path(f"/proc/{process.pid}/status").read_text()
        uid = pwd.getpwnam("ballast").pw_uid
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)

        # It answers, on a port below 1024, as an unprivileged user, through the backend.
        answer = wait_until(lambda: try_get(port), 10, f"an answer on {HOST}:{port}")
        assert answer[0] == 200 and answer[2] == "b1\n", answer
        assert answer[1].get("X-Config") == "v1", answer

        # The watchdog: WATCHDOG=1 every half of WATCHDOG_USEC (1s), again and again.
        mark = notify.mark()
        wait_until(
            lambda: sum(1 for m in notify.since(mark) if m.get("WATCHDOG") == "1") >= 3,
            WATCHDOG_USEC / 1e6 * 4,
            "three WATCHDOG=1 on NOTIFY_SOCKET",
        )

        # Reload: a second server and another header; each ExecReload= line in turn, as
        # systemd runs them (the first to fail stops the rest).
        write_readable(config, service_config(port, admin_port, [b1, b2], "v2"))
        mark = notify.mark()
        for value in service["ExecReload"]:
            result = runner.run(command_line(value, str(config), main_pid=process.pid))
            assert result.returncode == 0, f"ExecReload {value}: {result.stdout}{result.stderr}"
        notify.wait_for("RELOADING", "1", mark)
        reloading_at = next(i for i, m in enumerate(notify.since(mark)) if m.get("RELOADING"))
        notify.wait_for("READY", "1", mark + reloading_at + 1)
        wait_until(lambda: (try_get(port) or (0, {}, ""))[1].get("X-Config") == "v2", 10,
                   "responses with the reloaded header")
        seen = {get(port)[2] for _ in range(20)}
        assert seen == {"b1\n", "b2\n"}, seen
        assert process.poll() is None, log_text()

        # A broken file: ExecReload fails at its --check line (as `systemctl reload` would),
        # nothing is signalled, and ballast goes on serving the configuration it runs.
        write_readable(config, "listeners:\n  - name: web\n    listen: [\n")
        mark = notify.mark()
        first, *rest = service["ExecReload"]
        failed = runner.run(command_line(first, str(config), main_pid=process.pid))
        assert failed.returncode == 2, f"{first}: {failed.stdout}{failed.stderr}"
        assert "ballast.yaml" in failed.stderr, failed.stderr
        assert rest, "ExecReload= has no signalling line after the check"
        time.sleep(0.5)  # long enough for a RELOADING=1 that should not come
        assert not any(m.get("RELOADING") for m in notify.since(mark))
        answer = get(port)
        assert answer[0] == 200 and answer[1].get("X-Config") == "v2", answer
        assert process.poll() is None, log_text()

        # Stop: KillSignal= (SIGTERM): STOPPING=1, drain, exit 0 within TimeoutStopSec=.
        kill_signal = service.get("KillSignal", ["SIGTERM"])[-1]
        mark = notify.mark()
        process.send_signal(getattr(signal, kill_signal))
        stop_timeout = float(service.get("TimeoutStopSec", ["90s"])[-1].rstrip("s"))
        try:
            code = process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ballast did not stop within TimeoutStopSec={stop_timeout}s")
        assert code == 0, f"exit {code}\n{log_text()}"
        assert any(m.get("STOPPING") == "1" for m in notify.since(mark)), notify.since(mark)
    except BaseException:
        print(log_text())
        raise
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        notify.close()


def set_child_subreaper():
    """Orphans of our children (a binary upgrade's new process, once the old one exits) become
    ours, so that their exit status can be read, as systemd (PID 1) would."""
    import ctypes

    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) refused")


def wait_pid_exit(pid, timeout_s):
    """The exit status of `pid`, a child or an orphan we reap (set_child_subreaper)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reaped, status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    pytest.fail(f"process {pid} did not exit within {timeout_s}s")


class RequestLoop:
    """GETs in a loop on fresh connections, counting the failures (any refused connection)."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.failures = []
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                status, _, _ = get(self.port)
                if status == 200:
                    self.ok += 1
                else:
                    self.failures.append(status)
            except OSError as error:
                self.failures.append(repr(error))
            time.sleep(0.005)

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=10)


def test_binary_upgrade_as_the_package_upgrade_does_it(package, workspace, backend_pair):
    """postinst's `systemctl kill --kill-whom=main --signal=USR2`: the new process takes the
    listening sockets and becomes the main one (MAINPID=, READY=1 — NotifyAccess=all), the old
    one drains and exits 0, and no request fails meanwhile."""
    set_child_subreaper()
    service = parse_unit(UNIT)
    assert service["NotifyAccess"] == ["all"]
    notify = NotifyListener(workspace)
    runner = UnitRunner(service, notify.path)
    runner.make_directories()
    port = free_port_below_1024()
    config = workspace / "ballast.yaml"
    write_readable(config, service_config(port, free_port(), backend_pair, "v1"))
    log_path = workspace / "ballast.log"
    processes = []
    loop = None
    try:
        with open(log_path, "wb") as log:
            old = runner.start(command_line(service["ExecStart"][0], str(config)), log)
        package["processes"].append(old)
        processes.append(old.pid)
        notify.wait_for("READY", "1")
        wait_until(lambda: try_get(port), 10, f"an answer on {HOST}:{port}")
        loop = RequestLoop(port)
        wait_until(lambda: loop.ok >= 20, 10, "requests through the old process")

        mark = notify.mark()
        old.send_signal(signal.SIGUSR2)
        def successor_ready():
            for fields in notify.since(mark):
                if fields.get("READY") == "1" and fields.get("MAINPID") not in (None, str(old.pid)):
                    return fields
            return None

        ready = wait_until(successor_ready, 30, "READY=1 with the new process's MAINPID")
        new_pid = int(ready["MAINPID"])
        processes.append(new_pid)
        assert old.wait(timeout=30) == 0, log_path.read_text(errors="replace")
        served_before = loop.ok
        wait_until(lambda: loop.ok >= served_before + 20, 10, "requests through the new process")
        loop.stop()
        assert loop.failures == [], loop.failures[:10]
        assert Path(f"/proc/{new_pid}/exe").resolve() == Path(BINARY)

        os.kill(new_pid, signal.SIGTERM)
        assert wait_pid_exit(new_pid, 45) == 0, log_path.read_text(errors="replace")
        processes.clear()
    except BaseException:
        print(log_path.read_text(errors="replace") if log_path.exists() else "")
        raise
    finally:
        if loop is not None:
            loop.stop()
        for pid in processes:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        notify.close()
