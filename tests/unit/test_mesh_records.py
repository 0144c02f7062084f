"""Service records for the embedded DNS: a service's name and aliases (its VIP, or its tasks
with dnsrr), tasks.<service>, only on the networks the asking container shares with it."""

import pytest

from dockyard.engine.container import Container
from dockyard.engine.networks.catalog import new_network
from dockyard.engine.networks.dnsview import DNSView
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.errors import InvalidParameter
from dockyard.network.mesh.model import Backend
from dockyard.network.mesh.records import MemoryRecords, ServiceRecord, resolve
from dockyard.network.records import IPAMConfig

TASKS = (Backend("10.2.0.11"), Backend("10.2.0.12"), Backend("10.2.0.13", healthy=False))


def test_names_and_aliases_answer_the_vip_and_tasks_every_healthy_task():
    records = MemoryRecords()
    records.put("front", ServiceRecord("web", vip="10.2.0.100", tasks=TASKS, aliases=("site",)))
    assert resolve(records, ["front"], "web") == ["10.2.0.100"]
    assert resolve(records, ["front"], "SITE.") == ["10.2.0.100"]
    assert sorted(resolve(records, ["front"], "tasks.web")) == ["10.2.0.11", "10.2.0.12"]
    assert sorted(resolve(records, ["front"], "tasks.site")) == ["10.2.0.11", "10.2.0.12"]
    assert resolve(records, ["back"], "web") is None and resolve(records, ["front"], "tasks.db") is None


def test_dnsrr_answers_the_tasks_themselves_and_a_removed_service_nothing():
    records = MemoryRecords()
    records.put("front", ServiceRecord("db", endpoint_mode="dnsrr", tasks=TASKS))
    assert sorted(resolve(records, ["front"], "db")) == ["10.2.0.11", "10.2.0.12"]
    records.remove("front", "db")
    assert resolve(records, ["front"], "db") is None


def test_a_record_is_refused_without_what_its_mode_needs():
    with pytest.raises(InvalidParameter, match="service web has endpoint mode vip but no virtual IP"):
        ServiceRecord("web")
    with pytest.raises(InvalidParameter, match="invalid endpoint mode 'rr' for service web: use vip or dnsrr"):
        ServiceRecord("web", endpoint_mode="rr")


class Containers:
    def __init__(self, *containers: Container) -> None:
        self.containers = list(containers)

    def list(self) -> list[Container]:
        return self.containers


def test_the_embedded_dns_answers_services_on_the_networks_the_container_is_on():
    front = new_network("front", "bridge", {}, [IPAMConfig("10.2.0.0/24", "10.2.0.1")], internal=False)
    back = new_network("back", "bridge", {}, [IPAMConfig("10.3.0.0/24", "10.3.0.1")], internal=False)
    asking = Container("a" * 64, "/client", 0, "sh", [], ContainerConfig(), HostConfig(), "img")
    asking.state.status, asking.state.pid = "running", 1
    asking.network_settings = {"Networks": {"front": {"IPAddress": "10.2.0.5"}}}
    records = MemoryRecords()
    records.put(front.id, ServiceRecord("web", vip="10.2.0.100", tasks=TASKS))
    records.put(back.name, ServiceRecord("db", vip="10.3.0.100"))
    view = DNSView(Containers(asking), lambda: [front, back], [], records)
    assert view.lookup(asking, "web") == ["10.2.0.100"]  # a record under the network's ID
    assert view.lookup(asking, "db") is None  # a service on a network the container is not on
    assert view.lookup(asking, "client") == ["10.2.0.5"]  # containers' own names still answer
