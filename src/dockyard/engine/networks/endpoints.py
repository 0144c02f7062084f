"""A container's endpoint on one network, as its record keeps it: Docker's EndpointSettings
(inspect's NetworkSettings.Networks[name]). What the client asked for stays when the container
stops; the addresses and IDs are filled while it runs."""

from __future__ import annotations

import ipaddress
import re

from dockyard.errors import InvalidParameter
from dockyard.network.records import Network
from dockyard.network.sandbox import Interface
from dockyard.util.ids import new_id

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def with_short_id(aliases: list | None, short_id: str) -> list:
    return [*[a for a in aliases or [] if a != short_id], short_id]


def empty_endpoint(network_id: str = "", ipam_config: dict | None = None, aliases: list | None = None,
                   links: list | None = None, driver_opts: dict | None = None) -> dict:
    return {"IPAMConfig": ipam_config or None, "Links": links or None, "Aliases": aliases or None,
            "NetworkID": network_id, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "",
            "DriverOpts": driver_opts or None}


def stopped_endpoint(endpoint: dict) -> dict:
    """What an endpoint keeps once its container's sandbox is gone: what the client asked for."""
    return empty_endpoint(endpoint.get("NetworkID", ""), endpoint.get("IPAMConfig"), endpoint.get("Aliases"),
                          endpoint.get("Links"), endpoint.get("DriverOpts"))


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


def _requested_mac(endpoint_config: dict) -> str:
    """EndpointSettings.MacAddress as the client asked for it ("" when it did not)."""
    mac = endpoint_config.get("MacAddress") or ""
    if mac and not _MAC.match(mac):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    return mac.lower()


def fill_endpoint(endpoint: dict, network: Network, iface: Interface) -> None:
    """The endpoint of a container whose interface ``iface`` is now up on ``network``."""
    address = ipaddress.IPv4Interface(iface.address)
    v4 = network.ipv4
    endpoint.update({"NetworkID": network.id, "EndpointID": new_id(),
                     "Gateway": v4.gateway if v4 is not None and not network.internal else "",
                     "IPAddress": str(address.ip), "IPPrefixLen": address.network.prefixlen,
                     "MacAddress": iface.mac})
    if iface.address6:
        address6 = ipaddress.IPv6Interface(iface.address6)
        v6 = network.ipv6
        endpoint.update({"GlobalIPv6Address": str(address6.ip), "GlobalIPv6PrefixLen": address6.network.prefixlen,
                         "IPv6Gateway": v6.gateway if v6 is not None and not network.internal else ""})
