"""A container create request's networking, checked and put in Docker's form before anything is
made: the network mode, the one endpoint Docker allows at create, links and published ports."""

from __future__ import annotations

import ipaddress
import socket

from dockyard.engine.networks import endpoints as ep
from dockyard.engine.networks.catalog import NetworkCatalog
from dockyard.engine.networks.links import normalize_links
from dockyard.engine.networks.options import NetworkOptions
from dockyard.engine.networks.ports import normalize_port_bindings
from dockyard.engine.networks.seams import ContainerRecords
from dockyard.engine.networks.swarmscope import check_attachable
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.errors import InvalidParameter, NotFound
from dockyard.network import namefiles


class CreatePlanner:
    def __init__(self, options: NetworkOptions, containers: ContainerRecords, networks: NetworkCatalog) -> None:
        self.options = options
        self.containers = containers
        self.networks = networks

    def plan_create(self, cid: str, config: ContainerConfig, host_config: HostConfig, networking: dict | None,
                    name: str = "") -> dict:
        """Validate the create request's networking and return the container's initial
        NetworkSettings; fills HostConfig.NetworkMode ("container:<full id>") and the hostname
        where Docker does."""
        namefiles.validate(host_config.dns, host_config.extra_hosts, host_config.dns_search)
        mode = host_config.network_mode or "default"
        host_config.network_mode = mode
        endpoints_config = (networking or {}).get("EndpointsConfig") or {}
        if len(endpoints_config) > 1:  # moby's verifyNetworkingConfig
            raise InvalidParameter("Container cannot be connected to network endpoints: "
                                   + ", ".join(endpoints_config))
        publishes = bool(host_config.port_bindings) or bool(host_config.publish_all_ports)
        # Host mode only discards published ports (the caller warns, as Docker does).
        if mode.startswith("container:") and publishes:
            raise InvalidParameter("conflicting options: port publishing and the container type network mode")
        if host_config.links and (mode == "host" or mode.startswith("container:")):
            kind = "host type networking" if mode == "host" else "container type network"
            raise InvalidParameter(f"conflicting options: {kind} can't be used with links. This would result in "
                                   "undefined behavior")
        if mode.startswith("container:"):
            target = self.containers.get(mode.split(":", 1)[1])
            if target.id == cid:
                raise InvalidParameter("cannot join own network namespace")
            if config.hostname:
                raise InvalidParameter("conflicting options: hostname and the network mode")
            if host_config.dns or host_config.extra_hosts:
                raise InvalidParameter("conflicting options: dns and the network mode")
            host_config.network_mode = f"container:{target.id}"
            config.hostname = target.config.hostname or ""
            config.domainname = target.config.domainname or ""
            return {"Networks": {}, "Ports": {}}
        if mode == "host":
            if not config.hostname:
                config.hostname = socket.gethostname()
            return {"Networks": {"host": ep.empty_endpoint(self.networks.get("host").id)}, "Ports": {}}
        if mode == "none" or (mode == "default" and self.options.bridge == "none"):
            return {"Networks": {"none": ep.empty_endpoint(self.networks.get("none").id)}, "Ports": {}}
        try:
            network = self.networks.get("bridge" if mode == "default" else mode)
        except NotFound:
            if mode in ("default", "bridge"):
                raise
            # As dockerd: a user network that does not exist yet is looked up again at start, which
            # fails then if it still does not (docker-compose 1.x creates containers before networks).
            given = endpoints_config.get(mode) or {}
            endpoint = ep.requested_endpoint("", given, list(given.get("Aliases") or []), None)
            host_config.links = normalize_links(self.containers, host_config.links or [], name)
            normalize_port_bindings(host_config.port_bindings)
            return {"Networks": {mode: endpoint}, "Ports": {}}
        check_attachable(network, config.labels)
        if network.user_defined and mode != network.name:
            host_config.network_mode = network.name
        given = endpoints_config.get(mode) or endpoints_config.get(network.name) or {}
        ipam_config = given.get("IPAMConfig") or None
        aliases = list(given.get("Aliases") or [])
        if not network.user_defined:
            if (ipam_config or {}).get("IPv4Address"):
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if aliases:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
        else:
            address = (ipam_config or {}).get("IPv4Address")
            v4 = network.ipv4
            if address and v4 is not None:
                try:
                    if ipaddress.ip_address(address) not in ipaddress.ip_network(v4.subnet):
                        raise InvalidParameter(f"no configured subnet or ip-range contain the IP address {address}")
                except ValueError:
                    raise InvalidParameter(f"invalid IPv4 address: {address}") from None
        endpoint = ep.requested_endpoint(network.id, given, aliases, None)
        host_config.links = normalize_links(self.containers, host_config.links or [], name)
        normalize_port_bindings(host_config.port_bindings)
        return {"Networks": {network.name: endpoint}, "Ports": {}}
