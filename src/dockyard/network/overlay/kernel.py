"""The rtnetlink requests the overlay needs beyond a container start's (network/netlink.py): a
VXLAN link made straight into another namespace, a bridge, a link's master, and static
forwarding (AF_BRIDGE) and neighbour (AF_INET) entries.

A VXLAN device keeps the UDP socket of the namespace that asked for it, whichever namespace the
device itself lives in: the request is sent from the node's own namespace (where the underlay is)
with IFLA_NET_NS_FD naming the overlay namespace, which is what libnetwork gets by making the
device on the host and moving it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

from dockyard.network.netlink import (
    IFF_UP,
    IFLA_ADDRESS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTM_NEWLINK,
    Netlink,
    NetlinkError,
    _attr,
    _ifinfo,
    _name,
    mac_bytes,
)

RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
NLM_F_REPLACE = 0x100
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
AF_BRIDGE = 7
# IFLA_VXLAN_*: linux/if_link.h
IFLA_VXLAN_ID, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PROXY, IFLA_VXLAN_PORT = 1, 7, 11, 15
IFLA_BR_AGEING_TIME = 4


def _ndmsg(family: int, index: int, state: int, flags: int) -> bytes:
    return struct.pack("=BxxxiHBB", family, index, state, flags, 0)


class OverlayNetlink(Netlink):
    def __enter__(self) -> OverlayNetlink:
        return self

    def add_vxlan(self, name: str, vni: int, port: int, mtu: int, *, netns_fd: int) -> None:
        """A VXLAN device ``name`` for ``vni`` on UDP ``port``, made inside the namespace
        ``netns_fd`` with its socket here. No learning: every remote MAC is a static entry, and with
        no all-zeros entry nothing is flooded. ``proxy``: the device answers ARP from its neighbour
        entries, so a container's ARP request never leaves the node either."""
        data = (_attr(IFLA_VXLAN_ID, struct.pack("=I", vni)) + _attr(IFLA_VXLAN_LEARNING, b"\0")
                + _attr(IFLA_VXLAN_PROXY, b"\1") + _attr(IFLA_VXLAN_PORT, struct.pack("!H", port)))
        info = _attr(IFLA_INFO_KIND, b"vxlan\0") + _attr(IFLA_INFO_DATA, data)
        attrs = (_attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_MTU, struct.pack("=I", mtu))
                 + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)) + _attr(IFLA_LINKINFO, info))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo() + attrs)

    def add_bridge(self, name: str, mtu: int, mac: str = "") -> None:
        attrs = _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_MTU, struct.pack("=I", mtu))
        if mac:
            attrs += _attr(IFLA_ADDRESS, mac_bytes(mac))
        attrs += _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"bridge\0"))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo() + attrs)

    def set_master_up(self, index: int, master: int) -> None:
        self.request(RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP) + _attr(IFLA_MASTER, struct.pack("=I", master)))

    # -- static entries ------------------------------------------------------------------------
    def set_fdb(self, index: int, mac: str, vtep: str) -> None:
        """``bridge fdb replace MAC dev <vxlan> dst VTEP self permanent``."""
        body = (_ndmsg(AF_BRIDGE, index, NUD_PERMANENT, NTF_SELF) + _attr(NDA_LLADDR, mac_bytes(mac))
                + _attr(NDA_DST, ipaddress.IPv4Address(vtep).packed))
        self.request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body)

    def del_fdb(self, index: int, mac: str, vtep: str) -> None:
        body = (_ndmsg(AF_BRIDGE, index, NUD_PERMANENT, NTF_SELF) + _attr(NDA_LLADDR, mac_bytes(mac))
                + _attr(NDA_DST, ipaddress.IPv4Address(vtep).packed))
        self._absent_ok(RTM_DELNEIGH, body)

    def set_neighbour(self, index: int, ip: str, mac: str) -> None:
        """``ip neigh replace IP lladdr MAC dev <vxlan> nud permanent``."""
        body = (_ndmsg(socket.AF_INET, index, NUD_PERMANENT, 0) + _attr(NDA_DST, ipaddress.IPv4Address(ip).packed)
                + _attr(NDA_LLADDR, mac_bytes(mac)))
        self.request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body)

    def del_neighbour(self, index: int, ip: str) -> None:
        body = _ndmsg(socket.AF_INET, index, NUD_PERMANENT, 0) + _attr(NDA_DST, ipaddress.IPv4Address(ip).packed)
        self._absent_ok(RTM_DELNEIGH, body)

    def _absent_ok(self, kind: int, body: bytes) -> None:
        try:
            self.request(kind, 0, body)
        except NetlinkError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENODEV):
                raise
