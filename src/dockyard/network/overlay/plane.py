"""One overlay network's data plane on one node: a namespace of its own holding ``br0`` (the
subnet's gateway address on it) and ``vxlan0`` enslaved to it, one veth per local endpoint (its
other end the container's ethN), and the static forwarding and neighbour entries for the
network's endpoints on other nodes, kept in step with the peer table by a watching thread.

Made when the first local endpoint joins and removed when the last one leaves: a node carries
only the overlays its containers use (libnetwork's lazy network sandbox). Blocking calls.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import subprocess
import threading
from dataclasses import dataclass

from dockyard.errors import DockyardError, SystemError_
from dockyard.network import bridge, netns, sandbox
from dockyard.network.netlink import NetlinkError
from dockyard.network.overlay.control import PeerTable, PeerWatch
from dockyard.network.overlay.kernel import OverlayNetlink
from dockyard.network.overlay.peers import Entries, Fdb, Neighbour, Peer, changes, entries
from dockyard.network.sandbox import Interface

log = logging.getLogger("dockyard.networks.overlay")

BRIDGE = "br0"
VXLAN = "vxlan0"
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8


@dataclass(frozen=True)
class PlaneSpec:
    network_id: str
    vni: int
    port: int  # the swarm's data path port (4789)
    subnet: str  # CIDR
    gateway: str  # the gateway's address, on br0
    mtu: int  # of vxlan0, br0 and the veths: the network's MTU less the VXLAN overhead


class Plane:
    def __init__(self, spec: PlaneSpec, path: str, vtep: str, peers: PeerTable) -> None:
        self.spec = spec
        self.path = path  # the pinned namespace
        self.vtep = vtep  # this node's underlay address
        self.peers = peers
        self.programmed = Entries()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: PeerWatch | None = None
        self._thread: threading.Thread | None = None

    # -- life --------------------------------------------------------------------------------
    def create(self) -> None:
        """The namespace, bridge and VXLAN device, the current peers programmed, and the watch
        started. Runs in the node's own namespace (the VXLAN socket's). Undone if a step fails."""
        spec = self.spec
        prefix = ipaddress.ip_network(spec.subnet).prefixlen

        def inside() -> None:
            with OverlayNetlink() as nl:
                nl.set_up(1)  # loopback
                nl.add_bridge(BRIDGE, spec.mtu)
                index = socket.if_nametoindex(BRIDGE)
                nl.add_address(index, ipaddress.IPv4Interface(f"{spec.gateway}/{prefix}"))
                nl.set_up(index)

        try:
            netns.create(self.path, inside)
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                with OverlayNetlink() as nl:
                    nl.add_vxlan(VXLAN, spec.vni, spec.port, spec.mtu, netns_fd=fd)
            finally:
                os.close(fd)
            netns.run_in(self.path, self._enslave_vxlan)
            self._watch = self.peers.watch(spec.network_id)  # before the listing: no change is lost
            self.sync()
        except NetlinkError as exc:
            self.destroy()
            raise SystemError_(f"making the overlay network {spec.network_id[:12]} (VNI {spec.vni}) on this node "
                               f"failed: {exc.strerror}") from exc
        except BaseException:
            self.destroy()
            raise
        self._start_following()

    def _start_following(self) -> None:
        self._thread = threading.Thread(target=self._follow, name=f"overlay-{self.spec.network_id[:12]}",
                                        daemon=True)
        self._thread.start()

    @staticmethod
    def _enslave_vxlan() -> None:
        with OverlayNetlink() as nl:
            nl.set_master_up(socket.if_nametoindex(VXLAN), socket.if_nametoindex(BRIDGE))

    def adopt(self) -> bool:
        """Follow the peers again in the namespace a previous run of the daemon left (its
        containers kept running); False when there is none. What is programmed is read back from
        the kernel, so entries of peers that left meanwhile are removed by the first sync."""
        if not netns.is_pinned(self.path):
            return False
        self.programmed = netns.run_in(self.path, _programmed)
        self._watch = self.peers.watch(self.spec.network_id)
        self.sync()
        self._start_following()
        return True

    def withdraw_departed(self) -> dict[str, Peer]:
        """Withdraw this node's endpoints whose veth is gone from the namespace (their containers
        stopped while no daemon watched: the kernel took the veth with the container's
        namespace); returns them, so their addresses can be given back."""
        published = self.peers.endpoints(self.spec.network_id, self.vtep)
        present = set(netns.run_in(self.path, lambda: [e for e in published if bridge.exists(e)]))
        gone = {name: peer for name, peer in published.items() if name not in present}
        for endpoint in gone:
            self.peers.withdraw(self.spec.network_id, self.vtep, endpoint)
        return gone

    def stop_following(self) -> None:
        """Stop the watching thread and leave the namespace as it is (what a daemon that stops
        with containers running does: the next run adopts it)."""
        self._stop.set()
        if self._watch is not None:
            self._watch.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    @staticmethod
    def remove_leftover(path: str) -> None:
        """A namespace a previous run left, with nothing following it any more."""
        if netns.is_pinned(path):
            with contextlib.suppress(OSError):
                netns.run_in(path, _delete_vxlan)
        netns.remove(path)

    def destroy(self) -> None:
        """Stop following the peers and remove the namespace. The VXLAN device is deleted first,
        at once: left to the namespace's deferred clean-up, it would still hold its VNI on the
        node's UDP socket when the network comes back a moment later (EEXIST)."""
        self.stop_following()
        self.remove_leftover(self.path)
        self.programmed = Entries()

    # -- endpoints ---------------------------------------------------------------------------
    def join(self, container_path: str, iface: Interface, peer: Peer) -> None:
        """A veth from ``br0`` into the container's namespace, configured, and the endpoint
        published to the other nodes."""
        netns.run_in(self.path, lambda: sandbox.add_interface(container_path, iface))
        try:
            self.peers.publish(self.spec.network_id, iface.veth, peer)
        except BaseException:
            self.leave(iface.veth)
            raise

    def leave(self, endpoint: str, *, delete_link: bool = True) -> None:
        """Withdraw a local endpoint; its veth is deleted unless its container's namespace is
        going anyway (the kernel deletes the pair with it)."""
        if delete_link and netns.is_pinned(self.path):
            netns.run_in(self.path, lambda: sandbox.remove_interface(endpoint))
        self.peers.withdraw(self.spec.network_id, self.vtep, endpoint)

    def endpoints(self) -> list[str]:
        """This node's endpoints on the network, as the peer table has them (so a daemon that
        restarted still knows when its last one leaves)."""
        return list(self.peers.endpoints(self.spec.network_id, self.vtep))

    # -- peers -------------------------------------------------------------------------------
    def sync(self) -> None:
        """Program the difference between the entries the peer table calls for and those programmed."""
        with self._lock:
            wanted = entries(self.peers.peers(self.spec.network_id), self.vtep)
            todo = changes(self.programmed, wanted)
            if todo:
                def apply() -> None:
                    with OverlayNetlink() as nl:
                        index = socket.if_nametoindex(VXLAN)
                        for fdb in todo.remove_fdb:
                            nl.del_fdb(index, fdb.mac, fdb.vtep)
                        for neighbour in todo.remove_neighbours:
                            nl.del_neighbour(index, neighbour.ip)
                        for fdb in todo.add_fdb:
                            nl.set_fdb(index, fdb.mac, fdb.vtep)
                        for neighbour in todo.add_neighbours:
                            nl.set_neighbour(index, neighbour.ip, neighbour.mac)

                netns.run_in(self.path, apply)
            self.programmed = wanted

    def _follow(self) -> None:
        """The watching thread: every change to the network's peers is programmed. A store that
        cannot be reached is retried at the next change or after a second, never given up on."""
        watch = self._watch
        assert watch is not None
        stale = False
        while not self._stop.is_set():
            try:
                if watch.changed(1.0) or stale:
                    if self._stop.is_set():
                        return
                    self.sync()
                    stale = False
            except (OSError, DockyardError) as exc:
                stale = True
                log.warning("overlay %s: programming its peers failed (retrying): %s", self.spec.network_id[:12], exc)


def _delete_vxlan() -> None:
    with OverlayNetlink() as nl:
        nl.delete_link_named(VXLAN)


def _programmed() -> Entries:
    """The static entries on vxlan0, read back from the kernel (run inside the namespace)."""
    fdb = json.loads(subprocess.run(["bridge", "-j", "fdb", "show", "dev", VXLAN], capture_output=True, text=True,
                                    check=True).stdout or "[]")
    neighbours = json.loads(subprocess.run(["ip", "-j", "neigh", "show", "dev", VXLAN], capture_output=True,
                                           text=True, check=True).stdout or "[]")
    return Entries(frozenset(Fdb(e["mac"], e["dst"]) for e in fdb if "self" in e.get("flags", []) and e.get("dst")),
                   frozenset(Neighbour(e["dst"], e["lladdr"]) for e in neighbours if e.get("lladdr")))
