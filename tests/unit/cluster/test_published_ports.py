"""cluster/publishedports.py on the memory store: a port given without a number gets one from
30000-32767 once, never one another service holds or names, and goes with the service."""

from datetime import datetime

from dockyard.cluster import publishedports as pp
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.spec import EndpointSpec, PortConfig, ServiceSpec, TaskSpec
from dockyard.cluster.store.memory import MemoryStore

NOW = datetime(2026, 12, 6)


def _service(sid: str, *ports: PortConfig) -> Service:
    return Service(sid, NOW, NOW, ServiceSpec(name=sid, task_template=TaskSpec(),
                                              endpoint_spec=EndpointSpec(ports=list(ports))))


def test_a_port_without_a_number_gets_one_from_the_dynamic_range_once():
    store = MemoryStore()
    named = _service("a", PortConfig(target_port=80, published_port=30000))  # the user's own choice
    web = _service("b", PortConfig(target_port=80), PortConfig(target_port=53, protocol="udp"))
    api = _service("c", PortConfig(target_port=8080), PortConfig(target_port=22, publish_mode="host"))
    chosen = pp.allocate(store, [named, web, api])
    assert chosen == {"b": {(80, "tcp"): 30001, (53, "udp"): 30000}, "c": {(8080, "tcp"): 30002}}
    assert pp.allocate(store, [named, web, api]) == chosen  # kept
    filled = pp.fill([named, web, api], chosen)
    assert [p.published_port for p in filled[1].spec.endpoint_spec.ports] == [30001, 30000]
    assert web.spec.endpoint_spec.ports[0].published_port in (0, None)  # the record stays as stored

    assert pp.allocate(store, [named, api]) == {"c": {(8080, "tcp"): 30002}}  # b removed: released
    assert [kv.key for kv in store.range(pp.RESERVED_PREFIX)] == [f"{pp.RESERVED_PREFIX}tcp/30002"]
    assert pp.allocate(store, [named, api, _service("d", PortConfig(target_port=9))])["d"] == {(9, "tcp"): 30001}
