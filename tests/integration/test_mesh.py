"""The routing mesh on a one-node lab of network namespaces (tests/meshlab.py): busybox httpd
tasks behind a service VIP and behind an ingress port, a client outside the node, the client's
address as the tasks see it, a task taken out of the balancing, mode=host, rules removed behind
the mesh's back, and a teardown that leaves no rule. Nothing here touches the host's own
namespace."""

import collections
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshlab import UDP_PORT, MeshLab, mac  # noqa: E402
from netstate import free_prefix  # noqa: E402

from dockyard.network.mesh.controller import (  # noqa: E402
    GATEWAY,
    Ingress,
    MeshController,
    SandboxState,
    ServiceState,
    TaskState,
)
from dockyard.network.mesh.model import (  # noqa: E402
    Backend,
    HostPort,
    IngressPeer,
    IngressSandbox,
    IngressService,
    LocalBridge,
    NodeMesh,
    PublishedPort,
    VirtualIP,
)
from dockyard.network.mesh.nftrender import ReturnPath, SandboxMesh  # noqa: E402
from dockyard.network.mesh.programmer import Mesh  # noqa: E402
from dockyard.network.rulekeeper import RuleKeeper  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture(scope="module")
def lab():
    lab = MeshLab((free_prefix(), free_prefix(), free_prefix()), tasks=3)
    lab.vc = lab._ns("vc")  # a container on the service's network that calls it by its VIP
    lab._attach(lab.vc, "eth0", lab.ovl, "br0", f"{lab.ingress_net}.50/24", "vc")
    yield lab
    lab.close()
    assert not [n for n in os.listdir("/run/netns") if lab.tag in n]


@pytest.fixture
def mesh(lab):
    mesh = Mesh("DYMESH-" + lab.tag, node_netns=lab.path(lab.node))
    yield mesh
    mesh.teardown()
    for ns in lab.names:
        assert "dockyard_mesh" not in subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                                                     capture_output=True, text=True).stdout, ns
        assert "3100:" not in subprocess.run(["ip", "netns", "exec", ns, "ip", "rule"], capture_output=True,
                                             text=True).stdout, ns
    saved = subprocess.run(["ip", "netns", "exec", lab.node, "iptables-save"], capture_output=True, text=True).stdout
    assert "DYMESH-" not in saved


def backends(lab, unhealthy=()):
    return [Backend(t.ingress_ip, healthy=t.name not in unhealthy, task=t.name) for t in lab.tasks]


def ingress(lab, mesh, svc: IngressService) -> None:
    """What the swarm side does for an ingress service on this node: the node's port, the
    sandbox's balancing, and every task's way back to the sandbox."""
    mesh.program_node(NodeMesh(ingress=[svc]), IngressSandbox(lab.path(lab.sbox), lab.sbox_gw_ip, lab.gw))
    mesh.program_sandbox(lab.path(lab.sbox), SandboxMesh(ingress=[svc]))
    peer = IngressPeer("node1", lab.sbox_ingress_ip, mac(lab.sbox, "eth0"))
    for task in lab.tasks:
        mesh.program_sandbox(lab.path(task.ns), SandboxMesh(return_path=ReturnPath("eth0", [peer])))


def spread(lab, ns: str, address: str, port: int, n: int) -> collections.Counter:
    return collections.Counter(lab.who(ns, address, port) for _ in range(n))


def test_a_vip_spreads_connections_over_the_tasks_and_they_see_the_caller(lab, mesh):
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("web", lab.vip, backends(lab))]))
    caller = f"{lab.ingress_net}.50"
    assert spread(lab, lab.vc, lab.vip, 80, 9) == {("t0", caller): 3, ("t1", caller): 3, ("t2", caller): 3}


def test_an_ingress_port_spreads_over_the_tasks_and_they_see_the_client_address(lab, mesh):
    ingress(lab, mesh, IngressService("web", (PublishedPort(8080, 80),), backends(lab)))
    client = lab.client_ip
    assert spread(lab, lab.client, lab.node_ip, 8080, 9) == {("t0", client): 3, ("t1", client): 3,
                                                             ("t2", client): 3}


def test_an_unhealthy_task_gets_no_new_connections_and_other_connections_carry_on(lab, mesh):
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("web", lab.vip, backends(lab))]))
    held = lab.connect(lab.vc, lab.vip, 80)  # the first connection goes to t0 and stays open
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("web", lab.vip,
                                                                       backends(lab, unhealthy={"t1"}))]))
    names = collections.Counter(name for name, _ in spread(lab, lab.vc, lab.vip, 80, 8).elements())
    assert names == {"t0": 4, "t2": 4}
    assert lab.ask(held).startswith("t0 ")
    # A task that stopped leaves the list altogether: the same.
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("web", lab.vip, backends(lab)[:1])]))
    assert {name for name, _ in spread(lab, lab.vc, lab.vip, 80, 3)} == {"t0"}


