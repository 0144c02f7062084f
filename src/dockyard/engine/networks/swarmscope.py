"""Networks of scope "swarm" (overlay): made and removed by a manager in the cluster store, seen by
every node of the swarm, and never written to one daemon's disk. The kernel side of a node comes
later, lazily, when a container there joins (network/drivers/overlay.py)."""

from __future__ import annotations

from dockyard.engine.networks.addresses import AddressSpace
from dockyard.engine.networks.catalog import NetworkCatalog, new_network
from dockyard.engine.networks.seams import ClusterNetworks
from dockyard.engine.specs.networks import IPAMPool, NetworkCreate
from dockyard.errors import Forbidden, InvalidParameter, Unavailable
from dockyard.network.drivers.driver import Driver
from dockyard.network.records import Network

NOT_ATTACHABLE = "Could not attach to network {name}: rpc error: code = PermissionDenied desc = network {name} not " \
                 "manually attachable"


TASK_LABEL = "com.docker.swarm.task.id"  # on the containers a swarm agent makes (cluster/agent)


def check_attachable(network: Network, labels: dict[str, str] | None = None) -> None:
    """A standalone container joins a swarm network only when it was made --attachable; a swarm
    task's container (moby's "managed" container) joins the networks of its service."""
    if network.scope == "swarm" and not network.attachable and TASK_LABEL not in (labels or {}):
        raise Forbidden(NOT_ATTACHABLE.format(name=network.name))


class SwarmScope:
    def __init__(self, catalog: NetworkCatalog, addresses: AddressSpace) -> None:
        self.catalog = catalog
        self.addresses = addresses

    def _cluster(self) -> ClusterNetworks:
        cluster = self.catalog.cluster
        if cluster is None:
            raise Unavailable("swarm networks need swarm mode, which this daemon runs without")
        return cluster

    def create(self, spec: NetworkCreate, driver: Driver, options: dict[str, str]) -> Network:
        cluster = self._cluster()
        cluster.require_manager()
        name = spec.name or ""
        pending = new_network(name, driver.name, options, [], internal=bool(spec.internal),
                              attachable=bool(spec.attachable), labels=dict(spec.labels or {}))
        pending.scope = "swarm"
        pending.ingress = bool(spec.ingress)
        driver.validate(pending, [n for n in self.catalog.all() if n.driver == driver.name])
        given = list((spec.ipam.config if spec.ipam is not None else None) or [])
        if spec.enable_ipv6 or any(":" in (c.subnet or "") for c in given):
            raise InvalidParameter(f"IPv6 on {driver.name} networks is not supported by Dockyard yet")
        if len(given) > 1:
            raise InvalidParameter(f"a {driver.name} network has one IPv4 subnet in Dockyard ({len(given)} given)")
        pool = given[0] if given else IPAMPool()
        if not pool.subnet:
            if pool.gateway or pool.ip_range:
                raise InvalidParameter("gateway and ip-range need a subnet (--subnet)")
            pool = IPAMPool(subnet=cluster.subnet(self.addresses.own_subnets_text(), ingress=pending.ingress))
        pending.ipam.config = [self.addresses.network_config(pool)]
        pending.ipam.options = dict(spec.ipam.options) if spec.ipam is not None and spec.ipam.options is not None \
            else None
        from dockyard.network.drivers.overlay import VNI_LIST  # swarm networks only: kept out of the start-up
        from dockyard.network.overlay.control import parse_vni_list

        wanted = parse_vni_list(options[VNI_LIST]) if options.get(VNI_LIST) else []
        cluster.create(pending, wanted)
        self.catalog.remember_swarm(pending)
        self.addresses.open(pending)
        return pending

    def in_use(self, network: Network) -> bool:
        return self._cluster().in_use(network)

    def remove(self, network: Network) -> None:
        cluster = self._cluster()
        cluster.require_manager()
        cluster.delete(network)
        self.catalog.forget_swarm(network.id)
        self.addresses.close(network.id)
