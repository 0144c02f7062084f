"""A node's share of the routing mesh, in the node's own (shared) nat and filter tables, in
chains of its own (`<prefix>`, `<prefix>-POST`, `<prefix>-FWD`) reached by one jump each:

- an ingress port is DNATed to the node's ingress sandbox, on the same port (libnetwork's
  DOCKER-INGRESS does the same), where the balancing happens (nftrender.py);
- a mode=host port is DNATed to the node's own task, like `docker run -p`;
- FORWARD lets both through even under Docker's policy DROP (iptables, not an nftables table of
  our own: an accept in another table cannot overrule the filter table's drop);
- connections from the node itself to 127.0.0.1 are masqueraded to the gateway bridge's
  address (with route_localnet on that bridge), as Docker's ingress does.

The client's address is not rewritten here: the DNAT keeps the source.
"""

from __future__ import annotations

from dockyard.network.iptables import OwnChains
from dockyard.network.mesh.model import IngressSandbox, NodeMesh


class NodeRules(OwnChains):
    def __init__(self, prefix: str = "DYMESH", netns: str = "") -> None:
        self.nat_chain = prefix
        self.post_chain = f"{prefix}-POST"
        self.forward_chain = f"{prefix}-FWD"
        super().__init__(prefix, "", netns)
        self._wanted = self.render(NodeMesh(), None)

    def _jumps(self) -> list[tuple[str, str, list[str]]]:
        return [
            ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", self.nat_chain]),
            ("nat", "POSTROUTING", ["-j", self.post_chain]),
            ("filter", "FORWARD", ["-j", self.forward_chain]),
        ]

    def own_chains(self) -> dict[str, tuple[str, ...]]:
        return {"nat": (self.nat_chain, self.post_chain), "filter": (self.forward_chain,)}

    def render(self, node: NodeMesh, sandbox: IngressSandbox | None) -> str:
        nat = [f":{self.nat_chain} - [0:0]", f":{self.post_chain} - [0:0]"]
        flt = [f":{self.forward_chain} - [0:0]"]
        # (proto, published, [addresses: round robin], target)
        targets: list[tuple[str, int, list[str], int]] = []
        for svc in sorted(node.ingress, key=lambda s: s.service):
            if sandbox is not None:
                targets += [(p.protocol, p.published, [sandbox.gateway_address], p.published) for p in svc.ports]
            elif node.local_bridges and svc.live:
                targets += [(p.protocol, p.published, [b.address for b in svc.live], p.target) for p in svc.ports]
        targets += [(h.port.protocol, h.port.published, [h.address], h.port.target)
                    for h in sorted(node.host_ports, key=lambda h: (h.port.published, h.port.protocol))]
        # The sandbox's bridge bounds the forwarding; with local bridges the addresses do.
        bridge = sandbox.gateway_interface if sandbox is not None else ""
        gw, back = (f"-o {bridge} ", f"-i {bridge} ") if bridge else ("", "")
        for proto, published, addresses, target in targets:
            for i, address in enumerate(addresses):
                # Round robin over the connections' first packets (the only ones nat sees): rule i
                # takes one in every N-i of those that reach it.
                nth = f"-m statistic --mode nth --every {len(addresses) - i} --packet 0 " if i < len(addresses) - 1 \
                    else ""
                nat.append(f"-A {self.nat_chain} -p {proto} -m {proto} --dport {published} {nth}"
                           f"-j DNAT --to-destination {address}:{target}")
            for address in addresses:
                flt.append(f"-A {self.forward_chain} -d {address}/32 {gw}-p {proto} -m {proto} --dport {target} "
                           "-j ACCEPT")
                flt.append(f"-A {self.forward_chain} -s {address}/32 {back}-p {proto} -m {proto} --sport {target} "
                           "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        if targets and bridge:
            nat.append(f"-A {self.post_chain} -s 127.0.0.0/8 -o {bridge} -j MASQUERADE")
        for local in node.local_bridges if targets and sandbox is None else ():
            nat.append(f"-A {self.post_chain} -s 127.0.0.0/8 -o {local.name} -j MASQUERADE")
            if local.subnet:
                nat.append(f"-A {self.post_chain} -s {local.subnet} -o {local.name} "
                           "-m conntrack --ctstate DNAT -j MASQUERADE")
        return "*nat\n" + "\n".join(nat) + "\nCOMMIT\n*filter\n" + "\n".join(flt) + "\nCOMMIT\n"

    def apply(self, node: NodeMesh, sandbox: IngressSandbox | None) -> None:
        node.validate()
        self.restore(self.render(node, sandbox))
