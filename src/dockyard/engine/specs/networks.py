"""What network create, connect and disconnect ask for, and a container's endpoints at create
(moby's network.NetworkingConfig, EndpointSettings and IPAM)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.specs import checks, wire


@dataclass
class EndpointIPAMConfig:
    ipv4_address: str | None = wire("IPv4Address", check=checks.ip_address)
    ipv6_address: str | None = wire("IPv6Address", check=checks.ip_address)
    link_local_ips: list[str] | None = wire("LinkLocalIPs")


@dataclass
class EndpointSettings:
    ipam_config: EndpointIPAMConfig | None = wire("IPAMConfig")
    links: list[str] | None = wire("Links")
    aliases: list[str] | None = wire("Aliases")
    mac_address: str | None = wire("MacAddress")
    driver_opts: dict[str, str] | None = wire("DriverOpts")
    gw_priority: int | None = wire("GwPriority", go="int")
    dns_names: list[str] | None = wire("DNSNames")
    # Read-only in answers, accepted (and ignored by the engine) in requests as Docker does.
    network_id: str | None = wire("NetworkID")
    endpoint_id: str | None = wire("EndpointID")
    gateway: str | None = wire("Gateway")
    ip_address: str | None = wire("IPAddress")
    ip_prefix_len: int | None = wire("IPPrefixLen", go="int")
    ipv6_gateway: str | None = wire("IPv6Gateway")
    global_ipv6_address: str | None = wire("GlobalIPv6Address")
    global_ipv6_prefix_len: int | None = wire("GlobalIPv6PrefixLen", go="int")


@dataclass
class NetworkingConfig:
    endpoints_config: dict[str, EndpointSettings | None] | None = wire("EndpointsConfig")


@dataclass
class IPAMPool:
    subnet: str | None = wire("Subnet", check=checks.cidr)
    ip_range: str | None = wire("IPRange", check=checks.cidr)
    gateway: str | None = wire("Gateway", check=checks.ip_address)
    auxiliary_addresses: dict[str, str] | None = wire("AuxiliaryAddresses")


@dataclass
class IPAM:
    driver: str | None = wire("Driver")
    config: list[IPAMPool] | None = wire("Config")
    options: dict[str, str] | None = wire("Options")


@dataclass
class ConfigReference:
    network: str | None = wire("Network")


@dataclass
class NetworkCreate:
    name: str | None = wire("Name")
    check_duplicate: bool | None = wire("CheckDuplicate")
    driver: str | None = wire("Driver")
    scope: str | None = wire("Scope")
    internal: bool | None = wire("Internal")
    attachable: bool | None = wire("Attachable")
    ingress: bool | None = wire("Ingress")
    config_only: bool | None = wire("ConfigOnly")
    config_from: ConfigReference | None = wire("ConfigFrom")
    ipam: IPAM | None = wire("IPAM")
    enable_ipv4: bool | None = wire("EnableIPv4")
    enable_ipv6: bool | None = wire("EnableIPv6")
    options: dict[str, str] | None = wire("Options")
    labels: dict[str, str] | None = wire("Labels")


@dataclass
class NetworkConnect:
    container: str | None = wire("Container")
    endpoint_config: EndpointSettings | None = wire("EndpointConfig")


@dataclass
class NetworkDisconnect:
    container: str | None = wire("Container")
    force: bool | None = wire("Force")
