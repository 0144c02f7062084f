"""A service's desired state, typed: Docker's ServiceSpec (api/types/swarm) field for field.

Each field names its key in Docker's JSON (``wire``), so the API edge decodes a request body with
the engine's codec (Go's rules and Go's error words) and writes answers with it; the cluster store
keeps the same dataclasses with its own codec (cluster/codec.py). Unset is None everywhere, as a
Go pointer or an omitted key: `GET /services/{id}?insertDefaults=true` fills the defaults in
(defaults.py), and the orchestrators read the effective values through the helpers there.
Durations are nanoseconds, as Docker's JSON carries them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.specs import Check, checks, wire
from dockyard.engine.specs.containers import HealthConfig, Mount, Ulimit


def _one_of(*allowed: str) -> Check:
    """Docker's enumerations; an empty string is Go's zero value and means the default."""
    check = checks.one_of(*allowed)
    return lambda value: None if value == "" else check(value)


# -- the container a task runs


@dataclass
class DNSConfig:
    nameservers: list[str] | None = wire("Nameservers")
    search: list[str] | None = wire("Search")
    options: list[str] | None = wire("Options")


@dataclass
class FileTarget:
    """Where a secret or config appears in the task's container, owned by UID:GID with Mode."""

    name: str | None = wire("Name")
    uid: str | None = wire("UID")
    gid: str | None = wire("GID")
    mode: int | None = wire("Mode", go="uint32")


@dataclass
class SecretReference:
    file: FileTarget | None = wire("File")
    secret_id: str | None = wire("SecretID")
    secret_name: str | None = wire("SecretName")


@dataclass
class ConfigReference:
    file: FileTarget | None = wire("File")
    runtime: dict | None = wire("Runtime")
    config_id: str | None = wire("ConfigID")
    config_name: str | None = wire("ConfigName")


@dataclass
class CredentialSpec:
    config: str | None = wire("Config")
    file: str | None = wire("File")
    registry: str | None = wire("Registry")


@dataclass
class SELinuxContext:
    disable: bool | None = wire("Disable")
    user: str | None = wire("User")
    role: str | None = wire("Role")
    type: str | None = wire("Type")
    level: str | None = wire("Level")


@dataclass
class SeccompOpts:
    mode: str | None = wire("Mode", check=_one_of("default", "unconfined", "custom"))
    profile: str | None = wire("Profile")  # Go's []byte: base64 in the JSON, kept as given


@dataclass
class AppArmorOpts:
    mode: str | None = wire("Mode", check=_one_of("default", "disabled"))


@dataclass
class Privileges:
    credential_spec: CredentialSpec | None = wire("CredentialSpec")
    se_linux_context: SELinuxContext | None = wire("SELinuxContext")
    seccomp: SeccompOpts | None = wire("Seccomp")
    app_armor: AppArmorOpts | None = wire("AppArmor")
    no_new_privileges: bool | None = wire("NoNewPrivileges")


@dataclass
class ContainerSpec:
    image: str | None = wire("Image")
    labels: dict[str, str] | None = wire("Labels")
    command: list[str] | None = wire("Command")
    args: list[str] | None = wire("Args")
    hostname: str | None = wire("Hostname")
    env: list[str] | None = wire("Env")
    dir: str | None = wire("Dir")
    user: str | None = wire("User")
    groups: list[str] | None = wire("Groups")
    privileges: Privileges | None = wire("Privileges")
    init: bool | None = wire("Init")
    stop_signal: str | None = wire("StopSignal")
    tty: bool | None = wire("TTY")
    open_stdin: bool | None = wire("OpenStdin")
    read_only: bool | None = wire("ReadOnly")
    mounts: list[Mount] | None = wire("Mounts")
    stop_grace_period: int | None = wire("StopGracePeriod", check=checks.non_negative)
    healthcheck: HealthConfig | None = wire("Healthcheck")
    hosts: list[str] | None = wire("Hosts")
    dns_config: DNSConfig | None = wire("DNSConfig")
    secrets: list[SecretReference] | None = wire("Secrets")
    configs: list[ConfigReference] | None = wire("Configs")
    isolation: str | None = wire("Isolation")
    sysctls: dict[str, str] | None = wire("Sysctls")
    capability_add: list[str] | None = wire("CapabilityAdd")
    capability_drop: list[str] | None = wire("CapabilityDrop")
    ulimits: list[Ulimit] | None = wire("Ulimits")
    oom_score_adj: int | None = wire("OomScoreAdj")


# -- resources, restarts, placement


@dataclass
class Limit:
    nano_cpus: int | None = wire("NanoCPUs")
    memory_bytes: int | None = wire("MemoryBytes")
    pids: int | None = wire("Pids")


@dataclass
class NamedGenericResource:
    kind: str | None = wire("Kind")
    value: str | None = wire("Value")


@dataclass
class DiscreteGenericResource:
    kind: str | None = wire("Kind")
    value: int | None = wire("Value")


@dataclass
class GenericResource:
    named_resource_spec: NamedGenericResource | None = wire("NamedResourceSpec")
    discrete_resource_spec: DiscreteGenericResource | None = wire("DiscreteResourceSpec")


@dataclass
class Reservation:
    nano_cpus: int | None = wire("NanoCPUs")
    memory_bytes: int | None = wire("MemoryBytes")
    generic_resources: list[GenericResource] | None = wire("GenericResources")


