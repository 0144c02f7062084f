"""The overlay's control-plane seams (network/overlay/control.py) on the cluster store: etcd among
the managers, the memory store in unit tests. The swarm's networks as the engine sees them are
cluster/swarmnetworks.py; a worker's way to the same is cluster/overlayrpc.py.

Keys: /overlay/peers/<network id>/<vtep>/<endpoint> -> Peer JSON; /overlay/vni/<vni> -> network id.
The VNI is taken in a txn that requires the key absent, so two managers never hand out the same.
"""

from __future__ import annotations

import ipaddress
import json

from dockyard.cluster.store.api import Compare, Delete, Put, Store
from dockyard.errors import Conflict, InvalidParameter, Unavailable
from dockyard.network import ipam
from dockyard.network.overlay.control import NO_FREE_VNI, VNI_FIRST, VNI_LAST, PeerWatch, check_distinct, vni_taken
from dockyard.network.overlay.peers import Peer
from dockyard.network.records import Network

PEERS_PREFIX = "/overlay/peers/"
VNI_PREFIX = "/overlay/vni/"
ADDRESSES_PREFIX = "/overlay/addresses/"
NETWORKS_PREFIX = "/swarm/networks/"
NAMES_PREFIX = "/swarm/network-names/"


class _StoreWatch:
    def __init__(self, store: Store, prefix: str) -> None:
        self._watch = store.watch(prefix)

    def changed(self, timeout: float) -> bool:
        return self._watch.next(timeout) is not None

    def cancel(self) -> None:
        self._watch.cancel()


class StorePeerTable:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _prefix(network_id: str) -> str:
        return f"{PEERS_PREFIX}{network_id}/"

    def publish(self, network_id: str, endpoint: str, peer: Peer) -> None:
        self.store.put(f"{self._prefix(network_id)}{peer.vtep}/{endpoint}", peer.encode())

    def withdraw(self, network_id: str, vtep: str, endpoint: str) -> None:
        self.store.delete(f"{self._prefix(network_id)}{vtep}/{endpoint}")

    def peers(self, network_id: str) -> list[Peer]:
        return [Peer.decode(kv.value) for kv in self.store.range(self._prefix(network_id))]

    def endpoints(self, network_id: str, vtep: str) -> dict[str, Peer]:
        prefix = f"{self._prefix(network_id)}{vtep}/"
        return {kv.key[len(prefix):]: Peer.decode(kv.value) for kv in self.store.range(prefix)}

    def forget(self, network_id: str) -> None:
        """Every peer of a removed network."""
        for kv in self.store.range(self._prefix(network_id)):
            self.store.delete(kv.key)

    def watch(self, network_id: str) -> PeerWatch:
        return _StoreWatch(self.store, self._prefix(network_id))


class StoreVniAllocator:
    def __init__(self, store: Store) -> None:
        self.store = store

    def allocate(self, network_id: str, wanted: list[int]) -> list[int]:
        if wanted:
            check_distinct(wanted)
            puts = [Put(f"{VNI_PREFIX}{vni}", network_id.encode()) for vni in wanted]
            if not self.store.txn([Compare(p.key, 0) for p in puts], puts):
                taken = [v for v in wanted if self.store.get(f"{VNI_PREFIX}{v}") is not None]
                raise Conflict(vni_taken(taken))
            return list(wanted)
        for _attempt in range(16):  # another manager may take the same one between range and txn
            used = {int(kv.key[len(VNI_PREFIX):]) for kv in self.store.range(VNI_PREFIX)}
            vni = next((v for v in range(VNI_FIRST, VNI_LAST + 1) if v not in used), None)
            if vni is None:
                raise Unavailable(NO_FREE_VNI)
            key = f"{VNI_PREFIX}{vni}"
            if self.store.txn([Compare(key, 0)], [Put(key, network_id.encode())]):
                return [vni]
        raise Unavailable("allocating a VXLAN network identifier kept racing with other managers; try again")

    def release(self, network_id: str) -> None:
        mine = [kv.key for kv in self.store.range(VNI_PREFIX) if kv.value.decode() == network_id]
        if mine:
            self.store.txn([], [Delete(key) for key in mine])


class StoreAddresses:
    """Endpoint addresses of swarm networks, handed out once for the cluster: the key
    /overlay/addresses/<network>/<ip> is taken in a txn that requires it absent."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def allocate(self, network: Network, wanted: str) -> str:
        v4 = network.ipv4
        if v4 is None:
            raise InvalidParameter(f"network {network.name} has no IPv4 subnet")
        prefix = f"{ADDRESSES_PREFIX}{network.id}/"
        for _attempt in range(16):  # another node may take the same address between range and txn
            pool = ipam.Pool(ipaddress.IPv4Network(v4.subnet), ipaddress.IPv4Address(v4.gateway),
                             ipaddress.IPv4Network(v4.ip_range) if v4.ip_range else None)
            pool.used.update(ipaddress.IPv4Address(a) for a in v4.auxiliary_addresses.values())
            pool.used.update(ipaddress.IPv4Address(kv.key[len(prefix):]) for kv in self.store.range(prefix))
            address = str(pool.allocate(wanted))
            if self.store.txn([Compare(prefix + address, 0)], [Put(prefix + address, b"")]):
                return address
        raise Unavailable(f"allocating an address on {network.name} kept racing with other nodes; try again")

    def release(self, network_id: str, address: str) -> None:
        self.store.delete(f"{ADDRESSES_PREFIX}{network_id}/{address}")

    def forget(self, network_id: str) -> None:
        for kv in self.store.range(f"{ADDRESSES_PREFIX}{network_id}/"):
            self.store.delete(kv.key)


def stored_networks(store: Store) -> list[Network]:
    return [Network.from_json(json.loads(kv.value)) for kv in store.range(NETWORKS_PREFIX)]
