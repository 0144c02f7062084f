"""`network connect` and `network disconnect`: an endpoint added to or taken from a container,
at once in its sandbox when it runs, else only in its record (made when it starts)."""

from __future__ import annotations

import asyncio

from dockyard.engine.container import Container
from dockyard.engine.networks import endpoints as ep
from dockyard.engine.networks.addresses import AddressSpace
from dockyard.engine.networks.catalog import NetworkCatalog
from dockyard.engine.networks.sandboxes import Sandboxes
from dockyard.engine.networks.seams import ContainerRecords, EventSink
from dockyard.engine.networks.swarmscope import check_attachable
from dockyard.errors import Forbidden, InvalidParameter
from dockyard.network.drivers.registry import DriverRegistry


class Connections:
    def __init__(self, sandboxes: Sandboxes, networks: NetworkCatalog, addresses: AddressSpace,
                 drivers: DriverRegistry, containers: ContainerRecords, events: EventSink) -> None:
        self.sandboxes = sandboxes
        self.networks = networks
        self.addresses = addresses
        self.drivers = drivers
        self.containers = containers
        self.events = events

    async def connect(self, ref: str, c: Container, endpoint_config: dict | None, *, task: bool = False) -> None:
        """``task``: a swarm task's container, which joins swarm networks made without --attachable."""
        network = self.networks.get(ref)
        mode = self.sandboxes.mode(c)
        if mode in ("host", "container") or network.driver in ("host", "null"):
            raise Forbidden("container cannot be disconnected from host network or connected to host network"
                            if "host" in (mode, network.name) else
                            "container sharing network namespace with another container or host cannot be "
                            "connected to any other network")
        if mode == "none":
            raise Forbidden("container cannot be connected to multiple networks with one of the networks in private "
                            "(none) mode")
        if not task:
            check_attachable(network)
        settings = c.network_settings
        if network.name in settings["Networks"]:
            raise Forbidden(f"endpoint with name {c.name.lstrip('/')} already exists in network {network.name}")
        given = endpoint_config or {}
        ipam_config = given.get("IPAMConfig") or None
        aliases = list(given.get("Aliases") or [])
        if not network.user_defined and (aliases or (ipam_config or {}).get("IPv4Address")):
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        endpoint = ep.requested_endpoint(network.id, given, aliases,
                                         c.id[:12] if network.user_defined and c.state.running else None)
        live = self.sandboxes.live.get(c.id)
        if c.state.running and live is not None and live.path:
            address = self.addresses.allocate(network, (ipam_config or {}).get("IPv4Address") or "")
            try:
                address6 = self.addresses.allocate6(network, (ipam_config or {}).get("IPv6Address") or "")
            except BaseException:
                self.addresses.release(network.id, address)
                raise
            taken = {i["ifname"] for i in (settings.get("Interfaces") or {}).values()}
            ifname = next(f"eth{n}" for n in range(64) if f"eth{n}" not in taken)
            iface = self.sandboxes.interface(network, ifname, address, endpoint["MacAddress"], default_route=False,
                                    address6=address6)
            try:
                await asyncio.to_thread(self.drivers.get(network.driver).join, network, live.path, iface)
            except BaseException:
                self.addresses.release(network.id, address, address6)
                raise
            ep.fill_endpoint(endpoint, network, iface)
            settings.setdefault("Interfaces", {})[network.name] = {"ifname": ifname, "veth": iface.veth}
            if live.resolver is None and network.user_defined:
                settings["Networks"][network.name] = endpoint
                await self.sandboxes.start_services(c, live, proxies=False)
        settings["Networks"][network.name] = endpoint
        self.containers.save(c)
        self.events.publish("network", "connect", network.id, {"container": c.id, "name": network.name,
                                                               "type": network.driver})

    async def disconnect(self, ref: str, c: Container, force: bool = False) -> None:
        network = self.networks.get(ref)
        settings = c.network_settings or {}
        if network.name not in (settings.get("Networks") or {}):
            raise Forbidden(f"container {c.id} is not connected to network {network.name}")
        if network.driver in ("host", "null") and c.state.running:
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        endpoint = settings["Networks"].pop(network.name)
        interface = (settings.get("Interfaces") or {}).pop(network.name, None)
        driver = self.drivers.find(network.driver)
        if interface and driver is not None:
            await asyncio.to_thread(driver.leave, network, interface["veth"])
        self.addresses.release(network.id, endpoint.get("IPAddress") or "", endpoint.get("GlobalIPv6Address") or "")
        self.containers.save(c)
        self.events.publish("network", "disconnect", network.id, {"container": c.id, "name": network.name,
                                                                  "type": network.driver})
