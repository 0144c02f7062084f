"""A minimal rtnetlink client: just the link, address and route requests a container start needs.

Why not `ip`: each `ip` process costs a few milliseconds and a start needs two of them (one in the
host's namespace, one in the container's), while a netlink request is a syscall. A socket speaks
for the network namespace it was created in, so code that runs inside a container's namespace
(see netns.run_in) opens its own `Netlink()` there.
"""

import errno
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE = 24
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
IFA_F_NODAD = 0x02
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 0, 253, 1


class NetlinkError(OSError):
    pass


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


class Netlink:
    """One rtnetlink socket in the calling thread's network namespace; requests are acknowledged."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        self.seq += 1
        header = struct.pack("=IHHII", 16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(header + body)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, msg_type, _flags, seq, _pid = struct.unpack_from("=IHHII", data, offset)
                if msg_type == NLMSG_ERROR and seq == self.seq:
                    code = -struct.unpack_from("=i", data, offset + 16)[0]
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return
                offset += (length + 3) & ~3

    # -- links -----------------------------------------------------------------------------
    def add_veth(self, name: str, peer: str, *, peer_netns_fd: int, peer_mac: str = "", mtu: int = 0,
                 master: int = 0) -> None:
        """A veth pair: ``name`` stays here (enslaved to ``master``, up), ``peer`` is created directly
        inside the namespace ``peer_netns_fd`` refers to."""
        peer_attrs = _attr(IFLA_IFNAME, _name(peer)) + _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        if peer_mac:
            peer_attrs += _attr(IFLA_ADDRESS, mac_bytes(peer_mac))
        if mtu:
            peer_attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        info = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, _ifinfo() + peer_attrs))
        attrs = _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_LINKINFO, info)
        if mtu:
            attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        if master:
            attrs += _attr(IFLA_MASTER, struct.pack("=I", master))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo(flags=IFF_UP, change=IFF_UP) + attrs)

    def set_up(self, index: int) -> None:
        self.request(RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP))

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, 0, _ifinfo(index))

    def delete_link_named(self, name: str) -> bool:
        """Delete a link by name; False when there is none."""
        try:
            self.request(RTM_DELLINK, 0, _ifinfo() + _attr(IFLA_IFNAME, _name(name)))
        except NetlinkError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    # -- addresses and routes --------------------------------------------------------------
    def ipv4_addresses(self) -> list[tuple[int, ipaddress.IPv4Interface]]:
        """(link index, address/prefix) of every IPv4 address, also on links that are down (which
        have no routes, yet take their subnet back when they come up)."""
        self.seq += 1
        body = struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)
        self.sock.send(struct.pack("=IHHII", 16 + len(body), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0)
                       + body)
        found: list[tuple[int, ipaddress.IPv4Interface]] = []
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, msg_type, _flags, seq, _pid = struct.unpack_from("=IHHII", data, offset)
                if seq == self.seq and msg_type in (NLMSG_DONE, NLMSG_ERROR):
                    return found
                if msg_type == RTM_NEWADDR:
                    _family, prefix, _flags, _scope, index = struct.unpack_from("=BBBBI", data, offset + 16)
                    attrs, at = {}, offset + 24
                    while at + 4 <= offset + length:
                        size, kind = struct.unpack_from("=HH", data, at)
                        if size < 4:
                            break
                        attrs[kind] = data[at + 4:at + size]
                        at += (size + 3) & ~3
                    packed = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
                    if packed and len(packed) == 4:
                        found.append((index, ipaddress.IPv4Interface((packed, prefix))))
                offset += (length + 3) & ~3

    def add_address(self, index: int, interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> None:
        family = socket.AF_INET if interface.version == 4 else socket.AF_INET6
        packed = interface.ip.packed
        attrs = _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        if interface.version == 4:
            attrs += _attr(IFA_BROADCAST, interface.network.broadcast_address.packed)
        # IPv6: no duplicate address detection (usable at once, as libnetwork sets IFA_F_NODAD).
        flags = IFA_F_NODAD if interface.version == 6 else 0
        body = struct.pack("=BBBBI", family, interface.network.prefixlen, flags, RT_SCOPE_UNIVERSE, index) + attrs
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_route(self, *, gateway: str = "", destination: str = "", index: int = 0) -> None:
        """A route in the main table: ``destination`` (CIDR, default route when empty) via ``gateway``
        or directly on link ``index``."""
        net = ipaddress.ip_network(destination or ("0.0.0.0/0" if ":" not in gateway else "::/0"))
        family = socket.AF_INET if net.version == 4 else socket.AF_INET6
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        body = struct.pack("=BBBBBBBBI", family, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope,
                           RTN_UNICAST, 0)
        if net.prefixlen:
            body += _attr(RTA_DST, net.network_address.packed)
        if gateway:
            body += _attr(RTA_GATEWAY, ipaddress.ip_address(gateway).packed)
        if index:
            body += _attr(RTA_OIF, struct.pack("=I", index))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
