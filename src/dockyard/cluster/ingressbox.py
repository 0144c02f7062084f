"""This node's ingress sandbox (Docker's ingress_sbox): a network namespace no container owns,
with one leg on docker_gwbridge (its default route: the node DNATs a published port to this
address) and one on the swarm's ingress overlay, where it balances connections over every task
of the service on any node (network/mesh's rules in it).

Its overlay leg is published in the overlay's peer table like any endpoint, with a MAC of its own
kind (06:42 and the address, where containers and tasks get Docker's 02:42): so every node, a
worker too (it reads the same table through the managers' channel), tells the ingress sandboxes
among the ingress network's peers, which is what tasks need for their return path (replies go
back to the sandbox that balanced the connection, keeping the client's address).

What was made is written beside the namespace, so a daemon that restarts gives its addresses back
and makes the sandbox again instead of leaving a second one's worth of addresses taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from typing import Protocol

from dockyard.errors import DockyardError
from dockyard.network import netns, sandbox
from dockyard.network.mesh.model import IngressPeer, IngressSandbox
from dockyard.network.overlay.peers import Peer
from dockyard.network.records import Network
from dockyard.network.sandbox import Interface

log = logging.getLogger("dockyard.cluster.ingressbox")
MAC_PREFIX = "06:42:"  # an ingress sandbox's overlay MAC (locally administered, unicast)
GATEWAY_IF = "eth0"
INGRESS_IF = "eth1"
GATEWAY = "docker_gwbridge"  # engine/networks/gateway.py's NAME


def ingress_mac(address: str) -> str:
    return MAC_PREFIX + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


def ingress_peers(peers: list[Peer]) -> tuple[IngressPeer, ...]:
    """The ingress sandboxes among an ingress network's peers, in one order on every node."""
    return tuple(sorted((IngressPeer(p.vtep, p.ip, p.mac) for p in peers if p.mac.startswith(MAC_PREFIX)),
                        key=lambda p: (p.node, p.address)))


class SandboxNetworks(Protocol):
    """engine/networks' NetworkService calls for a namespace without a container (on the event
    loop, as a container's connect: addresses are handed out there)."""

    async def join_sandbox(self, ref: str, path: str, ifname: str, *, mac_for: Callable[[str], str] | None = None,
                           default_route: bool = False) -> Interface: ...
    async def leave_sandbox(self, ref: str, iface: Interface) -> None: ...


class IngressBox:
    def __init__(self, networks: SandboxNetworks, netns_dir: str) -> None:
        self.networks = networks
        self.path = os.path.join(netns_dir, "ingress_sbox")
        self._state = self.path + ".json"
        self.sandbox: IngressSandbox | None = None
        self.network_id = ""

    async def up(self, network: Network) -> IngressSandbox:
        """The sandbox joined to ``network`` (the ingress overlay) and docker_gwbridge; made once."""
        if self.sandbox is not None and self.network_id == network.id:
            return self.sandbox
        await self.down()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        await asyncio.to_thread(sandbox.create, self.path)
        made: dict[str, dict] = {}
        try:
            gw = await self.networks.join_sandbox(GATEWAY, self.path, GATEWAY_IF, default_route=True)
            made[GATEWAY] = asdict(gw)
            self._save(made)
            leg = await self.networks.join_sandbox(network.id, self.path, INGRESS_IF, mac_for=ingress_mac)
            made[network.id] = asdict(leg)
            self._save(made)
        except BaseException:
            await self._undo(made)
            raise
        self.network_id = network.id
        self.sandbox = IngressSandbox(self.path, gw.address.split("/")[0], gw.bridge)
        log.info("ingress sandbox up: %s on the gateway bridge, %s on %s", self.sandbox.gateway_address,
                 leg.address, network.name)
        return self.sandbox

    async def down(self) -> None:
        """Leave both networks and remove the namespace (also what a previous run left)."""
        made: dict[str, dict] = {}
        with contextlib.suppress(OSError, ValueError):
            with open(self._state) as f:
                made = json.load(f)
        await self._undo(made)
        self.sandbox = None
        self.network_id = ""

    async def _undo(self, made: dict[str, dict]) -> None:
        for network, fields in made.items():
            try:
                await self.networks.leave_sandbox(network, Interface(**fields))
            except (DockyardError, OSError) as exc:
                log.warning("ingress sandbox: leaving network %s: %s", network[:12], exc)
        if netns.is_pinned(self.path):
            await asyncio.to_thread(sandbox.destroy, self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._state)

    def _save(self, made: dict[str, dict]) -> None:
        tmp = self._state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(made, f)
        os.replace(tmp, self._state)
