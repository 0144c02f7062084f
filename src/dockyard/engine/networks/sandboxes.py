"""The container side of networking: a sandbox (network namespace) per started container with
an endpoint on each of its networks, its published ports, its embedded DNS server and its name
files, and the clean-up when it stops (connect and disconnect are connections.py).

What survives a daemon restart is in the container's record (NetworkSettings: endpoints, ports,
the sandbox path); what the daemon holds besides (``Live``) is rebuilt from it by ``adopt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.engine.container import Container
from dockyard.engine.networks import endpoints as ep
from dockyard.engine.networks import gateway as gwbridge
from dockyard.engine.networks.addresses import AddressSpace
from dockyard.engine.networks.catalog import NetworkCatalog
from dockyard.engine.networks.dnsview import DNSView
from dockyard.engine.networks.links import link_environment
from dockyard.engine.networks.options import NetworkOptions
from dockyard.engine.networks.ports import ports_view, recorded_bindings, wanted_bindings
from dockyard.engine.networks.seams import ContainerRecords, EventSink
from dockyard.errors import Conflict, DockyardError, NotFound
from dockyard.network import ipam, namefiles, netns, portmap, sandbox
from dockyard.network.dns import Resolver, make_sockets
from dockyard.network.drivers.registry import DriverRegistry
from dockyard.network.iptables import PortRule
from dockyard.network.portmap import Mapping
from dockyard.network.proxyd import Userland
from dockyard.network.records import HOST_BINDING, PREDEFINED, Network
from dockyard.network.sandbox import Interface
from dockyard.util.aio import background
from dockyard.util.ids import new_id

log = logging.getLogger("dockyard.networks")


@dataclass
class Live:
    """What the daemon holds for a running container's sandbox (rebuilt after a restart)."""

    path: str | None
    mappings: list[Mapping] = field(default_factory=list)
    proxies: list = field(default_factory=list)
    resolver: Resolver | None = None
    port_rules: list[PortRule] = field(default_factory=list)


