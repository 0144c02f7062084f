"""MeshController: facts about services, tasks and sandboxes in; what each place needs out,
programmed only where it changed (a fake programmer records the calls)."""

from dockyard.network.mesh.controller import (
    GATEWAY,
    Ingress,
    MeshController,
    SandboxState,
    ServiceState,
    TaskState,
)
from dockyard.network.mesh.model import IngressPeer, IngressSandbox, NodeMesh, PublishedPort
from dockyard.network.mesh.nftrender import SandboxMesh
from dockyard.network.mesh.records import resolve


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def program_node(self, node: NodeMesh, sandbox: IngressSandbox | None) -> None:
        self.calls.append(("node", node, sandbox))

    def program_sandbox(self, path: str, mesh: SandboxMesh) -> None:
        self.calls.append(("sandbox", path, mesh))

    def forget_sandbox(self, path: str) -> None:
        self.calls.append(("forget", path))


SBOX = IngressSandbox("/run/netns/ingress_sbox", "172.18.0.2", "docker_gwbridge")
PEERS = (IngressPeer("n1", "10.0.0.2", "02:42:0a:00:00:02"), IngressPeer("n2", "10.0.0.3", "02:42:0a:00:00:03"))


def _controller() -> tuple[MeshController, Recorder]:
    rec = Recorder()
    ctl = MeshController(rec, "n1")
    ctl.set_ingress(Ingress("ingress", SBOX, PEERS))
    ctl.set_service(ServiceState("web", vips={"ingress": "10.0.0.100", "front": "10.1.0.100"},
                                 ports=(PublishedPort(8080, 80),), aliases={"front": ("site",)}))
    for i, node in ((1, "n1"), (2, "n2")):
        ctl.set_task(TaskState(f"t{i}", "web", node, {"ingress": f"10.0.0.1{i}", "front": f"10.1.0.1{i}",
                                                      GATEWAY: f"172.18.0.1{i}"}))
    ctl.add_sandbox(SandboxState("/ns/t1", {"ingress": "eth0", "front": "eth1"}, task="t1"))
    ctl.add_sandbox(SandboxState("/ns/client", {"front": "eth0"}))
    return ctl, rec


def _last(rec: Recorder, path: str) -> SandboxMesh:
    return [c for c in rec.calls if c[0] == "sandbox" and c[1] == path][-1][2]


def test_every_place_gets_its_share():
    ctl, rec = _controller()
    node = [c for c in rec.calls if c[0] == "node"][-1][1]
    assert [(s.service, [b.address for b in s.backends]) for s in node.ingress] == [("web", ["10.0.0.11",
                                                                                             "10.0.0.12"])]
    assert _last(rec, SBOX.path).ingress == node.ingress
    task = _last(rec, "/ns/t1")
    assert [(v.address, [b.address for b in v.backends]) for v in task.vips] == [
        ("10.1.0.100", ["10.1.0.11", "10.1.0.12"]), ("10.0.0.100", ["10.0.0.11", "10.0.0.12"])]
    assert task.return_path is not None and task.return_path.interface == "eth0"
    assert task.return_path.peers == list(PEERS)
    client = _last(rec, "/ns/client")
    assert [v.address for v in client.vips] == ["10.1.0.100"] and client.return_path is None


def test_a_task_turning_unhealthy_reprograms_only_the_places_that_balance_it():
    ctl, rec = _controller()
    rec.calls.clear()
    ctl.set_task_health("t2", False)
    assert sorted(c[1] if c[0] == "sandbox" else "node" for c in rec.calls) == [
        "/ns/client", "/ns/t1", SBOX.path, "node"]
    assert [b.healthy for b in _last(rec, SBOX.path).ingress[0].backends] == [True, False]
    rec.calls.clear()
    ctl.set_task_health("t2", False)  # no change: nothing programmed
    assert rec.calls == []


def test_host_mode_ports_go_to_this_nodes_healthy_tasks_only():
    rec = Recorder()
    ctl = MeshController(rec, "n1")
    ctl.set_service(ServiceState("api", vips={}, ports=(PublishedPort(9090, 90, mode="host"),)))
    ctl.set_task(TaskState("a1", "api", "n1", {GATEWAY: "172.18.0.5"}))
    ctl.set_task(TaskState("a2", "api", "n2", {GATEWAY: "172.18.0.6"}))
    node = rec.calls[-1][1]
    assert [(h.address, h.port.published) for h in node.host_ports] == [("172.18.0.5", 9090)]
    ctl.set_task_health("a1", False)
    assert rec.calls[-1][1].host_ports == []


def test_removing_things_unprograms_them():
    ctl, rec = _controller()
    ctl.remove_sandbox("/ns/client")
    assert ("forget", "/ns/client") in rec.calls
    ctl.remove_service("web")
    assert _last(rec, "/ns/t1") == SandboxMesh() and _last(rec, SBOX.path) == SandboxMesh()
    ctl.set_ingress(None)
    assert rec.calls[-1] == ("node", NodeMesh(), None)


def test_the_dns_sees_the_same_services():
    ctl, _ = _controller()
    ctl.set_service(ServiceState("db", endpoint_mode="dnsrr"))
    ctl.set_task(TaskState("d1", "db", "n2", {"front": "10.1.0.31"}))
    assert resolve(ctl.records, ["front"], "site") == ["10.1.0.100"]
    assert sorted(resolve(ctl.records, ["front"], "tasks.web")) == ["10.1.0.11", "10.1.0.12"]
    assert resolve(ctl.records, ["front"], "db") == ["10.1.0.31"]
    assert resolve(ctl.records, ["other"], "db") is None
    ctl.set_task_health("t1", False)
    assert resolve(ctl.records, ["front"], "tasks.web") == ["10.1.0.12"]
