"""The services' control API, as swarmkit's manager/controlapi and moby's daemon/cluster have it:
create, read, update (with the version read, and rollback to the previous spec), remove, and the
tasks' reads. Validation first, then one store transaction: bad input changes nothing.

Errors keep Docker's words: moby resolves references itself ("service x not found"), while the
rules inside swarmkit answer as gRPC errors do through the daemon
("rpc error: code = InvalidArgument desc = ...").
"""

from __future__ import annotations

import copy
import datetime
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.cluster import codec, references
from dockyard.cluster.rpc import AlreadyExists, FailedPrecondition, InvalidArgument, SequenceConflict, Unimplemented
from dockyard.cluster.secrets import CONFIG, SECRET
from dockyard.cluster.services import defaults
from dockyard.cluster.services.records import Guard, Records
from dockyard.cluster.services.service import Service, UpdateStatus
from dockyard.cluster.services.spec import ServiceSpec, TaskSpec
from dockyard.cluster.services.task import Task, TaskState
from dockyard.cluster.store.api import Compare, Delete, Put
from dockyard.errors import DockyardError, InvalidParameter, NotFound, Unavailable

_DNS_NAME = re.compile(r"^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$")
SERVICE_FILTERS = {"name", "id", "label", "mode", "runtime"}
RETRIES = 3  # writes refused because a referenced secret or config changed in between
TASK_FILTERS = {"name", "id", "label", "service", "node", "desired-state", "_up-to-date", "runtime"}


def _invalid(desc: str) -> DockyardError:
    return InvalidArgument(desc)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_id() -> str:
    from dockyard.cluster.swarm import new_id as swarm_id

    return swarm_id()


@dataclass(frozen=True)
class ServiceCounts:
    """ServiceStatus of `GET /services?status=true`."""

    running: int
    desired: int
    completed: int


def validate(spec: ServiceSpec) -> None:
    """swarmkit's validateServiceSpec, in its order and words."""
    name = spec.name or ""
    if not name:
        raise _invalid("meta: name must be provided")
    if not _DNS_NAME.match(name):
        raise _invalid("name must be valid as a DNS name component")
    if len(name) > 63:
        raise _invalid("name must be 63 characters or fewer")
    task = spec.task()
    if task.container_spec is None:
        if task.plugin_spec is not None or task.network_attachment_spec is not None:
            raise Unimplemented("RuntimeSpec: unimplemented runtime in service spec")
        raise _invalid("TaskSpec: missing runtime")
    _validate_resources(task)
    policy = task.restart_policy
    if policy is not None:
        if (policy.delay or 0) < 0:
            raise _invalid("TaskSpec: restart-delay cannot be negative")
        if (policy.window or 0) < 0:
            raise _invalid("TaskSpec: restart-window cannot be negative")
    container = task.container_spec
    image = container.image or ""
    if not image:
        raise _invalid("ContainerSpec: image reference must be provided")
    from dockyard.images import reference

    try:
        reference.parse(image)
    except InvalidParameter:
        raise _invalid(f"ContainerSpec: {image!r} is not a valid repository/tag".replace("'", '"')) from None
    targets = [m.target for m in container.mounts or []]
    for target in targets:
        if targets.count(target) > 1:
            raise _invalid(f"ContainerSpec: duplicate mount point: {target}")
    references.validate(container)  # its secrets and configs
    mode = spec.service_mode()
    if mode.is_job():
        if spec.update_config is not None:
            raise _invalid("Jobs may not have an update config")
    else:
        update = spec.update_config
        if update is not None:
            if (update.delay or 0) < 0:
                raise _invalid("TaskSpec: update-delay cannot be negative")
            if (update.monitor or 0) < 0:
                raise _invalid("TaskSpec: update-monitor cannot be negative")
            if not 0 <= (update.max_failure_ratio or 0) <= 1:
                raise _invalid("TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1")
    endpoint = spec.endpoint_spec
    if endpoint is not None:
        published = [(p.published_port, p.protocol or "tcp") for p in endpoint.ports or [] if p.published_port]
        if endpoint.mode == "dnsrr" and any((p.publish_mode or "ingress") == "ingress" and p.published_port
                                            for p in endpoint.ports or []):
            raise _invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode")
        if len(set(published)) != len(published):
            raise _invalid("EndpointSpec: duplicate published ports provided")


