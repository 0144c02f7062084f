"""The network service: networks (create, remove, prune, inspect's endpoints), the daemon's
start-up and shut-down of its networks, and the entry points the container service and the API
use, which it hands to the modules that own them (createplan.py, sandboxes.py). Knows nothing of
HTTP: requests arrive as typed specs (engine/specs/networks.py), records leave as Network.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ipaddress
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.engine.container import Container
from dockyard.engine.networks import gateway as gwbridge
from dockyard.engine.networks.addresses import AddressSpace, HostNetworks, host_networks
from dockyard.engine.networks.catalog import NetworkCatalog, new_network
from dockyard.engine.networks.connections import Connections
from dockyard.engine.networks.createplan import CreatePlanner
from dockyard.engine.networks.defaultbridge import default_bridge_config, default_bridge_options
from dockyard.engine.networks.dnsview import DNSView
from dockyard.engine.networks.netfilter import Netfilter
from dockyard.engine.networks.options import NetworkOptions
from dockyard.engine.networks.sandboxes import Sandboxes
from dockyard.engine.networks.seams import ClusterNetworks, ContainerRecords, EventSink
from dockyard.engine.networks.swarmscope import SwarmScope
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.engine.specs.networks import NetworkCreate
from dockyard.errors import Conflict, DockyardError, Forbidden, InvalidParameter
from dockyard.network import netns
from dockyard.network.drivers.bridge import BridgeDriver
from dockyard.network.drivers.registry import BUILTIN, DriverRegistry
from dockyard.network.iptables import BridgeRules
from dockyard.network.records import ENABLE_IPV6, PREDEFINED, Network
from dockyard.network.sandbox import Interface
from dockyard.network.store import NetworkStore

if TYPE_CHECKING:
    from dockyard.network.mesh.records import RecordSource

log = logging.getLogger("dockyard.networks")


def _go_bool(value: str, option: str) -> bool:
    """A driver option's boolean, spelt as Go's strconv.ParseBool accepts it."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidParameter(f'failed to parse {option} value: {value} (strconv.ParseBool: parsing "{value}": '
                           "invalid syntax)")


def default_drivers(options: NetworkOptions) -> DriverRegistry:
    return DriverRegistry([BridgeDriver(mtu=options.mtu, userland_proxy=options.userland_proxy)])


