"""The predefined networks: host and none, and the default bridge (`bridge`), whose settings
come from dockyardd's flags (--bridge, --bip, --fixed-cidr, --icc, --mtu, --ip) rather than from
a create request, and whose subnet is kept across restarts when it is still free."""

from __future__ import annotations

import ipaddress

from dockyard.engine.networks.addresses import AddressSpace
from dockyard.engine.networks.options import NetworkOptions
from dockyard.errors import InvalidParameter
from dockyard.network import bridge, records
from dockyard.network.records import IPAMConfig, Network

# Docker's first choice for the default bridge, before the default pools.
DEFAULT_BRIDGE_POOL = ("172.17.0.0/16", 16)


def default_bridge_options(options: NetworkOptions) -> dict[str, str]:
    return {records.DEFAULT_BRIDGE: "true", records.ENABLE_ICC: str(options.icc).lower(),
            records.ENABLE_MASQUERADE: "true", records.HOST_BINDING: options.host_ip,
            records.BRIDGE_NAME: options.bridge, records.MTU: str(options.mtu)}


def default_bridge_config(options: NetworkOptions, previous: Network | None, addresses: AddressSpace) -> IPAMConfig:
    """--bip when given; else the address the bridge already has; else the subnet it had before
    if nothing took it meanwhile; else a free one. --fixed-cidr narrows the container range."""
    if options.bip:
        try:
            bip = ipaddress.IPv4Interface(options.bip)
        except ValueError:
            raise InvalidParameter(f"invalid --bip {options.bip!r}: use a CIDR such as 172.17.0.1/16") from None
        config = IPAMConfig(str(bip.network), str(bip.ip))
    else:
        existing = [a for a in (bridge.addresses(options.bridge) if bridge.exists(options.bridge) else [])
                    if ":" not in a]
        old = previous.ipv4 if previous is not None else None
        taken = addresses.taken_subnets(exclude_bridge=options.bridge,
                                        exclude_id=previous.id if previous is not None else None)
        if existing:
            iface = ipaddress.IPv4Interface(existing[0])
            config = IPAMConfig(str(iface.network), str(iface.ip))
        elif old is not None and not any(ipaddress.ip_network(old.subnet).overlaps(t) for t in taken):
            config = IPAMConfig(old.subnet, old.gateway)
        else:
            subnet = addresses.free_subnet([DEFAULT_BRIDGE_POOL, *addresses.default_pools], taken)
            config = IPAMConfig(str(subnet), str(next(subnet.hosts())))
    if options.fixed_cidr:
        fixed = ipaddress.ip_network(options.fixed_cidr, strict=False)
        if not fixed.subnet_of(ipaddress.ip_network(config.subnet)):  # type: ignore[arg-type]
            raise InvalidParameter(f"--fixed-cidr {fixed} is not inside the bridge's subnet {config.subnet}")
        config.ip_range = str(fixed)
    return config
