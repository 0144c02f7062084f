"""The network service: networks (records, bridges, address pools, netfilter rules) and the
container side (a sandbox per started container: namespace, endpoints, published ports, embedded
DNS, name files). Knows nothing of HTTP.

What survives a daemon restart is in files: network records (network/store.py) and each
container's endpoints, ports and sandbox path in its own record (``Container.network_settings``).
Everything else (pools, rules, proxies, DNS sockets) is derived from those at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
from dataclasses import dataclass, field

from dockyard.engine.container import Container
from dockyard.errors import Conflict, DockyardError, Forbidden, InvalidParameter, NotFound
from dockyard.network import bridge, ipam, namefiles, netns, portmap, sandbox
from dockyard.network import links as linkenv
from dockyard.network import store as netstore
from dockyard.network.dns import Resolver, make_sockets
from dockyard.network.iptables import BridgeRules, Firewall, PortRule
from dockyard.network.proxyd import Userland
from dockyard.network.rulekeeper import RuleKeeper
from dockyard.util.ids import new_id
from dockyard.util.names import valid_name
from dockyard.util.timefmt import now_ns, rfc3339_ns

log = logging.getLogger("dockyard.networks")


@dataclass
class NetworkOptions:
    bridge: str = "dockyard0"  # "none": no default bridge
    bip: str = ""
    fixed_cidr: str = ""
    icc: bool = True
    mtu: int = 1500
    default_pools: list = field(default_factory=list)  # [(base CIDR, size)]
    host_ip: str = "0.0.0.0"
    iptables: bool = True
    ip_forward: bool = True
    userland_proxy: bool = True
    dns: list = field(default_factory=list)


@dataclass
class Live:
    """What the daemon holds for a running container's sandbox (rebuilt after a restart)."""

    path: str | None
    mappings: list = field(default_factory=list)
    proxies: list = field(default_factory=list)
    resolver: Resolver | None = None
    port_rules: list = field(default_factory=list)


def _ip_range(given: dict, subnet: ipaddress.IPv4Network | ipaddress.IPv6Network) -> dict:
    """{"IPRange": ...} when the IPAM config names one (inside ``subnet``), else {}."""
    if not given.get("IPRange"):
        return {}
    try:
        ip_range = ipaddress.ip_network(given["IPRange"], strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid ip-range {given['IPRange']}") from None
    if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):
        raise InvalidParameter(f"ip-range {ip_range} is not inside the subnet {subnet}")
    return {"IPRange": str(ip_range)}


