"""The overlay's data plane across two nodes, without daemons: each node is a network namespace
(its underlay address on a veth pair between the two), each runs the overlay's Plane for one
network, and "containers" are namespaces joined to it. The two nodes share one in-memory peer
table, as they would share the cluster store. Checked: the containers ping each other over VXLAN,
the forwarding entries are static and the device does not learn, a node's entries follow a peer
leaving, and teardown leaves no namespace, link or mount behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from netstate import host_network_state, settled_leftovers
from waiting import until

from dockyard.network import ipam, netns, sandbox
from dockyard.network.netlink import Netlink
from dockyard.network.overlay.control import MemoryPeerTable
from dockyard.network.overlay.peers import Peer
from dockyard.network.overlay.plane import VXLAN, Plane, PlaneSpec
from dockyard.network.sandbox import Interface

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, links)")


def in_ns(path: str, *cmd: str, check: bool = True) -> str:
    result = subprocess.run(["nsenter", f"--net={path}", *cmd], capture_output=True, text=True, timeout=30)
    if check:
        assert result.returncode == 0, f"{cmd}: {result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Node:
    path: str
    vtep: str
    plane: Plane | None = None


def _veth_into(fd: int) -> None:
    with Netlink() as nl:
        nl.add_veth("under", "under", peer_netns_fd=fd)


@pytest.fixture
def two_nodes() -> Iterator[tuple[Node, Node, str]]:
    """Two node namespaces joined by a veth pair (their underlay), removed afterwards."""
    before = host_network_state()
    root = tempfile.mkdtemp(prefix="dockyard-test-overlay-")
    octet = secrets.randbelow(200) + 20
    nodes = (Node(os.path.join(root, "node1"), f"192.168.{octet}.1"), Node(os.path.join(root, "node2"),
                                                                             f"192.168.{octet}.2"))
    try:
        for node in nodes:
            netns.create(node.path)
        a, b = nodes
        # The underlay: a veth pair made inside node1 with its other end created in node2.
        fd = os.open(b.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            netns.run_in(a.path, lambda: _veth_into(fd))
        finally:
            os.close(fd)
        for node in nodes:
            in_ns(node.path, "ip", "addr", "add", f"{node.vtep}/24", "dev", "under")
            in_ns(node.path, "ip", "link", "set", "under", "up")
            in_ns(node.path, "ip", "link", "set", "lo", "up")
        yield a, b, root
    finally:
        for node in nodes:
            if node.plane is not None:
                node.plane.destroy()
            netns.remove(node.path)
        for name in os.listdir(root):
            netns.remove(os.path.join(root, name))
        os.rmdir(root)
    assert settled_leftovers(before, own=(root,)) == []


def test_containers_on_two_nodes_reach_each_other_over_vxlan(two_nodes):
    a, b, root = two_nodes
    table = MemoryPeerTable()
    octet = secrets.randbelow(200) + 20
    spec = PlaneSpec(network_id=secrets.token_hex(32), vni=4096 + secrets.randbelow(10000), port=4789,
                     subnet=f"10.{octet}.0.0/24", gateway=f"10.{octet}.0.1", mtu=1450)
    ips = {a.path: f"10.{octet}.0.2", b.path: f"10.{octet}.0.3"}
    containers = {}
    for node in (a, b):
        node.plane = Plane(spec, os.path.join(root, f"ov-{os.path.basename(node.path)}"), node.vtep, table)
        netns.run_in(node.path, node.plane.create)  # the VXLAN socket in the node's namespace
        container = os.path.join(root, f"c-{os.path.basename(node.path)}")
        sandbox.create(container)
        ip = ips[node.path]
        iface = Interface("eth0", sandbox.new_veth_name(), "br0", f"{ip}/24", ipam.mac_for(ip), spec.mtu)
        node.plane.join(container, iface, Peer(ip, iface.mac, node.vtep))
        containers[node.path] = (container, iface)
    assert a.plane and b.plane

    def fdb(plane: Plane) -> list[str]:
        """The VXLAN device's own entries (``self``), its link-netnsid (where its socket is) left out."""
        lines = in_ns(plane.path, "bridge", "fdb", "show", "dev", VXLAN).splitlines()
        return [re.sub(r" link-netnsid \d+", "", line) for line in lines if " self" in line]

    # Each node's entries name the other's endpoint, and only it: static, through its VTEP.
    for here, there in ((a, b), (b, a)):
        assert here.plane is not None
        mac = containers[there.path][1].mac
        assert until(lambda p=here.plane, m=mac: any(line.startswith(m) for line in fdb(p)))
        assert fdb(here.plane) == [f"{mac} dst {there.vtep} self permanent"]
        neighbours = in_ns(here.plane.path, "ip", "neigh", "show", "dev", VXLAN)
        assert f"{ips[there.path]} lladdr {mac} PERMANENT" in neighbours
        details = in_ns(here.plane.path, "ip", "-d", "link", "show", VXLAN)
        assert f"vxlan id {spec.vni}" in details and "nolearning" in details and "dstport 4789" in details
        assert "proxy" in details

    for here, there in ((a, b), (b, a)):
        in_ns(containers[here.path][0], "busybox", "ping", "-c", "2", "-W", "5", ips[there.path])
    # The traffic taught the VXLAN device nothing: its entries are still the one static entry.
    assert fdb(a.plane) == [f"{containers[b.path][1].mac} dst {b.vtep} self permanent"]
    # It went through the VXLAN devices (their counters), not some other path between the namespaces.
    for node in (a, b):
        stats = json.loads(in_ns(node.plane.path, "ip", "-j", "-s", "link", "show", VXLAN))[0]["stats64"]
        assert stats["tx"]["packets"] >= 2 and stats["rx"]["packets"] >= 2

    # Node 2's endpoint leaves: node 1's entries for it go.
    b.plane.leave(containers[b.path][1].veth)
    assert until(lambda: fdb(a.plane) == [])
    assert f"{ips[b.path]} " not in in_ns(a.plane.path, "ip", "neigh", "show", "dev", VXLAN)
    assert table.peers(spec.network_id) == [Peer(ips[a.path], containers[a.path][1].mac, a.vtep)]

    for node in (a, b):
        assert node.plane is not None
        node.plane.destroy()
        assert not netns.is_pinned(node.plane.path)
        node.plane = None
        sandbox.destroy(containers[node.path][0])


def test_a_plane_that_cannot_be_made_leaves_nothing(two_nodes):
    """A VNI already held on the node's UDP socket: the second network's namespace is undone."""
    a, _b, root = two_nodes
    table = MemoryPeerTable()
    vni = 4096 + secrets.randbelow(10000)
    first = Plane(PlaneSpec("n1" * 32, vni, 4789, "10.250.1.0/24", "10.250.1.1", 1450),
                  os.path.join(root, "ov-first"), a.vtep, table)
    a.plane = first
    netns.run_in(a.path, first.create)
    second = Plane(PlaneSpec("n2" * 32, vni, 4789, "10.250.2.0/24", "10.250.2.1", 1450),
                   os.path.join(root, "ov-second"), a.vtep, table)
    with pytest.raises(Exception, match="VNI"):
        netns.run_in(a.path, second.create)
    assert not netns.is_pinned(second.path)
    assert not os.path.exists(second.path)
