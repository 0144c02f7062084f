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


def _task(tid: str, sid: str, state: str = "running"):
    from dockyard.cluster.services.task import Task, TaskState, TaskStatus

    return Task(tid, NOW, NOW, sid, "web", TaskSpec(), 1, 1, TaskStatus(NOW, TaskState.parse(state)))


def test_every_node_sees_every_task_of_the_swarm_from_the_store():
    """Two nodes on one store: each publishes its own tasks' addresses, each balances and answers
    over both; a task whose container stopped, or that the store no longer has running, leaves
    the other node's balancing and names."""
    store, rec_a, rec_b = MemoryStore(), Recorder(), Recorder()
    node_a = Discovery(store, MeshController(rec_a, "A", node_rules=False), _network)
    node_b = Discovery(store, MeshController(rec_b, "B", node_rules=False), _network)
    web = _service("s1", "web")
    on_a = [_container("a", "10.5.0.11", "s1", "t1")]
    on_b = [_container("b", "10.5.0.12", "s1", "t2"), _container("c", "10.5.0.50")]  # c: a standalone client
    tasks = [_task("t1", "s1"), _task("t2", "s1")]
    node_a.sync([web], on_a, tasks, "A")
    node_b.sync([web], on_b, tasks, "B")
    vip = store.get(f"{VIPS_PREFIX}s1/{FRONT.id}").value.decode()
    assert [(v.address, sorted(b.address for b in v.backends)) for v in rec_b.programmed["/ns/c"].vips] == [
        (vip, ["10.5.0.11", "10.5.0.12"])]
    assert sorted(resolve(node_b.controller.records, ["front"], "tasks.web")) == ["10.5.0.11", "10.5.0.12"]
    assert {t.id: t.node for t in node_b.controller.tasks.values()} == {"t1": "A", "t2": "B"}

    node_a.sync([web], [], tasks, "A")  # t1's container was killed on A
    node_b.sync([web], on_b, tasks, "B")
    assert [b.address for b in rec_b.programmed["/ns/c"].vips[0].backends] == ["10.5.0.12"]
    node_a.sync([web], on_a, tasks, "A")  # back; then the store says it failed (node A crashed)
    node_b.sync([web], on_b, [_task("t1", "s1", "failed"), tasks[1]], "B")
    assert sorted(resolve(node_b.controller.records, ["front"], "tasks.web")) == ["10.5.0.12"]


def test_ingress_peers_are_the_sandboxes_among_the_ingress_network_peers():
    from dockyard.cluster.ingressbox import ingress_mac, ingress_peers
    from dockyard.network.overlay.peers import Peer

    peers = [Peer("10.0.0.5", ingress_mac("10.0.0.5"), "192.168.9.3"), Peer("10.0.0.7", "02:42:0a:00:00:07",
                                                                            "192.168.9.3"),
             Peer("10.0.0.2", ingress_mac("10.0.0.2"), "192.168.9.2")]
    assert [(p.node, p.address, p.mac) for p in ingress_peers(peers)] == [
        ("192.168.9.2", "10.0.0.2", "06:42:0a:00:00:02"), ("192.168.9.3", "10.0.0.5", "06:42:0a:00:00:05")]


def test_a_worker_reads_the_mesh_records_and_writes_only_its_own_endpoints_through_a_manager():
    import pytest

    from dockyard.cluster.channel import Caller, Handlers
    from dockyard.cluster.meshrpc import ChannelStore, register
    from dockyard.cluster.taskendpoints import PREFIX, StoreEndpoints, TaskEndpoint
    from dockyard.errors import Forbidden

    class _Swarm:  # what meshrpc's calls need of a manager's SwarmService
        handlers, _store = Handlers(), MemoryStore()

        def store(self):
            return self._store

    class _Channel:  # the worker's channel, answered in-process by the manager's handlers
        def call(self, name, body=None, timeout=None):
            return swarm.handlers.call(name, Caller("worker1", "worker"), body or {})

    swarm = _Swarm()
    register(swarm)
    manager, rec = swarm.store(), Recorder()
    Discovery(manager, MeshController(rec, "M", node_rules=False), _network).sync(
        [_service("s1", "web")], [_container("a", "10.5.0.11", "s1", "t1")], [_task("t1", "s1"), _task("t2", "s1")],
        "M")
    worker_store = ChannelStore(_Channel())
    worker = Discovery(worker_store, MeshController(Recorder(), "worker1", node_rules=False), _network,
                       allocate=False)
    worker.sync([_service("s1", "web")], [_container("b", "10.5.0.12", "s1", "t2"), _container("c", "10.5.0.50")],
                [_task("t1", "s1"), _task("t2", "s1")], "worker1")
    assert sorted(resolve(worker.controller.records, ["front"], "tasks.web")) == ["10.5.0.11", "10.5.0.12"]
    assert TaskEndpoint.decode("t2", manager.get(PREFIX + "t2").value).node == "worker1"
    assert len(list(manager.range(VIPS_PREFIX))) == 1  # the manager's VIP, read, not taken again

    with pytest.raises(Forbidden):  # another node's task
        StoreEndpoints(worker_store).publish("worker1", {"t1": TaskEndpoint("t1", "s1", "M", {}, False)})
    with pytest.raises(Forbidden):
        worker_store.put(PREFIX + "t9", TaskEndpoint("t9", "s1", "M").encode())
    with pytest.raises(Forbidden):
        worker_store.range("/swarm/secrets/")
    assert TaskEndpoint.decode("t1", manager.get(PREFIX + "t1").value).healthy
