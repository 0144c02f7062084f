"""Published ports on the host: the port is reserved by binding it (so a taken port fails like
Docker's "port is already allocated", and an empty host port gets one from the kernel's
ephemeral range), and the bound socket doubles as the userland proxy's listener, which is what
makes 127.0.0.1 and hairpin connections reach the container (netfilter's DNAT handles the rest).

TCP connections are relayed by the daemon's proxy process (network/proxyd.py, network/relay.py)
with splice(2), so payload never enters Python: the same zero-copy path docker-proxy takes.
"""

import asyncio
import errno
import socket
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter, SystemError_
from dockyard.network.proxyd import Userland
from dockyard.util.aio import background


@dataclass
class Mapping:
    proto: str
    host_ip: str
    host_port: int
    container_port: int
    sock: socket.socket | None = field(default=None, repr=False)

    def binding(self) -> dict:
        return {"HostIp": self.host_ip, "HostPort": str(self.host_port)}


def _bind(proto: str, host_ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    sock_proto = socket.IPPROTO_SCTP if proto == "sctp" else 0
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, sock_proto)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip or "0.0.0.0", port))
        if kind == socket.SOCK_STREAM:
            sock.listen(socket.SOMAXCONN)  # as Go (docker-proxy) does; the kernel caps it at somaxconn
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _host_ports(text: str) -> list[int]:
    if not text:
        return [0]
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def allocate(bindings: dict, default_host_ip: str) -> list[Mapping]:
    """Bind every requested host port ({"80/tcp": [{"HostIp", "HostPort"}]}); all or nothing."""
    done: list[Mapping] = []
    try:
        for private, entries in sorted(bindings.items()):
            port_text, _, proto = private.partition("/")
            proto = proto or "tcp"
            for entry in entries or [{}]:
                host_ip = (entry or {}).get("HostIp") or default_host_ip
                candidates = _host_ports((entry or {}).get("HostPort") or "")
                sock, error = None, None
                for candidate in candidates:
                    try:
                        sock = _bind(proto, host_ip, candidate)
                        break
                    except OSError as exc:
                        error = exc
                if sock is None:
                    shown = f"{host_ip}:{(entry or {}).get('HostPort')}"
                    if error is not None and error.errno == errno.EADDRINUSE:
                        raise SystemError_(f"Bind for {shown} failed: port is already allocated")
                    if error is not None and error.errno == errno.EADDRNOTAVAIL:
                        raise InvalidParameter(f"Bind for {shown} failed: cannot assign requested address")
                    raise SystemError_(f"Bind for {shown} failed: {error}")
                done.append(Mapping(proto, host_ip, sock.getsockname()[1], int(port_text), sock))
    except BaseException:
        release(done)
        raise
    return done


def release(mappings: list[Mapping]) -> None:
    for m in mappings:
        if m.sock is not None:
            m.sock.close()
            m.sock = None


# -- the userland proxy --------------------------------------------------------------------------
class Proxy:
    """The userland proxy for one mapping: TCP is served by the daemon's proxy process
    (network/proxyd.py), UDP from the daemon's event loop."""

    def __init__(self, mapping: Mapping, container_ip: str, userland: Userland) -> None:
        self.mapping = mapping
        self.target = (container_ip, mapping.container_port)
        self.userland = userland
        self.key = f"{mapping.proto}/{mapping.host_ip}:{mapping.host_port}"
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None
        sock = mapping.sock
        assert sock is not None, "a mapping is proxied once allocate() has bound its socket"
        if mapping.proto == "udp":
            background(self._start_udp(sock))
        else:
            userland.add(self.key, sock, self.target)

    async def _start_udp(self, sock: socket.socket) -> None:
        self.transport, _ = await self.loop.create_datagram_endpoint(lambda: _UdpFront(self), sock=sock)

    def close(self) -> None:
        """Synchronous: when it returns, only the daemon's own socket holds the port."""
        if self.mapping.proto != "udp":
            self.userland.remove(self.key)
        if self.transport is not None:
            self.transport.close()
            self.mapping.sock = None  # the transport closed it


class _UdpFront(asyncio.DatagramProtocol):
    """Clients' datagrams to the container and its answers back, one upstream socket per client."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.upstreams: dict = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        upstream = self.upstreams.get(addr)
        if upstream is None:
            background(self._open(addr, data))
        else:
            upstream.sendto(data)

    async def _open(self, addr, first: bytes) -> None:
        front = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _addr) -> None:
                if front.transport is not None and not front.transport.is_closing():
                    front.transport.sendto(data, addr)

        transport, _ = await self.proxy.loop.create_datagram_endpoint(Back, remote_addr=self.proxy.target)
        self.upstreams[addr] = transport
        transport.sendto(first)

    def connection_lost(self, exc) -> None:
        for transport in self.upstreams.values():
            transport.close()
