"""The engine's ClusterNetworks seam (engine/networks/seams.py) on this node's swarm, and the
composition root's wiring of the overlay driver (``attach_overlay``)."""

from __future__ import annotations

import builtins
import ipaddress
import json
import logging
import os
import threading
from typing import TYPE_CHECKING

from dockyard.cluster.overlay import (
    NAMES_PREFIX,
    NETWORKS_PREFIX,
    StoreAddresses,
    StorePeerTable,
    StoreVniAllocator,
    stored_networks,
)
from dockyard.cluster.overlayrpc import WorkerSide, register
from dockyard.cluster.rpc import AlreadyExists, InvalidArgument
from dockyard.cluster.store.api import Compare, Delete, Put, Store
from dockyard.engine.networks.catalog import new_network
from dockyard.errors import Conflict, DockyardError, Unavailable
from dockyard.network.drivers.overlay import VNI_LIST, OverlayDriver, Site
from dockyard.network.records import IPAMConfig, Network

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService
    from dockyard.engine.networks.service import NetworkService

log = logging.getLogger("dockyard.cluster.overlay")
INGRESS_MADE = "/swarm/ingress-made"  # set once, when the swarm's ingress network is made


class SwarmNetworks:
    """The engine's ClusterNetworks seam (engine/networks/seams.py) on this node's swarm: network
    records under /swarm/networks/, their names under /swarm/network-names/ (taken in the record's
    txn, so two managers cannot make the same name), addresses, VNIs and peers as above.

    A manager works on its store; a worker, which has none, reaches the same through the managers'
    channel (cluster/overlayrpc.py): it lists networks, takes addresses and publishes and follows
    peers, and may not make or remove networks. Every call asks the swarm for its store or channel
    at that moment, so join, promotion and leave need no rewiring."""

    def __init__(self, swarm: SwarmService) -> None:
        self.swarm = swarm

    def _store(self) -> Store | None:
        try:
            return self.swarm.store()
        except Unavailable:
            return None

    def _worker(self) -> WorkerSide | None:
        """The channel side, on a node in a swarm without a store of its own."""
        if not self.swarm.local_node_id():
            return None
        return WorkerSide(self.swarm.channel())

    def list(self) -> list[Network]:
        try:
            store = self._store()
            if store is not None:
                return stored_networks(store)
            worker = self._worker()
            return worker.networks() if worker is not None else []
        except Unavailable as exc:
            log.warning("the swarm's networks cannot be read: %s", exc)
            return []

    def require_manager(self) -> None:
        self.swarm.store()

    def subnet(self, taken: builtins.list[str], ingress: bool = False) -> str:
        cluster = self.swarm.inspect()
        used = [ipaddress.ip_network(t) for t in taken]
        first = not ingress
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
        if network.ingress:
            if network.attachable:
                raise InvalidArgument("ingress network cannot be attachable")
            present = next((n for n in stored_networks(store) if n.ingress), None)
            if present is not None:
                raise AlreadyExists(f"ingress network ({present.id}) is already present")
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
        StoreAddresses(store).forget(network.id)

    def in_use(self, network: Network) -> bool:
        store = self._store()
        return store is not None and bool(StorePeerTable(store).peers(network.id))

    def allocate_address(self, network: Network, wanted: str) -> str:
        store = self._store()
        if store is not None:
            return StoreAddresses(store).allocate(network, wanted)
        worker = self._worker()
        if worker is None:
            raise Unavailable(f"network {network.name} is a swarm network and this node is not in a swarm")
        return worker.allocate_address(network, wanted)

    def release_address(self, network_id: str, address: str) -> None:
        """Never raises: it runs when a container stops, which must go on (an address the swarm
        could not take back stays taken until the network is removed)."""
        try:
            store = self._store()
            if store is not None:
                StoreAddresses(store).release(network_id, address)
                return
            worker = self._worker()
            if worker is not None:
                worker.release_address(network_id, address)
        except DockyardError as exc:
            log.warning("address %s of swarm network %s was not given back: %s", address, network_id[:12], exc)

    def site(self) -> Site:
        """What the overlay driver needs to make a network's data plane on this node."""
        store = self._store()
        vtep = self.swarm.data_path_addr()  # --data-path-addr, else the advertise address
        if store is not None:
            return Site(vtep, self.swarm.inspect().data_path_port, StorePeerTable(store))
        worker = self._worker()
        if worker is None:
            raise Unavailable("this node is not part of a swarm: overlay networks need one")
        return Site(vtep, worker.data_path_port(), worker.peers())


class SwarmLifecycle:
    """A SwarmListener: the ingress network made once, by the manager that makes the swarm (as
    `docker swarm init` does; removed by the user, it stays removed), and the network service's
    copy of the swarm's networks dropped when the node leaves."""

    def __init__(self, networks: NetworkService) -> None:
        self.networks = networks

    def swarm_started(self, swarm: SwarmService) -> None:
        try:
            store = swarm.store()
        except Unavailable:
            return  # a worker: the managers made it
        if not store.txn([Compare(INGRESS_MADE, 0)], [Put(INGRESS_MADE, b"")]):
            return
        ingress = new_network("ingress", "overlay", {}, [], internal=False)
        ingress.scope, ingress.ingress = "swarm", True
        cluster = SwarmNetworks(swarm)
        try:
            subnet = cluster.subnet([], ingress=True)
            v4 = ipaddress.ip_network(subnet)
            ingress.ipam.config = [IPAMConfig(subnet, str(next(v4.hosts())))]
            cluster.create(ingress, [])
        except DockyardError as exc:
            log.warning("the swarm's ingress network was not made: %s", exc)

    def swarm_stopping(self) -> None:
        self.networks.catalog.forget_all_swarm()


def attach_overlay(networks: NetworkService, swarm: SwarmService, state_dir: str, mtu: int) -> None:
    """Composition root: the overlay driver and the swarm's networks in the network service, the
    calls a manager answers for workers' overlays, and the ingress network at swarm init. In a
    swarm already (a daemon restart), the planes its containers kept are followed again, from a
    thread: a manager out of reach must not hold the daemon's start."""
    cluster = SwarmNetworks(swarm)
    driver = OverlayDriver(state_dir, cluster.site, mtu=mtu)
    networks.drivers.register(driver)
    networks.attach_cluster(cluster)
    register(swarm)
    swarm.add_listener(SwarmLifecycle(networks))
    if swarm.local_node_id() and os.path.isdir(state_dir):
        threading.Thread(target=_resume, args=(driver, cluster), name="overlay-resume", daemon=True).start()


def _resume(driver: OverlayDriver, cluster: SwarmNetworks) -> None:
    try:
        for network, peer in driver.resume(cluster.list()):
            cluster.release_address(network.id, peer.ip)
    except (OSError, DockyardError) as exc:
        log.warning("overlay networks were not followed again after the restart: %s", exc)
