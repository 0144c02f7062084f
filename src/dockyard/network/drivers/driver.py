"""The interface a network driver implements, modelled on libnetwork's driverapi.Driver.

The engine keeps what is common to every kind of network: records, address management (IPAM),
the container's namespace, published host ports and the embedded DNS server. A driver does what
its kind of network means in the kernel: a bridge and veth pairs for `bridge`; a VXLAN device
for `overlay`; a sub-interface of a host link for `macvlan`.

Netfilter rules are the one place this differs from libnetwork: the engine rewrites all of its
rules in one transaction from the current state (network/iptables.py), so a driver does not
program rules itself but says which rules a network and a published port need; the engine
applies the union. Unprogramming a port is then dropping its rules from the next apply.

The methods block (netlink, `ip`, sysctl writes): the engine calls them off its event loop
where a request waits on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from dockyard.network.iptables import BridgeRules, PortRule
from dockyard.network.portmap import Mapping
from dockyard.network.records import Network
from dockyard.network.sandbox import Interface


@dataclass(frozen=True)
class Capabilities:
    """libnetwork's driverapi.Capability: ``scope`` is where the network's records live ("local"
    to one daemon, "global" for a cluster's overlay), ``connectivity_scope`` how far its
    endpoints reach."""

    scope: str = "local"
    connectivity_scope: str = "local"


class Driver(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    def validate(self, network: Network, others: Iterable[Network]) -> None:
        """Refuse (InvalidParameter, Conflict) the driver options of a network about to be made,
        before anything changes; ``others`` are the networks this driver already has."""

    def create_network(self, network: Network) -> None:
        """Make the network in the kernel. Idempotent: the engine calls it for every network at
        start-up too, and it adopts what a previous run left."""

    def delete_network(self, network: Network) -> None:
        """Take the network out of the kernel (also when the daemon stops with no container
        running, so a stopped daemon leaves the host as it found it)."""

    def endpoint(self, network: Network, ifname: str, address: str, mac: str, gateway: str = "",
                 address6: str = "", gateway6: str = "") -> Interface:
        """The interface an endpoint on ``network`` gets (libnetwork's CreateEndpoint); addresses
        are CIDRs, gateways set only on the interface that carries the default route."""

    def join(self, network: Network, sandbox_path: str, interface: Interface) -> None:
        """Put ``interface`` into the namespace pinned at ``sandbox_path``, configured."""

    def leave(self, network: Network, host_end: str) -> None:
        """Take an endpoint's interface out of its sandbox, by the name ``endpoint`` gave its host
        side (recorded with the container, so this works after a daemon restart too)."""

    def released(self, network: Network, host_end: str) -> None:
        """The sandbox holding the endpoint is going (its container stopped): drop what the driver
        holds for it. The kernel deletes the interface with the namespace, so nothing is deleted
        here (bridge: nothing to do; overlay: the endpoint is withdrawn from the other nodes)."""

    def network_rules(self, network: Network) -> BridgeRules | None:
        """The netfilter rules the network itself needs (forwarding, masquerade, isolation)."""

    def port_rules(self, network: Network, container_ip: str, mappings: list[Mapping]) -> list[PortRule]:
        """The rules that publish ``mappings`` (bound host ports) to ``container_ip`` on this
        network (libnetwork's ProgramExternalConnectivity)."""
