"""The routing mesh of one node, driven by facts: the swarm side says what services exist (their
VIPs, published ports, endpoint mode, aliases), where their tasks are (addresses per network,
node, health) and which sandboxes this node has (a task's or a container's namespace and its
interface per network); the controller works out what every place needs (nftrender.SandboxMesh
per namespace, noderules' NodeMesh) and programs only the places whose share changed, each in
one transaction. It is also the embedded DNS's record source (records.RecordSource) for the same
services, so DNS and balancing never disagree.

Docker's counterpart is libnetwork's service binding (service_common.go: addServiceBinding /
rmServiceBinding per task and network, then the load balancers of every sandbox on it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.network.mesh.model import (
    Backend,
    HostPort,
    IngressPeer,
    IngressSandbox,
    IngressService,
    NodeMesh,
    PublishedPort,
    VirtualIP,
)
from dockyard.network.mesh.nftrender import ReturnPath, SandboxMesh
from dockyard.network.mesh.records import RecordSource, ServiceRecord

GATEWAY = "docker_gwbridge"  # the key of a task's address on its node's gateway bridge (mode=host)


@dataclass(frozen=True)
class TaskState:
    id: str
    service: str
    node: str
    addresses: dict[str, str]  # network (ID or name, as the services' ``vips`` use) -> address
    healthy: bool = True  # running and, with a health check, healthy


@dataclass(frozen=True)
class ServiceState:
    name: str
    endpoint_mode: str = "vip"
    vips: dict[str, str] = field(default_factory=dict)  # network -> the service's VIP on it
    ports: tuple[PublishedPort, ...] = ()
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # network -> the service's aliases


@dataclass(frozen=True)
class SandboxState:
    """A namespace on this node: a task's (``task``) or an attachable container's, with its
    interface name on each network (the ingress leg is the one on ``Ingress.network``)."""

    path: str
    interfaces: dict[str, str]  # network -> interface name in the namespace
    task: str = ""


@dataclass(frozen=True)
class Ingress:
    network: str  # the ingress network (ID or name, as tasks' addresses use)
    sandbox: IngressSandbox  # this node's
    peers: tuple[IngressPeer, ...]  # every node's ingress sandbox, this one's included


class Programmer(Protocol):
    """What the controller needs of programmer.Mesh."""

    def program_node(self, node: NodeMesh, sandbox: IngressSandbox | None) -> None: ...

    def program_sandbox(self, path: str, mesh: SandboxMesh) -> None: ...

    def forget_sandbox(self, path: str) -> None: ...


class MeshController:
    def __init__(self, mesh: Programmer, node: str, node_rules: bool = True) -> None:
        self.mesh = mesh
        # False: another part programs the node's published ports (cluster/ingress.py balancing
        # them locally); this controller then programs the sandboxes only.
        self.node_rules = node_rules
        self.node = node  # this node's ID, as tasks' ``node`` names it
        self.services: dict[str, ServiceState] = {}
        self.tasks: dict[str, TaskState] = {}
        self.sandboxes: dict[str, SandboxState] = {}
        self.ingress: Ingress | None = None
        self._programmed: dict[str, SandboxMesh] = {}  # path -> what it holds now
        self._node_programmed: tuple[NodeMesh, IngressSandbox | None] | None = None
        self._lock = threading.RLock()

    # -- facts ------------------------------------------------------------------------------
    def set_service(self, service: ServiceState) -> None:
        with self._lock:
            self.services[service.name] = service
            self._sync()

    def remove_service(self, name: str) -> None:
        with self._lock:
            self.services.pop(name, None)
            for task in [t for t in self.tasks.values() if t.service == name]:
                del self.tasks[task.id]
            self._sync()

    def set_task(self, task: TaskState) -> None:
        """A task was placed, started, changed health or stopped (healthy False): one call."""
        with self._lock:
            self.tasks[task.id] = task
            self._sync()

    def set_task_health(self, task_id: str, healthy: bool) -> None:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is not None and task.healthy != healthy:
                self.tasks[task_id] = TaskState(task.id, task.service, task.node, task.addresses, healthy)
                self._sync()

    def remove_task(self, task_id: str) -> None:
        with self._lock:
            self.tasks.pop(task_id, None)
            self._sync()

    def set_node_rules(self, on: bool) -> None:
        """Whether this controller programs the node's ports (another part may have meanwhile)."""
        with self._lock:
            if self.node_rules != on:
                self.node_rules = on
                self._node_programmed = None
                self._sync()

    def set_ingress(self, ingress: Ingress | None) -> None:
        with self._lock:
            self.ingress = ingress
            self._sync()

    def add_sandbox(self, sandbox: SandboxState) -> None:
        with self._lock:
            self.sandboxes[sandbox.path] = sandbox
            self._sync()

    def remove_sandbox(self, path: str, gone: bool = True) -> None:
        """The namespace is gone (its container ended: nothing to unprogram in it), or, with
        ``gone`` False, left the services' networks: its table is emptied first."""
        with self._lock:
            self.sandboxes.pop(path, None)
            if self._programmed.pop(path, SandboxMesh()) != SandboxMesh() and not gone:
                self.mesh.program_sandbox(path, SandboxMesh())
            self.mesh.forget_sandbox(path)
            self._sync()

    # -- what each place needs --------------------------------------------------------------
    def _backends(self, service: str, network: str) -> tuple[Backend, ...]:
        return tuple(Backend(t.addresses[network], t.healthy, t.id) for t in sorted(self.tasks.values(),
                                                                                   key=lambda t: t.id)
                     if t.service == service and network in t.addresses)

    def _ingress_services(self) -> list[IngressService]:
        if self.ingress is None:
            return []
        found = []
        for svc in sorted(self.services.values(), key=lambda s: s.name):
            ports = tuple(p for p in svc.ports if p.mode == "ingress")
            if ports:
                found.append(IngressService(svc.name, ports, self._backends(svc.name, self.ingress.network)))
        return found

    def node_mesh(self) -> NodeMesh:
        host_ports = []
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            svc = self.services.get(task.service)
            if svc is None or task.node != self.node or not task.healthy or GATEWAY not in task.addresses:
                continue
            host_ports += [HostPort(svc.name, p, task.addresses[GATEWAY]) for p in svc.ports if p.mode == "host"]
        return NodeMesh(ingress=self._ingress_services(), host_ports=host_ports)

    def sandbox_mesh(self, sandbox: SandboxState) -> SandboxMesh:
        vips = []
        for svc in sorted(self.services.values(), key=lambda s: s.name):
            if svc.endpoint_mode != "vip":
                continue
            for network, vip in sorted(svc.vips.items()):
                if network in sandbox.interfaces:
                    vips.append(VirtualIP(svc.name, vip, self._backends(svc.name, network)))
        return_path = None
        task = self.tasks.get(sandbox.task)
        if self.ingress is not None and task is not None and self.ingress.network in sandbox.interfaces:
            owner = self.services.get(task.service)
            if owner is not None and any(p.mode == "ingress" for p in owner.ports):
                return_path = ReturnPath(sandbox.interfaces[self.ingress.network], list(self.ingress.peers))
        return SandboxMesh(vips=vips, return_path=return_path)

    def _sync(self) -> None:
        """Program the places whose share changed (each one transaction), nothing else."""
        node = self.node_mesh()
        sandbox = self.ingress.sandbox if self.ingress is not None else None
        if self.node_rules and self._node_programmed != (node, sandbox):
            self.mesh.program_node(node, sandbox)
            self._node_programmed = (node, sandbox)
        wanted = {path: self.sandbox_mesh(s) for path, s in self.sandboxes.items()}
        if sandbox is not None:
            wanted[sandbox.path] = SandboxMesh(ingress=node.ingress)
        for path, mesh in wanted.items():
            if self._programmed.get(path, SandboxMesh()) != mesh:
                self.mesh.program_sandbox(path, mesh)
                self._programmed[path] = mesh
        for path in [p for p in self._programmed if p not in wanted]:  # the ingress sandbox given up
            if self._programmed.pop(path) != SandboxMesh():
                self.mesh.program_sandbox(path, SandboxMesh())

    # -- the embedded DNS's record source ---------------------------------------------------
    @property
    def records(self) -> RecordSource:
        """The same services as records.RecordSource (NetworkService.service_records)."""
        return _Records(self)

    def services_on(self, network: str) -> list[ServiceRecord]:
        with self._lock:
            found = []
            for svc in self.services.values():
                tasks = self._backends(svc.name, network)
                if network not in svc.vips and not tasks:
                    continue
                if svc.endpoint_mode == "vip" and network not in svc.vips:
                    continue
                found.append(ServiceRecord(svc.name, svc.endpoint_mode, svc.vips.get(network, ""), tasks,
                                           svc.aliases.get(network, ())))
            return found


@dataclass(frozen=True)
class _Records:
    controller: MeshController

    def services(self, network: str) -> Iterable[ServiceRecord]:
        return self.controller.services_on(network)
