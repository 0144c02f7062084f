"""The `bridge` driver: a Linux bridge per network with the gateway address on it, and a veth
pair per endpoint (the container's ethN, the host end enslaved to the bridge)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from dockyard.errors import Conflict, InvalidParameter
from dockyard.network import bridge, sandbox
from dockyard.network.drivers.driver import Capabilities
from dockyard.network.iptables import BridgeRules, PortRule
from dockyard.network.portmap import Mapping
from dockyard.network.records import BRIDGE_NAME, ENABLE_ICC, ENABLE_MASQUERADE, Network
from dockyard.network.sandbox import Interface
from dockyard.util.names import valid_name

log = logging.getLogger("dockyard.networks")


def bridge_name(network: Network) -> str:
    """The Linux bridge of a network: its com.docker.network.bridge.name, else br-<short id>."""
    return network.options.get(BRIDGE_NAME) or "br-" + network.id[:12]


class BridgeDriver:
    name = "bridge"

    def __init__(self, *, mtu: int = 1500, userland_proxy: bool = True) -> None:
        self.default_mtu = mtu
        # Without the userland proxy, loopback traffic to a published port is DNATed onto the bridge.
        self.route_localnet = not userland_proxy

    def capabilities(self) -> Capabilities:
        return Capabilities(scope="local", connectivity_scope="local")

    def validate(self, network: Network, others: Iterable[Network]) -> None:
        name = network.options.get(BRIDGE_NAME, "")
        if not name:
            return
        if len(name) > 15 or not valid_name(name, min_length=1):
            raise InvalidParameter(f"invalid bridge name {name!r}: at most 15 characters")
        if any(bridge_name(other) == name for other in others):
            raise Conflict(f"bridge name {name} is already used by another network")

    def create_network(self, network: Network) -> None:
        name = bridge_name(network)
        v4 = network.ipv4
        assert v4 is not None, "a bridge network has an IPv4 subnet"
        prefix = ipaddress.IPv4Network(v4.subnet).prefixlen
        bridge.ensure(name, f"{ipaddress.IPv4Address(v4.gateway)}/{prefix}", network.mtu(self.default_mtu))
        if self.route_localnet:
            bridge.write_sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")
        v6 = network.ipv6
        if v6 is not None:
            bridge.ensure_ipv6(name, f"{v6.gateway}/{ipaddress.IPv6Network(v6.subnet).prefixlen}")

    def delete_network(self, network: Network) -> None:
        bridge.remove(bridge_name(network))

    def endpoint(self, network: Network, ifname: str, address: str, mac: str, gateway: str = "",
                 address6: str = "", gateway6: str = "") -> Interface:
        return Interface(ifname, sandbox.new_veth_name(), bridge_name(network), address, mac,
                         network.mtu(self.default_mtu), gateway, address6, gateway6)

    def join(self, network: Network, sandbox_path: str, interface: Interface) -> None:
        if not bridge.exists(interface.bridge):
            # Deleted behind our back (`ip link del`, another tool): made again rather than fail
            # every start on that network.
            log.warning("bridge %s of network %s had gone; making it again", interface.bridge, network.name)
            self.create_network(network)
        sandbox.add_interface(sandbox_path, interface)

    def leave(self, network: Network, host_end: str) -> None:
        sandbox.remove_interface(host_end)

    def released(self, network: Network, host_end: str) -> None:
        pass  # the veth goes with the container's namespace

    def network_rules(self, network: Network) -> BridgeRules | None:
        v4 = network.ipv4
        if v4 is None:
            return None
        return BridgeRules(bridge_name(network), v4.subnet, icc=network.option_true(ENABLE_ICC),
                           masquerade=network.option_true(ENABLE_MASQUERADE), internal=network.internal)

    def port_rules(self, network: Network, container_ip: str, mappings: list[Mapping]) -> list[PortRule]:
        # SCTP ports are reserved on the host but not forwarded (docs/compat.md).
        return [PortRule(m.proto, m.host_ip, m.host_port, container_ip, m.container_port, bridge_name(network))
                for m in mappings if m.proto != "sctp"]
