"""The daemon's netfilter rules, all inside chains of its own (like Docker's DOCKER,
DOCKER-ISOLATION-*), named after a per-daemon prefix so two daemons never touch each other's.

The rules are derived, not accumulated: `Firewall.apply` rewrites the content of every own chain
from the current state in one `iptables-restore --noflush` transaction (declaring a chain there
flushes it). That makes a daemon restart a plain re-apply, which restores what running containers
need and drops whatever was left from containers that are gone. The only rules outside our chains
are one jump per built-in chain, added by `heal` and removed by `teardown`.

Other programs change the same tables (a Docker daemon, a firewall reload, an administrator), so
`heal` compares the kernel's rules (one `iptables-save`) with what the daemon last applied and puts
back, in one `iptables-restore`, the jumps and chains that went missing.
"""

import subprocess
import threading
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


def parse_save(text: str) -> dict[str, dict[str, list[str]]]:
    """iptables-save output -> {table: {chain: [rule, ...]}} (every declared chain, even empty)."""
    tables: dict[str, dict[str, list[str]]] = {}
    chains: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            chains = tables.setdefault(line[1:].strip(), {})
        elif line.startswith(":"):
            chains.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            chain, _, rule = line[3:].partition(" ")
            chains.setdefault(chain, []).append(rule)
    return tables


def _section(text: str, table: str) -> list[str]:
    """The lines of one table in iptables-restore input (between `*table` and its COMMIT)."""
    lines = text.splitlines()
    start = lines.index(f"*{table}") + 1
    return lines[start:lines.index("COMMIT", start)]


class OwnChains:
    """Chains of one owner in the nat and filter tables, rewritten whole by ``restore`` and kept:
    ``heal`` puts back what another program removed, ``teardown`` removes them and their jumps.
    A subclass says which chains it owns (``own_chains``) and which jumps lead into them
    (``_jumps``); Firewall (the bridge driver's rules) and the routing mesh's node rules
    (network/mesh/noderules.py) are the two."""

    def __init__(self, prefix: str, empty: str, netns: str = "") -> None:
        self.prefix = prefix
        # A namespace pinned at this path instead of the daemon's own (a node of a test).
        self.netns = netns
        # What the last `restore` wrote: the reference `heal` compares the kernel's rules with.
        self._wanted = empty
        # restore (event loop or a worker thread) and heal (a worker thread) never interleave, so
        # heal never mistakes a half-done restore for rules someone removed.
        self._lock = threading.Lock()

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        return _run([*(["nsenter", f"--net={self.netns}"] if self.netns else []), *args], stdin)

    def _jumps(self) -> list[tuple[str, str, list[str]]]:
        raise NotImplementedError

    def own_chains(self) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def watched_chains(self) -> set[tuple[str, str]]:
        """(table, chain) pairs whose loss concerns us: our chains and those holding our jumps."""
        return {*((t, c) for t, chains in self.own_chains().items() for c in chains),
                *((t, c) for t, c, _rule in self._jumps())}

    def missing(self, saved: str) -> tuple[list[str], list[str]]:
        """Compare iptables-save output with what should be there: (what is missing, in words;
        the iptables-restore lines that put it back). Our chains are checked by rule count (a
        flushed or partly deleted chain); the jumps by their target, as only we jump there."""
        kernel, wanted = parse_save(saved), parse_save(self._wanted)
        gone: list[str] = []
        rewrite: set[str] = set()  # tables whose chains are written again whole
        for table, chains in self.own_chains().items():
            for chain in chains:
                have = kernel.get(table, {}).get(chain)
                if have is None:
                    gone.append(f"chain {table}/{chain}")
                    rewrite.add(table)
                elif len(have) != len(wanted[table][chain]):
                    gone.append(f"rules of {table}/{chain} ({len(have)} found, {len(wanted[table][chain])} expected)")
                    rewrite.add(table)
        inserts: dict[str, list[str]] = {"nat": [], "filter": []}
        for table, chain, rule in self._jumps():
            target = rule[-1]
            if not any(r.split()[-2:] == ["-j", target] for r in kernel.get(table, {}).get(chain, [])):
                gone.append(f"jump {chain} -> {target}" if table == "filter" else
                            f"jump {table} {chain} -> {target}")
                inserts[table].append(f"-I {chain} 1 {' '.join(rule)}")
        if not gone:
            return [], []
        lines: list[str] = []
        for table in ("nat", "filter"):
            body = _section(self._wanted, table) if table in rewrite else []
            if body or inserts[table]:
                lines += [f"*{table}", *body, *inserts[table], "COMMIT"]
        return gone, lines

    def heal(self) -> list[str]:
        """Put back whatever of our jumps and chains is missing; returns what was restored."""
        with self._lock:
            saved = self._run(["iptables-save"])
            if saved.returncode != 0:
                raise SystemError_(f"iptables-save failed: {saved.stderr.strip()}")
            if "is incompatible" in saved.stdout:  # nft rules iptables cannot show: it hides the table
                raise SystemError_("iptables-save cannot show a table that holds our rules (native nftables "
                                   "rules were added to it); the daemon's rules are not checked meanwhile")
            gone, lines = self.missing(saved.stdout)
            if lines:
                result = self._run(["iptables-restore", "-w", "--noflush"], "\n".join(lines) + "\n")
                if result.returncode != 0:
                    raise SystemError_(f"iptables-restore failed: {result.stderr.strip()}")
            return gone

    def teardown(self) -> None:
        with self._lock:
            self._teardown()

    def _teardown(self) -> None:
        for table, chain, rule in self._jumps():
            while self._run(["iptables", "-w", "-t", table, "-D", chain, *rule]).returncode == 0:
                pass
        for table, chains in self.own_chains().items():
            for chain in chains:
                self._run(["iptables", "-w", "-t", table, "-F", chain])
            for chain in chains:
                self._run(["iptables", "-w", "-t", table, "-X", chain])

    def restore(self, text: str) -> None:
        """Rewrite our chains from ``text`` (iptables-restore input declaring each chain, which
        flushes it) in one transaction, and keep it as what `heal` compares with."""
        with self._lock:
            result = self._run(["iptables-restore", "-w", "--noflush"], text)
            if result.returncode != 0:
                raise SystemError_(f"iptables-restore failed: {result.stderr.strip()}")
            self._wanted = text


class Firewall(OwnChains):
    def __init__(self, prefix: str, *, userland_proxy: bool = True) -> None:
        self.userland_proxy = userland_proxy
        self.nat_chain = prefix
        self.post_chain = f"{prefix}-POST"
        self.forward_chain = f"{prefix}-FWD"
        self.isolation_chain = f"{prefix}-ISO"
        super().__init__(prefix, self.render([], []))

    def _jumps(self) -> list[tuple[str, str, list[str]]]:
        output_match = ["!", "-d", "127.0.0.0/8"] if self.userland_proxy else []
        return [
            ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "OUTPUT", [*output_match, "-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "POSTROUTING", ["-j", self.post_chain]),
            ("filter", "FORWARD", ["-j", self.forward_chain]),
        ]

    def own_chains(self) -> dict[str, tuple[str, ...]]:
        return {"nat": (self.nat_chain, self.post_chain), "filter": (self.forward_chain, self.isolation_chain)}

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
        self.restore(self.render(bridges, ports))
