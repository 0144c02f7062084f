"""The `overlay` driver: a network spanning the swarm's nodes over VXLAN (network/overlay/).

The engine and the swarm keep the records, addresses and VNIs (swarm-scoped); this driver makes
the network's data plane on a node when the first endpoint joins there and removes it when the
last one leaves. What it needs of the swarm at that moment (this node's underlay address, the
data path port and the peer table) comes through ``site``, asked at each join: a node that left
its swarm answers Unavailable instead of a stale address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dockyard.errors import InvalidParameter, Unavailable
from dockyard.network import sandbox
from dockyard.network.drivers.driver import Capabilities
from dockyard.network.iptables import BridgeRules, PortRule
from dockyard.network.overlay.control import PeerTable, parse_vni_list
from dockyard.network.overlay.peers import Peer
from dockyard.network.overlay.plane import BRIDGE, VXLAN_OVERHEAD, Plane, PlaneSpec
from dockyard.network.portmap import Mapping
from dockyard.network.records import Network
from dockyard.network.sandbox import Interface

log = logging.getLogger("dockyard.networks.overlay")

VNI_LIST = "com.docker.network.driver.overlay.vxlanid_list"
ENCRYPTED = "encrypted"
NO_ENCRYPTION = ("overlay network encryption (--opt encrypted) is not available: it needs IPsec ESP, which this "
                 "kernel does not have, and Dockyard refuses rather than send the network's traffic in clear "
                 "text; create the network without --opt encrypted, or encrypt at the application")


@dataclass(frozen=True)
class Site:
    """This node's place in the swarm, as the data plane needs it."""

    vtep: str  # the node's underlay (advertise / data path) address
    port: int  # the swarm's data path port (4789 unless `swarm init --data-path-port`)
    peers: PeerTable


class OverlayDriver:
    name = "overlay"

    def __init__(self, state_dir: str, site: Callable[[], Site], *, mtu: int = 1500) -> None:
        self.state_dir = state_dir  # the networks' namespaces are pinned here
        self.site = site
        self.default_mtu = mtu
        self._lock = threading.Lock()  # planes made and removed one at a time
        self._planes: dict[str, Plane] = {}

    def capabilities(self) -> Capabilities:
        return Capabilities(scope="swarm", connectivity_scope="swarm")

    def validate(self, network: Network, others: Iterable[Network]) -> None:
        if ENCRYPTED in network.options:
            raise InvalidParameter(NO_ENCRYPTION)
        if network.options.get(VNI_LIST):
            parse_vni_list(network.options[VNI_LIST])
        mtu = network.options.get("com.docker.network.driver.mtu")
        if mtu is not None and (not mtu.isdigit() or int(mtu) - VXLAN_OVERHEAD < 68):
            raise InvalidParameter(f"invalid MTU value: {mtu} (an overlay needs at least {68 + VXLAN_OVERHEAD})")

    def create_network(self, network: Network) -> None:
        """Nothing until an endpoint joins on this node (lazy)."""

    def delete_network(self, network: Network) -> None:
        with self._lock:
            plane = self._planes.pop(network.id, None)
            if plane is not None:
                plane.destroy()
            else:
                Plane.remove_leftover(self._path(network))

    def endpoint(self, network: Network, ifname: str, address: str, mac: str, gateway: str = "",
                 address6: str = "", gateway6: str = "") -> Interface:
        # Never the default route: a task's outbound traffic leaves by docker_gwbridge.
        return Interface(ifname, sandbox.new_veth_name(), BRIDGE, address, mac, self._mtu(network))

    def join(self, network: Network, sandbox_path: str, interface: Interface) -> None:
        site = self.site()
        with self._lock:
            plane = self._plane(network, site)
            try:
                plane.join(sandbox_path, interface, Peer(interface.address.split("/")[0], interface.mac.lower(),
                                                         site.vtep))
            except BaseException:
                self._drop_if_unused(network.id, plane)
                raise

    def leave(self, network: Network, host_end: str) -> None:
        self._leave(network, host_end, delete_link=True)

    def released(self, network: Network, host_end: str) -> None:
        self._leave(network, host_end, delete_link=False)

    def _leave(self, network: Network, host_end: str, *, delete_link: bool) -> None:
        with self._lock:
            plane = self._planes.get(network.id)
            if plane is None:
                try:
                    plane = self._adopted(network, self.site())
                except Unavailable as exc:
                    log.warning("overlay %s: endpoint %s left while the swarm is unavailable: %s", network.name,
                                host_end, exc)
                    return
                if plane is None:
                    return
            plane.leave(host_end, delete_link=delete_link)
            self._drop_if_unused(network.id, plane)

    def network_rules(self, network: Network) -> BridgeRules | None:
        return None  # the overlay's traffic is bridged inside its own namespace

    def port_rules(self, network: Network, container_ip: str, mappings: list[Mapping]) -> list[PortRule]:
        return []  # a published port reaches a task through docker_gwbridge or the ingress network

    # -- planes --------------------------------------------------------------------------------
    def _path(self, network: Network) -> str:
        return os.path.join(self.state_dir, network.id[:12])

    def _mtu(self, network: Network) -> int:
        return network.mtu(self.default_mtu) - VXLAN_OVERHEAD

    def _new_plane(self, network: Network, site: Site) -> Plane:
        v4 = network.ipv4
        vnis = parse_vni_list(network.options[VNI_LIST]) if network.options.get(VNI_LIST) else []
        if v4 is None or not vnis:
            raise InvalidParameter(f"overlay network {network.name} has no subnet or VNI: remove and create it again")
        spec = PlaneSpec(network.id, vnis[0], site.port, str(ipaddress.ip_network(v4.subnet)), v4.gateway,
                         self._mtu(network))
        return Plane(spec, self._path(network), site.vtep, site.peers)

    def _adopted(self, network: Network, site: Site) -> Plane | None:
        """The plane a previous run of the daemon left (its containers kept running), followed again."""
        plane = self._new_plane(network, site)
        if not plane.adopt():
            return None
        log.info("overlay %s: following its peers again in the namespace the previous run left", network.name)
        self._planes[network.id] = plane
        return plane

    def resume(self, networks: Iterable[Network]) -> list[tuple[Network, Peer]]:
        """At daemon start, in a swarm: follow the peers again in every plane a previous run left,
        and withdraw the endpoints whose containers stopped while no daemon watched (a plane left
        with none is removed). Without this, a plane would be adopted only at its next join or leave.
        Returns the departed endpoints (their addresses are the swarm's to take back)."""
        site = self.site()
        departed: list[tuple[Network, Peer]] = []
        with self._lock:
            for network in networks:
                if network.driver != self.name or network.id in self._planes:
                    continue
                plane = self._adopted(network, site)
                if plane is None:
                    continue
                gone = plane.withdraw_departed()
                if gone:
                    log.info("overlay %s: endpoints %s left while the daemon was away", network.name, ", ".join(gone))
                departed.extend((network, peer) for peer in gone.values())
                self._drop_if_unused(network.id, plane)
        return departed

    def _plane(self, network: Network, site: Site) -> Plane:
        """The network's plane on this node: the running one, an adopted one, or a new one."""
        plane = self._planes.get(network.id) or self._adopted(network, site)
        if plane is None:
            plane = self._new_plane(network, site)
            plane.create()
            self._planes[network.id] = plane
        return plane

    def _drop_if_unused(self, network_id: str, plane: Plane) -> None:
        if not plane.endpoints():
            self._planes.pop(network_id, None)
            with contextlib.suppress(OSError):
                plane.destroy()
