"""The daemon's netfilter rules, all inside chains of its own (like Docker's DOCKER,
DOCKER-ISOLATION-*), named after a per-daemon prefix so two daemons never touch each other's.

The rules are derived, not accumulated: `Firewall.apply` rewrites the content of every own chain
from the current state in one `iptables-restore --noflush` transaction (declaring a chain there
flushes it). That makes a daemon restart a plain re-apply, which restores what running containers
need and drops whatever was left from containers that are gone. The only rules outside our chains
are one jump per built-in chain, added once and removed by `teardown`.
"""

import subprocess
from dataclasses import dataclass

from dockyard.errors import SystemError_


@dataclass(frozen=True)
class BridgeRules:
    bridge: str
    subnet: str
    icc: bool = True
    masquerade: bool = True
    internal: bool = False


@dataclass(frozen=True)
class PortRule:
    proto: str  # tcp | udp | sctp
    host_ip: str  # "" or 0.0.0.0 = every local address
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, text=True)


class Firewall:
    def __init__(self, prefix: str, *, userland_proxy: bool = True) -> None:
        self.prefix = prefix
        self.userland_proxy = userland_proxy
        self.nat_chain = prefix
        self.post_chain = f"{prefix}-POST"
        self.forward_chain = f"{prefix}-FWD"
        self.isolation_chain = f"{prefix}-ISO"

    def _jumps(self) -> list[tuple[str, str, list[str]]]:
        output_match = ["!", "-d", "127.0.0.0/8"] if self.userland_proxy else []
        return [
            ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "OUTPUT", [*output_match, "-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "POSTROUTING", ["-j", self.post_chain]),
            ("filter", "FORWARD", ["-j", self.forward_chain]),
        ]

    def setup(self) -> None:
        """Create our chains (empty) and the jumps into them from the built-in chains."""
        self.apply([], [])
        for table, chain, rule in self._jumps():
            if _run(["iptables", "-w", "-t", table, "-C", chain, *rule]).returncode != 0:
                result = _run(["iptables", "-w", "-t", table, "-I", chain, *rule])
                if result.returncode != 0:
                    raise SystemError_(f"iptables: adding a jump to {self.prefix} in {table}/{chain} failed: "
                                       f"{result.stderr.strip()}")

    def teardown(self) -> None:
        for table, chain, rule in self._jumps():
            while _run(["iptables", "-w", "-t", table, "-D", chain, *rule]).returncode == 0:
                pass
        for table, chains in (("nat", (self.nat_chain, self.post_chain)),
                              ("filter", (self.forward_chain, self.isolation_chain))):
            for chain in chains:
                _run(["iptables", "-w", "-t", table, "-F", chain])
            for chain in chains:
                _run(["iptables", "-w", "-t", table, "-X", chain])

    def render(self, bridges: list[BridgeRules], ports: list[PortRule]) -> str:
        nat = [f":{self.nat_chain} - [0:0]", f":{self.post_chain} - [0:0]"]
        flt = [f":{self.forward_chain} - [0:0]", f":{self.isolation_chain} - [0:0]"]
        for b in bridges:
            nat.append(f"-A {self.nat_chain} -i {b.bridge} -j RETURN")
            if b.masquerade and not b.internal:
                nat.append(f"-A {self.post_chain} -s {b.subnet} ! -o {b.bridge} -j MASQUERADE")
            if not self.userland_proxy:
                nat.append(f"-A {self.post_chain} -o {b.bridge} -m addrtype --src-type LOCAL -j MASQUERADE")
            flt.append(f"-A {self.forward_chain} -i {b.bridge} ! -o {b.bridge} -j {self.isolation_chain}")
            flt.append(f"-A {self.isolation_chain} -o {b.bridge} -j DROP")
        for p in ports:
            dest = f"-d {p.host_ip}/32 " if p.host_ip and p.host_ip != "0.0.0.0" else ""
            nat.append(f"-A {self.nat_chain} {dest}! -i {p.bridge} -p {p.proto} -m {p.proto} --dport {p.host_port} "
                       f"-j DNAT --to-destination {p.container_ip}:{p.container_port}")
            nat.append(f"-A {self.post_chain} -s {p.container_ip}/32 -d {p.container_ip}/32 -p {p.proto} "
                       f"-m {p.proto} --dport {p.container_port} -j MASQUERADE")
            flt.append(f"-A {self.forward_chain} -d {p.container_ip}/32 ! -i {p.bridge} -o {p.bridge} -p {p.proto} "
                       f"-m {p.proto} --dport {p.container_port} -j ACCEPT")
        for b in bridges:
            if b.internal:
                flt.append(f"-A {self.forward_chain} -i {b.bridge} ! -o {b.bridge} -j DROP")
                flt.append(f"-A {self.forward_chain} ! -i {b.bridge} -o {b.bridge} -j DROP")
            else:
                flt.append(f"-A {self.forward_chain} -o {b.bridge} -m conntrack --ctstate RELATED,ESTABLISHED "
                           "-j ACCEPT")
                flt.append(f"-A {self.forward_chain} -i {b.bridge} ! -o {b.bridge} -j ACCEPT")
            flt.append(f"-A {self.forward_chain} -i {b.bridge} -o {b.bridge} -j {'ACCEPT' if b.icc else 'DROP'}")
        flt.append(f"-A {self.isolation_chain} -j RETURN")
        return "*nat\n" + "\n".join(nat) + "\nCOMMIT\n*filter\n" + "\n".join(flt) + "\nCOMMIT\n"

    def apply(self, bridges: list[BridgeRules], ports: list[PortRule]) -> None:
        result = _run(["iptables-restore", "-w", "--noflush"], self.render(bridges, ports))
        if result.returncode != 0:
            raise SystemError_(f"iptables-restore failed: {result.stderr.strip()}")
