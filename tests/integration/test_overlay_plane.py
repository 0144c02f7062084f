"""The overlay's data plane across two nodes, without daemons (tests/overlaylab.py): each node is a
network namespace with its underlay address on a veth pair to the other, each runs the overlay's
Plane for one network, and "containers" are namespaces joined to it. The two nodes share one
in-memory peer table, as they would share the cluster store. Checked: the containers ping each
other over VXLAN, the forwarding entries are static and the device does not learn, a node's
entries follow a peer leaving, a restarted daemon adopts a plane and drops entries of peers that
left meanwhile, and teardown leaves no namespace, link or mount behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator

import pytest
from netstate import host_network_state, settled_leftovers
from overlaylab import Container, OverlayLab, in_ns
from waiting import until

from dockyard.network import netns
from dockyard.network.overlay.control import MemoryPeerTable
from dockyard.network.overlay.peers import Peer
from dockyard.network.overlay.plane import VXLAN, Plane, PlaneSpec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, links)")


@pytest.fixture
def lab() -> Iterator[OverlayLab]:
    before = host_network_state()
    made = OverlayLab()
    try:
        yield made
    finally:
        made.close()
    assert settled_leftovers(before, own=(made.root,)) == []


def fdb(plane: Plane) -> list[str]:
    """The VXLAN device's own entries (``self``), its link-netnsid (where its socket is) left out."""
    lines = in_ns(plane.path, "bridge", "fdb", "show", "dev", VXLAN).splitlines()
    return [re.sub(r" link-netnsid \d+", "", line) for line in lines if " self" in line]


def new_spec() -> PlaneSpec:
    octet = secrets.randbelow(200) + 20
    return PlaneSpec(network_id=secrets.token_hex(32), vni=4096 + secrets.randbelow(10000), port=4789,
                     subnet=f"10.{octet}.0.0/24", gateway=f"10.{octet}.0.1", mtu=1450)


def one_container_each(lab: OverlayLab) -> tuple[MemoryPeerTable, PlaneSpec, tuple[Plane, Container],
                                                 tuple[Plane, Container]]:
    """One network's plane on each node, a container joined on each (at .2 and .3)."""
    a, b = lab.nodes
    table = MemoryPeerTable()
    spec = new_spec()
    base = spec.subnet.rsplit(".", 1)[0]
    pa, pb = lab.plane(a, spec, table), lab.plane(b, spec, table)
    ca, cb = lab.container("c1", f"{base}.2", 24, spec.mtu), lab.container("c2", f"{base}.3", 24, spec.mtu)
    lab.join(a, pa, ca)
    lab.join(b, pb, cb)
    return table, spec, (pa, ca), (pb, cb)


def test_containers_on_two_nodes_reach_each_other_over_vxlan(lab):
    a, b = lab.nodes
    table, spec, (pa, ca), (pb, cb) = one_container_each(lab)

    # Each node's entries name the other's endpoint, and only it: static, through its VTEP.
    for plane, there, c in ((pa, b, cb), (pb, a, ca)):
        assert until(lambda p=plane, m=c.iface.mac: any(line.startswith(m) for line in fdb(p)))
        assert fdb(plane) == [f"{c.iface.mac} dst {there.vtep} self permanent"]
        assert f"{c.ip} lladdr {c.iface.mac} PERMANENT" in in_ns(plane.path, "ip", "neigh", "show", "dev", VXLAN)
        details = in_ns(plane.path, "ip", "-d", "link", "show", VXLAN)
        assert f"vxlan id {spec.vni}" in details and "nolearning" in details and "dstport 4789" in details
        assert "proxy" in details

    in_ns(ca.path, "busybox", "ping", "-c", "2", "-W", "5", cb.ip)
    in_ns(cb.path, "busybox", "ping", "-c", "2", "-W", "5", ca.ip)
    # The traffic taught the VXLAN device nothing: its entries are still the one static entry.
    assert fdb(pa) == [f"{cb.iface.mac} dst {b.vtep} self permanent"]
    # It went through the VXLAN devices (their counters), not some other path between the namespaces.
    for plane in (pa, pb):
        stats = json.loads(in_ns(plane.path, "ip", "-j", "-s", "link", "show", VXLAN))[0]["stats64"]
        assert stats["tx"]["packets"] >= 2 and stats["rx"]["packets"] >= 2

    # Node 2's endpoint leaves: node 1's entries for it go.
    pb.leave(cb.iface.veth)
    assert until(lambda: fdb(pa) == [])
    assert f"{cb.ip} " not in in_ns(pa.path, "ip", "neigh", "show", "dev", VXLAN)
    assert table.peers(spec.network_id) == [Peer(ca.ip, ca.iface.mac, a.vtep)]
    assert pa.endpoints() == [ca.iface.veth] and pb.endpoints() == []

    for plane in (pa, pb):
        plane.destroy()
        assert not netns.is_pinned(plane.path)


def test_a_restarted_daemon_adopts_its_plane(lab):
    """The daemon went away with its containers running: the plane is followed again, and the
    entry of a peer that left meanwhile is removed (read back from the kernel, not remembered)."""
    a, b = lab.nodes
    table, spec, (pa, ca), (pb, cb) = one_container_each(lab)
    assert until(lambda: len(fdb(pa)) == 1)
    # Node 1's daemon stops following (its namespace stays pinned: its container runs on).
    pa.stop_following()
    pb.leave(cb.iface.veth)  # meanwhile, node 2's container goes
    assert len(fdb(pa)) == 1  # nobody removed its entry on node 1
    again = Plane(spec, pa.path, a.vtep, table)
    assert again.adopt()
    a.planes[a.planes.index(pa)] = again
    assert fdb(again) == []
    assert again.endpoints() == [ca.iface.veth]
    cb2 = lab.container("c3", f"{spec.subnet.rsplit('.', 1)[0]}.4", 24, spec.mtu)
    lab.join(b, pb, cb2)  # and the adopted plane follows new peers
    assert until(lambda: fdb(again) == [f"{cb2.iface.mac} dst {b.vtep} self permanent"])
    in_ns(ca.path, "busybox", "ping", "-c", "1", "-W", "5", cb2.ip)


def test_a_plane_that_cannot_be_made_leaves_nothing(lab):
    """A VNI already held on the node's UDP socket: the second network's namespace is undone."""
    a, _b = lab.nodes
    table = MemoryPeerTable()
    first = new_spec()
    lab.plane(a, first, table)
    second = PlaneSpec("n2" * 32, first.vni, 4789, "10.250.2.0/24", "10.250.2.1", 1450)
    plane = Plane(second, os.path.join(lab.root, "ov-second"), a.vtep, table)
    with pytest.raises(Exception, match="VNI"):
        netns.run_in(a.path, plane.create)
    assert not netns.is_pinned(plane.path)
    assert not os.path.exists(plane.path)