def test_an_ingress_task_that_turns_unhealthy_leaves_the_balancing(lab, mesh):
    ingress(lab, mesh, IngressService("web", (PublishedPort(8080, 80),), backends(lab)))
    ingress(lab, mesh, IngressService("web", (PublishedPort(8080, 80),), backends(lab, unhealthy={"t0", "t2"})))
    assert spread(lab, lab.client, lab.node_ip, 8080, 3) == {("t1", lab.client_ip): 3}


def test_a_vip_without_a_healthy_task_refuses_connections_at_once(lab, mesh):
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("web", lab.vip, backends(lab, {"t0", "t1",
                                                                                                     "t2"}))]))
    with pytest.raises(ConnectionRefusedError):
        lab.connect(lab.vc, lab.vip, 80)


def test_a_host_mode_port_reaches_the_task_on_this_node_and_keeps_the_client_address(lab, mesh):
    task = lab.tasks[2]
    host = HostPort("api", PublishedPort(9090, 80, mode="host"), task.gw_ip)
    mesh.program_node(NodeMesh(host_ports=[host]), IngressSandbox(lab.path(lab.sbox), lab.sbox_gw_ip, lab.gw))
    assert spread(lab, lab.client, lab.node_ip, 9090, 3) == {("t2", lab.client_ip): 3}
    with pytest.raises(ConnectionRefusedError):  # the ingress port is not published
        lab.connect(lab.client, lab.node_ip, 8080)


def test_rules_removed_behind_the_mesh_back_are_put_back_by_the_keeper(lab, mesh):
    ingress(lab, mesh, IngressService("web", (PublishedPort(8080, 80),), backends(lab)))
    keeper = RuleKeeper(mesh, generation=mesh.generation)
    assert keeper.check() == []
    assert keeper.check() == []  # nothing changed: skipped on the generations alone
    subprocess.run(["ip", "netns", "exec", lab.sbox, "nft", "delete", "table", "ip", "dockyard_mesh"], check=True)
    subprocess.run(["ip", "netns", "exec", lab.node, "iptables", "-t", "nat", "-D", "PREROUTING", "-m", "addrtype",
                    "--dst-type", "LOCAL", "-j", mesh.prefix], check=True)
    with pytest.raises(OSError):
        lab.connect(lab.client, lab.node_ip, 8080)
    restored = keeper.check()
    assert f"jump nat PREROUTING -> {mesh.prefix}" in restored
    assert f"routing mesh table dockyard_mesh in {lab.path(lab.sbox)}" in restored
    assert {name for name, _ in spread(lab, lab.client, lab.node_ip, 8080, 3)} == {"t0", "t1", "t2"}


def test_a_task_on_one_node_answers_a_client_of_another_node_and_sees_its_address(lab, mesh):
    """Two nodes on the ingress network; the tasks run on the first (their default route is its
    gateway bridge). A client of the second node reaches them through that node's ingress
    sandbox, and their replies go back the same way (not through their default gateway): the
    connection's mark names the sandbox it came from."""
    second = lab.nodes[1] if len(lab.nodes) > 1 else lab.add_node(free_prefix(), free_prefix())
    other = Mesh("DYMESH-" + lab.tag + "b", node_netns=lab.path(second.ns))
    try:
        svc = IngressService("web", (PublishedPort(8080, 80),), backends(lab))
        for node, node_mesh in ((lab.nodes[0], mesh), (second, other)):
            node_mesh.program_node(NodeMesh(ingress=[svc]), IngressSandbox(lab.path(node.sbox), node.sbox_gw_ip,
                                                                           node.gw))
            node_mesh.program_sandbox(lab.path(node.sbox), SandboxMesh(ingress=[svc]))
        peers = [IngressPeer(f"node{i}", n.sbox_ingress_ip, mac(n.sbox, "eth0")) for i, n in enumerate(lab.nodes)]
        for task in lab.tasks:
            mesh.program_sandbox(lab.path(task.ns), SandboxMesh(return_path=ReturnPath("eth0", peers)))
        via_second = spread(lab, lab.client, second.ip, 8080, 6)
        assert via_second == {("t0", second.client_ip): 2, ("t1", second.client_ip): 2, ("t2", second.client_ip): 2}
        via_first = spread(lab, lab.client, lab.node_ip, 8080, 3)
        assert via_first == {("t0", lab.client_ip): 1, ("t1", lab.client_ip): 1, ("t2", lab.client_ip): 1}
    finally:
        other.teardown()


