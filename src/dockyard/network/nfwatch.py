"""Notifications of netfilter ruleset changes that may have removed the daemon's rules.

iptables-nft writes the iptables tables as nftables objects, and the kernel multicasts every
committed change on nfnetlink's NFNLGRP_NFTABLES group. The watcher keeps only deletions that can
hurt us (a rule deleted from a chain we jump from or own, such a chain deleted, a whole `filter` or
`nat` table gone) and calls back, so a removed jump is put back within moments instead of at the
next poll. With iptables-legacy nothing is multicast: the daemon's poll covers that case.
"""

import errno
import socket
import struct
from collections.abc import Callable

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_DELTABLE, NFT_MSG_DELCHAIN, NFT_MSG_DELRULE = 2, 5, 8
NFT_MSG_NEWGEN, NFT_MSG_GETGEN = 15, 16
NFTA_GEN_ID = 1
NLM_F_REQUEST = 1
NFPROTO_IPV4 = 2
NFTA_TABLE_NAME = 1
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME = 1, 3
NFTA_RULE_TABLE, NFTA_RULE_CHAIN = 1, 2
NLA_TYPE_MASK = 0x3FFF
TABLES = ("filter", "nat")


def _attrs(payload: bytes) -> dict[int, bytes]:
    found, offset = {}, 0
    while offset + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, offset)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = payload[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def _string(value: bytes | None) -> str | None:
    return value.split(b"\0", 1)[0].decode(errors="replace") if value is not None else None


def concerns(data: bytes, watched: set[tuple[str, str]]) -> bool:
    """Does any nfnetlink message in ``data`` delete a watched (table, chain), a rule in one, or
    a whole watched table? Only IPv4 tables named filter or nat are considered."""
    offset = 0
    while offset + 20 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        family = data[offset + 16]
        subsystem, message = kind >> 8, kind & 0xFF
        if subsystem == NFNL_SUBSYS_NFTABLES and family == NFPROTO_IPV4:
            attrs = _attrs(data[offset + 20:offset + length])
            if message == NFT_MSG_DELTABLE and _string(attrs.get(NFTA_TABLE_NAME)) in TABLES:
                return True
            if message == NFT_MSG_DELCHAIN and (_string(attrs.get(NFTA_CHAIN_TABLE)),
                                                _string(attrs.get(NFTA_CHAIN_NAME))) in watched:
                return True
            if message == NFT_MSG_DELRULE:
                table, chain = _string(attrs.get(NFTA_RULE_TABLE)), _string(attrs.get(NFTA_RULE_CHAIN))
                if (table, chain) in watched or (table in TABLES and chain is None):
                    return True
        offset += (length + 3) & ~3
    return False


def generation() -> int | None:
    """The nftables ruleset generation: it changes with every committed change, so an unchanged
    one means there is nothing new to check (None when nf_tables cannot be asked)."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER) as sock:
            sock.settimeout(1)
            body = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)
            kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
            sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST, 1, 0) + body)
            data = sock.recv(4096)
    except OSError:
        return None
    length, kind = struct.unpack_from("=IH", data)
    if kind != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
        return None
    value = _attrs(data[20:length]).get(NFTA_GEN_ID)
    return struct.unpack(">I", value[:4])[0] if value and len(value) >= 4 else None


class Watcher:
    """An nfnetlink socket on the event loop, calling ``wake()`` when a change concerns us."""

    def __init__(self, loop, watched: set[tuple[str, str]], wake: Callable[[], None]) -> None:
        self.loop, self.watched, self.wake = loop, watched, wake
        self.sock: socket.socket | None = None
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK,
                                 NETLINK_NETFILTER)
            sock.bind((0, 0))
            sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            return  # no nf_tables here: the poll alone keeps watch
        self.sock = sock
        loop.add_reader(sock.fileno(), self._readable)

    @property
    def active(self) -> bool:
        return self.sock is not None

    def _readable(self) -> None:
        assert self.sock is not None, "a reader only while the socket is open"
        relevant = False
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError as exc:
                # ENOBUFS: notifications were lost, so assume the worst and check.
                relevant = relevant or exc.errno == errno.ENOBUFS
                if exc.errno != errno.ENOBUFS:
                    break
                continue
            relevant = relevant or concerns(data, self.watched)
        if relevant:
            self.wake()

    def close(self) -> None:
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
