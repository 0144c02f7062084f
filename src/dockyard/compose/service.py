"""A service as the engine sees it: the labels that hold compose's state, the config hash that says
whether a container is up to date, and the create body of one of its containers."""

from __future__ import annotations

import hashlib
import json
import shlex

from dockyard import __version__
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project, Service

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
LABEL_WORKING_DIR = "com.docker.compose.project.working_dir"
LABEL_CONFIG_FILES = "com.docker.compose.project.config_files"
LABEL_ENV_FILE = "com.docker.compose.project.environment_file"
LABEL_DEPENDS_ON = "com.docker.compose.depends_on"
LABEL_VERSION = "com.docker.compose.version"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"
LABEL_REPLACE = "com.docker.compose.replace"
VERSION = __version__

# Keys that change no container: how many there are, how the image is made or fetched, who depends.
_UNHASHED = ("build", "pull_policy", "scale", "depends_on", "profiles", "develop", "extends")


def config_hash(service: Service) -> str:
    """A stable digest of what the containers of the service are made from (key order does not matter)."""
    config = {k: v for k, v in service.config.items() if k not in _UNHASHED}
    deploy = dict(config.get("deploy") or {})
    deploy.pop("replicas", None)
    if deploy:
        config["deploy"] = deploy
    else:
        config.pop("deploy", None)
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def project_labels(project: Project) -> dict[str, str]:
    return {LABEL_PROJECT: project.name, LABEL_VERSION: VERSION}


def container_name(project: Project, service: Service, number: int, oneoff: str = "") -> str:
    if service.container_name and not oneoff:
        return service.container_name
    if oneoff:
        return f"{project.name}-{service.name}-run-{oneoff}"
    return f"{project.name}-{service.name}-{number}"


def container_labels(project: Project, service: Service, number: int, *, oneoff: bool = False,
                     image_id: str = "") -> dict[str, str]:
    labels = {str(k): str(v if v is not None else "") for k, v in (service.config.get("labels") or {}).items()}
    depends = ",".join(f"{n}:{d.condition}:{str(d.restart).lower()}" for n, d in service.depends_on.items())
    labels.update({
        LABEL_PROJECT: project.name, LABEL_SERVICE: service.name, LABEL_NUMBER: str(number),
        LABEL_ONEOFF: "True" if oneoff else "False", LABEL_CONFIG_HASH: config_hash(service),
        LABEL_WORKING_DIR: project.working_dir, LABEL_CONFIG_FILES: ",".join(project.config_files),
        LABEL_DEPENDS_ON: depends, LABEL_VERSION: VERSION,
    })
    if image_id:
        labels[LABEL_IMAGE] = image_id
    return labels


def _command(value, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ComposeError(f"{where}: {exc}") from None
    return [str(v) for v in value]


def _nanoseconds(value, where: str) -> int:
    from dockyard.compose.model import _duration

    seconds = _duration(value, where)
    return int(seconds * 1e9) if seconds else 0


def _bytes(value, where: str) -> int:
    if isinstance(value, int):
        return value
    from dockyard.util.units import parse_bytes

    try:
        return parse_bytes(str(value))
    except ValueError:
        raise ComposeError(f"{where}: invalid size {value!r}") from None


def healthcheck_body(spec: dict | None, where: str) -> dict | None:
    if not spec:
        return None
    if spec.get("disable"):
        return {"Test": ["NONE"]}
    test = spec.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    body: dict = {"Test": test} if test else {}
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                       ("start_interval", "StartInterval")):
        if spec.get(key) is not None:
            body[field] = _nanoseconds(spec[key], f"{where}.healthcheck.{key}")
    if spec.get("retries") is not None:
        body["Retries"] = int(spec["retries"])
    return body


def _restart(value: str | None) -> dict | None:
    if not value:
        return None
    name, _, count = value.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def _ulimits(spec: dict | None) -> list[dict]:
    out = []
    for name, value in (spec or {}).items():
        if isinstance(value, dict):
            out.append({"Name": name, "Soft": int(value["soft"]), "Hard": int(value["hard"])})
        else:
            out.append({"Name": name, "Soft": int(value), "Hard": int(value)})
    return out


def _shared_mode(value: str | None, names: dict[str, str], where: str) -> str | None:
    """`service:<name>` (pid, ipc) becomes `container:<a container of that service>`."""
    if not value or not value.startswith("service:"):
        return value
    other = value.split(":", 1)[1]
    if other not in names:
        raise ComposeError(f"{where}: service {other} has no container")
    return f"container:{names[other]}"


