"""The embedded DNS server at 127.0.0.11 inside containers on user-defined networks.

Its sockets are made inside the container's network namespace (a socket keeps the namespace it
was created in) and served by the daemon's event loop, so there is no process per container and
no NAT rule. Names of the container's networks (container names, aliases, short IDs, also as
`name.network`) are answered here; everything else is forwarded, from the host's namespace, to
the container's --dns servers, the daemon's --dns servers or the host's resolvers, in that order.
"""

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable

from dockyard.util.aio import background

log = logging.getLogger("dockyard.dns")

ADDRESS = "127.0.0.11"
TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
RCODE_SERVFAIL, RCODE_NXDOMAIN = 2, 3
TTL = 600

Lookup = Callable[[str], list[str] | None]  # name -> IPv4 addresses, None when the name is not ours
Reverse = Callable[[str], str | None]  # IPv4 address -> name


def parse_question(packet: bytes) -> tuple[str, int, int] | None:
    """(name, qtype, end offset of the question) of a query, or None if it is not one we can read."""
    if len(packet) < 12:
        return None
    flags, qdcount = struct.unpack_from("!HH", packet, 2)
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, offset = [], 12
    while offset < len(packet):
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            return None
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(packet):
        return None
    qtype, _qclass = struct.unpack_from("!HH", packet, offset)
    return ".".join(labels), qtype, offset + 4


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def answer(query: bytes, question_end: int, rcode: int, records: list[tuple[int, bytes]]) -> bytes:
    """A response echoing the question, with ``records`` of (type, rdata) for the queried name."""
    qid, flags = struct.unpack_from("!HH", query, 0)
    flags = 0x8000 | (flags & 0x0100) | 0x0400 | 0x0080 | rcode  # QR, RD copied, AA, RA
    header = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0)
    body = query[12:question_end]
    for rtype, rdata in records:
        body += struct.pack("!HHHIH", 0xC00C, rtype, 1, TTL, len(rdata)) + rdata
    return header + body


def _reverse_ip(name: str) -> str | None:
    if not name.lower().endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4:
        return None
    return ".".join(reversed(parts))


class Resolver:
    """Answers for one container: ``lookup``/``reverse`` see only that container's networks."""

    def __init__(self, lookup: Lookup, reverse: Reverse, upstreams: Callable[[], list[str]]) -> None:
        self.lookup = lookup
        self.reverse = reverse
        self.upstreams = upstreams
        self.closers: list[Callable[[], None]] = []

    async def resolve(self, packet: bytes) -> bytes | None:
        question = parse_question(packet)
        if question is None:
            return None
        name, qtype, end = question
        local = self.lookup(name.rstrip(".")) if qtype in (TYPE_A, TYPE_AAAA) else None
        if local is not None:
            records = [(TYPE_A, ipaddress.IPv4Address(ip).packed) for ip in local] if qtype == TYPE_A else []
            return answer(packet, end, 0, records)
        if qtype == TYPE_PTR:
            ip = _reverse_ip(name)
            target = self.reverse(ip) if ip else None
            if target:
                return answer(packet, end, 0, [(TYPE_PTR, _encode_name(target))])
        return await self.forward(packet, end)

    async def forward(self, packet: bytes, end: int) -> bytes:
        loop = asyncio.get_running_loop()
        for server in self.upstreams():
            sock = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (server, 53))
                await loop.sock_sendall(sock, packet)
                return await asyncio.wait_for(loop.sock_recv(sock, 65535), timeout=2)
            except (OSError, TimeoutError) as exc:
                log.debug("forwarding a DNS query to %s failed: %s", server, exc)
            finally:
                sock.close()
        return answer(packet, end, RCODE_SERVFAIL, [])

    async def serve(self, udp: socket.socket, tcp: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        resolver = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr) -> None:
                async def reply() -> None:
                    response = await resolver.resolve(data)
                    if response is not None and not self.transport.is_closing():
                        self.transport.sendto(response, addr)

                background(reply())

        transport, _ = await loop.create_datagram_endpoint(Udp, sock=udp)
        self.closers.append(transport.close)

        async def on_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while True:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    response = await resolver.resolve(await reader.readexactly(length))
                    if response is None:
                        break
                    writer.write(struct.pack("!H", len(response)) + response)
                    await writer.drain()
            writer.close()

        server = await asyncio.start_server(on_tcp, sock=tcp)
        self.closers.append(server.close)

    def close(self) -> None:
        for closer in self.closers:
            closer()
        self.closers = []


def make_sockets() -> tuple[socket.socket, socket.socket]:
    """Bound to 127.0.0.11:53 in the calling thread's namespace (call it through netns.run_in)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        udp.bind((ADDRESS, 53))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((ADDRESS, 53))
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp
