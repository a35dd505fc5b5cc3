"""The live dashboard (GET / on admin.listen) in headless Chromium (Debian's `chromium`): the page
loads with no console message, shows every server, and a backend killed during the test turns
its row red (class `down`, `data-state="down"`); a screenshot with one server down is taken.

Each Chromium run is one process, bounded by CHROMIUM_TIMEOUT_S, with a fresh profile and HOME
under the test's tmp_path. `--virtual-time-budget` lets the page's polling run for that much
virtual time (network waits do not consume it) before the DOM is dumped or the picture taken.
With `--enable-logging=stderr` Chromium writes every console message of the page, errors and
uncaught exceptions included, as a line like
  [pid:tid:MMDD/HHMMSS.micros:INFO:CONSOLE:12] "Uncaught ReferenceError: x is not defined",
  source: http://127.0.0.1:PORT/ (12)
(older builds write `CONSOLE(12)]`); everything else it logs (D-Bus, GPU) is about the browser,
not the page. test_the_console_filter_sees_page_errors checks the filter on a page that errs.

BALLAST_DASHBOARD_PNG=PATH keeps the screenshot there (docs/dashboard.png is made that way) and
runs traffic for BALLAST_DASHBOARD_WARMUP_S seconds first (default 20 then, else 0), so the
sparklines have something to draw, and 5 s more after the kill.
"""

import os
import re
import shutil
import struct
import subprocess
import time
from html.parser import HTMLParser

import pytest

from events import address, admin_port, wait_healthy, wait_server_state
from harness import HOST, RequestLoop, control, health_check, listen_port

CHROMIUM_TIMEOUT_S = 30
BUDGET_MS = 3000
CONSOLE_LINE = re.compile(r':CONSOLE(?::\d+\]|\(\d+\)\]) "(.*)", source: (.*) \(\d+\)$')
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium_binary():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium on PATH (Debian package chromium)")
    return path


class Chromium:
    """Runs headless Chromium once per call, each run with a fresh profile under tmp_path."""

    def __init__(self, tmp_path):
        self.home = tmp_path / "chromium-home"
        self.home.mkdir()
        self.runs = 0
        self.binary = chromium_binary()

    def run(self, url, *args):
        """(stdout, stderr) of one run on `url`."""
        self.runs += 1
        argv = [
            self.binary,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={self.home / f'profile{self.runs}'}",
            f"--virtual-time-budget={BUDGET_MS}",
            *args,
            url,
        ]
        env = {**os.environ, "HOME": str(self.home)}
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, env=env
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"chromium took over {CHROMIUM_TIMEOUT_S}s on {url}") from None
        assert done.returncode == 0, f"chromium exited {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout, done.stderr

    def dump_dom(self, url):
        """The DOM after the budget, and the page's console messages [(text, source)]."""
        dom, log = self.run(url, "--dump-dom")
        assert "<html" in dom, f"no DOM dumped\n{log[-3000:]}"
        return dom, console_messages(log)

    def screenshot(self, url, path):
        """A 1280x800 PNG of the page at `path`; the page's console messages."""
        _, log = self.run(url, f"--screenshot={path}", "--window-size=1280,800")
        assert path.is_file(), f"no screenshot written\n{log[-3000:]}"
        return console_messages(log)


def console_messages(log):
    """[(text, source)] of every console line of the page in Chromium's log, and any other line
    naming an uncaught exception (should a build word it differently)."""
    found = []
    for line in log.splitlines():
        match = CONSOLE_LINE.search(line)
        if match:
            found.append((match[1], match[2]))
        elif "Uncaught" in line:
            found.append((line, ""))
    return found


class ServerRows(HTMLParser):
    """The attributes of every <tr> carrying data-server, in document order."""

    def __init__(self, dom):
        super().__init__()
        self.rows = []
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr" and "data-server" in attributes:
            self.rows.append(attributes)


def rows_by_server(dom):
    rows = ServerRows(dom).rows
    return {row["data-server"]: row for row in rows}


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR, the first chunk
    return width, height


def test_the_console_filter_sees_page_errors(tmp_path):
    page = tmp_path / "erring.html"
    page.write_text(
        "<html><body><script>console.error('logged error');"
        "setTimeout(() => { throw new Error('late throw'); }, 50);"
        "notDefined();</script></body></html>"
    )
    _, messages = Chromium(tmp_path).dump_dom(page.as_uri())
    texts = [text for text, _ in messages]
    assert "logged error" in texts, messages
    assert any("Uncaught ReferenceError" in text for text in texts), messages
    assert any("late throw" in text for text in texts), messages
    assert all(source == page.as_uri() for _, source in messages), messages


def test_the_dashboard_shows_every_server_and_turns_a_killed_one_red(backends, ballast, tmp_path):
    keep = os.environ.get("BALLAST_DASHBOARD_PNG")
    warmup_s = float(os.environ.get("BALLAST_DASHBOARD_WARMUP_S", 20 if keep else 0))
    chromium = Chromium(tmp_path)
    servers = backends.start_many(3)
    for server in servers:  # a little latency, so the p50/p99 columns show numbers
        control(server, delay_ms=2, jitter_ms=6)
    config = ballast.short_config(servers, health_check=health_check())
    proxy = ballast.start(config, listen_port(config))
    wait_healthy(proxy, servers)
    url = f"http://{HOST}:{admin_port(config)}/"
    names = [address(server) for server in servers]

    with RequestLoop(proxy.port) as loop:
        time.sleep(warmup_s)  # traffic for the rates and sparklines; nothing is awaited here
        dom, messages = chromium.dump_dom(url)
        assert messages == [], f"console messages on the dashboard: {messages}"
        rows = rows_by_server(dom)
        assert list(rows) == names, dom
        for row in rows.values():
            assert (row["data-cluster"], row["data-state"]) == ("default", "up"), row
            assert "up" in row["class"].split() and "down" not in row["class"].split(), row
            assert row["data-eligible"] == "true", row

        killed = servers[1]
        killed.stop()
        wait_server_state(config, killed, "down", timeout_s=3)
        dom, messages = chromium.dump_dom(url)
        assert messages == [], f"console messages on the dashboard: {messages}"
        rows = rows_by_server(dom)
        assert list(rows) == names, dom
        dead = rows[address(killed)]
        assert "down" in dead["class"].split(), dead
        assert (dead["data-state"], dead["data-eligible"]) == ("down", "false"), dead
        for server in (servers[0], servers[2]):
            assert rows[address(server)]["data-state"] == "up", rows[address(server)]
        assert "failing health checks" in dom

        if keep:
            time.sleep(5)  # for the picture: a few seconds of red in the server's state strip
        picture = tmp_path / "dashboard.png"
        messages = chromium.screenshot(url, picture)
        assert messages == [], f"console messages on the dashboard: {messages}"
    assert png_size(picture) == (1280, 800)
    assert len(loop.results) > 0
    if keep:
        shutil.copyfile(picture, keep)
