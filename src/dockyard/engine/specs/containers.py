"""What `POST /containers/create` and `POST /containers/{id}/update` ask for (moby's
container.Config, container.HostConfig and container.Resources)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.specs import checks, wire
from dockyard.engine.specs.codec import from_json, to_json
from dockyard.engine.specs.networks import NetworkingConfig


@dataclass
class HealthConfig:
    test: list[str] | None = wire("Test")
    interval: int | None = wire("Interval", check=checks.non_negative)  # ns
    timeout: int | None = wire("Timeout", check=checks.non_negative)
    start_period: int | None = wire("StartPeriod", check=checks.non_negative)
    start_interval: int | None = wire("StartInterval", check=checks.non_negative)
    retries: int | None = wire("Retries", check=checks.non_negative, go="int")


@dataclass
class ContainerConfig:
    hostname: str | None = wire("Hostname")
    domainname: str | None = wire("Domainname")
    user: str | None = wire("User")
    attach_stdin: bool | None = wire("AttachStdin")
    attach_stdout: bool | None = wire("AttachStdout")
    attach_stderr: bool | None = wire("AttachStderr")
    exposed_ports: dict[str, dict] | None = wire("ExposedPorts", check=checks.port_keys)
    tty: bool | None = wire("Tty")
    open_stdin: bool | None = wire("OpenStdin")
    stdin_once: bool | None = wire("StdinOnce")
    env: list[str] | None = wire("Env")
    cmd: list[str] | None = wire("Cmd")
    healthcheck: HealthConfig | None = wire("Healthcheck")
    args_escaped: bool | None = wire("ArgsEscaped")
    image: str | None = wire("Image")
    volumes: dict[str, dict] | None = wire("Volumes")
    working_dir: str | None = wire("WorkingDir")
    entrypoint: list[str] | None = wire("Entrypoint")
    network_disabled: bool | None = wire("NetworkDisabled")
    mac_address: str | None = wire("MacAddress")
    on_build: list[str] | None = wire("OnBuild")
    labels: dict[str, str] | None = wire("Labels")
    stop_signal: str | None = wire("StopSignal")
    stop_timeout: int | None = wire("StopTimeout", go="int")
    shell: list[str] | None = wire("Shell")


@dataclass
class RestartPolicy:
    name: str | None = wire("Name")
    maximum_retry_count: int | None = wire("MaximumRetryCount", go="int")


@dataclass
class LogConfig:
    type: str | None = wire("Type")
    config: dict[str, str] | None = wire("Config")


@dataclass
class PortBinding:
    host_ip: str | None = wire("HostIp", check=checks.ip_address)
    host_port: str | None = wire("HostPort", check=checks.host_port)


@dataclass
class BindOptions:
    propagation: str | None = wire("Propagation")
    non_recursive: bool | None = wire("NonRecursive")
    create_mountpoint: bool | None = wire("CreateMountpoint")
    read_only_non_recursive: bool | None = wire("ReadOnlyNonRecursive")
    read_only_force_recursive: bool | None = wire("ReadOnlyForceRecursive")


@dataclass
class DriverConfig:
    name: str | None = wire("Name")
    options: dict[str, str] | None = wire("Options")


@dataclass
class VolumeOptions:
    no_copy: bool | None = wire("NoCopy")
    labels: dict[str, str] | None = wire("Labels")
    driver_config: DriverConfig | None = wire("DriverConfig")
    subpath: str | None = wire("Subpath")


@dataclass
class TmpfsOptions:
    size_bytes: int | None = wire("SizeBytes", check=checks.non_negative)
    mode: int | None = wire("Mode", go="uint32")
    options: list[list[str]] | None = wire("Options")


@dataclass
class Mount:
    type: str | None = wire("Type")
    source: str | None = wire("Source")
    target: str | None = wire("Target")
    read_only: bool | None = wire("ReadOnly")
    consistency: str | None = wire("Consistency")
    bind_options: BindOptions | None = wire("BindOptions")
    volume_options: VolumeOptions | None = wire("VolumeOptions")
    tmpfs_options: TmpfsOptions | None = wire("TmpfsOptions")


@dataclass
class WeightDevice:
    path: str | None = wire("Path")
    weight: int | None = wire("Weight", go="uint16")


@dataclass
class ThrottleDevice:
    path: str | None = wire("Path")
    rate: int | None = wire("Rate", go="uint64")


@dataclass
class DeviceMapping:
    path_on_host: str | None = wire("PathOnHost")
    path_in_container: str | None = wire("PathInContainer")
    cgroup_permissions: str | None = wire("CgroupPermissions")


@dataclass
class DeviceRequest:
    driver: str | None = wire("Driver")
    count: int | None = wire("Count", go="int")
    device_ids: list[str] | None = wire("DeviceIDs")
    capabilities: list[list[str]] | None = wire("Capabilities")
    options: dict[str, str] | None = wire("Options")


@dataclass
class Ulimit:
    name: str | None = wire("Name")
    soft: int | None = wire("Soft")
    hard: int | None = wire("Hard")


@dataclass
class Resources:
    cpu_shares: int | None = wire("CpuShares")
    memory: int | None = wire("Memory")
    nano_cpus: int | None = wire("NanoCpus")
    cgroup_parent: str | None = wire("CgroupParent")
    blkio_weight: int | None = wire("BlkioWeight", go="uint16")
    blkio_weight_device: list[WeightDevice] | None = wire("BlkioWeightDevice")
    blkio_device_read_bps: list[ThrottleDevice] | None = wire("BlkioDeviceReadBps")
    blkio_device_write_bps: list[ThrottleDevice] | None = wire("BlkioDeviceWriteBps")
    blkio_device_read_iops: list[ThrottleDevice] | None = wire("BlkioDeviceReadIOps")
    blkio_device_write_iops: list[ThrottleDevice] | None = wire("BlkioDeviceWriteIOps")
    cpu_period: int | None = wire("CpuPeriod")
    cpu_quota: int | None = wire("CpuQuota")
    cpu_realtime_period: int | None = wire("CpuRealtimePeriod")
    cpu_realtime_runtime: int | None = wire("CpuRealtimeRuntime")
    cpuset_cpus: str | None = wire("CpusetCpus")
    cpuset_mems: str | None = wire("CpusetMems")
    devices: list[DeviceMapping] | None = wire("Devices")
    device_cgroup_rules: list[str] | None = wire("DeviceCgroupRules")
    device_requests: list[DeviceRequest] | None = wire("DeviceRequests")
    kernel_memory: int | None = wire("KernelMemory")
    kernel_memory_tcp: int | None = wire("KernelMemoryTCP")
    memory_reservation: int | None = wire("MemoryReservation")
    memory_swap: int | None = wire("MemorySwap")
    memory_swappiness: int | None = wire("MemorySwappiness")
    oom_kill_disable: bool | None = wire("OomKillDisable")
    pids_limit: int | None = wire("PidsLimit")
    ulimits: list[Ulimit] | None = wire("Ulimits")
    cpu_count: int | None = wire("CpuCount")
    cpu_percent: int | None = wire("CpuPercent")
    io_maximum_iops: int | None = wire("IOMaximumIOps", go="uint64")
    io_maximum_bandwidth: int | None = wire("IOMaximumBandwidth", go="uint64")


@dataclass
class HostConfig(Resources):
    binds: list[str] | None = wire("Binds")
    container_id_file: str | None = wire("ContainerIDFile")
    log_config: LogConfig | None = wire("LogConfig")
    network_mode: str | None = wire("NetworkMode")
    port_bindings: dict[str, list[PortBinding] | None] | None = wire("PortBindings", check=checks.port_keys)
    restart_policy: RestartPolicy | None = wire("RestartPolicy")
    auto_remove: bool | None = wire("AutoRemove")
    volume_driver: str | None = wire("VolumeDriver")
    volumes_from: list[str] | None = wire("VolumesFrom")
    mounts: list[Mount] | None = wire("Mounts")
    console_size: list[int] | None = wire("ConsoleSize", go="uint", check=checks.console_size)
    annotations: dict[str, str] | None = wire("Annotations")
    cap_add: list[str] | None = wire("CapAdd")
    cap_drop: list[str] | None = wire("CapDrop")
    cgroupns_mode: str | None = wire("CgroupnsMode")
    dns: list[str] | None = wire("Dns")
    dns_options: list[str] | None = wire("DnsOptions")
    dns_search: list[str] | None = wire("DnsSearch")
    extra_hosts: list[str] | None = wire("ExtraHosts")
    group_add: list[str] | None = wire("GroupAdd")
    ipc_mode: str | None = wire("IpcMode")
    cgroup: str | None = wire("Cgroup")
    links: list[str] | None = wire("Links")
    oom_score_adj: int | None = wire("OomScoreAdj", go="int")
    pid_mode: str | None = wire("PidMode")
    privileged: bool | None = wire("Privileged")
    publish_all_ports: bool | None = wire("PublishAllPorts")
    readonly_rootfs: bool | None = wire("ReadonlyRootfs")
    security_opt: list[str] | None = wire("SecurityOpt")
    storage_opt: dict[str, str] | None = wire("StorageOpt")
    tmpfs: dict[str, str] | None = wire("Tmpfs")
    uts_mode: str | None = wire("UTSMode")
    userns_mode: str | None = wire("UsernsMode")
    shm_size: int | None = wire("ShmSize", check=checks.non_negative)
    sysctls: dict[str, str] | None = wire("Sysctls")
    runtime: str | None = wire("Runtime")
    isolation: str | None = wire("Isolation")
    masked_paths: list[str] | None = wire("MaskedPaths")
    readonly_paths: list[str] | None = wire("ReadonlyPaths")
    init: bool | None = wire("Init")


@dataclass
class ContainerCreate(ContainerConfig):
    """The body of `POST /containers/create`: the config with the host and network parts beside it."""

    host_config: HostConfig | None = wire("HostConfig")
    networking_config: NetworkingConfig | None = wire("NetworkingConfig")


@dataclass
class ContainerUpdate(Resources):
    """The body of `POST /containers/{id}/update`."""

    restart_policy: RestartPolicy | None = wire("RestartPolicy")


# What a container's Config and HostConfig show (inspect, the record on disk, commit): the keys that
# are set, and these ones also when they are not, as the engine has always reported them.
CONFIG_ALWAYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts",
                 "Tty", "OpenStdin", "StdinOnce", "Env", "Image", "Volumes", "WorkingDir", "Entrypoint", "Labels")
HOST_CONFIG_ALWAYS = ("Binds", "Links")


def config_json(config: ContainerConfig) -> dict:
    """Docker's JSON for a container's Config. Cmd is left out only where an entrypoint of the
    request stood alone (the image's CMD is not taken then)."""
    always = CONFIG_ALWAYS if config.cmd is None and config.entrypoint else (*CONFIG_ALWAYS, "Cmd")
    return to_json(config, always)


def host_config_json(host_config: HostConfig) -> dict:
    return to_json(host_config, HOST_CONFIG_ALWAYS)


def config_from_json(body: dict | None) -> ContainerConfig:
    """A Config the engine wrote (a record on disk) or an image carries: read without the request
    checks, so that a record always loads."""
    return from_json(ContainerConfig, body or {}, strict=False)


def host_config_from_json(body: dict | None) -> HostConfig:
    return from_json(HostConfig, body or {}, strict=False)


def is_empty(spec: object) -> bool:
    """No field set: what Docker's merge takes as "not given" (an empty Healthcheck object)."""
    return spec is None or not to_json(spec)