def _cpus(value) -> int:
    return int(float(value) * 1e9)


def create_body(project: Project, service: Service, number: int, *, image_id: str = "", oneoff: bool = False,
                names: dict[str, str] | None = None, previous_volumes: dict[str, str] | None = None,
                network_name_of=None, overrides: dict | None = None) -> dict:
    """POST /containers/create for container `number` of the service.

    `names` maps a service to the name of one of its running containers (links, volumes_from,
    network_mode: service:X); `previous_volumes` maps a mount target to the volume the replaced
    container had there, so anonymous volumes survive recreation.
    """
    c = service.config
    where = f"services.{service.name}"
    names = names or {}
    env = [f"{k}={v}" for k, v in (c.get("environment") or {}).items() if v is not None]
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict]] = {}
    for port in service.ports:
        key = f"{port.target}/{port.protocol}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": port.host_ip, "HostPort": port.published})
    for entry in c.get("expose") or []:
        text = str(entry)
        exposed[text if "/" in text else f"{text}/tcp"] = {}
    binds: list[str] = []
    mounts: list[dict] = []
    anonymous: dict[str, dict] = {}
    tmpfs = {}
    for entry in c.get("tmpfs") or []:
        path, _, options = str(entry).partition(":")
        tmpfs[path] = options
    for volume in service.volumes:
        if volume.type == "bind":
            mode = ",".join(["ro" if volume.read_only else "rw",
                             *(v for k, v in volume.options if k in ("mode", "propagation"))])
            binds.append(f"{volume.source}:{volume.target}:{mode}")
        elif volume.type == "tmpfs":
            tmpfs[volume.target] = ",".join(f"size={v}" for k, v in volume.options if k == "size")
        elif volume.type == "volume" and volume.source:
            declared = project.volumes.get(volume.source)
            mount = {"Type": "volume", "Source": declared.name if declared else volume.source,
                     "Target": volume.target, "ReadOnly": volume.read_only}
            if any(k == "nocopy" for k, _ in volume.options):
                mount["VolumeOptions"] = {"NoCopy": True}
            mounts.append(mount)
        elif volume.type == "volume":
            reused = (previous_volumes or {}).get(volume.target)
            if reused:
                mounts.append({"Type": "volume", "Source": reused, "Target": volume.target,
                               "ReadOnly": volume.read_only})
            else:
                anonymous[volume.target] = {}
    for ref in service.secrets + service.configs:
        source = (project.secrets if ref in service.secrets else project.configs).get(ref.source)
        if source is not None and source.file:
            binds.append(f"{source.file}:{ref.target}:ro")
    deploy = c.get("deploy") or {}
    limits = (deploy.get("resources") or {}).get("limits") or {}
    reservations = (deploy.get("resources") or {}).get("reservations") or {}
    host: dict = {
        "Binds": binds or None, "Mounts": mounts or None, "PortBindings": bindings or None,
        "RestartPolicy": _restart(c.get("restart")), "Privileged": bool(c.get("privileged")),
        "ReadonlyRootfs": bool(c.get("read_only")), "CapAdd": c.get("cap_add"), "CapDrop": c.get("cap_drop"),
        "Dns": c.get("dns"), "DnsSearch": c.get("dns_search"), "DnsOptions": c.get("dns_opt"),
        "ExtraHosts": [f"{h}:{ip}" for h, ip in (c.get("extra_hosts") or {}).items()] or None,
        "Tmpfs": tmpfs or None, "Init": c.get("init"), "SecurityOpt": c.get("security_opt"),
        "Sysctls": {str(k): str(v) for k, v in (c.get("sysctls") or {}).items()} or None,
        "Ulimits": _ulimits(c.get("ulimits")) or None, "GroupAdd": c.get("group_add"),
        "PidMode": _shared_mode(c.get("pid"), names, f"{where}.pid"),
        "IpcMode": _shared_mode(c.get("ipc"), names, f"{where}.ipc"),
        "UsernsMode": c.get("userns_mode"), "Runtime": c.get("runtime"),
        "CgroupParent": c.get("cgroup_parent"), "OomScoreAdj": c.get("oom_score_adj"),
        "PidsLimit": c.get("pids_limit") or limits.get("pids"), "CpuShares": c.get("cpu_shares"),
        "CpuQuota": c.get("cpu_quota"), "CpuPeriod": c.get("cpu_period"), "CpusetCpus": c.get("cpuset"),
    }
    if c.get("devices"):
        devices = []
        for entry in c["devices"]:
            if isinstance(entry, dict):
                entry = f"{entry['source']}:{entry.get('target', entry['source'])}:{entry.get('permissions', 'rwm')}"
            parts = str(entry).split(":")
            devices.append({"PathOnHost": parts[0], "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
                            "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm"})
        host["Devices"] = devices
    memory = c.get("mem_limit") or limits.get("memory")
    if memory:
        host["Memory"] = _bytes(memory, f"{where}.mem_limit")
    if c.get("mem_reservation") or reservations.get("memory"):
        host["MemoryReservation"] = _bytes(c.get("mem_reservation") or reservations["memory"],
                                           f"{where}.mem_reservation")
    if c.get("memswap_limit"):
        host["MemorySwap"] = _bytes(c["memswap_limit"], f"{where}.memswap_limit")
    if c.get("shm_size"):
        host["ShmSize"] = _bytes(c["shm_size"], f"{where}.shm_size")
    cpus = c.get("cpus") or limits.get("cpus")
    if cpus:
        host["NanoCpus"] = _cpus(cpus)
    logging = c.get("logging")
    if logging:
        host["LogConfig"] = {"Type": logging.get("driver") or "json-file",
                             "Config": {k: str(v) for k, v in (logging.get("options") or {}).items()}}
    volumes_from = []
    for entry in c.get("volumes_from") or []:
        ref, _, mode = entry.partition(":")
        if ref.startswith("container:"):
            target = ref.split(":", 1)[1]
            mode = entry.split(":")[2] if entry.count(":") >= 2 else ""
        else:
            target = names.get(ref, ref)
        volumes_from.append(f"{target}:{mode}" if mode else target)
    if volumes_from:
        host["VolumesFrom"] = volumes_from
    links = []
    for entry in c.get("links") or []:
        service_name, _, alias = entry.partition(":")
        if service_name in names:
            links.append(f"{names[service_name]}:{alias or service_name}")
    if links:
        host["Links"] = links
    endpoints: dict = {}
    mode = service.network_mode or ""
    if mode:
        if mode.startswith("service:"):
            other = mode.split(":", 1)[1]
            if other not in names:
                raise ComposeError(f"{where}.network_mode: service {other} has no running container")
            mode = f"container:{names[other]}"
        host["NetworkMode"] = mode
    elif service.networks:
        primary = primary_network(service)
        net_name = network_name_of(primary) if network_name_of else primary
        host["NetworkMode"] = net_name
        endpoints[net_name] = endpoint_body(service, primary, number, oneoff)
    body = {
        "Image": service.image, "Cmd": _command(c.get("command"), f"{where}.command"),
        "Entrypoint": _command(c.get("entrypoint"), f"{where}.entrypoint"), "Env": env or None,
        "Labels": container_labels(project, service, number, oneoff=oneoff, image_id=image_id),
        "Hostname": c.get("hostname"), "Domainname": c.get("domainname"),
        "User": str(c["user"]) if c.get("user") is not None else None, "WorkingDir": c.get("working_dir"),
        "Tty": bool(c.get("tty")), "OpenStdin": bool(c.get("stdin_open")), "StopSignal": c.get("stop_signal"),
        "ExposedPorts": exposed or None, "Volumes": anonymous or None,
        "Healthcheck": healthcheck_body(c.get("healthcheck"), where),
        "MacAddress": c.get("mac_address"),
        "HostConfig": {k: v for k, v in host.items() if v is not None},
        "NetworkingConfig": {"EndpointsConfig": endpoints} if endpoints else None,
    }
    if service.stop_grace_period is not None:
        body["StopTimeout"] = int(service.stop_grace_period)
    if overrides:
        body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def primary_network(service: Service) -> str:
    """The network a container is created on; the others are connected before it starts."""
    return sorted(service.networks, key=lambda n: (-service.networks[n].priority, n))[0]


def endpoint_body(service: Service, network: str, number: int, oneoff: bool = False) -> dict:
    spec = service.networks[network]
    aliases = [service.name, *spec.aliases] if not oneoff else list(spec.aliases)
    body: dict = {"Aliases": aliases}
    ipam = {k: v for k, v in (("IPv4Address", spec.ipv4_address), ("IPv6Address", spec.ipv6_address),
                              ("LinkLocalIPs", list(spec.link_local_ips))) if v}
    if ipam:
        body["IPAMConfig"] = ipam
    if spec.mac_address:
        body["MacAddress"] = spec.mac_address
    return body
