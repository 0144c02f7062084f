"""Forgetting the connections balanced to a task that stopped (ctnetlink, no conntrack(8)).

NAT is decided once per connection, so a conntrack entry keeps sending a flow to its backend
after the backend is gone: a UDP client reusing its port, or a TCP peer retransmitting, would
wait for a dead task until the entry times out. IPVS has `expire_nodest_conn` for this; here the
namespace's table is dumped and every entry translated to a backend that left (its reply comes
from the backend, its original destination was another address: a VIP or the sandbox itself) is
deleted, so the flow's next packet is balanced again. Entries of a task that is only unhealthy
are kept: it is drained (no new connections), as IPVS does with weight 0.

Runs in the calling thread's namespace (netns.run_in).
"""

from __future__ import annotations

import socket
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_DELETE = 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY = 1, 2
CTA_TUPLE_IP = 1
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
NFNETLINK_V0 = 0


def _attrs(payload: bytes) -> dict[int, bytes]:
    found, offset = {}, 0
    while offset + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, offset)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = payload[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def _raw_attr(payload: bytes, wanted: int) -> bytes | None:
    """The whole attribute (header included), to send back as it came."""
    offset = 0
    while offset + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, offset)
        if length < 4:
            break
        if kind & NLA_TYPE_MASK == wanted:
            return payload[offset:offset + length] + b"\0" * (-length % 4)
        offset += (length + 3) & ~3
    return None


def _addresses(tuple_attr: bytes) -> tuple[str, str]:
    ip = _attrs(_attrs(tuple_attr).get(CTA_TUPLE_IP, b""))
    src, dst = ip.get(CTA_IP_V4_SRC), ip.get(CTA_IP_V4_DST)
    return (socket.inet_ntoa(src) if src else "", socket.inet_ntoa(dst) if dst else "")


def _header(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | kind, flags, seq, 0) + body


def _nfgen() -> bytes:
    return struct.pack("=BBH", socket.AF_INET, NFNETLINK_V0, 0)


def stale(entries: list[tuple[tuple[str, str], tuple[str, str]]], gone: set[str]) -> list[int]:
    """Indexes of the entries ((orig src, orig dst), (reply src, reply dst)) balanced to ``gone``."""
    return [i for i, (orig, reply) in enumerate(entries) if reply[0] in gone and orig[1] != reply[0]]


def forget(gone: set[str]) -> int:
    """Delete this namespace's conntrack entries translated to an address in ``gone``; how many."""
    if not gone:
        return 0
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(_header(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 1, _nfgen()))
        originals: list[bytes] = []
        entries = []
        done = False
        while not done:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if length < 16:
                    break
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    done = True
                    break
                body = data[offset + 20:offset + length]
                attrs = _attrs(body)
                orig = _raw_attr(body, CTA_TUPLE_ORIG)
                if orig is not None and CTA_TUPLE_REPLY in attrs:
                    originals.append(orig)
                    entries.append((_addresses(attrs[CTA_TUPLE_ORIG]), _addresses(attrs[CTA_TUPLE_REPLY])))
                offset += (length + 3) & ~3
        deleted = 0
        for seq, i in enumerate(stale(entries, gone), start=2):
            sock.send(_header(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, _nfgen() + originals[i]))
            reply = sock.recv(4096)
            if len(reply) >= 20 and struct.unpack_from("=H", reply, 4)[0] == NLMSG_ERROR:
                error = struct.unpack_from("=i", reply, 16)[0]
                deleted += error == 0  # ENOENT: it ended meanwhile
        return deleted