def _validate_resources(task: TaskSpec) -> None:
    resources = task.resources
    if resources is None:
        return
    for part in (resources.limits, resources.reservations):
        if part is None:
            continue
        cpus, memory = part.nano_cpus or 0, part.memory_bytes or 0
        if cpus and cpus < 1_000_000:
            raise _invalid(f"invalid cpu value {cpus / 1e9:g}: Must be at least 0.001")
        if memory and memory < 4 * 1024 * 1024:
            raise _invalid(f"invalid memory value {memory}: Must be at least 4MiB")


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for want in wanted:
        key, has_value, value = want.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True


def _check_references(records: Records, spec: ServiceSpec) -> Guard:
    """swarmkit's checkSecretExistence and checkConfigExistence: every reference names an object
    that exists under that ID and that name. Returns what the service's write must compare (each
    object as read: still there) and touch (each object's users key, which a removal compares), so
    that the check, the write and a removal of the object are serialized by the store."""
    container = spec.container()
    compares: list[Compare] = []
    touches: list[Put | Delete] = []
    seen: set[str] = set()
    for kind, refs in ((SECRET, [(r.secret_id, r.secret_name) for r in container.secrets or []]),
                       (CONFIG, [(r.config_id, r.config_name) for r in container.configs or []])):
        failed = []
        for object_id, name in refs:
            kv = records.store.get(kind.prefix + (object_id or "")) if object_id else None
            if kv is None or codec.decode(kind.object_type, kv.value).spec.name != name:
                failed.append(name or "")
            elif kv.key not in seen:  # one object named twice (two targets): a key once per txn, as etcd wants
                seen.add(kv.key)
                compares.append(Compare(kv.key, kv.mod_revision))
                touches.append(Put(kind.users_key(object_id or ""), b""))
        if failed:
            word = kind.word if len(failed) == 1 else kind.word + "s"
            raise InvalidArgument(f"{word} not found: {', '.join(failed)}")
    return compares, touches


