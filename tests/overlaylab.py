"""Two nodes built of network namespaces, for tests/integration/test_overlay_plane.py and
bench/mesh_overlay: each node is a namespace with its underlay address on a veth pair to the
other, "containers" are namespaces of their own, and every namespace is pinned under one
temporary directory that ``close`` removes (nothing is made in the host's own namespace).

    container ──veth── [overlay ns: br0 + vxlan0] ··· node1 ══ underlay ══ node2 ··· [overlay ns] ──veth── container
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from dockyard.network import ipam, netns, sandbox
from dockyard.network.netlink import Netlink
from dockyard.network.overlay.control import PeerTable
from dockyard.network.overlay.peers import Peer
from dockyard.network.overlay.plane import BRIDGE, Plane, PlaneSpec
from dockyard.network.sandbox import Interface


def in_ns(path: str, *cmd: str) -> str:
    result = subprocess.run(["nsenter", f"--net={path}", *cmd], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {path}: {result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class Node:
    path: str
    vtep: str
    planes: list[Plane] = field(default_factory=list)


@dataclass(frozen=True)
class Container:
    path: str
    ip: str
    iface: Interface


class OverlayLab:
    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="dockyard-test-overlay-")
        octet = secrets.randbelow(200) + 20
        self.nodes = [Node(os.path.join(self.root, f"node{n}"), f"192.168.{octet}.{n}") for n in (1, 2)]
        self.containers: list[Container] = []
        try:
            for node in self.nodes:
                netns.create(node.path)
            a, b = self.nodes
            fd = os.open(b.path, os.O_RDONLY | os.O_CLOEXEC)
            try:  # the underlay: a veth pair made in node1 with its other end created in node2
                netns.run_in(a.path, lambda: _veth_into("under", fd))
            finally:
                os.close(fd)
            for node in self.nodes:
                in_ns(node.path, "ip", "addr", "add", f"{node.vtep}/24", "dev", "under")
                in_ns(node.path, "ip", "link", "set", "under", "up")
                in_ns(node.path, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def plane(self, node: Node, spec: PlaneSpec, peers: PeerTable) -> Plane:
        plane = Plane(spec, os.path.join(self.root, f"ov-{os.path.basename(node.path)}-{spec.vni}"), node.vtep,
                      peers)
        netns.run_in(node.path, plane.create)  # the VXLAN socket in the node's namespace
        node.planes.append(plane)
        return plane

    def container(self, name: str, ip: str, prefix: int, mtu: int) -> Container:
        path = os.path.join(self.root, name)
        sandbox.create(path)
        c = Container(path, ip, Interface("eth0", sandbox.new_veth_name(), BRIDGE, f"{ip}/{prefix}",
                                          ipam.mac_for(ip), mtu))
        self.containers.append(c)
        return c

    def join(self, node: Node, plane: Plane, c: Container) -> None:
        plane.join(c.path, c.iface, Peer(c.ip, c.iface.mac, node.vtep))

    def bridge_pair(self, node: Node, subnet: str) -> tuple[Container, Container]:
        """Two containers on a plain Linux bridge in ``node`` (a user bridge network on one node)."""
        base = subnet.rsplit(".", 1)[0]
        in_ns(node.path, "ip", "link", "add", "userbr", "type", "bridge")
        in_ns(node.path, "ip", "link", "set", "userbr", "up")
        pair = []
        for n in (2, 3):
            c = self.container(f"br-c{n}", f"{base}.{n}", 24, 1500)
            netns.run_in(node.path, lambda c=c: sandbox.add_interface(c.path, Interface(
                "eth0", c.iface.veth, "userbr", c.iface.address, c.iface.mac, 1500)))
            pair.append(c)
        return pair[0], pair[1]

    def close(self) -> None:
        for node in self.nodes:
            for plane in node.planes:
                plane.destroy()
            node.planes.clear()
        for name in os.listdir(self.root):
            netns.remove(os.path.join(self.root, name))
        os.rmdir(self.root)


def _veth_into(name: str, fd: int) -> None:
    with Netlink() as nl:
        nl.add_veth(name, name, peer_netns_fd=fd)


def tcp_throughput(sender: str, receiver: str, address: str, megabytes: int, port: int = 5201) -> float:
    """MB/s of one TCP stream from the namespace ``sender`` to ``address`` served in ``receiver``,
    counted when the receiver has read every byte (its answer is the byte count)."""
    ready: list[socket.socket] = []

    def listen() -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(1)
        s.settimeout(60)  # a sender that never came must not hang the caller
        ready.append(s)

    netns.run_in(receiver, listen)
    server = ready[0]

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            return
        with conn:
            total, buf = 0, bytearray(1 << 20)
            while n := conn.recv_into(buf):
                total += n
            conn.sendall(str(total).encode())

    worker = threading.Thread(target=serve)
    worker.start()

    def send() -> float:
        chunk = b"\0" * (1 << 20)
        with socket.create_connection((address, port), timeout=30) as s:
            start = time.perf_counter()
            for _ in range(megabytes):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            answer = s.recv(64)
            elapsed = time.perf_counter() - start
        if int(answer or b"0") != megabytes << 20:
            raise RuntimeError(f"the receiver read {answer!r} bytes of {megabytes << 20}")
        return megabytes * (1 << 20) / elapsed / 1e6

    try:
        return netns.run_in(sender, send)
    finally:
        worker.join()
        server.close()
