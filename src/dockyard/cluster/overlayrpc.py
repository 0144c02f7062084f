"""Overlay networks on a worker, which keeps no store: the same records, addresses and peers
reached through the managers' channel (cluster/channel.py, mutual TLS).

A manager answers, for any node of the swarm: the networks, the data path port, an address taken
or given back, and the peer table (list, this node's endpoints, publish, withdraw, and a watch
that says "changed"). A node may publish and withdraw peers only under its own underlay address,
the one its Node record holds, so a worker cannot steer another node's traffic.

The worker's side (``WorkerSide``, ``ChannelPeerTable``) turns the channel's errors into the
engine's (a manager that cannot be reached is Unavailable, which the data plane retries).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dockyard.cluster.channel import Caller, ChannelError, ManagerChannel
from dockyard.cluster.overlay import StoreAddresses, StorePeerTable, stored_networks
from dockyard.errors import Conflict, DockyardError, Forbidden, InvalidParameter, NotFound, Unavailable
from dockyard.network.overlay.control import PeerWatch
from dockyard.network.overlay.peers import Peer
from dockyard.network.records import Network

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

KEEPALIVE = 5.0  # seconds between a watch's quiet lines: a caller that hung up is noticed at the next


def register(swarm: SwarmService) -> None:
    """The calls a manager answers (added to the swarm's handlers once, at daemon start)."""
    handlers = swarm.handlers

    def vtep_of(caller: Caller) -> str:
        return swarm.node(caller.node_id).status.addr

    def network(body: dict[str, Any]) -> Network:
        wanted = str(body.get("NetworkID") or "")
        found = next((n for n in stored_networks(swarm.store()) if n.id == wanted), None)
        if found is None:
            raise NotFound(f"network {wanted} not found")
        return found

    def peer_table() -> StorePeerTable:
        return StorePeerTable(swarm.store())

    def publish(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        peer = Peer(str(body["Peer"]["ip"]), str(body["Peer"]["mac"]).lower(), str(body["Peer"]["vtep"]))
        if peer.vtep != vtep_of(caller):
            raise Forbidden(f"node {caller.node_id} may publish endpoints only at its own address")
        peer_table().publish(network(body).id, str(body["Endpoint"]), peer)
        return {}

    def watch(caller: Caller, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        peers = peer_table().watch(network(body).id)
        try:
            yield {"Changed": False}  # the watch exists: the caller lists now and misses nothing
            while True:
                yield {"Changed": peers.changed(KEEPALIVE)}
        finally:
            peers.cancel()

    handlers.add_call("overlay.networks", lambda caller, body: {
        "Networks": [n.to_json() for n in stored_networks(swarm.store())]})
    handlers.add_call("overlay.site", lambda caller, body: {"DataPathPort": swarm.inspect().data_path_port})
    handlers.add_call("overlay.address.allocate", lambda caller, body: {
        "Address": StoreAddresses(swarm.store()).allocate(network(body), str(body.get("Wanted") or ""))})
    def release(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        StoreAddresses(swarm.store()).release(network(body).id, str(body["Address"]))
        return {}

    def withdraw(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        peer_table().withdraw(network(body).id, vtep_of(caller), str(body["Endpoint"]))
        return {}

    handlers.add_call("overlay.address.release", release)
    handlers.add_call("overlay.peers.list", lambda caller, body: {
        "Peers": [p.__dict__ for p in peer_table().peers(network(body).id)]})
    handlers.add_call("overlay.peers.endpoints", lambda caller, body: {"Endpoints": {
        name: peer.__dict__ for name, peer in peer_table().endpoints(network(body).id, vtep_of(caller)).items()}})
    handlers.add_call("overlay.peers.publish", publish)
    handlers.add_call("overlay.peers.withdraw", withdraw)
    handlers.add_stream("overlay.peers.watch", watch)


_BY_STATUS: dict[int, type[DockyardError]] = {400: InvalidParameter, 403: Forbidden, 404: NotFound, 409: Conflict}


def _call(channel: ManagerChannel, name: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return channel.call(name, body)
    except ChannelError as exc:
        raise _BY_STATUS.get(exc.status, Unavailable)(str(exc)) from exc


class WorkerSide:
    def __init__(self, channel: ManagerChannel) -> None:
        self.channel = channel

    def networks(self) -> list[Network]:
        return [Network.from_json(doc) for doc in _call(self.channel, "overlay.networks", {})["Networks"]]

    def data_path_port(self) -> int:
        return int(_call(self.channel, "overlay.site", {})["DataPathPort"])

    def allocate_address(self, network: Network, wanted: str) -> str:
        return str(_call(self.channel, "overlay.address.allocate", {"NetworkID": network.id, "Wanted": wanted})
                   ["Address"])

    def release_address(self, network_id: str, address: str) -> None:
        _call(self.channel, "overlay.address.release", {"NetworkID": network_id, "Address": address})

    def peers(self) -> ChannelPeerTable:
        return ChannelPeerTable(self.channel)


class ChannelPeerTable:
    def __init__(self, channel: ManagerChannel) -> None:
        self.channel = channel

    def publish(self, network_id: str, endpoint: str, peer: Peer) -> None:
        _call(self.channel, "overlay.peers.publish", {"NetworkID": network_id, "Endpoint": endpoint,
                                                      "Peer": peer.__dict__})

    def withdraw(self, network_id: str, vtep: str, endpoint: str) -> None:
        _call(self.channel, "overlay.peers.withdraw", {"NetworkID": network_id, "Endpoint": endpoint})

    def peers(self, network_id: str) -> list[Peer]:
        return [Peer(p["ip"], p["mac"], p["vtep"])
                for p in _call(self.channel, "overlay.peers.list", {"NetworkID": network_id})["Peers"]]

    def endpoints(self, network_id: str, vtep: str) -> dict[str, Peer]:
        found = _call(self.channel, "overlay.peers.endpoints", {"NetworkID": network_id})["Endpoints"]
        return {name: Peer(p["ip"], p["mac"], p["vtep"]) for name, p in found.items()}

    def watch(self, network_id: str) -> PeerWatch:
        return _ChannelWatch(self.channel, network_id)


class _ChannelWatch:
    """A manager's watch, followed by a thread of its own: every "changed" line is a change; a
    stream that ends (its manager went) is opened again, and counts as a change, since changes may
    have been missed in between."""

    def __init__(self, channel: ManagerChannel, network_id: str) -> None:
        self._channel = channel
        self._network_id = network_id
        self._changes: queue.Queue[bool] = queue.Queue()
        self._cancelled = threading.Event()
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"overlay-watch-{network_id[:12]}", daemon=True)
        self._thread.start()
        if not self._opened.wait(15):
            self.cancel()
            raise Unavailable("no manager of the swarm answered the overlay's peer watch")

    def _follow(self) -> None:
        while not self._cancelled.is_set():
            try:
                for item in self._channel.watch("overlay.peers.watch", {"NetworkID": self._network_id}):
                    if self._cancelled.is_set():
                        return
                    if not self._opened.is_set():
                        self._opened.set()  # the first line: the watch exists on the manager
                    elif item.get("Changed"):
                        self._changes.put(True)
            except (ChannelError, OSError, ValueError):
                pass  # the manager went or refused: open again below
            if self._cancelled.wait(1.0):
                return
            if self._opened.is_set():
                self._changes.put(True)  # reopened: what happened meanwhile is unknown

    def changed(self, timeout: float) -> bool:
        if self._cancelled.is_set():
            return False
        try:
            self._changes.get(timeout=timeout)
        except queue.Empty:
            return False
        while not self._changes.empty():  # one sync covers every change queued so far
            self._changes.get_nowait()
        return not self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._changes.put(False)
