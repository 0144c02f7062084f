"""cluster/discovery.py on the memory store: VIPs taken once per service and swarm network,
released with the service, and the facts handed to the mesh controller (a recording one)."""

from datetime import datetime

from dockyard.cluster.agent.container import SERVICE_ID_LABEL, TASK_ID_LABEL
from dockyard.cluster.discovery import VIPS_PREFIX, Discovery
from dockyard.cluster.overlay import ADDRESSES_PREFIX
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.spec import EndpointSpec, NetworkAttachmentConfig, ServiceSpec, TaskSpec
from dockyard.cluster.store.memory import MemoryStore
from dockyard.engine.container import Container
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.errors import NotFound
from dockyard.network.mesh.controller import MeshController
from dockyard.network.mesh.records import resolve
from dockyard.network.records import IPAM, IPAMConfig, Network

NOW = datetime(2026, 12, 6)
FRONT = Network("front", "n" * 64, "overlay", scope="swarm", ipam=IPAM(config=[IPAMConfig("10.5.0.0/24", "10.5.0.1")]))


def _network(ref: str) -> Network:
    if ref in (FRONT.id, FRONT.name):
        return FRONT
    raise NotFound(f"network {ref} not found")


class Recorder:
    def __init__(self) -> None:
        self.programmed: dict = {}

    def program_node(self, node, sandbox) -> None:
        raise AssertionError("the node's ports are cluster/ingress.py's")

    def program_sandbox(self, path, mesh) -> None:
        self.programmed[path] = mesh

    def forget_sandbox(self, path) -> None:
        pass  # the programmer stops keeping it; what it last holds stays in ``programmed``


def _service(sid: str, name: str, mode: str = "vip") -> Service:
    spec = ServiceSpec(name=name, task_template=TaskSpec(networks=[NetworkAttachmentConfig(FRONT.id, ["site"])]),
                       endpoint_spec=EndpointSpec(mode=mode))
    return Service(sid, NOW, NOW, spec)


def _container(cid: str, address: str, service: str = "", task: str = "") -> Container:
    labels = {SERVICE_ID_LABEL: service, TASK_ID_LABEL: task} if service else {}
    c = Container(cid * 64, f"/{cid}", 0, "sh", [], ContainerConfig(labels=labels), HostConfig(), "img")
    c.state.status, c.state.pid = "running", 1
    c.network_settings = {"Networks": {"front": {"IPAddress": address}}, "SandboxKey": f"/ns/{cid}",
                          "Interfaces": {"front": {"ifname": "eth0"}}}
    return c


def test_a_vip_per_service_and_network_the_facts_and_the_release():
    store, rec = MemoryStore(), Recorder()
    discovery = Discovery(store, MeshController(rec, "", node_rules=False), _network)
    web = _service("s1", "web")
    containers = [_container("a", "10.5.0.11", "s1", "t1"), _container("b", "10.5.0.12", "s1", "t2"),
                  _container("c", "10.5.0.50")]
    discovery.sync([web], containers)
    vip = store.get(f"{VIPS_PREFIX}s1/{FRONT.id}").value.decode()
    assert vip.startswith("10.5.0.") and vip not in ("10.5.0.1", "10.5.0.11", "10.5.0.12")
    assert store.get(f"{ADDRESSES_PREFIX}{FRONT.id}/{vip}") is not None
    discovery.sync([web], containers)  # taken once
    assert [kv.key for kv in store.range(VIPS_PREFIX)] == [f"{VIPS_PREFIX}s1/{FRONT.id}"]
    client = rec.programmed["/ns/c"]
    assert [(v.address, sorted(b.address for b in v.backends)) for v in client.vips] == [
        (vip, ["10.5.0.11", "10.5.0.12"])]
    records = discovery.controller.records
    assert resolve(records, ["front"], "site") == [vip]
    assert sorted(resolve(records, ["front"], "tasks.web")) == ["10.5.0.11", "10.5.0.12"]

    discovery.sync([], containers[2:])  # the service is removed, its tasks with it
    assert list(store.range(VIPS_PREFIX)) == [] and store.get(f"{ADDRESSES_PREFIX}{FRONT.id}/{vip}") is None
    assert rec.programmed["/ns/c"].empty and resolve(discovery.controller.records, ["front"], "web") is None


def test_a_dnsrr_service_gets_no_vip_and_answers_its_tasks():
    store, rec = MemoryStore(), Recorder()
    discovery = Discovery(store, MeshController(rec, "", node_rules=False), _network)
    discovery.sync([_service("s2", "db", mode="dnsrr")], [_container("a", "10.5.0.21", "s2", "t1")])
    assert list(store.range(VIPS_PREFIX)) == []
    assert resolve(discovery.controller.records, ["front"], "db") == ["10.5.0.21"]
