#!/usr/bin/env python3
"""Slowloris: COUNT connections to 127.0.0.1:PORT, each sending a request head one byte every
INTERVAL seconds and never finishing it; a connection the proxy closes is replaced at once, so
COUNT are trickling for the whole of SECONDS. Prints one JSON line: how many connections were
opened, how many the proxy closed (and with how many 408s), the longest and the mean lifetime
of a closed one, and how many were still open at the end (younger than the deadline).

Usage: trickle.py PORT COUNT SECONDS [INTERVAL=0.5]
"""

import json
import selectors
import socket
import sys
import time

HEAD = b"GET / HTTP/1.1\r\nHost: slowloris\r\nUser-Agent: trickle\r\n" + b"X-Pad: " + b"p" * 4000


def main(port, count, seconds, interval):
    selector = selectors.DefaultSelector()
    opened = closed = answered_408 = 0
    lifetimes = []
    conns = {}  # socket -> [opened_at, bytes sent]

    def connect():
        nonlocal opened
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        conns[sock] = [time.monotonic(), 0, b""]
        selector.register(sock, selectors.EVENT_READ)
        opened += 1

    def drop(sock):
        nonlocal closed, answered_408
        started, _, answer = conns.pop(sock)
        selector.unregister(sock)
        sock.close()
        closed += 1
        lifetimes.append(time.monotonic() - started)
        answered_408 += answer.startswith(b"HTTP/1.1 408")

    for _ in range(count):
        connect()
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=max(0.0, min(next_send, end) - time.monotonic())):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b"" if sock in conns else None
            if data:
                conns[sock][2] += data
                continue
            if sock in conns:
                drop(sock)
                connect()
        if time.monotonic() >= next_send:
            for sock, state in list(conns.items()):
                if state[1] < len(HEAD):
                    try:
                        state[1] += sock.send(HEAD[state[1] : state[1] + 1])
                    except (BlockingIOError, OSError):
                        pass
            next_send += interval
    still_open = len(conns)
    for sock in list(conns):
        sock.close()
    print(json.dumps({
        "opened": opened,
        "closed_by_proxy": closed,
        "answered_408": answered_408,
        "longest_lifetime_s": round(max(lifetimes, default=0.0), 3),
        "mean_lifetime_s": round(sum(lifetimes) / len(lifetimes), 3) if lifetimes else 0.0,
        "still_open": still_open,
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
         float(sys.argv[4]) if len(sys.argv) > 4 else 0.5)
