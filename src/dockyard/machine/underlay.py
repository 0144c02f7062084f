"""The underlay: a bridge on the host with a subnet of its own, where every netns machine has a
veth. Machines reach each other and the host on it, and nothing else: they have no default route,
and netfilter drops what would be forwarded between the underlay and any other interface (but for
connections to the host that the host itself redirects: its daemons' published ports), and what
enters the host from the underlay with an address outside the subnet.

The bridge carries an alias naming it an underlay, so a bridge someone else made is never taken
over or deleted. It is made on the first machine's start and removed, with its rules, when the
last veth leaves it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
from dataclasses import dataclass

from dockyard.machine.errors import MachineError
from dockyard.network.netlink import Netlink

ALIAS = "dockyard machine underlay"
DEFAULT_BRIDGE = "dymachines0"
DEFAULT_CIDR = "192.168.99.1/24"  # VirtualBox's host-only network, where docker-machine's hosts lived
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def _index(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0  # gone meanwhile: it has no address


def _name(index: int) -> str:
    try:
        return socket.if_indextoname(index)
    except OSError:
        return f"link {index}"


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, text=True)


def save_filter() -> list[str]:
    """The filter table as iptables-save prints it."""
    result = _run(["iptables-save", "-t", "filter"])
    if result.returncode != 0:
        raise MachineError(f"iptables-save failed: {result.stderr.strip()}")
    return result.stdout.splitlines()


@dataclass(frozen=True)
class Underlay:
    bridge: str
    gateway: ipaddress.IPv4Interface  # the host's address on it, e.g. 192.168.99.1/24

    @classmethod
    def parse(cls, bridge: str, cidr: str) -> Underlay:
        if not _IFNAME.match(bridge):
            raise MachineError(f"--netns-underlay-bridge {bridge!r}: an interface name has 1 to 15 letters, digits, "
                               "'.', '-' or '_'")
        try:
            gateway = ipaddress.IPv4Interface(cidr)
        except ValueError:
            raise MachineError(f"--netns-underlay-cidr {cidr!r}: give the host's IPv4 address on the underlay with "
                               "its prefix, e.g. 192.168.99.1/24") from None
        if gateway.network.prefixlen > 29 or gateway.ip in (gateway.network.network_address,
                                                              gateway.network.broadcast_address):
            raise MachineError(f"--netns-underlay-cidr {cidr}: the host needs an address inside a subnet of at "
                               "least 8 addresses, e.g. 192.168.99.1/24")
        return cls(bridge, gateway)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return self.gateway.network

    @property
    def cidr(self) -> str:
        return str(self.gateway)

    def allocate(self, taken: set[str]) -> str:
        """The first free machine address: .100 up on a /24 or larger (VirtualBox's DHCP range), else from the start."""
        hosts = list(self.network.hosts()) if self.network.num_addresses <= 4096 else None
        if hosts is None:
            hosts = [self.network.network_address + i for i in range(1, 4095)]
        start = 99 if self.network.prefixlen <= 24 else 0
        for address in hosts[start:] + hosts[:start]:
            if address != self.gateway.ip and str(address) not in taken:
                return str(address)
        raise MachineError(f"the underlay {self.network} has no free address left: remove a machine or use a larger "
                           "--netns-underlay-cidr")

    # -- the bridge --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.exists(f"/sys/class/net/{self.bridge}")

    def _ours(self) -> bool:
        try:
            with open(f"/sys/class/net/{self.bridge}/ifalias") as f:
                return f.read().strip() == ALIAS
        except OSError:
            return False

    def check(self) -> None:
        """Refuse a bridge that is not an underlay, or one with another subnet, or a subnet in use elsewhere.
        The addresses come from one rtnetlink dump (no ip(8) process)."""
        try:
            with Netlink() as nl:
                addresses = nl.ipv4_addresses()
        except OSError as exc:
            raise MachineError(f"listing the host's addresses failed: {exc}") from None
        if self.exists():
            if not self._ours():
                raise MachineError(f"the interface {self.bridge} exists and is not a machine underlay: choose another "
                                   "--netns-underlay-bridge")
            index = _index(self.bridge)
            if self.gateway not in [interface for at, interface in addresses if at == index]:
                raise MachineError(f"the underlay {self.bridge} already has another address than {self.cidr}: use "
                                   "the same --netns-underlay-cidr as its machines, or another bridge")
            return
        for index, interface in addresses:
            if interface.network.overlaps(self.network):
                raise MachineError(f"the underlay subnet {self.network} overlaps {interface} on {_name(index)}: "
                                   "choose another --netns-underlay-cidr")

    def ensure(self) -> None:
        self.check()
        if not self.exists():
            result = _run(["ip", "-batch", "-"], f"link add name {self.bridge} type bridge\n"
                                                 f"link set dev {self.bridge} alias \"{ALIAS}\"\n"
                                                 f"addr add {self.cidr} dev {self.bridge}\n"
                                                 f"link set dev {self.bridge} up\n")
            if result.returncode != 0:
                _run(["ip", "link", "del", "dev", self.bridge])
                raise MachineError(f"making the underlay bridge {self.bridge} failed: {result.stderr.strip()}")
        self._apply_rules()

    def ports(self) -> list[str]:
        try:
            return os.listdir(f"/sys/class/net/{self.bridge}/brif")
        except FileNotFoundError:
            return []

    def in_use(self) -> bool:
        """Ours, and a machine's veth on it."""
        return self.exists() and self._ours() and bool(self.ports())

    def release_if_unused(self) -> None:
        if self.exists() and self._ours() and not self.ports():
            self._remove_rules()
            _run(["ip", "link", "del", "dev", self.bridge])

    # -- netfilter ---------------------------------------------------------------------------------
    @property
    def chains(self) -> tuple[str, str]:
        return f"DYM-FWD-{self.bridge}", f"DYM-IN-{self.bridge}"

    def _jumps(self) -> list[tuple[str, list[str]]]:
        forward, inbound = self.chains
        return [("FORWARD", ["-j", forward]), ("INPUT", ["-i", self.bridge, "-j", inbound])]

    def _rules(self) -> list[str]:
        forward, inbound = self.chains
        br, net = self.bridge, str(self.network)
        return [f"-A {forward} -i {br} -o {br} -j ACCEPT",  # machine to machine (bridged, with br_netfilter)
                # Addressed to the host and redirected by it (its daemons' published ports, as a VirtualBox
                # VM reaches them on the host-only address): the host's own rules decide.
                f"-A {forward} -m conntrack --ctstate DNAT -j RETURN",
                f"-A {forward} -i {br} -j DROP",
                f"-A {forward} -o {br} -j DROP",
                f"-A {inbound} -s {net} -i {br} -j RETURN",
                f"-A {inbound} -i {br} -j DROP"]

    def missing(self, saved: list[str]) -> list[str]:
        """What of the underlay's rules and jumps ``saved`` (iptables-save's lines) lacks."""
        forward, inbound = self.chains
        ours = [line for line in saved if line.startswith((f"-A {forward} ", f"-A {inbound} "))]
        missing = [f"rule '{rule}'" for rule in self._rules() if rule not in ours]
        if not missing and ours != self._rules():
            missing.append(f"the order of the rules in {forward} and {inbound}")
        jumps = [f"-A {chain} {' '.join(rule)}" for chain, rule in self._jumps()]
        return missing + [f"jump '{jump}'" for jump in jumps if jump not in saved]

    def repair(self, saved: list[str] | None = None) -> list[str]:
        """Put back whatever of the rules is missing (one iptables-save when all is there, the common
        case); returns what was missing."""
        if saved is None:
            saved = save_filter()
        missing = self.missing(saved)
        if not missing:
            return []
        forward, inbound = self.chains
        # Declaring a chain in a --noflush restore flushes it: the content is rewritten, never appended.
        rules = f"*filter\n:{forward} - [0:0]\n:{inbound} - [0:0]\n" + "\n".join(self._rules()) + "\nCOMMIT\n"
        result = _run(["iptables-restore", "-w", "--noflush"], rules)
        if result.returncode != 0:
            raise MachineError(f"the underlay's netfilter rules could not be applied: {result.stderr.strip()}")
        for chain, rule in self._jumps():
            if _run(["iptables", "-w", "-C", chain, *rule]).returncode != 0:
                result = _run(["iptables", "-w", "-I", chain, "1", *rule])
                if result.returncode != 0:
                    raise MachineError(f"the jump to {rule[-1]} could not be added: {result.stderr.strip()}")
        return missing

    def _apply_rules(self) -> None:
        self.repair()

    def _remove_rules(self) -> None:
        for chain, rule in self._jumps():
            while _run(["iptables", "-w", "-D", chain, *rule]).returncode == 0:
                pass
        for chain in self.chains:
            _run(["iptables", "-w", "-F", chain])
            _run(["iptables", "-w", "-X", chain])
