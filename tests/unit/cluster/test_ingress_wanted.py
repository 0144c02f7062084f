"""cluster/ingress.py's choice of ports and backends from the store's services and this node's
task containers (no kernel, no store)."""

from datetime import datetime

from dockyard.cluster.agent.container import SERVICE_ID_LABEL
from dockyard.cluster.ingress import wanted
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.spec import EndpointSpec, PortConfig, ServiceSpec
from dockyard.engine.container import Container
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.network.mesh.model import LocalBridge

NOW = datetime(2026, 12, 6)


def _service(sid: str, name: str, *ports: PortConfig) -> Service:
    return Service(sid, NOW, NOW, ServiceSpec(name=name, endpoint_spec=EndpointSpec(ports=list(ports))))


def _task(cid: str, sid: str, address: str, status: str = "running", health: str | None = None) -> Container:
    c = Container(cid * 64, f"/{cid}", 0, "sh", [], ContainerConfig(labels={SERVICE_ID_LABEL: sid}), HostConfig(),
                  "img")
    c.state.status, c.state.pid = status, 1
    c.state.health = {"Status": health} if health else None
    c.network_settings = {"Networks": {"bridge": {"IPAddress": address}}}
    return c


def test_ingress_ports_with_a_published_port_go_to_running_tasks_that_are_not_unhealthy():
    web = _service("s1", "web", PortConfig(protocol="tcp", target_port=80, published_port=8080),
                   PortConfig(target_port=81, published_port=8081, publish_mode="host"),
                   PortConfig(target_port=82))  # no published port: not served here
    db = _service("s2", "db")
    tasks = [_task("a", "s1", "172.17.0.2"), _task("b", "s1", "172.17.0.3", health="unhealthy"),
             _task("c", "s1", "172.17.0.4", health="starting"), _task("d", "s1", "172.17.0.5", health="healthy"),
             _task("e", "s1", "172.17.0.6", status="exited"), _task("f", "s2", "172.17.0.7")]
    on_overlay = _task("g", "s1", "")
    on_overlay.network_settings = {"Networks": {"front": {"IPAddress": "10.0.1.5"}},
                                   "GatewayEndpoint": {"IPAddress": "172.18.0.3"}}
    tasks.append(on_overlay)  # reached through its docker_gwbridge leg
    bridges = (LocalBridge("dockyard0", "172.17.0.0/16"),)
    node = wanted([web, db], tasks, bridges)
    assert node.local_bridges == bridges
    assert [(s.service, [(p.published, p.target, p.protocol) for p in s.ports]) for s in node.ingress] == [
        ("web", [(8080, 80, "tcp")])]
    assert [b.address for b in node.ingress[0].live] == ["172.17.0.2", "172.17.0.5", "172.18.0.3"]
