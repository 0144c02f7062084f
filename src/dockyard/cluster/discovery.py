"""Service discovery and VIP balancing for the swarm's services on the networks their tasks join:
a virtual IP per service and network (endpoint mode vip, the default) taken from the network's
addresses in the cluster store, the embedded DNS answering the service's name and aliases with
it (or with the tasks, dnsrr) and tasks.<service> with the tasks, and every local container on
such a network balancing the VIP over the service's healthy tasks (network/mesh's
MeshController programs their namespaces).

Driven by cluster/ingress.py's loop (each round: the store's services, this node's containers).
VIPs are kept at /mesh/vips/<service ID>/<network ID> and their addresses released when the
service or its network attachment goes. Each node publishes its own tasks' addresses and health
(cluster/taskendpoints.py) and reads every node's, so names and VIPs reach a task wherever it
runs; with an ingress network and this node's ingress sandbox, the controller also programs the
node's published ports and the sandbox's balancing over every task on the ingress network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dockyard.cluster import publishedports
from dockyard.cluster.agent.container import SERVICE_ID_LABEL, TASK_ID_LABEL
from dockyard.cluster.overlay import StoreAddresses, stored_networks
from dockyard.cluster.services.task import TaskState as TaskPhase
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.cluster.taskendpoints import StoreEndpoints, TaskEndpoint
from dockyard.engine.container import Container
from dockyard.errors import NotFound
from dockyard.network.mesh.controller import Ingress, MeshController, SandboxState, ServiceState, TaskState
from dockyard.network.mesh.model import PublishedPort
from dockyard.network.records import Network

log = logging.getLogger("dockyard.cluster.discovery")
VIPS_PREFIX = "/mesh/vips/"
RUNNING = TaskPhase.RUNNING


def ingress_ports(svc) -> tuple[PublishedPort, ...]:
    """A service's ingress-mode ports that have a published port."""
    endpoint = svc.spec.endpoint_spec
    return tuple(PublishedPort(p.published_port, p.target_port, p.protocol or "tcp")
                 for p in (endpoint.ports or [] if endpoint is not None else [])
                 if (p.publish_mode or "ingress") == "ingress" and p.published_port and p.target_port)


def endpoint_facts(store: Store, service_id: str) -> tuple[list[dict[str, str]], dict[tuple[int, str], int]]:
    """What `service inspect` shows of a service's endpoint beyond its spec: its VIPs
    (Endpoint.VirtualIPs: network ID and the address with the network's prefix length) and the
    ports the swarm chose for it ((target, protocol) -> published)."""
    return stored_vips(store, service_id), publishedports.stored(store).get(service_id, {})


def stored_vips(store: Store, service_id: str) -> list[dict[str, str]]:
    prefixes = {n.id: n.ipv4.subnet.partition("/")[2] for n in stored_networks(store) if n.ipv4 is not None}
    found = []
    for kv in store.range(f"{VIPS_PREFIX}{service_id}/"):
        network_id = kv.key.rpartition("/")[2]
        if network_id in prefixes:
            found.append({"NetworkID": network_id, "Addr": f"{kv.value.decode()}/{prefixes[network_id]}"})
    return found


