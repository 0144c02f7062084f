"""The overlay's control-plane seams (network/overlay/control.py) and the swarm's networks on the
cluster store: etcd among the managers, the memory store in unit tests.

Keys: /overlay/peers/<network id>/<vtep>/<endpoint> -> Peer JSON; /overlay/vni/<vni> -> network id.
The VNI is taken in a txn that requires the key absent, so two managers never hand out the same.
"""

from __future__ import annotations

import builtins
import ipaddress
import json
import logging
from typing import TYPE_CHECKING

from dockyard.cluster.store.api import Compare, Delete, Put, Store
from dockyard.errors import Conflict, InvalidParameter, Unavailable
from dockyard.network import ipam
from dockyard.network.drivers.overlay import VNI_LIST, OverlayDriver, Site
from dockyard.network.overlay.control import NO_FREE_VNI, VNI_FIRST, VNI_LAST, PeerWatch, check_distinct, vni_taken
from dockyard.network.overlay.peers import Peer
from dockyard.network.records import Network

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService
    from dockyard.engine.networks.service import NetworkService

log = logging.getLogger("dockyard.cluster.overlay")

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

    def endpoints(self, network_id: str, vtep: str) -> list[str]:
        prefix = f"{self._prefix(network_id)}{vtep}/"
        return [kv.key[len(prefix):] for kv in self.store.range(prefix)]

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


class SwarmNetworks:
    """The engine's ClusterNetworks seam (engine/networks/seams.py) on this node's swarm: network
    records under /swarm/networks/, their names under /swarm/network-names/ (taken in the record's
    txn, so two managers cannot make the same name), endpoint addresses under
    /overlay/addresses/<network>/<ip>, VNIs and peers as above. Every call asks the swarm for its
    store at that moment, so join and leave need no rewiring; a node that is not a manager gets
    Docker's "not a swarm manager" (workers reach the store once join gives them a way)."""

    def __init__(self, swarm: SwarmService) -> None:
        self.swarm = swarm

    def _store(self) -> Store | None:
        try:
            return self.swarm.store()
        except Unavailable:
            return None

    def list(self) -> list[Network]:
        store = self._store()
        if store is None:
            return []
        try:
            return [Network.from_json(json.loads(kv.value)) for kv in store.range(NETWORKS_PREFIX)]
        except Unavailable as exc:
            log.warning("the swarm's networks cannot be read: %s", exc)
            return []

    def require_manager(self) -> None:
        self.swarm.store()

    def subnet(self, taken: builtins.list[str]) -> str:
        cluster = self.swarm.inspect()
        used = [ipaddress.ip_network(t) for t in taken]
        first = True
        for base in cluster.default_addr_pool:
            for candidate in ipaddress.ip_network(base).subnets(new_prefix=cluster.subnet_size):
                # The pool's first subnet is the ingress network's (10.0.0.0/24 by default, as in Docker).
                if first:
                    first = False
                    continue
                if not any(candidate.overlaps(u) for u in used):
                    return str(candidate)
        raise Unavailable("could not find an available, non-overlapping IPv4 address pool among the swarm's "
                          "default address pools to assign to the network")

    def create(self, network: Network, wanted_vnis: builtins.list[int]) -> builtins.list[int]:
        store = self.swarm.store()
        vnis = StoreVniAllocator(store)
        chosen = vnis.allocate(network.id, wanted_vnis)
        network.options[VNI_LIST] = ",".join(map(str, chosen))
        name_key = f"{NAMES_PREFIX}{network.name}"
        try:
            if not store.txn([Compare(name_key, 0)], [Put(name_key, network.id.encode()),
                                                      Put(NETWORKS_PREFIX + network.id,
                                                          json.dumps(network.to_json()).encode())]):
                raise Conflict(f"network with name {network.name} already exists")
        except BaseException:
            vnis.release(network.id)
            raise
        return chosen

    def delete(self, network: Network) -> None:
        store = self.swarm.store()
        store.txn([], [Delete(NETWORKS_PREFIX + network.id), Delete(f"{NAMES_PREFIX}{network.name}")])
        StoreVniAllocator(store).release(network.id)
        StorePeerTable(store).forget(network.id)
        for kv in store.range(f"{ADDRESSES_PREFIX}{network.id}/"):
            store.delete(kv.key)

    def in_use(self, network: Network) -> bool:
        store = self._store()
        return store is not None and bool(StorePeerTable(store).peers(network.id))

    def allocate_address(self, network: Network, wanted: str) -> str:
        store = self.swarm.store()
        v4 = network.ipv4
        if v4 is None:
            raise InvalidParameter(f"network {network.name} has no IPv4 subnet")
        prefix = f"{ADDRESSES_PREFIX}{network.id}/"
        for _attempt in range(16):  # another node may take the same address between range and txn
            pool = ipam.Pool(ipaddress.IPv4Network(v4.subnet), ipaddress.IPv4Address(v4.gateway),
                             ipaddress.IPv4Network(v4.ip_range) if v4.ip_range else None)
            pool.used.update(ipaddress.IPv4Address(a) for a in v4.auxiliary_addresses.values())
            pool.used.update(ipaddress.IPv4Address(kv.key[len(prefix):]) for kv in store.range(prefix))
            address = str(pool.allocate(wanted))
            if store.txn([Compare(prefix + address, 0)], [Put(prefix + address, b"")]):
                return address
        raise Unavailable(f"allocating an address on {network.name} kept racing with other nodes; try again")

    def release_address(self, network_id: str, address: str) -> None:
        store = self._store()
        if store is not None:
            store.delete(f"{ADDRESSES_PREFIX}{network_id}/{address}")

    def site(self) -> Site:
        """What the overlay driver needs to make a network's data plane on this node."""
        store = self.swarm.store()
        info = self.swarm.info()
        return Site(info.node_addr, self.swarm.inspect().data_path_port, StorePeerTable(store))


def attach_overlay(networks: NetworkService, swarm: SwarmService, state_dir: str, mtu: int) -> None:
    """Composition root: the overlay driver and the swarm's networks in the network service."""
    cluster = SwarmNetworks(swarm)
    networks.drivers.register(OverlayDriver(state_dir, cluster.site, mtu=mtu))
    networks.attach_cluster(cluster)