@dataclass
class ResourceRequirements:
    limits: Limit | None = wire("Limits")
    reservations: Reservation | None = wire("Reservations")
    swap_bytes: int | None = wire("SwapBytes")
    memory_swappiness: int | None = wire("MemorySwappiness")


@dataclass
class RestartPolicy:
    condition: str | None = wire("Condition", check=_one_of("none", "on-failure", "any"))
    delay: int | None = wire("Delay")
    max_attempts: int | None = wire("MaxAttempts", go="uint64")
    window: int | None = wire("Window")


@dataclass
class SpreadOver:
    spread_descriptor: str | None = wire("SpreadDescriptor")


@dataclass
class PlacementPreference:
    spread: SpreadOver | None = wire("Spread")


@dataclass
class PlatformSpec:
    architecture: str | None = wire("Architecture")
    os: str | None = wire("OS")


@dataclass
class Placement:
    constraints: list[str] | None = wire("Constraints")
    preferences: list[PlacementPreference] | None = wire("Preferences")
    max_replicas: int | None = wire("MaxReplicas", go="uint64")
    platforms: list[PlatformSpec] | None = wire("Platforms")


@dataclass
class NetworkAttachmentConfig:
    target: str | None = wire("Target")
    aliases: list[str] | None = wire("Aliases")
    driver_opts: dict[str, str] | None = wire("DriverOpts")


@dataclass
class Driver:
    name: str | None = wire("Name")
    options: dict[str, str] | None = wire("Options")


@dataclass
class TaskSpec:
    container_spec: ContainerSpec | None = wire("ContainerSpec")
    plugin_spec: dict | None = wire("PluginSpec")
    network_attachment_spec: dict | None = wire("NetworkAttachmentSpec")
    resources: ResourceRequirements | None = wire("Resources")
    restart_policy: RestartPolicy | None = wire("RestartPolicy")
    placement: Placement | None = wire("Placement")
    networks: list[NetworkAttachmentConfig] | None = wire("Networks")
    log_driver: Driver | None = wire("LogDriver")
    force_update: int | None = wire("ForceUpdate", go="uint64")
    runtime: str | None = wire("Runtime")


# -- the service's mode, updates and endpoint


@dataclass
class ReplicatedService:
    replicas: int | None = wire("Replicas", go="uint64")


@dataclass
class ReplicatedJob:
    max_concurrent: int | None = wire("MaxConcurrent", go="uint64")
    total_completions: int | None = wire("TotalCompletions", go="uint64")


@dataclass
class ServiceMode:
    replicated: ReplicatedService | None = wire("Replicated")
    global_: dict | None = wire("Global")
    replicated_job: ReplicatedJob | None = wire("ReplicatedJob")
    global_job: dict | None = wire("GlobalJob")

    def kind(self) -> str:
        """Docker's name of the mode: replicated (also when none is given), global, replicated-job, global-job."""
        if self.global_ is not None:
            return "global"
        if self.replicated_job is not None:
            return "replicated-job"
        if self.global_job is not None:
            return "global-job"
        return "replicated"

    def is_job(self) -> bool:
        return self.kind().endswith("-job")


@dataclass
class UpdateConfig:
    parallelism: int | None = wire("Parallelism", go="uint64")
    delay: int | None = wire("Delay")
    failure_action: str | None = wire("FailureAction", check=_one_of("pause", "continue", "rollback"))
    monitor: int | None = wire("Monitor")
    max_failure_ratio: float | None = wire("MaxFailureRatio")
    order: str | None = wire("Order", check=_one_of("stop-first", "start-first"))


@dataclass
class PortConfig:
    name: str | None = wire("Name")
    protocol: str | None = wire("Protocol", check=_one_of("tcp", "udp", "sctp"))
    target_port: int | None = wire("TargetPort", go="uint32")
    published_port: int | None = wire("PublishedPort", go="uint32")
    publish_mode: str | None = wire("PublishMode", check=_one_of("ingress", "host"))


@dataclass
class EndpointSpec:
    mode: str | None = wire("Mode", check=_one_of("vip", "dnsrr"))
    ports: list[PortConfig] | None = wire("Ports")


@dataclass
class ServiceSpec:
    name: str | None = wire("Name")
    labels: dict[str, str] | None = wire("Labels")
    task_template: TaskSpec | None = wire("TaskTemplate")
    mode: ServiceMode | None = wire("Mode")
    update_config: UpdateConfig | None = wire("UpdateConfig")
    rollback_config: UpdateConfig | None = wire("RollbackConfig")
    networks: list[NetworkAttachmentConfig] | None = wire("Networks")  # deprecated: TaskTemplate.Networks
    endpoint_spec: EndpointSpec | None = wire("EndpointSpec")

    # -- what the orchestrators read (never None)

    def task(self) -> TaskSpec:
        return self.task_template or TaskSpec()

    def container(self) -> ContainerSpec:
        return self.task().container_spec or ContainerSpec()

    def service_mode(self) -> ServiceMode:
        return self.mode or ServiceMode(replicated=ReplicatedService(1))

    def replicas(self) -> int:
        replicated = self.service_mode().replicated
        return 1 if replicated is None or replicated.replicas is None else replicated.replicas
