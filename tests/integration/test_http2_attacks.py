"""The published HTTP/2 attacks against ballast, each while a normal client keeps asking on its
own connection: rapid reset (CVE-2023-44487), CONTINUATION flood, SETTINGS, PING and PRIORITY
floods, and an HPACK bomb. Each must end with the attacker's connection refused its excess
(GOAWAY, a 431, or nothing queued without bound), ballast's memory bounded, and every one of the
normal client's requests answered."""

import socket
import threading
import time

import hpack
import hyperframe.frame as frames
import pytest

from h2client import H2Client, start_h2c_proxy
from h2frames import PREFACE, RawH2
from harness import HOST, wait_until

MEMORY_BOUND_BYTES = 48 << 20


@pytest.fixture
def proxy(ballast, backends):
    return start_h2c_proxy(ballast, [backends.start("s1")])[0]


class NormalClient:
    """Asks for / over its own HTTP/2 connection, again and again, until stopped."""

    def __init__(self, port):
        self.port = port
        self.answered = 0
        self.failures = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            with H2Client(self.port) as client:
                while not self.stopping.is_set():
                    stream = client.get("/", timeout_s=10)
                    if stream.status != 200:
                        self.failures.append(stream.status)
                    self.answered += 1
        except Exception as error:  # noqa: BLE001 - reported by stop()
            self.failures.append(repr(error))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        # A short attack may end before the client's first answer: it gets one after, at least.
        wait_until(lambda: self.answered > 0 or self.failures, 10, "the normal client answered")
        self.stopping.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the normal client hung"
        assert not self.failures, self.failures
        assert self.answered > 0


def assert_memory_bounded(proxy, before):
    grown = proxy.rss_bytes() - before
    assert grown < MEMORY_BOUND_BYTES, f"ballast grew by {grown >> 20} MiB"


def test_rapid_reset_is_cut_off_with_goaway(proxy):
    before = proxy.rss_bytes()
    with NormalClient(proxy.port), RawH2(proxy.port) as attacker:
        fields = attacker.request_fields("/delay/1000")
        goaway = None
        stream_id = 1
        for _ in range(200):  # batches of 50 streams, each reset at once
            batch = bytearray()
            for _ in range(50):
                batch += frames.HeadersFrame(stream_id, data=attacker.block(fields),
                                             flags=["END_HEADERS", "END_STREAM"]).serialize()
                batch += frames.RstStreamFrame(stream_id, error_code=0x8).serialize()
                stream_id += 2
            attacker.send_bytes(bytes(batch))
            if attacker.closed:
                break
            frame = attacker.read_frame(time.monotonic() + 0.01)
            while frame is not None and not isinstance(frame, frames.GoAwayFrame):
                frame = attacker.read_frame(time.monotonic() + 0.01)
            if frame is not None:
                goaway = frame
                break
        if goaway is None and not attacker.closed:
            goaway = attacker.expect(lambda f: isinstance(f, frames.GoAwayFrame))
        assert goaway is not None or attacker.closed
        assert stream_id < 2 * 10_000, "10,000 resets and still no GOAWAY"
    assert_memory_bounded(proxy, before)


def test_continuation_flood_is_cut_off_with_goaway(proxy):
    before = proxy.rss_bytes()
    with NormalClient(proxy.port), RawH2(proxy.port) as attacker:
        block = attacker.block(attacker.request_fields())
        attacker.send(frames.HeadersFrame(1, data=block, flags=["END_STREAM"]))
        goaway = None
        for _ in range(1000):  # 10,000 CONTINUATION frames, ten at a time, or until cut off
            piece = frames.ContinuationFrame(1, data=b"\x40\x01a\x01b").serialize()  # a: b
            attacker.send_bytes(piece * 10)
            frame = attacker.read_frame(time.monotonic() + 0.005)
            while frame is not None and not isinstance(frame, frames.GoAwayFrame):
                frame = attacker.read_frame(time.monotonic() + 0.005)
            if frame is not None or attacker.closed:
                goaway = frame
                break
        assert goaway is not None and goaway.error_code != 0, (goaway, attacker.closed)
    assert_memory_bounded(proxy, before)


