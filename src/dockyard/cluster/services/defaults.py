"""swarmkit's defaults for a service (api/defaults/service.go): what `insertDefaults` shows, and
the values the orchestrators use where a spec leaves a field unset."""

from __future__ import annotations

import copy

from dockyard.cluster.objects import SECOND_NS
from dockyard.cluster.services.spec import (
    ContainerSpec,
    DNSConfig,
    Placement,
    Privileges,
    ResourceRequirements,
    RestartPolicy,
    ServiceSpec,
    TaskSpec,
    UpdateConfig,
)

STOP_GRACE_PERIOD = 10 * SECOND_NS
RESTART_DELAY = 5 * SECOND_NS
UPDATE_MONITOR = 5 * SECOND_NS


def update_config(given: UpdateConfig | None) -> UpdateConfig:
    config = copy.deepcopy(given) if given is not None else UpdateConfig(
        parallelism=1, failure_action="pause", max_failure_ratio=0.0, order="stop-first")
    if config.monitor is None:
        config.monitor = UPDATE_MONITOR
    return config


def restart_policy(given: RestartPolicy | None) -> RestartPolicy:
    policy = copy.deepcopy(given) if given is not None else RestartPolicy(condition="any", max_attempts=0)
    if not policy.condition:
        policy.condition = "any"
    if policy.delay is None:
        policy.delay = RESTART_DELAY
    return policy


def task_with_defaults(task: TaskSpec) -> TaskSpec:
    """A task spec with swarmkit's defaults in, and Go's zero values where JSON may leave a field
    out: two specs that differ only there run the same tasks."""
    spec = with_defaults(ServiceSpec(task_template=task))
    filled = spec.task()
    filled.force_update = filled.force_update or 0
    if filled.container_spec is not None:
        filled.runtime = filled.runtime or "container"
        privileges = filled.container_spec.privileges
        # Go's zero values: `Privileges: {}` and `{"NoNewPrivileges": false}` (what docker/cli's
        # stack deploy sends) ask for nothing more than no Privileges at all.
        if privileges is not None and privileges in (Privileges(), Privileges(no_new_privileges=False)):
            filled.container_spec.privileges = None
    return filled


def with_defaults(spec: ServiceSpec) -> ServiceSpec:
    """The spec with every unset field swarmkit fills in (InterpolateService)."""
    spec = copy.deepcopy(spec)
    task = spec.task_template = spec.task_template or TaskSpec()
    container = task.container_spec
    if container is not None:
        if container.stop_grace_period is None:
            container.stop_grace_period = STOP_GRACE_PERIOD
        if container.dns_config is None:
            container.dns_config = DNSConfig()
    if task.resources is None:
        task.resources = ResourceRequirements()
    given = task.restart_policy
    task.restart_policy = restart_policy(given) if given is None else given
    if given is not None and given.delay is None:
        given.delay = RESTART_DELAY
    if task.placement is None:
        task.placement = Placement()
    if not spec.service_mode().is_job():
        spec.update_config = update_config(spec.update_config)
        spec.rollback_config = update_config(spec.rollback_config)
    return spec


def stop_grace_period(container: ContainerSpec) -> int:
    return STOP_GRACE_PERIOD if container.stop_grace_period is None else container.stop_grace_period
