"""Service discovery and VIP balancing for the swarm's services on the networks their tasks join:
a virtual IP per service and network (endpoint mode vip, the default) taken from the network's
addresses in the cluster store, the embedded DNS answering the service's name and aliases with
it (or with the tasks, dnsrr) and tasks.<service> with the tasks, and every local container on
such a network balancing the VIP over the service's healthy tasks (network/mesh's
MeshController programs their namespaces).

Driven by cluster/ingress.py's loop (each round: the store's services, this node's containers).
VIPs are kept at /mesh/vips/<service ID>/<network ID> and their addresses released when the
service or its network attachment goes. Tasks are found among this node's containers, so on a
multi-node swarm only local tasks are known here until task addresses are read from the store
(docs/design/mesh.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dockyard.cluster.agent.container import SERVICE_ID_LABEL, TASK_ID_LABEL
from dockyard.cluster.overlay import StoreAddresses
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.engine.container import Container
from dockyard.errors import NotFound
from dockyard.network.mesh.controller import MeshController, SandboxState, ServiceState, TaskState
from dockyard.network.records import Network

log = logging.getLogger("dockyard.cluster.discovery")
VIPS_PREFIX = "/mesh/vips/"


class Discovery:
    def __init__(self, store: Store, controller: MeshController, network: Callable[[str], Network]) -> None:
        self.store = store
        self.controller = controller
        self.network = network  # a network's ID or name -> its record (NotFound when gone)
        self.addresses = StoreAddresses(store)

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
    def sync(self, services: list, containers: list[Container]) -> None:
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
            if attachments:
                endpoint = svc.spec.endpoint_spec
                mode = "dnsrr" if endpoint is not None and endpoint.mode == "dnsrr" else "vip"
                wanted_services[svc.id] = ServiceState(svc.name(), mode, by_name, (), aliases)
        service_networks = set(names.values())
        tasks, sandboxes = {}, {}
        alive = {(c.network_settings or {}).get("SandboxKey") for c in containers if c.state.running}
        for c in containers:
            labels = c.config.labels or {}
            settings = c.network_settings or {}
            networks = {n: e.get("IPAddress") for n, e in (settings.get("Networks") or {}).items()
                        if n in service_networks and e.get("IPAddress")}
            if not networks or not c.state.running:
                continue
            task_id, service_id = labels.get(TASK_ID_LABEL, ""), labels.get(SERVICE_ID_LABEL, "")
            if service_id in wanted_services:
                health = (c.state.health or {}).get("Status")
                tasks[task_id] = TaskState(task_id, wanted_services[service_id].name, "", networks,
                                           health in (None, "healthy"))
            interfaces = {n: (settings.get("Interfaces") or {}).get(n, {}).get("ifname", "") for n in networks}
            if settings.get("SandboxKey"):
                sandboxes[settings["SandboxKey"]] = SandboxState(settings["SandboxKey"], interfaces,
                                                                 task_id if service_id in wanted_services else "")
        self._apply({s.name: s for s in wanted_services.values()}, tasks, sandboxes, alive)

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