class NetworkService:
    def __init__(self, data_root: str, exec_root: str, options: NetworkOptions, containers: ContainerRecords,
                 events: EventSink, drivers: DriverRegistry | None = None,
                 host_networks: HostNetworks = host_networks) -> None:
        self.options = options
        self.containers = containers
        self.events = events
        self.drivers = drivers if drivers is not None else default_drivers(options)
        self.catalog = NetworkCatalog(NetworkStore(data_root))
        self.addresses = AddressSpace(self.catalog.all, options.default_pools, host_networks)
        self.netfilter = Netfilter(options)
        self.keeper = self.netfilter.keeper  # daemon/main.py runs its task; `docker info` shows its warning
        self.netns_dir = os.path.join(exec_root, "netns")
        self.planner = CreatePlanner(options, containers, self.catalog)
        # Swarm services' DNS records (name, aliases, tasks.<name>) come from the swarm side's source
        # (use_service_records) while the node is in a swarm.
        dns = self.dns = DNSView(containers, self.catalog.all, options.dns)
        self.sandboxes = Sandboxes(options, self.netns_dir, containers, events, self.catalog, self.addresses,
                                   self.drivers, dns, self._apply_rules)
        self.connections = Connections(self.sandboxes, self.catalog, self.addresses, self.drivers, containers, events)
        self.swarm = SwarmScope(self.catalog, self.addresses)
        self.sandboxes.gateway_bridge = self._gateway_bridge
        # The node's ingress sandbox (its own thread) and the first tasks on an overlay may ask for
        # docker_gwbridge at once: one makes it, the other waits until its addresses are open.
        self._gateway_lock = threading.Lock()

    def _gateway_bridge(self) -> Network:
        with self._gateway_lock:
            return self.catalog.find_name(gwbridge.NAME) or self.create(gwbridge.spec(self.options.bridge))

    def attach_cluster(self, cluster: ClusterNetworks) -> None:
        """The swarm's networks (composition root: once the swarm service exists)."""
        self.catalog.cluster = cluster
        self.addresses.cluster = cluster

    # -- start-up and shut-down ------------------------------------------------------------
    def load(self) -> None:
        """Networks from their records, bridges and rules made again, and the sandboxes of
        containers that kept running while the daemon was away adopted (the rest cleaned)."""
        self.catalog.load()
        self._ensure_predefined()
        for network in self.catalog.all():
            if self.drivers.find(network.driver) is not None:
                try:
                    self._bring_up(network)
                except DockyardError as exc:
                    log.error("network %s: %s", network.name, exc)
        self.netfilter.enable_forwarding()
        keep = set()
        for c in self.containers.list():
            settings = c.network_settings or {}
            path = settings.get("SandboxKey") or ""
            if c.state.running and path and netns.is_pinned(path):
                keep.add(os.path.basename(path))
                self.sandboxes.adopt(c)
            elif c.state.running and not path:
                self.sandboxes.adopt_unattached(c)
            elif settings:
                self.sandboxes.forget_runtime(c)
                self.containers.save(c)
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.netns_dir):
                if name not in keep:
                    netns.remove(os.path.join(self.netns_dir, name))
        self._apply_rules()
        self.netfilter.heal()  # the jumps into our chains (missing at a first start: not a repair)

    def shutdown(self) -> None:
        """Stop serving; when no container runs any more, take down bridges and rules too, so a
        stopped daemon leaves the host as it found it (they are made again at the next start)."""
        self.sandboxes.close_all()
        if any(c.state.running for c in self.containers.list()):
            return
        for network in self.catalog.all():
            driver = self.drivers.find(network.driver)
            if driver is not None:
                driver.delete_network(network)
        self.netfilter.teardown()
        with contextlib.suppress(OSError):
            os.rmdir(self.netns_dir)

    def _ensure_predefined(self) -> None:
        for name, driver in (("host", "host"), ("none", "null")):
            if self.catalog.find_name(name) is None:
                self.catalog.save(new_network(name, driver, {}, [], internal=False))
        default = self.catalog.find_name("bridge")
        if self.options.bridge == "none":
            if default is not None:
                self.catalog.delete(default.id)
            return
        config = default_bridge_config(self.options, default, self.addresses)
        if default is None:
            default = new_network("bridge", "bridge", {}, [config], internal=False)
        default.options = default_bridge_options(self.options)
        default.ipam.config = [config]
        self.catalog.save(default)

    def _bring_up(self, network: Network) -> None:
        self.drivers.get(network.driver).create_network(network)
        self.addresses.open(network)

    def _bridge_rules(self) -> list[BridgeRules]:
        rules = []
        for network in self.catalog.all():
            driver = self.drivers.find(network.driver)
            found = driver.network_rules(network) if driver is not None else None
            if found is not None:
                rules.append(found)
        return rules

    def _apply_rules(self) -> None:
        if self.netfilter.enabled:
            self.netfilter.apply(self._bridge_rules(), self.sandboxes.port_rules())

    def use_service_records(self, source: RecordSource | None) -> None:
        """Where the embedded DNS finds swarm services (the swarm's discovery while the node is
        in one); None: none (outside a swarm)."""
        self.dns.services = source

    # -- lookups ---------------------------------------------------------------------------
    def get(self, ref: str) -> Network:
        return self.catalog.get(ref)

    def list(self) -> list[Network]:
        return self.catalog.sorted()

    def endpoints(self, network: Network) -> dict:
        """Docker's "Containers" of a network: the running containers attached to it."""
        out = {}
        for c in self.containers.list():
            endpoint = ((c.network_settings or {}).get("Networks") or {}).get(network.name)
            if endpoint and endpoint.get("EndpointID") and c.state.running:
                out[c.id] = {"Name": c.name.lstrip("/"), "EndpointID": endpoint["EndpointID"],
                             "MacAddress": endpoint["MacAddress"],
                             "IPv4Address": f"{endpoint['IPAddress']}/{endpoint['IPPrefixLen']}"
                             if endpoint["IPAddress"] else "",
                             "IPv6Address": f"{endpoint['GlobalIPv6Address']}/{endpoint['GlobalIPv6PrefixLen']}"
                             if endpoint.get("GlobalIPv6Address") else ""}
            gateway = (c.network_settings or {}).get(gwbridge.SETTINGS_KEY) or {}
            if gateway.get("NetworkID") == network.id and c.state.running:
                # As Docker shows a sandbox's docker_gwbridge endpoint (it is none of the container's Networks).
                name = f"gateway_{(c.network_settings or {}).get('SandboxID', '')[:12]}"
                prefix = ipaddress.IPv4Network(network.ipv4.subnet).prefixlen if network.ipv4 else 32
                out[name] = {"Name": name, "EndpointID": "", "MacAddress": gateway.get("MacAddress", ""),
                             "IPv4Address": f"{gateway['IPAddress']}/{prefix}", "IPv6Address": ""}
        return out

    # -- networks --------------------------------------------------------------------------
    def create(self, spec: NetworkCreate) -> Network:
        name = spec.name or ""
        if not name.strip():  # libnetwork takes any name that is not blank ("test 01" too)
            raise InvalidParameter(f"invalid name: {name}")
        if name in PREDEFINED:
            raise Forbidden(f"operation is not permitted on predefined {name} network ")
        self.catalog.refresh_swarm()
        if self.catalog.find_name(name) is not None:
            raise Conflict(f"network with name {name} already exists")
        driver_name = spec.driver or "bridge"
        if driver_name in BUILTIN:
            raise Forbidden(f'only one instance of "{driver_name}" network is allowed')
        driver = self.drivers.get(driver_name)
        options = {k: str(v) for k, v in (spec.options or {}).items()}
        if driver.capabilities().scope == "swarm":
            network = self.swarm.create(spec, driver, options)
            self.events.publish("network", "create", network.id, {"name": name, "type": driver_name})
            return network
        pending = new_network(name, driver_name, options, [], internal=bool(spec.internal))
        driver.validate(pending, [n for n in self.catalog.all() if n.driver == driver_name])
        given = list((spec.ipam.config if spec.ipam is not None else None) or [])
        given4 = [c for c in given if ":" not in (c.subnet or "")]
        given6 = [c for c in given if ":" in (c.subnet or "")]
        # The driver option turns IPv6 on as EnableIPv6 does, but only with a subnet given: Docker 20.10
        # has no default IPv6 pools, and its libnetwork then leaves the network IPv4-only.
        by_option = _go_bool(options.get(ENABLE_IPV6, "false"), ENABLE_IPV6)
        enable6 = bool(spec.enable_ipv6) or (by_option and bool(given6))
        if given6 and not enable6:
            raise InvalidParameter("an IPv6 subnet needs an IPv6 network: add --ipv6 (EnableIPv6)")
        if enable6 and not given6:
            # As Docker 20.10 without IPv6 default address pools.
            raise Forbidden("could not find an available, non-overlapping IPv6 address pool among the defaults "
                            "to assign to the network")
        configs = [self.addresses.network_config(given4[0] if given4 else None)]
        if given6:
            configs.append(self.addresses.network_config6(given6[0]))
        network = new_network(name, driver_name, options, configs, internal=bool(spec.internal),
                              attachable=bool(spec.attachable), labels=dict(spec.labels or {}))
        network.enable_ipv6 = bool(given6)
        network.scope = driver.capabilities().scope  # "local" for bridge; a cluster's overlay is "global"
        # Docker echoes the request's IPAM options: null when the client sent none (docker-py), {} from the CLI.
        network.ipam.options = dict(spec.ipam.options) if spec.ipam is not None and spec.ipam.options is not None \
            else None
        try:
            self.catalog.save(network)
            self._bring_up(network)
            self._apply_rules()
        except BaseException:
            self._drop(network)
            raise
        self.events.publish("network", "create", network.id, {"name": name, "type": driver_name})
        return network

    def _drop(self, network: Network) -> None:
        self.catalog.delete(network.id)
        self.addresses.close(network.id)
        driver = self.drivers.find(network.driver)
        if driver is not None:
            driver.delete_network(network)

    def remove(self, ref: str) -> None:
        network = self.get(ref)
        if not network.user_defined:
            raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")
        if self.endpoints(network) or (network.scope == "swarm" and self.swarm.in_use(network)):
            raise Forbidden(f"error while removing network: network {network.name} id {network.id} has active "
                            "endpoints")
        if network.scope == "swarm":
            self.swarm.remove(network)
            driver = self.drivers.find(network.driver)
            if driver is not None:
                driver.delete_network(network)
        else:
            self._drop(network)
        self._apply_rules()
        self.events.publish("network", "destroy", network.id, {"name": network.name, "type": network.driver})

    def prune(self, keep: Callable[[Network], bool]) -> builtins.list[str]:
        """Remove the user-defined networks no container uses (``keep(network)`` true = spare it)."""
        used: set[str] = set()
        for c in self.containers.list():
            used.update(((c.network_settings or {}).get("Networks") or {}).keys())
        deleted = []
        for network in self.catalog.all():
            if network.scope == "swarm" and self.swarm.in_use(network):
                continue
            if network.user_defined and network.name not in used and not keep(network):
                self.remove(network.id)
                deleted.append(network.name)
        return deleted

    # -- namespaces without a container (the routing mesh's ingress sandbox) -------------------
    async def join_sandbox(self, ref: str, path: str, ifname: str, *, mac_for: Callable[[str], str] | None = None,
                           default_route: bool = False) -> Interface:
        """An endpoint on network ``ref`` for the namespace pinned at ``path`` that no container
        owns (libnetwork's sandboxes without a container, as the ingress sandbox): an address
        from the network's allocator (the swarm's for a swarm network), its MAC ``mac_for`` it
        (Docker's 02:42 one when not given), the driver's join. As a container's connect: the
        network (docker_gwbridge made when first needed) and the address on the event loop, with
        the containers' own; the kernel work on a thread."""
        network = self._gateway_bridge() if ref == gwbridge.NAME else self.catalog.get(ref)
        address = self.addresses.allocate(network)
        try:
            mac = mac_for(address) if mac_for is not None else ""
            iface = self.sandboxes.interface(network, ifname, address, mac, default_route=default_route, address6="")
            await asyncio.to_thread(self.drivers.get(network.driver).join, network, path, iface)
        except BaseException:
            self.addresses.release(network.id, address)
            raise
        return iface

    async def leave_sandbox(self, ref: str, iface: Interface) -> None:
        """Undo join_sandbox: the driver's leave (the veth deleted) and the address given back."""
        network = self.catalog.get(ref)
        await asyncio.to_thread(self.drivers.get(network.driver).leave, network, iface.veth)
        self.addresses.release(network.id, iface.address.split("/")[0])

    # -- containers ----------------------------------------------------------------------------
    def plan_create(self, cid: str, config: ContainerConfig, host_config: HostConfig, networking: dict | None,
                    name: str = "") -> dict:
        return self.planner.plan_create(cid, config, host_config, networking, name)

    async def prepare(self, c: Container) -> dict:
        return await self.sandboxes.prepare(c)

    def release(self, c: Container) -> None:
        self.sandboxes.release(c)

    async def connect(self, ref: str, c: Container, endpoint_config: dict | None, *, task: bool = False) -> None:
        await self.connections.connect(ref, c, endpoint_config, task=task)

    async def disconnect(self, ref: str, c: Container, force: bool = False) -> None:
        await self.connections.disconnect(ref, c, force)
