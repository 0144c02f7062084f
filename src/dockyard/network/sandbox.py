"""The kernel side of one container's network sandbox: its namespace, one veth pair per network
(the container's end named ethN, the host's end enslaved to the network's bridge), addresses and
the default route. Blocking calls: run them off the event loop."""

import contextlib
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass

from dockyard.network import netns
from dockyard.network.netlink import Netlink, NetlinkError

LOOPBACK_INDEX = 1

# Docker's defaults for a container's own network namespace (`--sysctl` still overrides them, as
# the runtime writes those later): bind ports below 1024 and ping without capabilities.
DEFAULT_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}


def write_default_sysctls() -> None:
    """In the calling thread's network namespace (a /proc/sys/net file answers for the opener's)."""
    for key, value in DEFAULT_SYSCTLS.items():
        with contextlib.suppress(FileNotFoundError), open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)


@dataclass(frozen=True)
class Interface:
    """One endpoint's interface: addresses are CIDRs ("172.17.0.2/16")."""

    ifname: str  # inside: eth0, eth1, ...
    veth: str  # on the host: vethXXXXXXX
    bridge: str
    address: str
    mac: str
    mtu: int
    gateway: str = ""  # set on the interface that carries the default route
    address6: str = ""  # on an IPv6 network: the endpoint's IPv6 CIDR
    gateway6: str = ""  # with address6, on the interface that carries the default route


def new_veth_name() -> str:
    return "veth" + secrets.token_hex(4)[:7]


def create(path: str) -> None:
    """A namespace pinned at ``path`` with its loopback up and Docker's default sysctls."""

    def loopback_up() -> None:
        with Netlink() as nl:
            nl.set_up(LOOPBACK_INDEX)
        write_default_sysctls()

    netns.create(path, loopback_up)


def add_interface(path: str, iface: Interface) -> None:
    """The veth pair and the container side's configuration; undone if any step fails."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with Netlink() as nl:
            nl.add_veth(iface.veth, iface.ifname, peer_netns_fd=fd, peer_mac=iface.mac, mtu=iface.mtu,
                        master=socket.if_nametoindex(iface.bridge))
    finally:
        os.close(fd)

    def configure() -> None:
        with Netlink() as nl:
            index = socket.if_nametoindex(iface.ifname)
            nl.add_address(index, ipaddress.ip_interface(iface.address))
            if iface.address6:  # the namespace's /proc/sys/net is this thread's (see netns.run_in)
                with open(f"/proc/sys/net/ipv6/conf/{iface.ifname}/disable_ipv6", "w") as f:
                    f.write("0")
                nl.add_address(index, ipaddress.ip_interface(iface.address6))
            nl.set_up(index)
            if iface.gateway:
                nl.add_route(gateway=iface.gateway)
            if iface.address6 and iface.gateway6:
                # through this link: a link-local gateway (fe80::/64 networks) is reachable on no other
                nl.add_route(gateway=iface.gateway6, index=index)

    try:
        netns.run_in(path, configure)
    except BaseException:
        remove_interface(iface.veth)
        raise


def remove_interface(veth: str) -> None:
    """Deleting the host end deletes the pair (and the container's ethN with it)."""
    with contextlib.suppress(NetlinkError), Netlink() as nl:
        nl.delete_link_named(veth)


def destroy(path: str) -> None:
    """Unpin the namespace; the kernel then deletes it with its veth pairs, in the background.
    (Deleting a veth ourselves waits for an RCU grace period: 20-40 ms on the exit path.)"""
    netns.remove(path)
