"""Address management (IPAM) for the engine's networks: the subnets new networks get, and the
addresses their endpoints get.

The pools are not stored: every address in use is recorded with its endpoint in the container's
record, and the pools are rebuilt from those records when the daemon starts (network/ipam.py).
The host's routes and addresses come through ``host_networks`` so that tests can give their own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from dockyard.engine.networks.seams import ClusterNetworks
from dockyard.engine.specs.networks import IPAMPool
from dockyard.errors import Forbidden, InvalidParameter
from dockyard.network import ipam
from dockyard.network.records import IPAMConfig, Network

HostNetworks = Callable[[], list[tuple[str, ipaddress.IPv4Network]]]


def host_networks() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, network) of the host's routes and addresses: subnets an automatic choice avoids."""
    return [*ipam.host_routes(), *ipam.host_address_networks()]


def _ip_range(given: IPAMPool, subnet: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The IPAM config's IPRange ("" when none), which must lie inside ``subnet``."""
    if not given.ip_range:
        return ""
    try:
        ip_range = ipaddress.ip_network(given.ip_range, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid ip-range {given.ip_range}") from None
    if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):  # type: ignore[arg-type]
        raise InvalidParameter(f"ip-range {ip_range} is not inside the subnet {subnet}")
    return str(ip_range)


class AddressSpace:
    def __init__(self, networks: Callable[[], Iterable[Network]], default_pools: list[tuple[str, int]],
                 host_networks: HostNetworks = host_networks) -> None:
        self._networks = networks
        self.default_pools = default_pools or ipam.DEFAULT_POOLS
        self._host_networks = host_networks
        self.pools: dict[str, ipam.Pool] = {}
        self.pools6: dict[str, ipam.Pool] = {}  # the IPv6 subnet of networks made with EnableIPv6
        # The swarm's networks: their addresses are handed out once for the whole cluster.
        self.cluster: ClusterNetworks | None = None
        self._swarm: dict[str, Network] = {}

    # -- subnets of networks ----------------------------------------------------------------
    def own_subnets(self, exclude_id: str | None = None) -> list[ipaddress.IPv4Network]:
        """The IPv4 subnets of this daemon's networks."""
        return [ipaddress.IPv4Network(c.subnet) for n in self._networks() if n.id != exclude_id
                for c in n.ipam.config if c.subnet and not c.is_ipv6]

    def own_subnets_text(self) -> list[str]:
        return [str(n) for n in self.own_subnets()]

    def taken_subnets(self, exclude_bridge: str = "", exclude_id: str | None = None) -> list:
        """What an automatic choice must not overlap: the host's routes and addresses (but those
        of ``exclude_bridge``) and this daemon's networks."""
        return [n for iface, n in self._host_networks() if iface != exclude_bridge] + self.own_subnets(exclude_id)

    def free_subnet(self, pools: list[tuple[str, int]] | None = None,
                    taken: list | None = None) -> ipaddress.IPv4Network:
        return ipam.free_subnet(self.default_pools if pools is None else pools,
                                self.taken_subnets() if taken is None else taken)

    def network_config(self, given: IPAMPool | None) -> IPAMConfig:
        """The IPv4 subnet of a new network: the one the user names, else a free one from the pools."""
        given = given or IPAMPool()
        if given.subnet:
            try:
                subnet = ipaddress.ip_network(given.subnet, strict=False)
            except ValueError:
                raise InvalidParameter(f"invalid subnet {given.subnet}") from None
            if subnet.version != 4:
                raise InvalidParameter("IPv6 subnets are not supported by Dockyard yet")
            # As libnetwork's IPAM: a subnet the user names only has to be free among this daemon's
            # networks; host routes (another daemon's bridges) steer only the automatic choice.
            if any(subnet.overlaps(t) for t in self.own_subnets()):
                raise Forbidden("Pool overlaps with other one on this address space")
        else:
            if given.gateway or given.ip_range:
                raise InvalidParameter("gateway and ip-range need a subnet (--subnet)")
            subnet = self.free_subnet()
        gateway = given.gateway or str(next(subnet.hosts()))
        try:
            if ipaddress.ip_address(gateway) not in subnet:
                raise InvalidParameter(f"gateway {gateway} is not in the subnet {subnet}")
        except ValueError:
            raise InvalidParameter(f"invalid gateway address {gateway}") from None
        config = IPAMConfig(str(subnet), gateway, _ip_range(given, subnet))
        aux = given.auxiliary_addresses or {}
        for key, value in aux.items():
            try:
                address = ipaddress.IPv4Address(value)
            except ValueError:
                raise InvalidParameter(f"non parsable secondary ip address ({key}:{value}) passed for network") \
                    from None
            if address not in subnet:
                raise Forbidden(f"auxiliary address: ({key}:{value}) must belong to the master pool: {subnet}")
        config.auxiliary_addresses = dict(aux)
        return config

    def network_config6(self, given: IPAMPool) -> IPAMConfig:
        """The IPv6 half of an EnableIPv6 network: the subnet the user names (gateway: its first
        address unless given), free among this daemon's networks."""
        try:
            subnet = ipaddress.IPv6Network(given.subnet or "", strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid subnet {given.subnet}") from None
        for network in self._networks():
            other = network.ipv6
            if other is not None and subnet.overlaps(ipaddress.IPv6Network(other.subnet)):
                raise Forbidden("Pool overlaps with other one on this address space")
        try:
            gateway = ipaddress.IPv6Address(given.gateway or str(subnet.network_address + 1))
        except ValueError:
            raise InvalidParameter(f"invalid gateway address {given.gateway}") from None
        if gateway not in subnet:
            raise InvalidParameter(f"gateway {gateway} is not in the subnet {subnet}")
        return IPAMConfig(str(subnet), str(gateway), _ip_range(given, subnet))

    # -- addresses of endpoints ---------------------------------------------------------------
    def open(self, network: Network) -> None:
        """The network's pools (once: a pool rebuilt from container records keeps its addresses)."""
        if network.scope == "swarm":
            self._swarm[network.id] = network
            return
        v4 = network.ipv4
        if v4 is not None and network.id not in self.pools:
            pool = self.pools[network.id] = ipam.Pool(ipaddress.IPv4Network(v4.subnet),
                                                      ipaddress.IPv4Address(v4.gateway),
                                                      ipaddress.IPv4Network(v4.ip_range) if v4.ip_range else None)
            # Auxiliary addresses belong to hosts outside Docker: never handed to a container.
            pool.used.update(ipaddress.IPv4Address(a) for a in v4.auxiliary_addresses.values())
        v6 = network.ipv6
        if v6 is not None and network.id not in self.pools6:
            self.pools6[network.id] = ipam.Pool(ipaddress.IPv6Network(v6.subnet), ipaddress.IPv6Address(v6.gateway),
                                                ipaddress.IPv6Network(v6.ip_range) if v6.ip_range else None)

    def close(self, network_id: str) -> None:
        self._swarm.pop(network_id, None)
        self.pools.pop(network_id, None)
        self.pools6.pop(network_id, None)

    def allocate(self, network: Network, wanted: str = "") -> str:
        """An IPv4 address for an endpoint (``wanted`` if given and free)."""
        if network.scope == "swarm":
            if self.cluster is None:
                raise InvalidParameter(f"network {network.name} is a swarm network and this node is in no swarm")
            self._swarm[network.id] = network
            return self.cluster.allocate_address(network, wanted)
        return str(self.pools[network.id].allocate(wanted))

    def allocate6(self, network: Network, wanted: str = "") -> str:
        """The endpoint's IPv6 address on an IPv6 network ("" elsewhere); a wanted one must fit."""
        pool = self.pools6.get(network.id)
        if pool is None:
            if wanted:
                raise InvalidParameter(f"invalid IPv6 address {wanted}: network {network.name} has no IPv6 subnet")
            return ""
        return str(pool.allocate(wanted))

    def release(self, network_id: str, address: str = "", address6: str = "") -> None:
        # A swarm network's: also after a daemon restart, when it was not opened in this run.
        if address and network_id not in self.pools and self.cluster is not None:
            self.cluster.release_address(network_id, address)
        if address and network_id in self.pools:
            self.pools[network_id].release(address)
        if address6 and network_id in self.pools6:
            self.pools6[network_id].release(address6)

    def reserve(self, network_id: str, address: str = "", address6: str = "") -> bool:
        """Mark addresses a running container already has (after a daemon restart) as used;
        False when the network has no IPv4 pool (it failed to come up)."""
        if network_id in self._swarm:
            return True  # held in the cluster since it was allocated
        if address6 and network_id in self.pools6:
            self.pools6[network_id].used.add(ipaddress.IPv6Address(address6))
        if address and network_id in self.pools:
            self.pools[network_id].used.add(ipaddress.IPv4Address(address))
            return True
        return False
