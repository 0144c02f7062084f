"""The routing mesh's rules inside one network namespace of ours (a task's sandbox, the ingress
sandbox), rendered as one nftables table.

Balancing is `dnat to numgen inc mod N map {...}`: round robin over the healthy backends, the
same choice IPVS's default `rr` scheduler makes for Docker. NAT is decided on a connection's
first packet and kept by conntrack, so a connection stays on its backend, and a new rendering
(a backend gone) changes only where new connections go.

The table is replaced whole in one `nft -f` transaction (``replace_script``): the kernel sees
the old table or the new one, never a mix, and never a moment without rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.network.mesh.model import Backend, IngressPeer, IngressService, VirtualIP

TABLE = "dockyard_mesh"
MARK_BASE = 0x6D730000  # "ms": connection marks of replies owed to an ingress peer (peer i: BASE + i)
MARK_MASK = 0xFFFF0000
ROUTE_TABLE_BASE = 3100  # policy routing table (and rule priority) of ingress peer i: BASE + i


@dataclass
class ReturnPath:
    """A task's way back to the ingress sandbox a connection came from: connections arriving on
    ``interface`` (the task's ingress network leg) are marked by the peer's MAC, and their
    replies routed to that peer instead of the task's default gateway."""

    interface: str
    peers: list[IngressPeer] = field(default_factory=list)


@dataclass
class SandboxMesh:
    """What one namespace needs: the VIPs of the services on its networks (a task's or an
    attachable container's sandbox), the ingress services it balances (the ingress sandbox),
    and the return path of an ingress task."""

    vips: list[VirtualIP] = field(default_factory=list)
    ingress: list[IngressService] = field(default_factory=list)
    return_path: ReturnPath | None = None

    @property
    def empty(self) -> bool:
        return not self.vips and not self.ingress and (self.return_path is None or not self.return_path.peers)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "'")[:120] + '"'


def _pick(backends: tuple[Backend, ...], port: int | None = None) -> str:
    """The dnat target that spreads connections over ``backends`` round robin."""
    to = f":{port}" if port is not None else ""
    if len(backends) == 1:
        return f"dnat ip to {backends[0].address}{to}"
    pairs = ", ".join(f"{i} : {b.address}" for i, b in enumerate(backends))
    return f"dnat ip to numgen inc mod {len(backends)} map {{ {pairs} }}{to}"


def render(mesh: SandboxMesh) -> str:
    """The table's body (``table ip dockyard_mesh { ... }``)."""
    out: list[str] = [f"table ip {TABLE} {{"]
    nat_output, nat_pre, refuse = [], [], []
    for vip in sorted(mesh.vips, key=lambda v: v.address):
        live = vip.live
        note = f"comment {_quote('vip ' + vip.service)}"
        if live:
            # Every port of the VIP, as Docker's firewall-mark services do; a ping is answered by
            # one of the tasks (Docker's load-balancer sandbox answers it itself).
            nat_output.append(f"ip daddr {vip.address} meta l4proto {{ tcp, udp, sctp, icmp }} {_pick(live)} {note}")
        else:  # no task to send it to: refused at once rather than left to time out
            refuse.append(f"ip daddr {vip.address} meta l4proto tcp reject with tcp reset {note}")
            refuse.append(f"ip daddr {vip.address} reject {note}")
    for svc in sorted(mesh.ingress, key=lambda s: s.service):
        live = svc.live
        for port in svc.ports:
            note = f"comment {_quote('ingress ' + svc.service)}"
            if live:
                nat_pre.append(f"{port.protocol} dport {port.published} {_pick(live, port.target)} {note}")
            # No live task: nothing to DNAT to; the sandbox itself answers with a reset (TCP) or
            # port unreachable (UDP), as nothing listens there.
    if nat_output:
        out += ["  chain vip_output {", "    type nat hook output priority -100; policy accept;",
                *(f"    {r}" for r in nat_output), "  }"]
    if refuse:
        out += ["  chain vip_refuse {", "    type filter hook output priority 0; policy accept;",
                *(f"    {r}" for r in refuse), "  }"]
    if nat_pre:
        out += ["  chain ingress_prerouting {", "    type nat hook prerouting priority -100; policy accept;",
                *(f"    {r}" for r in nat_pre), "  }"]
    rp = mesh.return_path
    if rp is not None and rp.peers:
        marks = ", ".join(f"{p.mac} : {MARK_BASE + i:#x}" for i, p in enumerate(rp.peers))
        out += ["  chain return_mark {", "    type filter hook prerouting priority -150; policy accept;",
                # A new connection from an ingress sandbox remembers which one (by its MAC).
                f"    iifname {_quote(rp.interface)} ct state new ct mark set ether saddr map {{ {marks} }}",
                "  }",
                "  chain return_route {", "    type route hook output priority -150; policy accept;",
                # Its replies carry the mark, which selects the peer's routing table.
                f"    ct mark and {MARK_MASK:#x} == {MARK_BASE:#x} meta mark set ct mark",
                "  }"]
    out.append("}")
    return "\n".join(out) + "\n"


def replace_script(mesh: SandboxMesh) -> str:
    """One nft transaction that puts the table in place whole (made, deleted and made again, so
    it works whether or not an older table is there); an empty mesh just removes it."""
    head = f"table ip {TABLE}\ndelete table ip {TABLE}\n"
    return head if mesh.empty else head + render(mesh)


def route_commands(rp: ReturnPath | None) -> list[list[str]]:
    """`ip` commands giving each ingress peer its routing table and rule (after the rules of a
    previous programming are gone: see programmer.py)."""
    if rp is None:
        return []
    commands = []
    for i, peer in enumerate(rp.peers):
        table = str(ROUTE_TABLE_BASE + i)
        commands.append(["route", "replace", "default", "via", peer.address, "dev", rp.interface, "table", table])
        commands.append(["rule", "add", "pref", table, "fwmark", f"{MARK_BASE + i:#x}/0xffffffff", "lookup", table])
    return commands