def test_the_controller_programs_every_place_and_follows_a_tasks_health(lab, mesh):
    """The seam the swarm side drives: facts in (service, tasks, sandboxes, this node's ingress),
    rules out; a task turning unhealthy leaves the VIP's and the ingress port's balancing."""
    ctl = MeshController(mesh, "node1")
    peer = IngressPeer("node1", lab.sbox_ingress_ip, mac(lab.sbox, "eth0"))
    ctl.set_ingress(Ingress("ingress", IngressSandbox(lab.path(lab.sbox), lab.sbox_gw_ip, lab.gw), (peer,)))
    ctl.set_service(ServiceState("web", vips={"ingress": lab.vip}, ports=(PublishedPort(8080, 80),)))
    for t in lab.tasks:
        ctl.set_task(TaskState(t.name, "web", "node1", {"ingress": t.ingress_ip, GATEWAY: t.gw_ip}))
        ctl.add_sandbox(SandboxState(lab.path(t.ns), {"ingress": "eth0"}, task=t.name))
    ctl.add_sandbox(SandboxState(lab.path(lab.vc), {"ingress": "eth0"}))
    everyone = {"t0", "t1", "t2"}
    assert {name for name, _ in spread(lab, lab.vc, lab.vip, 80, 3)} == everyone
    assert {name for name, _ in spread(lab, lab.client, lab.node_ip, 8080, 3)} == everyone
    ctl.set_task_health("t1", False)
    assert {name for name, _ in spread(lab, lab.vc, lab.vip, 80, 4)} == {"t0", "t2"}
    assert spread(lab, lab.client, lab.node_ip, 8080, 4) == {("t0", lab.client_ip): 2, ("t2", lab.client_ip): 2}


def test_udp_through_an_ingress_port_and_a_vip_spreads_and_keeps_the_client_address(lab, mesh):
    svc = IngressService("dns", (PublishedPort(5353, UDP_PORT, "udp"),), backends(lab))
    ingress(lab, mesh, svc)
    mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("dns", lab.vip, backends(lab))]))
    via_port = collections.Counter(lab.udp_who(lab.client, lab.node_ip, 5353) for _ in range(6))
    assert via_port == {("t0", lab.client_ip): 2, ("t1", lab.client_ip): 2, ("t2", lab.client_ip): 2}
    caller = f"{lab.ingress_net}.50"
    via_vip = collections.Counter(lab.udp_who(lab.vc, lab.vip, UDP_PORT) for _ in range(3))
    assert via_vip == {("t0", caller): 1, ("t1", caller): 1, ("t2", caller): 1}


def test_a_flow_to_a_task_that_left_is_balanced_again_and_one_to_an_unhealthy_task_is_drained(lab, mesh):
    """One UDP socket (one conntrack entry) keeps talking to the VIP: while its task is only
    unhealthy the flow stays with it; once the task has left the list, the flow's next datagram
    goes to a task that is still there (the lab's t0 keeps answering, so only the mesh can say)."""
    flow = lab.socket_in(lab.vc, socket.SOCK_DGRAM)
    flow.settimeout(5)

    def ask() -> str:
        flow.sendto(b"who", (lab.vip, UDP_PORT))
        return flow.recv(512).decode().split()[0]

    with flow:
        mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("dns", lab.vip, backends(lab))]))
        assert ask() == "t0"
        drained = backends(lab, unhealthy={"t0"})
        mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("dns", lab.vip, drained)]))
        assert ask() == "t0"
        mesh.program_sandbox(lab.path(lab.vc), SandboxMesh(vips=[VirtualIP("dns", lab.vip, drained[1:])]))
        assert ask() in ("t1", "t2")


def test_without_an_ingress_sandbox_the_node_balances_over_tasks_on_its_own_bridge(lab, mesh):
    """One node whose tasks are on its own bridge (a swarm before its tasks join an ingress
    overlay): iptables' nth round robin on the node, the client's address kept."""
    local = [Backend(t.gw_ip, task=t.name) for t in lab.tasks]
    mesh.program_node(NodeMesh(ingress=[IngressService("web", (PublishedPort(8080, 80),), local)],
                               local_bridges=(LocalBridge(lab.gw),)), None)
    assert spread(lab, lab.client, lab.node_ip, 8080, 6) == {("t0", lab.client_ip): 2, ("t1", lab.client_ip): 2,
                                                             ("t2", lab.client_ip): 2}


def test_a_task_calling_its_own_service_through_the_node_is_answered(lab, mesh):
    """A container on the tasks' bridge reaches the port through the node's address; without
    br_netfilter's help (off in the node here) its backend would answer straight across the
    bridge from an address it did not call: the node masquerades such calls."""
    subprocess.run(["ip", "netns", "exec", lab.node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"],
                   capture_output=True)
    local = [Backend(t.gw_ip, task=t.name) for t in lab.tasks]
    mesh.program_node(NodeMesh(ingress=[IngressService("web", (PublishedPort(8080, 80),), local)],
                               local_bridges=(LocalBridge(lab.gw, f"{lab.nodes[0].gw_net}.0/24"),)), None)
    caller = lab.tasks[0]
    answers = spread(lab, caller.ns, lab.node_ip, 8080, 3)
    assert answers == {("t0", f"{lab.nodes[0].gw_net}.1"): 1, ("t1", f"{lab.nodes[0].gw_net}.1"): 1,
                       ("t2", f"{lab.nodes[0].gw_net}.1"): 1}