class ServiceControl:
    def __init__(self, records: Callable[[], Records], node_ids: Callable[[str], str],
                 network_ids: Callable[[str], str] | None = None) -> None:
        self._records = records  # the store comes and goes with the swarm
        self._node_id = node_ids  # a node reference (ID, name, prefix) -> its ID; NotFound otherwise
        self._network_id = network_ids  # a swarm network's name or ID -> its ID; NotFound otherwise

    def _resolve_networks(self, spec: ServiceSpec) -> None:
        """moby's populateNetworkID: the spec names networks by name or ID, the service keeps IDs."""
        if self._network_id is None:
            return
        for attachment in [*(spec.task().networks or []), *(spec.networks or [])]:
            attachment.target = self._network_id(attachment.target or "")

    # -- services

    def create(self, spec: ServiceSpec) -> Service:
        if not spec.name:
            from dockyard.util.names import generate_name

            spec.name = generate_name()  # moby's daemon names an unnamed service, as a container
        self._resolve_networks(spec)
        validate(spec)
        stamp = now()
        service = Service(new_id(), stamp, stamp, spec, spec_version=1)
        if spec.service_mode().is_job():
            service.job_iteration, service.last_execution = 0, stamp
        records = self._records()
        for _ in range(RETRIES):
            if records.create_service(service, _check_references(records, spec)):
                return service
            if records.service_id_by_name(service.name()) is not None:
                raise AlreadyExists("name conflicts with an existing object")
            # else a secret or config it names changed in between: check them again
        raise Unavailable(f"the secrets and configs of service {spec.name} kept changing while it was created; "
                          "try again")

    def service(self, ref: str) -> Service:
        """By full ID, then full name, then unique ID prefix (moby's getService)."""
        records = self._records()
        found = records.service(ref)
        if found is not None:
            return found
        by_name = records.service_id_by_name(ref)
        if by_name is not None and (found := records.service(by_name)) is not None:
            return found
        matches = [s for s in records.services() if ref and s.id.startswith(ref)]
        if not matches:
            raise NotFound(f"service {ref} not found")
        if len(matches) > 1:
            raise InvalidParameter(f"service {ref} is ambiguous ({len(matches)} matches found)")
        return matches[0]

    def services(self, filters: dict[str, list[str]]) -> list[Service]:
        found = []
        for service in self._records().services():
            names, ids, modes = filters.get("name", []), filters.get("id", []), filters.get("mode", [])
            if names and not any(service.name().startswith(n) for n in names):
                continue
            if ids and not any(service.id.startswith(i) for i in ids):
                continue
            if modes and service.spec.service_mode().kind() not in modes:
                continue
            if not _labels_match(service.spec.labels or {}, filters.get("label", [])):
                continue
            runtimes = filters.get("runtime", [])
            if runtimes and "container" not in runtimes and "" not in runtimes:
                continue
            found.append(service)
        return sorted(found, key=lambda s: s.id)

    def counts(self, services: list[Service], node_count: int) -> dict[str, ServiceCounts]:
        """Running, desired and completed tasks per service (swarmkit's ListServiceStatuses)."""
        tasks = self._records().tasks()
        out = {}
        for service in services:
            mine = [t for t in tasks if t.service_id == service.id]
            running = sum(1 for t in mine if t.status.state == TaskState.RUNNING
                          and t.desired_state == TaskState.RUNNING)
            completed = sum(1 for t in mine if t.status.state == TaskState.COMPLETE
                            and (service.job_iteration is None or t.job_iteration == service.job_iteration))
            mode = service.spec.service_mode()
            kind = mode.kind()
            if kind == "replicated":
                desired = service.spec.replicas()
            elif kind == "replicated-job":
                job = mode.replicated_job
                total = job.total_completions if job and job.total_completions is not None else None
                concurrent = job.max_concurrent if job and job.max_concurrent is not None else 1
                total = concurrent if total is None else total
                desired = max(min(concurrent, total - completed), 0)
            else:
                desired = sum(1 for t in mine if t.desired_state == TaskState.RUNNING
                              or (kind == "global-job" and t.desired_state == TaskState.COMPLETE))
                if kind == "global":
                    desired = len({t.node_id for t in mine if t.desired_state == TaskState.RUNNING})
            out[service.id] = ServiceCounts(running, desired, completed)
        return out

    def update(self, ref: str, version: int, spec: ServiceSpec | None, rollback: bool) -> Service:
        service = self.service(ref)
        records = self._records()
        if rollback:
            if service.previous_spec is None:
                raise FailedPrecondition(f"service {service.id} does not have a previous spec")
            current, current_version = service.spec, service.spec_version
            service.spec, service.spec_version = service.previous_spec, service.previous_spec_version
            service.previous_spec, service.previous_spec_version = current, current_version
            service.update_status = UpdateStatus("rollback_started", now(), None, "manually requested rollback")
        else:
            assert spec is not None
            self._resolve_networks(spec)
            validate(spec)
            if spec.service_mode().kind() != service.spec.service_mode().kind():
                raise Unimplemented("service mode change is not allowed")
            if spec.name != service.spec.name:
                raise Unimplemented("renaming services is not supported")
            service.previous_spec, service.previous_spec_version = service.spec, service.spec_version
            service.spec, service.spec_version = spec, service.spec_version + 1
            service.update_status = None
        if service.job_iteration is not None:
            service.job_iteration += 1
            service.last_execution = now()
        service.updated_at = now()
        if version != service.version.index:
            raise SequenceConflict()
        for _ in range(RETRIES):
            guard = _check_references(records, service.spec) if not rollback else ((), ())
            if records.update_service(service, guard):
                return service
            stored = records.service(service.id)
            if stored is None or stored.version.index != version:
                raise SequenceConflict()
            # else a secret or config it names changed in between: check them again
        raise Unavailable(f"the secrets and configs of service {service.name()} kept changing while it was updated; "
                          "try again")

    def remove(self, ref: str) -> None:
        service = self.service(ref)
        if not self._records().delete_service(service):
            raise NotFound(f"service {ref} not found")

    # -- tasks

    def task(self, ref: str) -> Task:
        records = self._records()
        found = records.task(ref)
        if found is not None:
            return found
        tasks = records.tasks()
        for pick in ([t for t in tasks if t.name() == ref], [t for t in tasks if ref and t.id.startswith(ref)]):
            if len(pick) == 1:
                return pick[0]
            if len(pick) > 1:
                raise InvalidParameter(f"task {ref} is ambiguous ({len(pick)} matches found)")
        raise NotFound(f"task {ref} not found")

    def tasks(self, filters: dict[str, list[str]]) -> list[Task]:
        filters = copy.deepcopy(filters)
        filters["service"] = [self.service(s).id for s in filters.get("service", [])]
        filters["node"] = [self._node_id(n) for n in filters.get("node", [])]
        desired: list[TaskState] = []
        for state in filters.get("desired-state", []):
            try:
                desired.append(TaskState.parse(state))
            except KeyError:
                raise InvalidParameter(f"Invalid desired-state filter: '{state}'") from None
        records = self._records()
        services = {s.id: s for s in records.services()}
        found = []
        for task in records.tasks():
            if filters["service"] and task.service_id not in filters["service"]:
                continue
            if filters["node"] and task.node_id not in filters["node"]:
                continue
            if desired and task.desired_state not in desired:
                continue
            names, ids = filters.get("name", []), filters.get("id", [])
            if names and not any(task.name().startswith(n) for n in names):
                continue
            if ids and not any(task.id.startswith(i) for i in ids):
                continue
            # swarmkit matches the service's labels as the task was made (`stack ps` finds a stack's tasks so)
            if not _labels_match(task.service_labels, filters.get("label", [])):
                continue
            if filters.get("_up-to-date"):
                service = services.get(task.service_id)
                if service is None or not up_to_date(task, service):
                    continue
            found.append(task)
        return sorted(found, key=lambda t: t.id)


