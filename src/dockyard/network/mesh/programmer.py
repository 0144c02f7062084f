"""Programs the routing mesh into the kernel and keeps it there.

``SandboxRules`` owns the nftables table of one namespace of ours (nftrender.py) and, for an
ingress task, its return-path routes; ``Mesh`` is the one object the swarm side drives: the
node's rules (noderules.py) plus every programmed sandbox, with ``heal``/``generation``/
``watched_chains`` so network/rulekeeper.py's RuleKeeper keeps all of it in place.

Every change is one transaction per place: `iptables-restore` for the node's chains, `nft -f`
for a namespace's table. Commands reach a namespace through `nsenter --net=<path>`; sysctls
are written from a thread inside it (netns.run_in).
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading

from dockyard.errors import SystemError_
from dockyard.network import netns, nfwatch
from dockyard.network.mesh import conntrack
from dockyard.network.mesh.model import IngressSandbox, NodeMesh
from dockyard.network.mesh.nftrender import ROUTE_TABLE_BASE, TABLE, SandboxMesh, replace_script, route_commands
from dockyard.network.mesh.noderules import NodeRules

log = logging.getLogger("dockyard.mesh")


def _in(path: str, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    prefix = ["nsenter", f"--net={path}"] if path else []
    return subprocess.run([*prefix, *args], input=stdin, capture_output=True, text=True)


def _write_sysctls(path: str, values: dict[str, str]) -> None:
    def write() -> None:
        for key, value in values.items():
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)

    if values:
        netns.run_in(path, write) if path else write()


def _balanced_to(mesh: SandboxMesh) -> set[str]:
    """Every backend address ``mesh`` knows, healthy or not (an unhealthy one is drained: its
    connections stay; one that left the list is gone)."""
    return {b.address for v in mesh.vips for b in v.backends} | {b.address for s in mesh.ingress for b in s.backends}


class SandboxRules:
    """The mesh's table (and return routes) in the namespace pinned at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.mesh = SandboxMesh()
        self._listing = ""  # the kernel's own listing of the table after the last apply

    def apply(self, mesh: SandboxMesh) -> None:
        sysctls = {}
        if mesh.ingress:
            sysctls["net/ipv4/ip_forward"] = "1"  # the ingress sandbox routes between node and tasks
        if mesh.return_path is not None and mesh.return_path.peers:
            # Clients' packets arrive on the ingress leg while the main table routes them back
            # through the default gateway: strict reverse-path filtering would drop them.
            sysctls[f"net/ipv4/conf/{mesh.return_path.interface}/rp_filter"] = "2"
        _write_sysctls(self.path, sysctls)
        result = _in(self.path, ["nft", "-f", "-"], replace_script(mesh))
        if result.returncode != 0:
            raise SystemError_(f"programming the routing mesh in {self.path} failed: {result.stderr.strip()}")
        self._routes(mesh)
        gone = _balanced_to(self.mesh) - _balanced_to(mesh)
        self.mesh = mesh
        self._listing = self.listing()
        if gone:  # tasks that left: their flows are balanced again at their next packet
            forgotten = netns.run_in(self.path, lambda: conntrack.forget(gone)) if self.path else conntrack.forget(gone)
            log.debug("routing mesh: %d connections to %s forgotten in %s", forgotten, sorted(gone), self.path)

    def _routes(self, mesh: SandboxMesh) -> None:
        """Drop the return routes of the previous programming, add the current ones."""
        batch = []
        shown = _in(self.path, ["ip", "-j", "rule", "show"])
        for rule in json.loads(shown.stdout or "[]"):
            pref = int(rule.get("priority", 0))
            if ROUTE_TABLE_BASE <= pref < ROUTE_TABLE_BASE + 256:
                batch += [f"rule del pref {pref}", f"route flush table {pref}"]
        batch += [" ".join(c) for c in route_commands(mesh.return_path)]
        if batch:
            result = _in(self.path, ["ip", "-batch", "-"], "\n".join(batch) + "\n")
            if result.returncode != 0:
                raise SystemError_(f"return routes of the routing mesh in {self.path}: {result.stderr.strip()}")

    def listing(self) -> str:
        """``nft -s list table`` (stateless: without counters), "" when the table is absent."""
        result = _in(self.path, ["nft", "-s", "list", "table", "ip", TABLE])
        return result.stdout if result.returncode == 0 else ""

    def heal(self) -> list[str]:
        if self.listing() == self._listing:
            return []
        result = _in(self.path, ["nft", "-f", "-"], replace_script(self.mesh))
        if result.returncode != 0:
            raise SystemError_(f"restoring the routing mesh in {self.path} failed: {result.stderr.strip()}")
        self._listing = self.listing()
        return [f"routing mesh table {TABLE} in {self.path}"]

    def generation(self) -> int | None:
        return netns.run_in(self.path, nfwatch.generation) if self.path else nfwatch.generation()

    def teardown(self) -> None:
        _in(self.path, ["nft", "-f", "-"], replace_script(SandboxMesh()))
        self._routes(SandboxMesh())
        self.mesh = SandboxMesh()
        self._listing = ""