def flood(port, make_frame, count):
    """Sends `count` frames on a fresh connection without reading a byte of the answers; True
    when ballast cut the connection off before the end."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(PREFACE + frames.SettingsFrame(0).serialize())
        batch = b"".join(make_frame(i).serialize() for i in range(1000))
        try:
            for _ in range(count // 1000):
                sock.sendall(batch)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            return True
    return False


@pytest.mark.parametrize("make_frame", [
    lambda i: frames.PingFrame(0, opaque_data=i.to_bytes(8, "big")),
    lambda i: frames.SettingsFrame(0, settings={frames.SettingsFrame.HEADER_TABLE_SIZE: 4096}),
], ids=["ping", "settings"])
def test_a_flood_of_frames_that_each_need_an_answer_is_cut_off(proxy, make_frame):
    before = proxy.rss_bytes()
    with NormalClient(proxy.port):
        assert flood(proxy.port, make_frame, 2_000_000), "ballast took two million unanswered"
    assert_memory_bounded(proxy, before)


def test_a_priority_flood_costs_nothing_lasting(proxy):
    before = proxy.rss_bytes()
    with NormalClient(proxy.port):
        # PRIORITY frames for 200,000 idle streams, each depending on the one before.
        flood(proxy.port, lambda i: frames.PriorityFrame(2 * i + 1, depends_on=max(2 * i - 1, 0),
                                                         stream_weight=200), 200_000)
    assert_memory_bounded(proxy, before)


def test_an_hpack_bomb_gets_431_not_memory(proxy):
    before = proxy.rss_bytes()
    with NormalClient(proxy.port), RawH2(proxy.port) as attacker:
        # A 4 KiB field goes into the dynamic table once (encoded once), then is referenced by
        # its index, one byte each time: 4,000 references decode to 16 MiB of fields.
        big = [("x-bomb", "b" * 4000)]
        first = attacker.block(attacker.request_fields() + big)
        block = first + b"\xbe" * 4000  # index 62: the newest dynamic entry, x-bomb
        attacker.send(frames.HeadersFrame(1, data=block, flags=["END_HEADERS", "END_STREAM"]))
        frame = attacker.expect(lambda f: f.stream_id == 1 and
                                isinstance(f, (frames.HeadersFrame, frames.RstStreamFrame)))
        if isinstance(frame, frames.HeadersFrame):
            status = dict(attacker.decoder.decode(frame.data))[":status"]
            assert status == "431"
    assert_memory_bounded(proxy, before)


def test_a_request_trickled_a_byte_at_a_time_is_cut_off_by_the_header_deadline(ballast, backends):
    """Slowloris over HTTP/2: the preface, SETTINGS and a request's HEADERS, one byte every 50 ms
    (seconds in all). The first request is due within client_header of the connection's start
    whatever trickles in, so the connection ends at that deadline, not when the trickle does."""
    proxy, _ = start_h2c_proxy(ballast, [backends.start("s1")], timeouts={"client_header": "1s"})
    fields = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", HOST)]
    request = frames.HeadersFrame(1, data=hpack.Encoder().encode(fields),
                                  flags=["END_HEADERS", "END_STREAM"])
    trickle = PREFACE + frames.SettingsFrame(0).serialize() + request.serialize()
    closed = False
    with socket.create_connection((HOST, proxy.port), timeout=5) as sock:
        sock.settimeout(0.05)
        started = time.monotonic()
        for byte in trickle:
            try:
                sock.sendall(bytes([byte]))
                while sock.recv(65536):  # what ballast says (SETTINGS, GOAWAY), until quiet
                    pass
                closed = True  # EOF
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if closed or time.monotonic() - started > 4:
                break
        cut_off_after = time.monotonic() - started
    assert closed and cut_off_after < 4, f"the trickle kept the connection {cut_off_after:.1f}s"
    with H2Client(proxy.port) as normal:
        assert normal.get("/").status == 200
