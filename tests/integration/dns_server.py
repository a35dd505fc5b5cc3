"""A DNS server for ballast's integration tests, authoritative for whatever names the test sets.

    with DnsServer() as dns:
        dns.set_a("api.test", ["127.0.0.1", "127.0.0.2"], ttl=1)
        dns.set_srv("_http._tcp.api.test", [(10, 5, 8080, "api.test")], ttl=1)
        ... point ballast at nameserver f"127.0.0.1:{dns.port}" ...
        dns.set_a("api.test", ["127.0.0.3"], ttl=1)  # the next answer changes
        assert dns.queries["api.test"] >= 2           # ballast asked again

It serves UDP and TCP on the same port of 127.0.0.1 from background threads (dnslib's
socketserver wrappers). A UDP answer longer than 512 bytes is sent truncated (TC set), as a
server without EDNS would, so a resolver has to ask again over TCP.

Names are matched without case and without the trailing dot. A name the test never set (or
removed) is answered NXDOMAIN; a set name asked for a type it lacks, NOERROR with no records
(NODATA). `servfail()` answers SERVFAIL; `silent()` drops queries unanswered (over TCP the
connection is closed without an answer). `queries` counts the queries for each name, dropped
UDP ones included, so a test sees re-resolution and retries.
"""

import collections
import socket
import threading

from dnslib import AAAA, QTYPE, RCODE, RR, SRV, A, DNSError, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

HOST = "127.0.0.1"
UDP_ANSWER_LIMIT = 512  # RFC 1035 without EDNS; c-ares sends no EDNS by default
BIND_ATTEMPTS = 20  # the UDP port picked by the kernel may be taken for TCP


def _key(name):
    return str(name).rstrip(".").lower()


class _Handler(DNSHandler):
    def handle(self):
        dns = self.server.resolver.dns
        if not dns.is_silent():
            super().handle()
        elif self.server.socket_type == socket.SOCK_DGRAM:
            dns._count_dropped(self.request[0])

    def get_reply(self, data):
        reply = super().get_reply(data)
        if self.protocol == "udp" and len(reply) > UDP_ANSWER_LIMIT:
            # Not dnslib's own truncation (DNSHandler.udplen): it drops the question too, and
            # resolvers (c-ares among them) discard an answer whose question is not theirs.
            truncated = DNSRecord.parse(data).reply()
            truncated.header.tc = 1
            return truncated.pack()
        return reply


class _Resolver:
    def __init__(self, dns):
        self.dns = dns

    def resolve(self, request, handler):
        return self.dns._answer(request)


class DnsServer:
    """An authoritative DNS server on 127.0.0.1:port (port 0: one the kernel picks)."""

    def __init__(self, port=0):
        self._lock = threading.Lock()
        self._records = {}  # name -> {QTYPE: (ttl, [RD])}
        self._servfail_names = set()
        self._servfail_all = False
        self._silent = False
        self._started = False
        self.queries = collections.Counter()  # name -> queries received (answered or not)
        self._servers = self._bind(port)
        self.port = self._servers[0].server.server_address[1]

    # --- what the test sets -------------------------------------------------------------------

    def set_a(self, name, ips, ttl=30):
        self._set(name, QTYPE.A, ttl, [A(ip) for ip in ips])

    def set_aaaa(self, name, ips, ttl=30):
        self._set(name, QTYPE.AAAA, ttl, [AAAA(ip) for ip in ips])

    def set_srv(self, name, records, ttl=30):
        """records: [(priority, weight, port, target)]."""
        rdata = [SRV(priority, weight, port, target) for priority, weight, port, target in records]
        self._set(name, QTYPE.SRV, ttl, rdata)

    def remove(self, name):
        with self._lock:
            self._records.pop(_key(name), None)

    def servfail(self, name=None, on=True):
        """SERVFAIL for `name`, or for every name when name is None."""
        with self._lock:
            if name is None:
                self._servfail_all = on
            elif on:
                self._servfail_names.add(_key(name))
            else:
                self._servfail_names.discard(_key(name))

    def silent(self, on=True):
        with self._lock:
            self._silent = on

    def is_silent(self):
        with self._lock:
            return self._silent

    # --- lifetime -----------------------------------------------------------------------------

    def start(self):
        for server in self._servers:
            server.start_thread()
        self._started = True
        return self

    def stop(self):
        for server in self._servers:
            if self._started:  # socketserver's shutdown() waits for a loop that never ran
                server.stop()
            server.server.server_close()
        self._started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- serving ------------------------------------------------------------------------------

    def _set(self, name, qtype, ttl, rdata):
        with self._lock:
            self._records.setdefault(_key(name), {})[qtype] = (ttl, rdata)

    def _answer(self, request):
        name = _key(request.q.qname)
        reply = request.reply()  # aa=1, ra=1, the question echoed
        with self._lock:
            self.queries[name] += 1
            if self._servfail_all or name in self._servfail_names:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = self._records.get(name)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            ttl, rdata = records.get(request.q.qtype, (0, []))
        for rd in rdata:
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rd, ttl=ttl))
        return reply

    def _count_dropped(self, packet):
        try:
            name = _key(DNSRecord.parse(packet).q.qname)
        except DNSError:
            return
        with self._lock:
            self.queries[name] += 1

    def _bind(self, port):
        logger = DNSLogger("-request,-reply,-truncated", prefix=False)
        for _ in range(BIND_ATTEMPTS):
            udp = DNSServer(_Resolver(self), HOST, port, logger=logger, handler=_Handler)
            try:
                tcp = DNSServer(
                    _Resolver(self),
                    HOST,
                    udp.server.server_address[1],
                    tcp=True,
                    logger=logger,
                    handler=_Handler,
                )
            except OSError:
                udp.server.server_close()
                if port != 0:
                    raise
                continue
            return [udp, tcp]
        raise OSError("no port free for both UDP and TCP")