class Mesh:
    """The routing mesh of one node: what the swarm side calls, and what RuleKeeper keeps.

    ``node_netns`` is "" for the daemon's own namespace (a test gives a namespace standing in
    for a node)."""

    def __init__(self, prefix: str = "DYMESH", node_netns: str = "") -> None:
        self.node = NodeRules(prefix, node_netns)
        self.node_netns = node_netns
        self.prefix = prefix
        self.sandboxes: dict[str, SandboxRules] = {}
        self._lock = threading.Lock()
        # After a teardown nothing is kept until the next programming: a RuleKeeper's heal still
        # running on its thread when its task was cancelled must not put the chains back.
        self._torn_down = False

    # -- what the swarm side calls ------------------------------------------------------------
    def program_node(self, node: NodeMesh, sandbox: IngressSandbox | None) -> None:
        """The node's published ports (ingress ones to ``sandbox``, host ones to its tasks)."""
        with self._lock:
            self._torn_down = False
            bridges = [sandbox.gateway_interface] if sandbox is not None else [b.name for b in node.local_bridges]
            if bridges and (node.ingress or node.host_ports):
                # Loopback clients of a published port reach the sandbox (Docker does the same).
                _write_sysctls(self.node_netns, {f"net/ipv4/conf/{b}/route_localnet": "1" for b in bridges})
            self.node.apply(node, sandbox)
            self.node.heal()  # the jumps into the chains (at a first programming: not a repair)

    def program_sandbox(self, path: str, mesh: SandboxMesh) -> None:
        """A namespace's VIPs, ingress balancing and return path, replaced whole; an empty mesh
        removes the table (the namespace itself is its owner's)."""
        with self._lock:
            self._torn_down = False
            rules = self.sandboxes.get(path) or SandboxRules(path)
            rules.apply(mesh)
            if mesh.empty:
                self.sandboxes.pop(path, None)
            else:
                self.sandboxes[path] = rules

    def forget_sandbox(self, path: str) -> None:
        """The namespace is gone (its task ended): nothing to remove, stop keeping it."""
        with self._lock:
            self.sandboxes.pop(path, None)

    # -- what RuleKeeper calls --------------------------------------------------------------
    def watched_chains(self) -> set[tuple[str, str]]:
        return self.node.watched_chains()

    def generation(self) -> tuple | None:
        with self._lock:
            paths = list(self.sandboxes.values())
        node = netns.run_in(self.node_netns, nfwatch.generation) if self.node_netns else nfwatch.generation()
        found = (node, *(s.generation() for s in paths))
        return None if any(g is None for g in found) else found  # None: unknown, so always checked

    def heal(self) -> list[str]:
        with self._lock:
            if self._torn_down:
                return []
            restored = self.node.heal()
            for path, rules in list(self.sandboxes.items()):
                if not netns.is_pinned(path):
                    log.info("routing mesh: namespace %s is gone; no longer kept", path)
                    del self.sandboxes[path]
                    continue
                restored += rules.heal()
            return restored

    def teardown(self) -> None:
        """Every rule, table and return route of the mesh removed (namespaces stay their owners')."""
        with self._lock:
            for path, rules in list(self.sandboxes.items()):
                if netns.is_pinned(path):
                    rules.teardown()
            self.sandboxes.clear()
            self.node.teardown()
            self._torn_down = True
