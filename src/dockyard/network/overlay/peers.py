"""Peers and the kernel entries they call for.

A peer is one endpoint of an overlay network anywhere in the cluster: its IP and MAC on the
overlay and the underlay IP of the node it lives on (the VXLAN tunnel endpoint, VTEP). A node
programs, for every peer on another node, a neighbour entry (IP -> MAC, answered by the VXLAN
device's ARP proxy) and a forwarding entry (MAC -> VTEP). Peers on the node itself need neither:
they hang off the local bridge. Everything here is pure, so the planning is unit-tested without
a kernel.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Peer:
    ip: str  # the endpoint's IPv4 address on the overlay, without prefix
    mac: str  # its MAC, lower case
    vtep: str  # the underlay IPv4 address of its node

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Peer:
        doc = json.loads(raw)
        return cls(doc["ip"], doc["mac"].lower(), doc["vtep"])


@dataclass(frozen=True, order=True)
class Fdb:
    """``bridge fdb ... dev vxlan0 dst VTEP self permanent``."""

    mac: str
    vtep: str


@dataclass(frozen=True, order=True)
class Neighbour:
    """``ip neigh ... dev vxlan0 lladdr MAC nud permanent``."""

    ip: str
    mac: str


@dataclass(frozen=True)
class Entries:
    fdb: frozenset[Fdb] = frozenset()
    neighbours: frozenset[Neighbour] = frozenset()


@dataclass(frozen=True)
class Changes:
    """What to do to go from the programmed entries to the wanted ones: removals first (a peer that
    moved node keeps its MAC, and its old forwarding entry must not outlive the new one)."""

    remove_fdb: tuple[Fdb, ...] = ()
    remove_neighbours: tuple[Neighbour, ...] = ()
    add_fdb: tuple[Fdb, ...] = ()
    add_neighbours: tuple[Neighbour, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.remove_fdb or self.remove_neighbours or self.add_fdb or self.add_neighbours)


def entries(peers: Iterable[Peer], local_vtep: str) -> Entries:
    """The entries a node at ``local_vtep`` needs for ``peers``. When two peers claim one IP or one
    MAC (a stale record beside its successor), the one sorted last wins, so every node picks the
    same."""
    by_ip: dict[str, Peer] = {}
    by_mac: dict[str, Peer] = {}
    for peer in sorted(peers):
        if peer.vtep == local_vtep:
            continue
        by_ip[peer.ip] = peer
        by_mac[peer.mac] = peer
    return Entries(frozenset(Fdb(p.mac, p.vtep) for p in by_mac.values()),
                   frozenset(Neighbour(p.ip, p.mac) for p in by_ip.values()))


def changes(programmed: Entries, wanted: Entries) -> Changes:
    # An entry for the same key with another value is replaced by its add (NLM_F_REPLACE); removing
    # it first would leave a moment with no entry, so only keys no longer wanted are removed.
    wanted_macs = {f.mac for f in wanted.fdb}
    wanted_ips = {n.ip for n in wanted.neighbours}
    return Changes(
        remove_fdb=tuple(sorted(f for f in programmed.fdb - wanted.fdb if f.mac not in wanted_macs)),
        remove_neighbours=tuple(sorted(n for n in programmed.neighbours - wanted.neighbours
                                       if n.ip not in wanted_ips)),
        add_fdb=tuple(sorted(wanted.fdb - programmed.fdb)),
        add_neighbours=tuple(sorted(wanted.neighbours - programmed.neighbours)),
    )