class Discovery:
    def __init__(self, store: Store, controller: MeshController, network: Callable[[str], Network],
                 allocate: bool = True) -> None:
        self.store = store
        self.allocate = allocate  # a manager's; a worker only reads the VIPs the managers took
        self.controller = controller
        self.network = network  # a network's ID or name -> its record (NotFound when gone)
        self.addresses = StoreAddresses(store)
        self.endpoints = StoreEndpoints(store)

    # -- VIPs in the store --------------------------------------------------------------------
    def _vips(self) -> dict[tuple[str, str], str]:
        found = {}
        for kv in self.store.range(VIPS_PREFIX):
            service_id, _, network_id = kv.key[len(VIPS_PREFIX):].partition("/")
            found[(service_id, network_id)] = kv.value.decode()
        return found

    def _allocate(self, service_id: str, network: Network) -> str:
        key = f"{VIPS_PREFIX}{service_id}/{network.id}"
        address = self.addresses.allocate(network, "")
        if self.store.txn([Compare(key, 0)], [Put(key, address.encode())]):
            return address
        self.addresses.release(network.id, address)  # another manager was first: its VIP stands
        kv = self.store.get(key)
        return kv.value.decode() if kv else ""

    def vips(self, services: list) -> dict[tuple[str, str], str]:
        """(service ID, network ID) -> VIP for every vip-mode service on a swarm network; those
        of services or attachments that went are released."""
        have = self._vips()
        if not self.allocate:
            return have
        want: dict[tuple[str, str], Network] = {}
        for svc in services:
            endpoint = svc.spec.endpoint_spec
            if endpoint is not None and endpoint.mode == "dnsrr":
                continue
            for attachment in svc.spec.task().networks or []:
                try:
                    network = self.network(attachment.target or "")
                except NotFound:
                    continue
                if network.scope == "swarm":
                    want[(svc.id, network.id)] = network
        for key, network in want.items():
            if key not in have:
                have[key] = self._allocate(key[0], network)
        for key in [k for k in have if k not in want]:
            self.store.delete(f"{VIPS_PREFIX}{key[0]}/{key[1]}")
            self.addresses.release(key[1], have.pop(key))
        return have

    # -- the facts -------------------------------------------------------------------------------
    def sync(self, services: list, containers: list[Container], tasks: list | None = None, node: str = "",
             ingress: Ingress | None = None) -> None:
        """One round: VIPs allocated, this node's task endpoints published (with ``node``), and
        the controller given every service, every running task of the swarm (from the store's
        endpoint records, whichever node runs it), this node's sandboxes and the ingress."""
        vips = self.vips(services)
        names = {}  # network ID -> name (containers' settings are by name)
        wanted_services = {}
        for svc in services:
            attachments = svc.spec.task().networks or []
            by_name, aliases = {}, {}
            for attachment in attachments:
                try:
                    network = self.network(attachment.target or "")
                except NotFound:
                    continue
                names[network.id] = network.name
                if (svc.id, network.id) in vips:
                    by_name[network.name] = vips[(svc.id, network.id)]
                aliases[network.name] = tuple(attachment.aliases or ())
            ports = ingress_ports(svc) if ingress is not None else ()
            if attachments or ports:
                endpoint = svc.spec.endpoint_spec
                mode = "dnsrr" if endpoint is not None and endpoint.mode == "dnsrr" else "vip"
                wanted_services[svc.id] = ServiceState(svc.name(), mode, by_name, ports, aliases)
        if ingress is not None:
            names[self.network(ingress.network).id] = ingress.network
        ids = {name: network_id for network_id, name in names.items()}
        local, sandboxes = {}, {}
        alive = {(c.network_settings or {}).get("SandboxKey") for c in containers if c.state.running}
        for c in containers:
            labels = c.config.labels or {}
            settings = c.network_settings or {}
            networks = {n: e.get("IPAddress") for n, e in (settings.get("Networks") or {}).items()
                        if n in ids and e.get("IPAddress")}
            if not networks or not c.state.running:
                continue
            task_id, service_id = labels.get(TASK_ID_LABEL, ""), labels.get(SERVICE_ID_LABEL, "")
            if service_id in wanted_services and task_id:
                health = (c.state.health or {}).get("Status")
                local[task_id] = TaskEndpoint(task_id, service_id, node, {ids[n]: a for n, a in networks.items()},
                                              health in (None, "healthy"))
            interfaces = {n: (settings.get("Interfaces") or {}).get(n, {}).get("ifname", "") for n in networks}
            if settings.get("SandboxKey"):
                sandboxes[settings["SandboxKey"]] = SandboxState(settings["SandboxKey"], interfaces,
                                                                 task_id if service_id in wanted_services else "")
        self.endpoints.publish(node, local)
        running = None if tasks is None else {t.id for t in tasks if t.runnable() and t.status.state == RUNNING}
        found = {}
        for endpoint in [*self.endpoints.all(), *local.values()]:
            service = wanted_services.get(endpoint.service)
            if service is None or (running is not None and endpoint.task not in running
                                   and endpoint.task not in local):
                continue
            addresses = {names[n]: a for n, a in endpoint.addresses.items() if n in names}
            found[endpoint.task] = TaskState(endpoint.task, service.name, endpoint.node, addresses, endpoint.healthy)
        if self.controller.ingress != ingress:
            self.controller.set_ingress(ingress)
        self.controller.set_node_rules(ingress is not None)
        self._apply({s.name: s for s in wanted_services.values()}, found, sandboxes, alive)

    def _apply(self, services: dict[str, ServiceState], tasks: dict[str, TaskState],
               sandboxes: dict[str, SandboxState], alive: set) -> None:
        ctl = self.controller
        for path in [p for p in ctl.sandboxes if p not in sandboxes]:
            ctl.remove_sandbox(path, gone=path not in alive)  # a live one's VIPs must not linger
        for task_id in [t for t in ctl.tasks if t not in tasks]:
            ctl.remove_task(task_id)
        for name in [n for n in ctl.services if n not in services]:
            ctl.remove_service(name)
        for service in services.values():
            if ctl.services.get(service.name) != service:
                ctl.set_service(service)
        for task in tasks.values():
            if ctl.tasks.get(task.id) != task:
                ctl.set_task(task)
        for sandbox in sandboxes.values():
            if ctl.sandboxes.get(sandbox.path) != sandbox:
                ctl.add_sandbox(sandbox)
