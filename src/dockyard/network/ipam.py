"""Address management: choosing subnets for new networks and addresses for endpoints.

Allocations are not a file of their own: every address in use is recorded with its endpoint in
the container's record (written atomically), and the pools are rebuilt from those records when
the daemon starts.
"""

import ipaddress
from dataclasses import dataclass, field
from typing import cast

from dockyard.errors import Conflict, InvalidParameter

IPv4Network = ipaddress.IPv4Network

# Docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
DEFAULT_POOLS = [("172.17.0.0/16", 16), ("172.18.0.0/16", 16), ("172.19.0.0/16", 16), ("172.20.0.0/14", 16),
                 ("172.24.0.0/14", 16), ("172.28.0.0/14", 16), ("192.168.0.0/16", 20)]


def parse_pool(text: str) -> tuple[str, int]:
    """`--default-address-pool base=10.10.0.0/16,size=24`."""
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    try:
        base = ipaddress.ip_network(fields["base"], strict=False)
        size = int(fields.get("size", "24"))
    except (KeyError, ValueError):
        raise InvalidParameter(f"invalid default address pool {text!r}: use base=CIDR,size=N") from None
    if size < base.prefixlen or size > 30:
        raise InvalidParameter(f"invalid default address pool {text!r}: size must be within {base.prefixlen}..30")
    return str(base), size


def free_subnet(pools: list[tuple[str, int]], taken: list[IPv4Network]) -> IPv4Network:
    for base, size in pools:
        for candidate in ipaddress.ip_network(base).subnets(new_prefix=size):
            if not any(candidate.overlaps(t) for t in taken):
                return cast(IPv4Network, candidate)  # an IPv6 pool is not refused here (as before)
    raise InvalidParameter("could not find an available, non-overlapping IPv4 address pool among the defaults to "
                           "assign to the network")


@dataclass
class Pool:
    """One network's subnet: the gateway and every endpoint address in use."""

    subnet: IPv4Network | ipaddress.IPv6Network
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip_range: IPv4Network | ipaddress.IPv6Network | None = None
    used: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.used.add(self.gateway)

    def allocate(self, wanted: str = "") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        family = f"IPv{self.subnet.version}"
        if wanted:
            try:
                address = ipaddress.ip_address(wanted)
                if address.version != self.subnet.version:
                    raise ValueError
            except ValueError:
                raise InvalidParameter(f"invalid {family} address: {wanted}") from None
            if address not in self.subnet:
                raise InvalidParameter(f"no configured subnet or ip-range contain the IP address {wanted}")
            if address in self.used:
                raise Conflict(f"Address already in use: {wanted}")
            self.used.add(address)
            return address
        hosts = (self.ip_range or self.subnet).hosts()
        for address in hosts:
            if address not in self.used and address != self.subnet.network_address:
                self.used.add(address)
                return address
        raise Conflict(f"no available {family} addresses on this network's address pools: {self.subnet}")

    def release(self, address: str) -> None:
        if address:
            self.used.discard(ipaddress.ip_address(address))


def mac_for(address: str) -> str:
    """Docker's MAC for an IPv4 endpoint: 02:42 then the address's four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


def host_routes() -> list[tuple[str, IPv4Network]]:
    """(interface, network) for each IPv4 route the host has, but the default route."""
    found: list[tuple[str, IPv4Network]] = []
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        words = line.split()
        if len(words) < 8 or words[1] == "00000000":
            continue
        dest = ipaddress.IPv4Address(int(words[1], 16).to_bytes(4, "little"))
        mask = ipaddress.IPv4Address(int(words[7], 16).to_bytes(4, "little"))
        found.append((words[0], ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)))
    return found


def host_address_networks() -> list[tuple[str, IPv4Network]]:
    """(interface, network) of every IPv4 address on the host but loopback's, links down included:
    a stopped Docker's docker0 keeps 172.17.0.1/16 without a route and takes it back when it starts."""
    import socket

    from dockyard.network.netlink import Netlink

    found = []
    with Netlink() as nl:
        for index, interface in nl.ipv4_addresses():
            if interface.is_loopback:
                continue
            try:
                name = socket.if_indextoname(index)
            except OSError:
                continue
            found.append((name, interface.network))
    return found