def _go_bool(value: str, option: str) -> bool:
    """A driver option's boolean, spelt as Go's strconv.ParseBool accepts it."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidParameter(f'failed to parse {option} value: {value} (strconv.ParseBool: parsing "{value}": '
                           "invalid syntax)")


def ipv6_config(record: dict) -> dict | None:
    """The IPv6 IPAM config of a network made with EnableIPv6, else None."""
    if not record.get("EnableIPv6"):
        return None
    return next((c for c in (record.get("IPAM") or {}).get("Config") or [] if ":" in (c.get("Subnet") or "")), None)


def with_short_id(aliases: list | None, short_id: str) -> list:
    return [*[a for a in aliases or [] if a != short_id], short_id]


def empty_endpoint(network_id: str = "", ipam_config: dict | None = None, aliases: list | None = None,
                   links: list | None = None, driver_opts: dict | None = None) -> dict:
    return {"IPAMConfig": ipam_config or None, "Links": links or None, "Aliases": aliases or None,
            "NetworkID": network_id, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "",
            "DriverOpts": driver_opts or None}


def requested_endpoint(network_id: str, given: dict, aliases: list, short_id: str | None) -> dict:
    """A not yet attached endpoint holding what the client asked for (EndpointSettings); on a
    user-defined network the container's short ID follows the aliases once it is attached (Docker
    20.10 adds it when the container starts or a running one connects, not at create: docker-compose
    1.x reconnects a created container whose aliases lack it)."""
    if short_id:
        aliases = with_short_id(aliases, short_id)
    endpoint = empty_endpoint(network_id, given.get("IPAMConfig") or None, aliases,
                              list(given.get("Links") or []) or None, dict(given.get("DriverOpts") or {}) or None)
    endpoint["MacAddress"] = _requested_mac(given)
    return endpoint


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _requested_mac(endpoint_config: dict) -> str:
    """EndpointSettings.MacAddress as the client asked for it ("" when it did not)."""
    mac = endpoint_config.get("MacAddress") or ""
    if mac and not _MAC.match(mac):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    return mac.lower()


class NetworkService:
    def __init__(self, data_root: str, exec_root: str, options: NetworkOptions, containers, events) -> None:
        self.options = options
        self.store = netstore.NetworkStore(data_root)
        self.netns_dir = os.path.join(exec_root, "netns")
        self.containers = containers
        self.events = events
        prefix = "DOCKYARD" if options.bridge in ("dockyard0", "none") else f"DY-{options.bridge}"
        self.firewall = Firewall(prefix, userland_proxy=options.userland_proxy) if options.iptables else None
        self.networks: dict[str, dict] = {}
        self.pools: dict[str, ipam.Pool] = {}
        self.pools6: dict[str, ipam.Pool] = {}  # the IPv6 subnet of networks made with EnableIPv6
        self.live: dict[str, Live] = {}
        self.userland = Userland()  # the proxy process, started with the first published TCP port
        self.pools_config = options.default_pools or ipam.DEFAULT_POOLS
        # Puts our rules back when another program removes them (its task runs from daemon_main).
        self.keeper = RuleKeeper(self.firewall) if self.firewall is not None else None

    # -- start-up and shut-down ------------------------------------------------------------
    def load(self) -> None:
        """Networks from their records, bridges and rules made again, and the sandboxes of
        containers that kept running while the daemon was away adopted (the rest cleaned)."""
        for record in self.store.load():
            self.networks[record["Id"]] = record
        self._ensure_predefined()
        for record in list(self.networks.values()):
            if netstore.is_bridge(record):
                try:
                    self._bring_up(record)
                except DockyardError as exc:
                    log.error("network %s: %s", record["Name"], exc)
        if self.firewall is not None:
            self._enable_forwarding()
        keep = set()
        for c in self.containers.list():
            settings = c.network_settings or {}
            path = settings.get("SandboxKey") or ""
            if c.state.running and path and netns.is_pinned(path):
                keep.add(os.path.basename(path))
                self._adopt(c)
            elif c.state.running and not path:
                self.live[c.id] = Live(None)  # none, host or container: nothing of ours to restore
            elif settings:
                self._forget_runtime(c)
                self.containers.save(c)
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.netns_dir):
                if name not in keep:
                    netns.remove(os.path.join(self.netns_dir, name))
        self._apply_rules()
        if self.firewall is not None:
            self.firewall.heal()  # the jumps into our chains (missing at a first start: not a repair)

    def shutdown(self) -> None:
        """Stop serving; when no container runs any more, take down bridges and rules too, so a
        stopped daemon leaves the host as it found it (they are made again at the next start)."""
        for live in self.live.values():
            self._close_services(live)
        self.userland.stop()
        if any(c.state.running for c in self.containers.list()):
            return
        for record in self.networks.values():
            if netstore.is_bridge(record):
                bridge.remove(netstore.bridge_name(record))
        if self.firewall is not None:
            self.firewall.teardown()
        with contextlib.suppress(OSError):
            os.rmdir(self.netns_dir)

    def _enable_forwarding(self) -> None:
        if not self.options.ip_forward or bridge.read_sysctl("net/ipv4/ip_forward") == "1":
            return
        # As Docker does: routing for containers on, but the host forwards nothing else.
        bridge.write_sysctl("net/ipv4/ip_forward", "1")
        import subprocess

        subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], capture_output=True)

    def _ensure_predefined(self) -> None:
        names = {r["Name"] for r in self.networks.values()}
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in names:
                self._save(self._record(name, driver, {}, [], internal=False))
        default = next((r for r in self.networks.values() if r["Name"] == "bridge"), None)
        if self.options.bridge == "none":
            if default is not None:
                self.store.delete(default["Id"])
                del self.networks[default["Id"]]
            return
        options = {netstore.DEFAULT_BRIDGE: "true", netstore.ENABLE_ICC: str(self.options.icc).lower(),
                   netstore.ENABLE_MASQUERADE: "true", netstore.HOST_BINDING: self.options.host_ip,
                   netstore.BRIDGE_NAME: self.options.bridge, netstore.MTU: str(self.options.mtu)}
        config = self._default_bridge_ipam(default)
        if default is None:
            default = self._record("bridge", "bridge", options, [config], internal=False)
        default["Options"] = options
        default["IPAM"]["Config"] = [config]
        self._save(default)

    def _default_bridge_ipam(self, previous: dict | None) -> dict:
        if self.options.bip:
            try:
                bip = ipaddress.IPv4Interface(self.options.bip)
            except ValueError:
                raise InvalidParameter(f"invalid --bip {self.options.bip!r}: use a CIDR such as 172.17.0.1/16") \
                    from None
            config = {"Subnet": str(bip.network), "Gateway": str(bip.ip)}
        else:
            existing = [a for a in (bridge.addresses(self.options.bridge) if bridge.exists(self.options.bridge)
                                    else []) if ":" not in a]
            old = ((previous or {}).get("IPAM") or {}).get("Config") or []
            taken = self._taken_subnets(exclude_bridge=self.options.bridge, exclude_id=(previous or {}).get("Id"))
            if existing:
                iface = ipaddress.IPv4Interface(existing[0])
                config = {"Subnet": str(iface.network), "Gateway": str(iface.ip)}
            elif old and not any(ipaddress.ip_network(old[0]["Subnet"]).overlaps(t) for t in taken):
                config = {"Subnet": old[0]["Subnet"], "Gateway": old[0]["Gateway"]}
            else:
                subnet = ipam.free_subnet([("172.17.0.0/16", 16), *self.pools_config], taken)
                config = {"Subnet": str(subnet), "Gateway": str(next(subnet.hosts()))}
        if self.options.fixed_cidr:
            fixed = ipaddress.ip_network(self.options.fixed_cidr, strict=False)
            if not fixed.subnet_of(ipaddress.ip_network(config["Subnet"])):
                raise InvalidParameter(f"--fixed-cidr {fixed} is not inside the bridge's subnet {config['Subnet']}")
            config["IPRange"] = str(fixed)
        return config

    def _taken_subnets(self, exclude_bridge: str = "", exclude_id: str | None = None) -> list:
        found = (*ipam.host_routes(), *ipam.host_address_networks())
        return [n for iface, n in found if iface != exclude_bridge] + self._own_subnets(exclude_id)

    def _own_subnets(self, exclude_id: str | None = None) -> list:
        """The IPv4 subnets of this daemon's networks."""
        taken = []
        for record in self.networks.values():
            if record["Id"] == exclude_id:
                continue
            for config in (record.get("IPAM") or {}).get("Config") or []:
                if config.get("Subnet") and ":" not in config["Subnet"]:
                    taken.append(ipaddress.ip_network(config["Subnet"]))
        return taken

    def _record(self, name: str, driver: str, options: dict, configs: list, *, internal: bool,
                attachable: bool = False, labels: dict | None = None) -> dict:
        return {"Name": name, "Id": new_id(), "Created": rfc3339_ns(now_ns()), "Scope": "local", "Driver": driver,
                "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None if not configs else {},
                                              "Config": configs},
                "Internal": internal, "Attachable": attachable, "Ingress": False, "ConfigFrom": {"Network": ""},
                "ConfigOnly": False, "Options": options, "Labels": labels or {}}

    def _save(self, record: dict) -> None:
        self.store.save(record)
        self.networks[record["Id"]] = record

    def _bring_up(self, record: dict) -> None:
        config = record["IPAM"]["Config"][0]
        subnet = ipaddress.IPv4Network(config["Subnet"])
        gateway = ipaddress.IPv4Address(config["Gateway"])
        mtu = int((record.get("Options") or {}).get(netstore.MTU) or self.options.mtu)
        bridge.ensure(netstore.bridge_name(record), f"{gateway}/{subnet.prefixlen}", mtu)
        if not self.options.userland_proxy:  # loopback traffic is DNATed onto the bridge instead
            bridge.write_sysctl(f"net/ipv4/conf/{netstore.bridge_name(record)}/route_localnet", "1")
        if record["Id"] not in self.pools:
            ip_range = ipaddress.IPv4Network(config["IPRange"]) if config.get("IPRange") else None
            pool = self.pools[record["Id"]] = ipam.Pool(subnet, gateway, ip_range)
            # Auxiliary addresses belong to hosts outside Docker: never handed to a container.
            pool.used.update(ipaddress.IPv4Address(a) for a in (config.get("AuxiliaryAddresses") or {}).values())
        v6 = ipv6_config(record)
        if v6 is not None:
            subnet6 = ipaddress.IPv6Network(v6["Subnet"])
            bridge.ensure_ipv6(netstore.bridge_name(record), f"{v6['Gateway']}/{subnet6.prefixlen}")
            if record["Id"] not in self.pools6:
                self.pools6[record["Id"]] = ipam.Pool(
                    subnet6, ipaddress.IPv6Address(v6["Gateway"]),
                    ipaddress.IPv6Network(v6["IPRange"]) if v6.get("IPRange") else None)

    def _restore_bridge(self, name: str) -> None:
        """A bridge deleted behind our back (`ip link del`, another tool): make it again rather than
        fail every start on that network."""
        for record in self.networks.values():
            if netstore.is_bridge(record) and netstore.bridge_name(record) == name:
                log.warning("bridge %s of network %s had gone; making it again", name, record["Name"])
                self._bring_up(record)
                return

    def _bridge_rules(self) -> list[BridgeRules]:
        rules = []
        for record in self.networks.values():
            if netstore.is_bridge(record):
                rules.append(BridgeRules(netstore.bridge_name(record), record["IPAM"]["Config"][0]["Subnet"],
                                         icc=netstore.option_true(record, netstore.ENABLE_ICC),
                                         masquerade=netstore.option_true(record, netstore.ENABLE_MASQUERADE),
                                         internal=bool(record.get("Internal"))))
        return rules

    def _apply_rules(self) -> None:
        if self.firewall is not None:
            ports = [rule for live in self.live.values() for rule in live.port_rules]
            bridges = self._bridge_rules()
            if not all(b.icc for b in bridges):
                self._bridge_netfilter()
            self.firewall.apply(bridges, ports)
            self.keeper.changed()

    @staticmethod
    def _bridge_netfilter() -> None:
        """--icc=false drops traffic inside a bridge with an iptables rule, which bridged frames
        meet only with br_netfilter's bridge-nf-call-iptables on (Docker turns it on as well)."""
        if bridge.read_sysctl("net/bridge/bridge-nf-call-iptables") == "0":
            if bridge.write_sysctl("net/bridge/bridge-nf-call-iptables", "1"):
                log.info("set net.bridge.bridge-nf-call-iptables=1 so that icc=false isolates containers")

    # -- lookups ---------------------------------------------------------------------------
    def get(self, ref: str) -> dict:
        """Full ID, then name, then a unique ID prefix, as Docker resolves networks."""
        if ref in self.networks:
            return self.networks[ref]
        for record in self.networks.values():
            if record["Name"] == ref:
                return record
        matches = [r for r in self.networks.values() if ref and r["Id"].startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found on name)")
        raise NotFound(f"network {ref} not found")

    def list(self) -> list[dict]:
        return sorted(self.networks.values(), key=lambda r: r["Name"])

    def endpoints(self, record: dict) -> dict:
        """Docker's "Containers" of a network: the running containers attached to it."""
        out = {}
        for c in self.containers.list():
            endpoint = ((c.network_settings or {}).get("Networks") or {}).get(record["Name"])
            if endpoint and endpoint.get("EndpointID") and c.state.running:
                out[c.id] = {"Name": c.name.lstrip("/"), "EndpointID": endpoint["EndpointID"],
                             "MacAddress": endpoint["MacAddress"],
                             "IPv4Address": f"{endpoint['IPAddress']}/{endpoint['IPPrefixLen']}"
                             if endpoint["IPAddress"] else "",
                             "IPv6Address": f"{endpoint['GlobalIPv6Address']}/{endpoint['GlobalIPv6PrefixLen']}"
                             if endpoint.get("GlobalIPv6Address") else ""}
        return out

    # -- networks --------------------------------------------------------------------------
    def create(self, body: dict) -> dict:
        name = body.get("Name") or ""
        if not name.strip():  # libnetwork takes any name that is not blank ("test 01" too)
            raise InvalidParameter(f"invalid name: {name}")
        if name in netstore.PREDEFINED:
            raise Forbidden(f"operation is not permitted on predefined {name} network ")
        if any(r["Name"] == name for r in self.networks.values()):
            raise Conflict(f"network with name {name} already exists")
        driver = body.get("Driver") or "bridge"
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        options = {k: str(v) for k, v in (body.get("Options") or {}).items()}
        bridge_name = options.get(netstore.BRIDGE_NAME, "")
        if bridge_name:
            if len(bridge_name) > 15 or not valid_name(bridge_name, min_length=1):
                raise InvalidParameter(f"invalid bridge name {bridge_name!r}: at most 15 characters")
            if any(netstore.bridge_name(r) == bridge_name for r in self.networks.values() if netstore.is_bridge(r)):
                raise Conflict(f"bridge name {bridge_name} is already used by another network")
        ipam_body = body.get("IPAM") or {}
        ipam_config = [dict(c) for c in (ipam_body.get("Config") or [])]
        given4 = [c for c in ipam_config if ":" not in (c.get("Subnet") or "")]
        given6 = [c for c in ipam_config if ":" in (c.get("Subnet") or "")]
        # The driver option turns IPv6 on as EnableIPv6 does, but only with a subnet given: Docker 20.10
        # has no default IPv6 pools, and its libnetwork then leaves the network IPv4-only.
        by_option = _go_bool(options.get(netstore.ENABLE_IPV6, "false"), netstore.ENABLE_IPV6)
        enable6 = bool(body.get("EnableIPv6")) or (by_option and bool(given6))
        if given6 and not enable6:
            raise InvalidParameter("an IPv6 subnet needs an IPv6 network: add --ipv6 (EnableIPv6)")
        if enable6 and not given6:
            # As Docker 20.10 without IPv6 default address pools.
            raise Forbidden("could not find an available, non-overlapping IPv6 address pool among the defaults "
                            "to assign to the network")
        configs = [self._network_ipam(given4[0] if given4 else {})]
        if given6:
            configs.append(self._network_ipam6(given6[0]))
        record = self._record(name, driver, options, configs, internal=bool(body.get("Internal")),
                              attachable=bool(body.get("Attachable")), labels=body.get("Labels") or {})
        record["EnableIPv6"] = bool(given6)
        # Docker echoes the request's IPAM options: null when the client sent none (docker-py), {} from the CLI.
        record["IPAM"]["Options"] = ipam_body.get("Options")
        try:
            self._save(record)
            self._bring_up(record)
            self._apply_rules()
        except BaseException:
            self._drop(record)
            raise
        self.events.publish("network", "create", record["Id"], {"name": name, "type": driver})
        return record

    def _network_ipam(self, given: dict) -> dict:
        if given.get("Subnet"):
            try:
                subnet = ipaddress.ip_network(given["Subnet"], strict=False)
            except ValueError:
                raise InvalidParameter(f"invalid subnet {given['Subnet']}") from None
            if subnet.version != 4:
                raise InvalidParameter("IPv6 subnets are not supported by Dockyard yet")
            # As libnetwork's IPAM: a subnet the user names only has to be free among this daemon's
            # networks; host routes (another daemon's bridges) steer only the automatic choice.
            if any(subnet.overlaps(t) for t in self._own_subnets()):
                raise Forbidden("Pool overlaps with other one on this address space")
        else:
            if given.get("Gateway") or given.get("IPRange"):
                raise InvalidParameter("gateway and ip-range need a subnet (--subnet)")
            subnet = ipam.free_subnet(self.pools_config, self._taken_subnets())
        config = {"Subnet": str(subnet)}
        gateway = given.get("Gateway") or str(next(subnet.hosts()))
        try:
            if ipaddress.ip_address(gateway) not in subnet:
                raise InvalidParameter(f"gateway {gateway} is not in the subnet {subnet}")
        except ValueError:
            raise InvalidParameter(f"invalid gateway address {gateway}") from None
        config["Gateway"] = gateway
        config.update(_ip_range(given, subnet))
        aux = given.get("AuxiliaryAddresses") or {}
        for key, value in aux.items():
            try:
                address = ipaddress.IPv4Address(value)
            except ValueError:
                raise InvalidParameter(f"non parsable secondary ip address ({key}:{value}) passed for network") \
                    from None
            if address not in subnet:
                raise Forbidden(f"auxiliary address: ({key}:{value}) must belong to the master pool: {subnet}")
        if aux:
            config["AuxiliaryAddresses"] = dict(aux)
        return config

    def _network_ipam6(self, given: dict) -> dict:
        """The IPv6 half of an EnableIPv6 network: the subnet the user names (gateway: its first
        address unless given), free among this daemon's networks."""
        try:
            subnet = ipaddress.IPv6Network(given["Subnet"], strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid subnet {given['Subnet']}") from None
        for record in self.networks.values():
            other = ipv6_config(record)
            if other is not None and subnet.overlaps(ipaddress.IPv6Network(other["Subnet"])):
                raise Forbidden("Pool overlaps with other one on this address space")
        config = {"Subnet": str(subnet)}
        try:
            gateway = ipaddress.IPv6Address(given.get("Gateway") or str(subnet.network_address + 1))
        except ValueError:
            raise InvalidParameter(f"invalid gateway address {given.get('Gateway')}") from None
        if gateway not in subnet:
            raise InvalidParameter(f"gateway {gateway} is not in the subnet {subnet}")
        config["Gateway"] = str(gateway)
        config.update(_ip_range(given, subnet))
        return config

    def _drop(self, record: dict) -> None:
        self.store.delete(record["Id"])
        self.networks.pop(record["Id"], None)
        self.pools.pop(record["Id"], None)
        self.pools6.pop(record["Id"], None)
        if netstore.is_bridge(record):
            bridge.remove(netstore.bridge_name(record))

    def remove(self, ref: str) -> None:
        record = self.get(ref)
        if not netstore.is_user_defined(record):
            raise Forbidden(f"{record['Name']} is a pre-defined network and cannot be removed")
        if self.endpoints(record):
            raise Forbidden(f"error while removing network: network {record['Name']} id {record['Id']} has active "
                            "endpoints")
        self._drop(record)
        self._apply_rules()
        self.events.publish("network", "destroy", record["Id"], {"name": record["Name"], "type": record["Driver"]})

    def prune(self, keep) -> list[str]:
        """Remove the user-defined networks no container uses (``keep(record)`` true = spare it)."""
        used = set()
        for c in self.containers.list():
            used.update(((c.network_settings or {}).get("Networks") or {}).keys())
        deleted = []
        for record in list(self.networks.values()):
            if netstore.is_user_defined(record) and record["Name"] not in used and not keep(record):
                self.remove(record["Id"])
                deleted.append(record["Name"])
        return deleted

    # -- containers: create ------------------------------------------------------------------
    def _mode(self, c: Container) -> str:
        mode = c.host_config.get("NetworkMode") or "default"
        if mode == "default":
            return "none" if self.options.bridge == "none" else "bridge"
        if mode.startswith("container:"):
            return "container"
        return mode if mode in ("host", "none") else "bridge"

    def plan_create(self, cid: str, config: dict, host_config: dict, networking: dict | None,
                    name: str = "") -> dict:
        """Validate the create request's networking and return the container's initial
        NetworkSettings; fills HostConfig.NetworkMode ("container:<full id>") and the hostname
        where Docker does."""
        namefiles.validate(host_config)
        mode = host_config.get("NetworkMode") or "default"
        host_config["NetworkMode"] = mode
        endpoints_config = (networking or {}).get("EndpointsConfig") or {}
        if len(endpoints_config) > 1:  # moby's verifyNetworkingConfig
            raise InvalidParameter("Container cannot be connected to network endpoints: "
                                   + ", ".join(endpoints_config))
        publishes = bool(host_config.get("PortBindings")) or bool(host_config.get("PublishAllPorts"))
        # Host mode only discards published ports (the caller warns, as Docker does).
        if mode.startswith("container:") and publishes:
            raise InvalidParameter("conflicting options: port publishing and the container type network mode")
        if host_config.get("Links") and (mode == "host" or mode.startswith("container:")):
            kind = "host type networking" if mode == "host" else "container type network"
            raise InvalidParameter(f"conflicting options: {kind} can't be used with links. This would result in "
                                   "undefined behavior")
        if mode.startswith("container:"):
            target = self.containers.get(mode.split(":", 1)[1])
            if target.id == cid:
                raise InvalidParameter("cannot join own network namespace")
            if config.get("Hostname"):
                raise InvalidParameter("conflicting options: hostname and the network mode")
            if host_config.get("Dns") or host_config.get("ExtraHosts"):
                raise InvalidParameter("conflicting options: dns and the network mode")
            host_config["NetworkMode"] = f"container:{target.id}"
            config["Hostname"] = target.config.get("Hostname", "")
            config["Domainname"] = target.config.get("Domainname", "")
            return {"Networks": {}, "Ports": {}}
        if mode == "host":
            if not config.get("Hostname"):
                import socket

                config["Hostname"] = socket.gethostname()
            return {"Networks": {"host": empty_endpoint(self.get("host")["Id"])}, "Ports": {}}
        if mode == "none" or (mode == "default" and self.options.bridge == "none"):
            record = self.get("none")
            return {"Networks": {"none": empty_endpoint(record["Id"])}, "Ports": {}}
        record = self.get("bridge" if mode == "default" else mode)
        if netstore.is_user_defined(record) and mode != record["Name"]:
            host_config["NetworkMode"] = record["Name"]
        given = endpoints_config.get(mode) or endpoints_config.get(record["Name"]) or {}
        ipam_config = given.get("IPAMConfig") or None
        aliases = list(given.get("Aliases") or [])
        if not netstore.is_user_defined(record):
            if (ipam_config or {}).get("IPv4Address"):
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if aliases:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
        else:
            address = (ipam_config or {}).get("IPv4Address")
            if address:
                try:
                    if ipaddress.ip_address(address) not in ipaddress.ip_network(
                            record["IPAM"]["Config"][0]["Subnet"]):
                        raise InvalidParameter(f"no configured subnet or ip-range contain the IP address {address}")
                except ValueError:
                    raise InvalidParameter(f"invalid IPv4 address: {address}") from None
        endpoint = requested_endpoint(record["Id"], given, aliases, None)
        host_config["Links"] = self._normalize_links(host_config.get("Links") or [], name)
        for key, value in (host_config.get("PortBindings") or {}).items():
            if "/" not in key:
                host_config["PortBindings"][key + "/tcp"] = host_config["PortBindings"].pop(key)
            for binding in value or []:
                port = (binding or {}).get("HostPort") or ""
                if port and not re.fullmatch(r"\d+(-\d+)?", port):
                    raise InvalidParameter(f"invalid port specification: {port!r}")
        return {"Networks": {record["Name"]: endpoint}, "Ports": {}}

    def _normalize_links(self, entries: list[str], owner: str) -> list[str]:
        """Docker's form, "/target:/container/alias"."""
        out = []
        for entry in entries:
            name, alias = linkenv.parse(entry)
            try:
                target = self.containers.get(name)
            except NotFound:
                raise InvalidParameter(f"Could not get container for {name}") from None
            out.append(f"{target.name}:{owner}/{alias}")
        return out

    # -- containers: start and stop ----------------------------------------------------------
    async def prepare(self, c: Container) -> dict:
        """Set up the container's networking before its process starts; returns what the runtime
        spec needs: {"namespace": None | "host" | path, "env": [...], "files_dir": dir | None}."""
        mode = self._mode(c)
        directory = self.containers.container_dir(c.id)
        settings = c.network_settings = c.network_settings or {"Networks": {}, "Ports": {}}
        host_resolv = namefiles.read_host_resolv()
        hc = c.host_config
        if mode == "container":
            target = self.containers.get(hc["NetworkMode"].split(":", 1)[1])
            if not target.state.running:
                raise Conflict(f"cannot join network of a non running container: {target.id}")
            path = (target.network_settings or {}).get("SandboxKey") or f"/proc/{target.state.pid}/ns/net"
            self.live[c.id] = Live(None)
            return {"namespace": path, "env": [], "files_dir": self.containers.container_dir(target.id)}
        hostname, domain = c.config.get("Hostname", ""), c.config.get("Domainname", "")
        if mode == "host":
            with contextlib.suppress(OSError), open("/etc/hosts") as f:
                hosts = f.read()
            hosts = hosts + "".join(f"{ip}\t{n}\n" for ip, n in namefiles.extra_host_entries(hc, self._gateway()))
            resolv = namefiles.resolv_conf(host_resolv, dns=hc.get("Dns") or [], search=hc.get("DnsSearch") or [],
                                           options=hc.get("DnsOptions") or [])
            namefiles.write_name_files(directory, hostname, hosts, resolv)
            self.live[c.id] = Live(None)
            return {"namespace": "host", "env": [], "files_dir": None}
        extra = namefiles.extra_host_entries(hc, self._gateway())
        if mode == "none":
            resolv = namefiles.resolv_conf(host_resolv, dns=hc.get("Dns") or [], search=hc.get("DnsSearch") or [],
                                           options=hc.get("DnsOptions") or [])
            namefiles.write_name_files(directory, hostname, namefiles.hosts_file(extra), resolv)
            self.live[c.id] = Live(None)
            return {"namespace": None, "env": [], "files_dir": None}
        link_env, link_hosts = self._links(c)
        path = await self._attach_all(c)
        networks = settings["Networks"]
        primary = networks[next(iter(networks))]
        embedded = any(netstore.is_user_defined(self.get(n)) for n in networks)
        own = [namefiles.own_entry(primary["IPAddress"], hostname, domain)] if primary["IPAddress"] else []
        resolv = namefiles.resolv_conf(host_resolv, dns=hc.get("Dns") or [], search=hc.get("DnsSearch") or [],
                                       options=hc.get("DnsOptions") or [], embedded=embedded)
        namefiles.write_name_files(directory, hostname, namefiles.hosts_file(extra + link_hosts + own), resolv)
        return {"namespace": path, "env": link_env, "files_dir": None}

    def _gateway(self) -> str:
        with contextlib.suppress(NotFound):
            return self.get("bridge")["IPAM"]["Config"][0]["Gateway"]
        return "127.0.0.1"

    def _links(self, c: Container) -> tuple[list[str], list[tuple[str, str]]]:
        env, hosts = [], []
        for entry in c.host_config.get("Links") or []:
            target_name, _, alias_path = entry.partition(":")
            alias = alias_path.rsplit("/", 1)[-1]
            try:
                target = self.containers.get(target_name)
            except NotFound:
                raise InvalidParameter(f"Could not get container for {target_name.lstrip('/')}") from None
            if not target.state.running:
                raise Conflict(f"Cannot link to a non running container: {target.name} AS {c.name}/{alias}")
            endpoint = ((target.network_settings or {}).get("Networks") or {}).get("bridge") or {}
            ip = endpoint.get("IPAddress") or ""
            if not ip:
                continue  # on a user-defined network a link is a DNS alias only (see lookup)
            env += linkenv.environment(c.name, alias, target.name, ip, target.config.get("ExposedPorts") or {},
                                       target.config.get("Env") or [])
            hosts.append((ip, linkenv.hosts_names(alias, target.name.lstrip("/"), target.config.get("Hostname", ""))))
        return env, hosts

    async def _attach_all(self, c: Container) -> str:
        settings = c.network_settings
        path = os.path.join(self.netns_dir, c.id[:12])
        live = Live(path)
        interfaces: dict = {}
        allocated: list[tuple[str, str]] = []
        allocated6: dict[str, str] = {}  # network ID -> IPv6 address
        try:
            records = [self.get(name) for name in settings["Networks"]]
            for record in records:  # addresses first, so a full pool changes nothing
                endpoint = settings["Networks"][record["Name"]]
                if netstore.is_user_defined(record):
                    endpoint["Aliases"] = with_short_id(endpoint.get("Aliases"), c.id[:12])
                wanted = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or ""
                address = str(self.pools[record["Id"]].allocate(wanted))
                allocated.append((record["Id"], address))
                address6 = self._allocate6(record, endpoint.get("IPAMConfig"))
                if address6:
                    allocated6[record["Id"]] = address6
            primary = records[0]
            exposed = dict(c.config.get("ExposedPorts") or {})
            bindings = dict(c.host_config.get("PortBindings") or {})
            if c.host_config.get("PublishAllPorts"):
                for port in exposed:
                    bindings.setdefault(port, [{"HostIp": "", "HostPort": ""}])
            host_ip = (primary.get("Options") or {}).get(netstore.HOST_BINDING) or self.options.host_ip
            live.mappings = await asyncio.to_thread(portmap.allocate, bindings, host_ip)
            mac_wanted = c.config.get("MacAddress") or ""
            for index, (record, (_nid, address)) in enumerate(zip(records, allocated, strict=True)):
                subnet = ipaddress.ip_network(record["IPAM"]["Config"][0]["Subnet"])
                # The endpoint's own MAC (EndpointSettings.MacAddress), else --mac-address for the first.
                mac = settings["Networks"][record["Name"]].get("MacAddress") or (mac_wanted if index == 0 else "")
                iface = sandbox.Interface(
                    f"eth{index}", sandbox.new_veth_name(), netstore.bridge_name(record),
                    f"{address}/{subnet.prefixlen}", mac or ipam.mac_for(address),
                    int((record.get("Options") or {}).get(netstore.MTU) or self.options.mtu),
                    record["IPAM"]["Config"][0]["Gateway"] if index == 0 and not record.get("Internal") else "",
                    *self._ipv6_of(record, allocated6.get(record["Id"], ""), default_route=index == 0))
                interfaces[record["Name"]] = iface
            await asyncio.to_thread(self._build_sandbox, path, list(interfaces.values()))
            for record in records:
                self._fill_endpoint(settings["Networks"][record["Name"]], record, interfaces[record["Name"]])
            settings["Interfaces"] = {n: {"ifname": i.ifname, "veth": i.veth} for n, i in interfaces.items()}
            settings["SandboxKey"] = path
            settings["SandboxID"] = new_id()
            primary_ip = settings["Networks"][primary["Name"]]["IPAddress"]
            live.port_rules = [PortRule(m.proto, m.host_ip, m.host_port, primary_ip, m.container_port,
                                        netstore.bridge_name(primary)) for m in live.mappings if m.proto != "sctp"]
            settings["Ports"] = self._ports_view(exposed, live.mappings)
            self.live[c.id] = live
            if live.port_rules:
                await asyncio.to_thread(self._apply_rules)
            await self._start_services(c, live)
        except BaseException:
            for nid, address in allocated:
                self.pools[nid].release(address)
            for nid, address in allocated6.items():
                self.pools6[nid].release(address)
            self.live.pop(c.id, None)
            self._close_services(live)
            portmap.release(live.mappings)
            await asyncio.to_thread(sandbox.destroy, path)
            self._forget_runtime(c)
            raise
        return path

    def _build_sandbox(self, path: str, interfaces: list) -> None:
        sandbox.create(path)
        try:
            for iface in interfaces:
                if iface.bridge and not os.path.exists(f"/sys/class/net/{iface.bridge}"):
                    self._restore_bridge(iface.bridge)
                sandbox.add_interface(path, iface)
        except BaseException:
            sandbox.destroy(path)
            raise

    def _fill_endpoint(self, endpoint: dict, record: dict, iface) -> None:
        address = ipaddress.IPv4Interface(iface.address)
        endpoint.update({"NetworkID": record["Id"], "EndpointID": new_id(),
                         "Gateway": record["IPAM"]["Config"][0]["Gateway"] if not record.get("Internal") else "",
                         "IPAddress": str(address.ip), "IPPrefixLen": address.network.prefixlen,
                         "MacAddress": iface.mac})
        if iface.address6:
            address6 = ipaddress.IPv6Interface(iface.address6)
            v6 = ipv6_config(record) or {}
            endpoint.update({"GlobalIPv6Address": str(address6.ip), "GlobalIPv6PrefixLen": address6.network.prefixlen,
                             "IPv6Gateway": v6.get("Gateway", "") if not record.get("Internal") else ""})

    def _allocate6(self, record: dict, ipam_config: dict | None) -> str:
        """The endpoint's IPv6 address on an IPv6 network ("" elsewhere); a wanted one must fit."""
        wanted = (ipam_config or {}).get("IPv6Address") or ""
        pool = self.pools6.get(record["Id"])
        if pool is None:
            if wanted:
                raise InvalidParameter(f"invalid IPv6 address {wanted}: network {record['Name']} has no IPv6 subnet")
            return ""
        return str(pool.allocate(wanted))

    def _ipv6_of(self, record: dict, address6: str, *, default_route: bool) -> tuple[str, str]:
        """(address6 CIDR, IPv6 gateway for the default route) of an interface on ``record``."""
        if not address6:
            return "", ""
        v6 = ipv6_config(record) or {}
        prefix = ipaddress.IPv6Network(v6["Subnet"]).prefixlen
        return f"{address6}/{prefix}", v6["Gateway"] if default_route and not record.get("Internal") else ""

    @staticmethod
    def _ports_view(exposed: dict, mappings: list) -> dict:
        view: dict = {port: None for port in exposed}
        for m in mappings:
            view.setdefault(f"{m.container_port}/{m.proto}", None)
            view[f"{m.container_port}/{m.proto}"] = (view[f"{m.container_port}/{m.proto}"] or []) + [m.binding()]
        return view

    async def _start_services(self, c: Container, live: Live, proxies: bool = True) -> None:
        """The userland proxies and, on user-defined networks, the embedded DNS server."""
        ip = next((e["IPAddress"] for e in c.network_settings["Networks"].values() if e.get("IPAddress")), "")
        if self.options.userland_proxy and proxies:
            live.proxies = [portmap.Proxy(m, ip, self.userland) for m in live.mappings if m.proto != "sctp"]
        if live.path and any(netstore.is_user_defined(self.get(n)) for n in c.network_settings["Networks"]):
            udp, tcp = await asyncio.to_thread(netns.run_in, live.path, make_sockets)
            resolver = Resolver(lambda name: self.lookup(c, name), lambda ip_: self.reverse(c, ip_),
                                lambda: self._upstreams(c))
            live.resolver = resolver
            await resolver.serve(udp, tcp)

    @staticmethod
    def _close_services(live: Live) -> None:
        for proxy in live.proxies:
            proxy.close()
        live.proxies = []
        if live.resolver is not None:
            live.resolver.close()
            live.resolver = None

    def release(self, c: Container) -> None:
        """Tear down the sandbox of a container whose process ended (synchronous: a restart may
        follow at once and must find the addresses and ports free)."""
        live = self.live.pop(c.id, None)
        if live is None:
            return
        self._close_services(live)
        portmap.release(live.mappings)
        if live.path:
            sandbox.destroy(live.path)
        self._forget_runtime(c)
        if live.port_rules:
            self._apply_rules()

    def _forget_runtime(self, c: Container) -> None:
        settings = c.network_settings or {}
        for name, endpoint in (settings.get("Networks") or {}).items():
            if endpoint.get("IPAddress"):
                with contextlib.suppress(NotFound):
                    self.pools.get(self.get(name)["Id"], ipam.Pool(ipaddress.IPv4Network("0.0.0.0/32"),
                                                                   ipaddress.IPv4Address("0.0.0.0"))).release(
                        endpoint["IPAddress"])
            if endpoint.get("GlobalIPv6Address"):
                with contextlib.suppress(NotFound, KeyError):
                    self.pools6[self.get(name)["Id"]].release(endpoint["GlobalIPv6Address"])
            settings["Networks"][name] = empty_endpoint(endpoint.get("NetworkID", ""), endpoint.get("IPAMConfig"),
                                                        endpoint.get("Aliases"), endpoint.get("Links"),
                                                        endpoint.get("DriverOpts"))
        settings.pop("Interfaces", None)
        settings["SandboxKey"] = ""
        settings["SandboxID"] = ""
        settings["Ports"] = {}
        c.network_settings = settings

    def _adopt(self, c: Container) -> None:
        """A container that kept running across a daemon restart: its addresses are taken again,
        its ports bound again and its proxies and DNS server served again."""
        settings = c.network_settings
        live = Live(settings["SandboxKey"])
        primary_ip, bridge_name = "", ""
        for name, endpoint in (settings.get("Networks") or {}).items():
            try:
                record = self.get(name)
            except NotFound:
                continue
            if endpoint.get("IPAddress") and record["Id"] in self.pools:
                self.pools[record["Id"]].used.add(ipaddress.IPv4Address(endpoint["IPAddress"]))
                if not primary_ip:
                    primary_ip, bridge_name = endpoint["IPAddress"], netstore.bridge_name(record)
            if endpoint.get("GlobalIPv6Address") and record["Id"] in self.pools6:
                self.pools6[record["Id"]].used.add(ipaddress.IPv6Address(endpoint["GlobalIPv6Address"]))
        bindings = {port: [{"HostIp": b["HostIp"], "HostPort": b["HostPort"]} for b in entries]
                    for port, entries in (settings.get("Ports") or {}).items() if entries}
        try:
            live.mappings = portmap.allocate(bindings, self.options.host_ip)
        except DockyardError as exc:
            log.warning("container %s: its published ports could not be bound again: %s", c.id[:12], exc)
        live.port_rules = [PortRule(m.proto, m.host_ip, m.host_port, primary_ip, m.container_port, bridge_name)
                           for m in live.mappings if m.proto != "sctp"]
        self.live[c.id] = live
        asyncio.get_event_loop().create_task(self._restart_services(c, live))

    async def _restart_services(self, c: Container, live: Live) -> None:
        try:
            await self._start_services(c, live)
        except (OSError, DockyardError) as exc:
            log.warning("container %s: restoring its proxies and DNS server failed: %s", c.id[:12], exc)

    # -- connect and disconnect -----------------------------------------------------------------
    async def connect(self, ref: str, c: Container, endpoint_config: dict | None) -> None:
        record = self.get(ref)
        mode = self._mode(c)
        if mode in ("host", "container") or record["Driver"] in ("host", "null"):
            raise Forbidden("container cannot be disconnected from host network or connected to host network"
                            if "host" in (mode, record["Name"]) else
                            "container sharing network namespace with another container or host cannot be "
                            "connected to any other network")
        if mode == "none":
            raise Forbidden("container cannot be connected to multiple networks with one of the networks in private "
                            "(none) mode")
        settings = c.network_settings
        if record["Name"] in settings["Networks"]:
            raise Forbidden(f"endpoint with name {c.name.lstrip('/')} already exists in network {record['Name']}")
        given = endpoint_config or {}
        ipam_config = given.get("IPAMConfig") or None
        aliases = list(given.get("Aliases") or [])
        if not netstore.is_user_defined(record) and (aliases or (ipam_config or {}).get("IPv4Address")):
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        endpoint = requested_endpoint(record["Id"], given, aliases,
                                      c.id[:12] if netstore.is_user_defined(record) and c.state.running else None)
        mac = endpoint["MacAddress"]
        live = self.live.get(c.id)
        if c.state.running and live is not None and live.path:
            pool = self.pools[record["Id"]]
            address = str(pool.allocate((ipam_config or {}).get("IPv4Address") or ""))
            try:
                address6 = self._allocate6(record, ipam_config)
            except BaseException:
                pool.release(address)
                raise
            subnet = ipaddress.ip_network(record["IPAM"]["Config"][0]["Subnet"])
            taken = {i["ifname"] for i in (settings.get("Interfaces") or {}).values()}
            ifname = next(f"eth{n}" for n in range(64) if f"eth{n}" not in taken)
            iface = sandbox.Interface(ifname, sandbox.new_veth_name(), netstore.bridge_name(record),
                                      f"{address}/{subnet.prefixlen}", mac or ipam.mac_for(address),
                                      int((record.get("Options") or {}).get(netstore.MTU) or self.options.mtu),
                                      "", *self._ipv6_of(record, address6, default_route=False))
            try:
                await asyncio.to_thread(sandbox.add_interface, live.path, iface)
            except BaseException:
                pool.release(address)
                if address6:
                    self.pools6[record["Id"]].release(address6)
                raise
            self._fill_endpoint(endpoint, record, iface)
            settings.setdefault("Interfaces", {})[record["Name"]] = {"ifname": ifname, "veth": iface.veth}
            if live.resolver is None and netstore.is_user_defined(record):
                settings["Networks"][record["Name"]] = endpoint
                await self._start_services(c, live, proxies=False)
        settings["Networks"][record["Name"]] = endpoint
        self.containers.save(c)
        self.events.publish("network", "connect", record["Id"], {"container": c.id, "name": record["Name"],
                                                                 "type": record["Driver"]})

    async def disconnect(self, ref: str, c: Container, force: bool = False) -> None:
        record = self.get(ref)
        settings = c.network_settings or {}
        if record["Name"] not in (settings.get("Networks") or {}):
            raise Forbidden(f"container {c.id} is not connected to network {record['Name']}")
        if record["Driver"] in ("host", "null") and c.state.running:
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        endpoint = settings["Networks"].pop(record["Name"])
        interface = (settings.get("Interfaces") or {}).pop(record["Name"], None)
        if interface:
            await asyncio.to_thread(sandbox.remove_interface, interface["veth"])
        if endpoint.get("IPAddress") and record["Id"] in self.pools:
            self.pools[record["Id"]].release(endpoint["IPAddress"])
        if endpoint.get("GlobalIPv6Address") and record["Id"] in self.pools6:
            self.pools6[record["Id"]].release(endpoint["GlobalIPv6Address"])
        self.containers.save(c)
        self.events.publish("network", "disconnect", record["Id"], {"container": c.id, "name": record["Name"],
                                                                    "type": record["Driver"]})

    # -- the embedded DNS server's view ----------------------------------------------------------
    def lookup(self, asking: Container, name: str) -> list[str] | None:
        wanted = name.lower()
        networks = [n for n in (asking.network_settings or {}).get("Networks") or {}
                    if n in {r["Name"] for r in self.networks.values() if netstore.is_user_defined(r)}]
        link_aliases = {}
        for entry in asking.host_config.get("Links") or []:
            target, _, alias = entry.partition(":")
            link_aliases[alias.rsplit("/", 1)[-1].lower()] = target.lstrip("/").lower()
        found = []
        own = (asking.network_settings or {}).get("Networks") or {}
        for network in networks:
            # A link made for this network's endpoint (EndpointSettings.Links) names a container here.
            scoped = dict(link_aliases)
            for entry in own[network].get("Links") or []:
                target, _, alias = entry.partition(":")
                scoped[(alias or target).lower()] = target.lstrip("/").lower()
            name_wanted = scoped.get(wanted, wanted)
            short = name_wanted[: -len(network) - 1] if name_wanted.endswith("." + network.lower()) else name_wanted
            for c in self.containers.list():
                endpoint = ((c.network_settings or {}).get("Networks") or {}).get(network)
                if not endpoint or not endpoint.get("IPAddress") or not c.state.running:
                    continue
                names = {c.name.lstrip("/").lower(), c.id[:12], *(a.lower() for a in endpoint.get("Aliases") or [])}
                if short in names or wanted == c.id:
                    found.append(endpoint["IPAddress"])
        return found or None

    def reverse(self, asking: Container, ip: str) -> str | None:
        for network in (asking.network_settings or {}).get("Networks") or {}:
            for c in self.containers.list():
                endpoint = ((c.network_settings or {}).get("Networks") or {}).get(network)
                if endpoint and endpoint.get("IPAddress") == ip and c.state.running:
                    return f"{c.name.lstrip('/')}.{network}"
        return None

    def _upstreams(self, c: Container) -> list[str]:
        return list(c.host_config.get("Dns") or self.options.dns or
                    namefiles.host_resolvers(namefiles.read_host_resolv()) or namefiles.FALLBACK_NAMESERVERS)
