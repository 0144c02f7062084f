"""The routing mesh on this host's own tables beside a Docker daemon's iptables rules: FORWARD
policy DROP and bridged traffic through iptables as Docker leaves the host, a dockerd with its
chains (a private one on a bridge of its own, or the one already running here), and the mesh's
node chains reached by their jumps. A client outside the node reaches the ingress port, the
tasks see its address, Docker's rules are the same afterwards, and teardown leaves no rule and
no link. The tasks, the ingress sandbox and the client are namespaces (tests/meshlab.py)."""

import collections
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PrivateDocker, _bench_daemons
from netstate import free_prefix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshlab import MeshLab, mac  # noqa: E402
from test_netfilter import docker_like_host  # noqa: E402,F401 - the fixture

from dockyard.network.mesh.model import (  # noqa: E402
    Backend,
    IngressPeer,
    IngressSandbox,
    IngressService,
    NodeMesh,
    PublishedPort,  # noqa: E402
)
from dockyard.network.mesh.nftrender import ReturnPath, SandboxMesh  # noqa: E402
from dockyard.network.mesh.programmer import Mesh  # noqa: E402


def _docker_rules() -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return sorted(line.split(" [")[0] for line in out.splitlines() if "DOCKER" in line)


@pytest.fixture
def dockerd(docker_like_host):  # noqa: F811 - the fixture imported above
    """Docker's rules on this host: those of the dockerd already running, else a private one's."""
    if _bench_daemons().iptables_dockerds():
        yield None
        return
    docker = PrivateDocker(f"{free_prefix()}.1/24")
    why = docker.start()
    if why is not None:
        docker.cleanup()
        pytest.skip(f"no Docker daemon to run beside the mesh: {why}")
    yield docker
    docker.cleanup()


def test_an_ingress_port_on_this_host_works_beside_dockers_rules_and_leaves_nothing(dockerd):
    assert any("-A FORWARD" in r for r in _docker_rules()), "Docker's rules are not on this host"
    docker_before = _docker_rules()
    lab = MeshLab((free_prefix(), free_prefix(), free_prefix()), tasks=2, host_node=True)
    mesh = Mesh("DYMESH-" + lab.tag)
    try:
        svc = IngressService("web", (PublishedPort(18080 + int(lab.tag[:2], 16), 80),),
                             [Backend(t.ingress_ip, task=t.name) for t in lab.tasks])
        port = svc.ports[0].published
        mesh.program_node(NodeMesh(ingress=[svc]), IngressSandbox(lab.path(lab.sbox), lab.sbox_gw_ip, lab.gw))
        mesh.program_sandbox(lab.path(lab.sbox), SandboxMesh(ingress=[svc]))
        peer = IngressPeer("this", lab.sbox_ingress_ip, mac(lab.sbox, "eth0"))
        for task in lab.tasks:
            mesh.program_sandbox(lab.path(task.ns), SandboxMesh(return_path=ReturnPath("eth0", [peer])))
        seen = collections.Counter(lab.who(lab.client, lab.node_ip, port) for _ in range(4))
        assert seen == {("t0", lab.client_ip): 2, ("t1", lab.client_ip): 2}
        assert _docker_rules() == docker_before
    finally:
        mesh.teardown()
        lab.close()
    left = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert mesh.prefix not in left
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"dy{lab.tag}" not in links
    assert _docker_rules() == docker_before
