"""A task's container, as moby's daemon/cluster/executor/container/container.go makes it: the
create request from the task's ContainerSpec, its name `<service>.<slot>.<task id>` and Docker's
`com.docker.swarm.*` labels. No restart policy: the orchestrator replaces a task that ends, and a
local policy would fight it."""

from __future__ import annotations

import copy

from dockyard.cluster.services.defaults import stop_grace_period
from dockyard.cluster.services.task import Task
from dockyard.engine.specs.containers import ContainerCreate, HostConfig, LogConfig, PortBinding
from dockyard.engine.specs.networks import EndpointSettings, NetworkingConfig

LABEL_PREFIX = "com.docker.swarm"
TASK_ID_LABEL = f"{LABEL_PREFIX}.task.id"
NODE_ID_LABEL = f"{LABEL_PREFIX}.node.id"
SERVICE_ID_LABEL = f"{LABEL_PREFIX}.service.id"


def labels(task: Task) -> dict[str, str]:
    out = dict(task.spec.container_spec.labels or {}) if task.spec.container_spec else {}
    out.update(task.labels)
    out.update({
        f"{LABEL_PREFIX}.task": "", TASK_ID_LABEL: task.id, f"{LABEL_PREFIX}.task.name": task.container_name(),
        NODE_ID_LABEL: task.node_id, SERVICE_ID_LABEL: task.service_id,
        f"{LABEL_PREFIX}.service.name": task.service_name,
    })
    return out


def _image(raw: str) -> str:
    """The image as the engine looks it up: a pinned digest alone is enough (`name:tag@digest`
    resolves by digest), a bare name gets :latest (TagNameOnly)."""
    from dockyard.images import reference

    try:
        ref = reference.parse(raw)
    except Exception:  # noqa: BLE001 - the engine's create names the bad reference
        return raw
    return ref.familiar()


def create_request(task: Task) -> ContainerCreate:
    spec = task.spec.container_spec
    assert spec is not None
    request = ContainerCreate(
        labels=labels(task), stop_signal=spec.stop_signal, tty=spec.tty, open_stdin=spec.open_stdin,
        user=spec.user, env=list(spec.env or []), hostname=spec.hostname, working_dir=spec.dir,
        image=_image(spec.image or ""), healthcheck=copy.deepcopy(spec.healthcheck),
        stop_timeout=stop_grace_period(spec) // 1_000_000_000,
    )
    if spec.command:
        request.entrypoint, request.cmd = list(spec.command), list(spec.args or [])
    elif spec.args:
        request.cmd = list(spec.args)
    host = HostConfig(
        group_add=spec.groups, mounts=copy.deepcopy(spec.mounts), readonly_rootfs=spec.read_only,
        init=spec.init, sysctls=spec.sysctls, cap_add=spec.capability_add, cap_drop=spec.capability_drop,
        oom_score_adj=spec.oom_score_adj, ulimits=copy.deepcopy(spec.ulimits),
    )
    if spec.isolation and spec.isolation != "default":
        host.isolation = spec.isolation
    if spec.dns_config is not None:
        host.dns, host.dns_search, host.dns_options = (spec.dns_config.nameservers, spec.dns_config.search,
                                                       spec.dns_config.options)
    extra = [f"{parts[1]}:{parts[0]}" for parts in (entry.split() for entry in spec.hosts or []) if len(parts) > 1]
    host.extra_hosts = extra or None
    if task.spec.log_driver is not None and task.spec.log_driver.name:
        host.log_config = LogConfig(task.spec.log_driver.name, task.spec.log_driver.options)
    limits = task.spec.resources.limits if task.spec.resources else None
    if limits is not None:
        host.memory = limits.memory_bytes or None
        host.nano_cpus = limits.nano_cpus or None
        host.pids_limit = limits.pids or None
    ports = [p for p in task.endpoint_ports if p.publish_mode == "host" and p.target_port]
    if ports:
        request.exposed_ports = {f"{p.target_port}/{p.protocol or 'tcp'}": {} for p in ports}
        host.port_bindings = {f"{p.target_port}/{p.protocol or 'tcp'}": [
            PortBinding(host_port=str(p.published_port) if p.published_port else "")] for p in ports}
    networks = task.spec.networks or []
    if networks:
        # The task's first network is its network mode; the controller connects the others
        # after the create (the engine's create takes one network, as Docker's does).
        first = networks[0]
        host.network_mode = first.target
        request.networking_config = NetworkingConfig({first.target or "": EndpointSettings(
            aliases=list(first.aliases or []) or None, driver_opts=first.driver_opts)})
    request.host_config = host
    return request