def up_to_date(task: Task, service: Service, current: SpecKey | None = None) -> bool:
    """The task runs the service's current spec (swarmkit's IsTaskDirty, negated): the same
    version, or a spec that differs only in defaults (a `service update --replicas` sends the
    spec back with them filled in, and must not restart the tasks). `current`: the service's
    spec_key, for a caller asking of many tasks."""
    if task.spec_version == service.spec_version:
        return True
    return _task_key(task) == (current or spec_key(service))


SpecKey = tuple[bytes, bytes]


def spec_key(service: Service) -> SpecKey:
    """What a task must match to be up to date: the endpoint's ports and the task spec with its
    defaults in, encoded."""
    endpoint = service.spec.endpoint_spec
    return codec.encode(endpoint.ports or [] if endpoint else []), _normalized(codec.encode(service.spec.task()))


_TASK_KEYS: dict[str, SpecKey] = {}


def _task_key(task: Task) -> SpecKey:
    """A task's spec and ports never change: their key is made once per task (the managers' loops
    ask of every task in every pass while an update runs)."""
    key = _TASK_KEYS.get(task.id)
    if key is None:
        if len(_TASK_KEYS) > 4096:
            _TASK_KEYS.clear()
        key = _TASK_KEYS[task.id] = (codec.encode(task.endpoint_ports), _normalized(codec.encode(task.spec)))
    return key


@functools.lru_cache(maxsize=256)
def _normalized(encoded: bytes) -> bytes:
    """A task spec's store encoding with the defaults in: the loops compare the same few specs
    (a service's current and earlier ones) for every task of every pass."""
    return codec.encode(defaults.task_with_defaults(codec.decode(TaskSpec, encoded)))


def control_for(swarm) -> ServiceControl:
    """The control API on a SwarmService's store, nodes and swarm-scoped networks."""
    from dockyard.cluster.swarmnetworks import SwarmNetworks

    networks = SwarmNetworks(swarm)

    def network_id(ref: str) -> str:
        found = networks.list()
        for pick in ([n for n in found if n.id == ref], [n for n in found if n.name == ref],
                     [n for n in found if ref and n.id.startswith(ref)]):
            if len(pick) == 1:
                return pick[0].id
            if len(pick) > 1:
                raise InvalidParameter(f"network {ref} is ambiguous ({len(pick)} matches found)")
        raise NotFound(f"network {ref} not found")

    return ServiceControl(lambda: Records(swarm.store()), lambda ref: swarm.node(ref).id, network_id)
