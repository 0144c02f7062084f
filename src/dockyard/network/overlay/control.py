"""What the overlay's data plane needs from the control plane, named as two narrow seams, and
their in-memory implementation (one process: unit tests, and the data-plane tests where two
nodes share one table). The cluster's implementation on its store is cluster/overlay.py.

- PeerTable: the endpoints of each overlay network, published by the node they join on and
  withdrawn when they leave; every node holding the network lists and watches them (libnetwork
  spreads the same table by gossip, networkdb's "overlay_peer_table").
- VniAllocator: one VXLAN network identifier per overlay network, unique in the cluster (swarmkit's
  ovmanager hands them out from 4096 up; a network made with
  com.docker.network.driver.overlay.vxlanid_list asks for its own).
"""

from __future__ import annotations

import threading
from typing import Protocol

from dockyard.errors import Conflict, InvalidParameter, Unavailable
from dockyard.network.overlay.peers import Peer

VNI_FIRST = 4096  # swarmkit's ovmanager: below are left to networks made outside swarm
VNI_LAST = (1 << 24) - 1


class PeerWatch(Protocol):
    def changed(self, timeout: float) -> bool:
        """True when the network's peers changed (list them again); False after ``timeout`` s."""
        ...

    def cancel(self) -> None: ...


class PeerTable(Protocol):
    def publish(self, network_id: str, endpoint: str, peer: Peer) -> None:
        """Announce a local endpoint of ``network_id`` (``endpoint`` names it on its node)."""
        ...

    def withdraw(self, network_id: str, vtep: str, endpoint: str) -> None: ...

    def peers(self, network_id: str) -> list[Peer]: ...

    def endpoints(self, network_id: str, vtep: str) -> dict[str, Peer]:
        """The endpoints the node at ``vtep`` published on the network, by name."""
        ...

    def watch(self, network_id: str) -> PeerWatch:
        """Changes to the network's peers from now on (list after starting the watch: none is lost)."""
        ...


class VniAllocator(Protocol):
    def allocate(self, network_id: str, wanted: list[int]) -> list[int]:
        """The VNIs of a new network: ``wanted`` exactly (Conflict if one is taken), else one free."""
        ...

    def release(self, network_id: str) -> None: ...


def parse_vni_list(text: str) -> list[int]:
    """com.docker.network.driver.overlay.vxlanid_list: comma-separated VNIs."""
    vnis = []
    for part in (p.strip() for p in text.split(",")):
        try:
            vni = int(part)
        except ValueError:
            raise InvalidParameter(f"invalid vxlan id value {part!r} passed") from None
        if not 1 <= vni <= VNI_LAST:
            raise InvalidParameter(f"vxlan id {vni} out of range: a VNI is 1 to {VNI_LAST}")
        vnis.append(vni)
    return vnis


NO_FREE_VNI = "no free VXLAN network identifier is left in the cluster"


def vni_taken(vnis: list[int]) -> str:
    return f"vxlan id {', '.join(map(str, vnis))} is already used by another network"


def check_distinct(vnis: list[int]) -> None:
    if len(set(vnis)) != len(vnis):
        raise InvalidParameter(f"vxlan ids {vnis} repeat a VNI")


class _MemoryWatch:
    def __init__(self, table: MemoryPeerTable, network_id: str) -> None:
        self._table = table
        self._network_id = network_id
        self._seen = table._generation.get(network_id, 0)
        self._cancelled = False

    def changed(self, timeout: float) -> bool:
        with self._table._cond:
            self._table._cond.wait_for(lambda: self._cancelled or self._current() != self._seen, timeout)
            if self._cancelled or self._current() == self._seen:
                return False
            self._seen = self._current()
            return True

    def _current(self) -> int:
        return self._table._generation.get(self._network_id, 0)

    def cancel(self) -> None:
        with self._table._cond:
            self._cancelled = True
            self._table._cond.notify_all()


class MemoryPeerTable:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._peers: dict[str, dict[tuple[str, str], Peer]] = {}  # network -> (vtep, endpoint) -> peer
        self._generation: dict[str, int] = {}

    def _changed(self, network_id: str) -> None:
        self._generation[network_id] = self._generation.get(network_id, 0) + 1
        self._cond.notify_all()

    def publish(self, network_id: str, endpoint: str, peer: Peer) -> None:
        with self._cond:
            self._peers.setdefault(network_id, {})[(peer.vtep, endpoint)] = peer
            self._changed(network_id)

    def withdraw(self, network_id: str, vtep: str, endpoint: str) -> None:
        with self._cond:
            if self._peers.get(network_id, {}).pop((vtep, endpoint), None) is not None:
                self._changed(network_id)

    def peers(self, network_id: str) -> list[Peer]:
        with self._cond:
            return sorted(self._peers.get(network_id, {}).values())

    def endpoints(self, network_id: str, vtep: str) -> dict[str, Peer]:
        with self._cond:
            return {endpoint: peer for (at, endpoint), peer in sorted(self._peers.get(network_id, {}).items())
                    if at == vtep}

    def watch(self, network_id: str) -> PeerWatch:
        with self._cond:
            return _MemoryWatch(self, network_id)


class MemoryVniAllocator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[int, str] = {}

    def allocate(self, network_id: str, wanted: list[int]) -> list[int]:
        with self._lock:
            if wanted:
                check_distinct(wanted)
                taken = [v for v in wanted if v in self._owner]
                if taken:
                    raise Conflict(vni_taken(taken))
                chosen = list(wanted)
            else:
                free = next((v for v in range(VNI_FIRST, VNI_LAST + 1) if v not in self._owner), None)
                if free is None:
                    raise Unavailable(NO_FREE_VNI)
                chosen = [free]
            for vni in chosen:
                self._owner[vni] = network_id
            return chosen

    def release(self, network_id: str) -> None:
        with self._lock:
            for vni in [v for v, owner in self._owner.items() if owner == network_id]:
                del self._owner[vni]