class Sandboxes:
    def __init__(self, options: NetworkOptions, netns_dir: str, containers: ContainerRecords, events: EventSink,
                 networks: NetworkCatalog, addresses: AddressSpace, drivers: DriverRegistry, dns: DNSView,
                 rules_changed: Callable[[], None]) -> None:
        self.options = options
        self.netns_dir = netns_dir
        self.containers = containers
        self.events = events
        self.networks = networks
        self.addresses = addresses
        self.drivers = drivers
        self.dns = dns
        self.rules_changed = rules_changed  # re-applies the netfilter rules (published ports changed)
        self.live: dict[str, Live] = {}
        # docker_gwbridge, made the first time a container needs it (the network service's create).
        self.gateway_bridge: Callable[[], Network] = lambda: self.networks.get(gwbridge.NAME)
        self.userland = Userland()  # the proxy process, started with the first published TCP port

    def mode(self, c: Container) -> str:
        """bridge (any network with a driver), host, none or container."""
        mode = c.host_config.network_mode or "default"
        if mode == "default":
            return "none" if self.options.bridge == "none" else "bridge"
        if mode.startswith("container:"):
            return "container"
        return mode if mode in ("host", "none") else "bridge"

    def port_rules(self) -> list[PortRule]:
        return [rule for live in self.live.values() for rule in live.port_rules]

    # -- start -------------------------------------------------------------------------------
    async def prepare(self, c: Container) -> dict:
        """Set up the container's networking before its process starts; returns what the runtime
        spec needs: {"namespace": None | "host" | path, "env": [...], "files_dir": dir | None}."""
        mode = self.mode(c)
        directory = self.containers.container_dir(c.id)
        settings = c.network_settings = c.network_settings or {"Networks": {}, "Ports": {}}
        host_resolv = namefiles.read_host_resolv()
        hc = c.host_config
        if mode == "container":
            target = self.containers.get((hc.network_mode or "").split(":", 1)[1])
            if target.state.status == "restarting":  # its namespace went with its last process
                raise Conflict(f"Container {target.id} is restarting, wait until the container is running")
            if not target.state.running:
                raise Conflict(f"cannot join network of a non running container: {target.id}")
            path = (target.network_settings or {}).get("SandboxKey") or f"/proc/{target.state.pid}/ns/net"
            self.live[c.id] = Live(None)
            return {"namespace": path, "env": [], "files_dir": self.containers.container_dir(target.id)}
        hostname, domain = c.config.hostname or "", c.config.domainname or ""
        if mode == "host":
            with contextlib.suppress(OSError), open("/etc/hosts") as f:
                hosts = f.read()
            extra = namefiles.extra_host_entries(hc.extra_hosts, self._gateway())
            hosts = hosts + "".join(f"{ip}\t{n}\n" for ip, n in extra)
            resolv = namefiles.resolv_conf(host_resolv, dns=hc.dns or [], search=hc.dns_search or [],
                                           options=hc.dns_options or [])
            namefiles.write_name_files(directory, hostname, hosts, resolv)
            self.live[c.id] = Live(None)
            return {"namespace": "host", "env": [], "files_dir": None}
        extra = namefiles.extra_host_entries(hc.extra_hosts, self._gateway())
        if mode == "none":
            resolv = namefiles.resolv_conf(host_resolv, dns=hc.dns or [], search=hc.dns_search or [],
                                           options=hc.dns_options or [])
            namefiles.write_name_files(directory, hostname, namefiles.hosts_file(extra), resolv)
            self.live[c.id] = Live(None)
            return {"namespace": None, "env": [], "files_dir": None}
        link_env, link_hosts = link_environment(self.containers, c)
        path = await self._attach_all(c)
        networks = settings["Networks"]
        primary = networks[next(iter(networks))]
        embedded = any(self.networks.get(n).user_defined for n in networks)
        own = [namefiles.own_entry(primary["IPAddress"], hostname, domain)] if primary["IPAddress"] else []
        resolv = namefiles.resolv_conf(host_resolv, dns=hc.dns or [], search=hc.dns_search or [],
                                       options=hc.dns_options or [], embedded=embedded)
        namefiles.write_name_files(directory, hostname, namefiles.hosts_file(extra + link_hosts + own), resolv)
        return {"namespace": path, "env": link_env, "files_dir": None}

    def _gateway(self) -> str:
        """host-gateway in --add-host: the default bridge's gateway."""
        with contextlib.suppress(NotFound):
            v4 = self.networks.get("bridge").ipv4
            if v4 is not None:
                return v4.gateway
        return "127.0.0.1"

    def _ipv6_of(self, network: Network, address6: str, *, default_route: bool) -> tuple[str, str]:
        """(address6 CIDR, IPv6 gateway for the default route) of an interface on ``network``."""
        v6 = network.ipv6
        if not address6 or v6 is None:
            return "", ""
        prefix = ipaddress.IPv6Network(v6.subnet).prefixlen
        return f"{address6}/{prefix}", v6.gateway if default_route and not network.internal else ""

    def interface(self, network: Network, ifname: str, address: str, mac: str, *, default_route: bool,
                   address6: str) -> Interface:
        v4 = network.ipv4
        assert v4 is not None, "a network with a driver has an IPv4 subnet"
        prefix = ipaddress.ip_network(v4.subnet).prefixlen
        return self.drivers.get(network.driver).endpoint(
            network, ifname, f"{address}/{prefix}", mac or ipam.mac_for(address),
            v4.gateway if default_route and not network.internal else "",
            *self._ipv6_of(network, address6, default_route=default_route))

    async def _attach_all(self, c: Container) -> str:
        settings = c.network_settings
        path = os.path.join(self.netns_dir, c.id[:12])
        live = Live(path)
        interfaces: dict[str, Interface] = {}
        allocated: list[tuple[str, str]] = []
        allocated6: dict[str, str] = {}  # network ID -> IPv6 address
        try:
            networks = [self.networks.get(name) for name in settings["Networks"]]
            for network in networks:  # addresses first, so a full pool changes nothing
                endpoint = settings["Networks"][network.name]
                if network.user_defined:
                    endpoint["Aliases"] = ep.with_short_id(endpoint.get("Aliases"), c.id[:12])
                wanted = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or ""
                address = self.addresses.allocate(network, wanted)
                allocated.append((network.id, address))
                address6 = self.addresses.allocate6(network, (endpoint.get("IPAMConfig") or {}).get("IPv6Address")
                                                    or "")
                if address6:
                    allocated6[network.id] = address6
            primary = networks[0]
            gateway = self.gateway_bridge() if gwbridge.needed(networks, self.drivers) else None
            if gateway is not None:
                gateway_address = self.addresses.allocate(gateway)
                allocated.append((gateway.id, gateway_address))
            exposed = dict(c.config.exposed_ports or {})
            bindings = wanted_bindings(exposed, c.host_config.port_bindings, bool(c.host_config.publish_all_ports))
            host_ip = primary.options.get(HOST_BINDING) or self.options.host_ip
            live.mappings = await asyncio.to_thread(portmap.allocate, bindings, host_ip)
            mac_wanted = c.config.mac_address or ""
            # The default route: the first network that routes out (the primary, but for an overlay).
            route_out = next((n for n in networks if gwbridge.routes_out(n, self.drivers)), primary)
            for index, (network, (_nid, address)) in enumerate(zip(networks, allocated, strict=False)):
                # The endpoint's own MAC (EndpointSettings.MacAddress), else --mac-address for the first.
                mac = settings["Networks"][network.name].get("MacAddress") or (mac_wanted if index == 0 else "")
                interfaces[network.name] = self.interface(network, f"eth{index}", address, mac,
                                                           default_route=network is route_out,
                                                           address6=allocated6.get(network.id, ""))
            joins = [(n, interfaces[n.name]) for n in networks]
            if gateway is not None:
                interfaces[gateway.name] = self.interface(gateway, f"eth{len(networks)}", gateway_address, "",
                                                          default_route=True, address6="")
                joins.append((gateway, interfaces[gateway.name]))
            await asyncio.to_thread(self._build_sandbox, path, joins)
            for network in networks:
                ep.fill_endpoint(settings["Networks"][network.name], network, interfaces[network.name])
            settings["Interfaces"] = {n: {"ifname": i.ifname, "veth": i.veth} for n, i in interfaces.items()}
            if gateway is not None:
                settings[gwbridge.SETTINGS_KEY] = {"NetworkID": gateway.id, "IPAddress": gateway_address,
                                                   "MacAddress": interfaces[gateway.name].mac}
            settings["SandboxKey"] = path
            settings["SandboxID"] = new_id()
            # Published ports of a container on an overlay are reached through docker_gwbridge.
            ports_on, ports_ip = primary, settings["Networks"][primary.name]["IPAddress"]
            if gateway is not None and not gwbridge.routes_out(primary, self.drivers):
                ports_on, ports_ip = gateway, gateway_address
            live.port_rules = self.drivers.get(ports_on.driver).port_rules(ports_on, ports_ip, live.mappings)
            settings["Ports"] = ports_view(exposed, live.mappings)
            self.live[c.id] = live
            if live.port_rules:
                await asyncio.to_thread(self.rules_changed)
            await self.start_services(c, live)
        except BaseException:
            for nid, address in allocated:
                self.addresses.release(nid, address)
            for nid, address in allocated6.items():
                self.addresses.release(nid, address6=address)
            self.live.pop(c.id, None)
            self._close_services(live)
            portmap.release(live.mappings)
            await asyncio.to_thread(sandbox.destroy, path)
            self.forget_runtime(c)
            raise
        return path

    def _build_sandbox(self, path: str, joins: list[tuple[Network, Interface]]) -> None:
        sandbox.create(path)
        joined: list[tuple[Network, Interface]] = []
        try:
            for network, iface in joins:
                self.drivers.get(network.driver).join(network, path, iface)
                joined.append((network, iface))
        except BaseException:
            self._released(joined)
            sandbox.destroy(path)
            raise

    def _released(self, joined: list[tuple[Network, Interface]]) -> None:
        """Tell the drivers their endpoints' sandbox is going (an overlay withdraws them)."""
        for network, iface in joined:
            driver = self.drivers.find(network.driver)
            if driver is not None:
                try:
                    driver.released(network, iface.veth)
                except (OSError, DockyardError) as exc:
                    log.warning("network %s: releasing endpoint %s failed: %s", network.name, iface.veth, exc)

    async def start_services(self, c: Container, live: Live, proxies: bool = True) -> None:
        """The userland proxies and, on user-defined networks, the embedded DNS server."""
        ip = next((e["IPAddress"] for e in c.network_settings["Networks"].values() if e.get("IPAddress")), "")
        gateway = c.network_settings.get(gwbridge.SETTINGS_KEY)
        if gateway and not self._routes_out(next(iter(c.network_settings["Networks"]), "")):
            ip = gateway["IPAddress"]  # an overlay container's ports are reached on docker_gwbridge
        if self.options.userland_proxy and proxies:
            live.proxies = [portmap.Proxy(m, ip, self.userland) for m in live.mappings if m.proto != "sctp"]
        # By name (a record's user_defined is its name's): a swarm network may not be known yet
        # when a daemon restarts, and its containers' DNS servers come back all the same.
        if live.path and any(n not in PREDEFINED for n in c.network_settings["Networks"]):
            udp, tcp = await asyncio.to_thread(netns.run_in, live.path, make_sockets)
            resolver = Resolver(lambda name: self.dns.lookup(c, name), lambda ip_: self.dns.reverse(c, ip_),
                                lambda: self.dns.upstreams(c))
            live.resolver = resolver
            await resolver.serve(udp, tcp)

    def _routes_out(self, name: str) -> bool:
        try:
            return gwbridge.routes_out(self.networks.get(name), self.drivers)
        except NotFound:
            return False  # a swarm network not known yet (a daemon restart): an overlay

    @staticmethod
    def _close_services(live: Live) -> None:
        for proxy in live.proxies:
            proxy.close()
        live.proxies = []
        if live.resolver is not None:
            live.resolver.close()
            live.resolver = None

    # -- stop --------------------------------------------------------------------------------
    def release(self, c: Container) -> None:
        """Tear down the sandbox of a container whose process ended (synchronous: a restart may
        follow at once and must find the addresses and ports free)."""
        live = self.live.pop(c.id, None)
        if live is None:
            return
        self._close_services(live)
        portmap.release(live.mappings)
        if live.path:
            self._released(self._interfaces(c))
            sandbox.destroy(live.path)
        self.forget_runtime(c)
        if live.port_rules:
            self.rules_changed()

    def _interfaces(self, c: Container) -> list[tuple[Network, Interface]]:
        """A running container's endpoints, as far as release needs them (network, host end)."""
        found = []
        for name, iface in ((c.network_settings or {}).get("Interfaces") or {}).items():
            with contextlib.suppress(NotFound):
                found.append((self.networks.get(name), Interface(iface["ifname"], iface["veth"], "", "", "", 0)))
        return found

    def forget_runtime(self, c: Container) -> None:
        """Drop from the record what only a running sandbox has (addresses back to their pools)."""
        settings = c.network_settings or {}
        for name, endpoint in (settings.get("Networks") or {}).items():
            if endpoint.get("IPAddress") or endpoint.get("GlobalIPv6Address"):
                with contextlib.suppress(NotFound):
                    self.addresses.release(self.networks.get(name).id, endpoint.get("IPAddress") or "",
                                           endpoint.get("GlobalIPv6Address") or "")
            settings["Networks"][name] = ep.stopped_endpoint(endpoint)
        settings.pop("Interfaces", None)
        gateway = settings.pop(gwbridge.SETTINGS_KEY, None)
        if gateway:
            self.addresses.release(gateway["NetworkID"], gateway["IPAddress"])
        settings["SandboxKey"] = ""
        settings["SandboxID"] = ""
        settings["Ports"] = {}
        c.network_settings = settings

    def close_all(self) -> None:
        """Stop serving proxies and DNS (the daemon stops; the sandboxes stay with their containers)."""
        for live in self.live.values():
            self._close_services(live)
        self.userland.stop()

    # -- a daemon restart ------------------------------------------------------------------------
    def adopt(self, c: Container) -> None:
        """A container that kept running across a daemon restart: its addresses are taken again,
        its ports bound again and its proxies and DNS server served again."""
        settings = c.network_settings
        live = Live(settings["SandboxKey"])
        primary_ip, primary = "", None
        for name, endpoint in (settings.get("Networks") or {}).items():
            try:
                network = self.networks.get(name)
            except NotFound:
                continue
            has_pool = self.addresses.reserve(network.id, endpoint.get("IPAddress") or "",
                                              endpoint.get("GlobalIPv6Address") or "")
            if endpoint.get("IPAddress") and has_pool and not primary_ip:
                primary_ip, primary = endpoint["IPAddress"], network
        gateway = settings.get(gwbridge.SETTINGS_KEY)
        if gateway:
            self.addresses.reserve(gateway["NetworkID"], gateway["IPAddress"])
            # An overlay container's published ports go to its docker_gwbridge address, as at its start.
            if primary is None or not gwbridge.routes_out(primary, self.drivers):
                with contextlib.suppress(NotFound):
                    primary, primary_ip = self.networks.get(gateway["NetworkID"]), gateway["IPAddress"]
        try:
            live.mappings = portmap.allocate(recorded_bindings(settings.get("Ports")), self.options.host_ip)
        except DockyardError as exc:
            log.warning("container %s: its published ports could not be bound again: %s", c.id[:12], exc)
        driver = self.drivers.find(primary.driver) if primary is not None else None
        if driver is not None and primary is not None:
            live.port_rules = driver.port_rules(primary, primary_ip, live.mappings)
        self.live[c.id] = live
        background(self._restart_services(c, live))

    def adopt_unattached(self, c: Container) -> None:
        """A running container on none, host or another's namespace: nothing of ours to restore."""
        self.live[c.id] = Live(None)

    async def _restart_services(self, c: Container, live: Live) -> None:
        try:
            await self.start_services(c, live)
        except (OSError, DockyardError) as exc:
            log.warning("container %s: restoring its proxies and DNS server failed: %s", c.id[:12], exc)
