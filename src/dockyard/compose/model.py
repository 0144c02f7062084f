"""The compose model: typed records built once from the loaded document.

The document (a normalised dict) stays available as `Service.config` because two things need it
whole: the config hash and `compose config`. Everything compose decides on is a typed field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.compose.errors import ComposeError


def _duration(value, where: str) -> float | None:
    """Compose durations (`1m30s`, `500ms`, `10s`, a plain number of seconds) in seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    import re

    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ComposeError(f"{where}: invalid duration {text!r}")
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(frozen=True)
class PortSpec:
    target: int
    published: str = ""  # "" (any free port), "8080", or a range "8080-8081"
    host_ip: str = ""
    protocol: str = "tcp"

    @classmethod
    def parse(cls, value, where: str) -> list[PortSpec]:
        if isinstance(value, dict):
            target = int(str(value["target"]))
            return [cls(target, str(value.get("published") or ""), value.get("host_ip") or "",
                        value.get("protocol") or "tcp")]
        text = str(value)
        text, _, protocol = text.partition("/")
        protocol = protocol or "tcp"
        host_ip = ""
        if text.startswith("["):  # [::1]:8080:80
            host_ip, _, text = text[1:].partition("]:")
        parts = text.rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, container = parts
        elif len(parts) == 2:
            published, container = parts
        else:
            published, container = "", parts[0]
        try:
            if "-" in container:
                low, high = (int(p) for p in container.split("-"))
                if published and "-" in published:
                    plow, _ = (int(p) for p in published.split("-"))
                    return [cls(p, str(plow + i), host_ip, protocol) for i, p in enumerate(range(low, high + 1))]
                return [cls(p, published, host_ip, protocol) for p in range(low, high + 1)]
            return [cls(int(container), published, host_ip, protocol)]
        except ValueError:
            raise ComposeError(f"{where}: invalid port specification: {value!r}") from None


@dataclass(frozen=True)
class VolumeSpec:
    type: str  # volume, bind, tmpfs
    target: str
    source: str = ""
    read_only: bool = False
    options: tuple[tuple[str, str], ...] = ()  # bind propagation, tmpfs size, volume nocopy

    @classmethod
    def parse(cls, value, where: str) -> VolumeSpec:
        if isinstance(value, dict):
            kind = value.get("type", "volume")
            options: list[tuple[str, str]] = []
            if kind == "tmpfs" and (value.get("tmpfs") or {}).get("size"):
                options.append(("size", str(value["tmpfs"]["size"])))
            if kind == "bind" and (value.get("bind") or {}).get("propagation"):
                options.append(("propagation", value["bind"]["propagation"]))
            if kind == "volume" and (value.get("volume") or {}).get("nocopy"):
                options.append(("nocopy", "true"))
            return cls(kind, value["target"], value.get("source") or "", bool(value.get("read_only")),
                       tuple(options))
        parts = str(value).split(":")
        if len(parts) == 1:
            return cls("volume", parts[0])
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        if not target.startswith("/"):
            raise ComposeError(f"{where}: invalid volume specification: {value!r}: the target must be an "
                               "absolute path")
        kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
        flags = mode.split(",") if mode else []
        return cls(kind, target, source, "ro" in flags, tuple(("mode", f) for f in flags if f not in ("ro", "rw")))


@dataclass(frozen=True)
class ServiceNetwork:
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""
    ipv6_address: str = ""
    priority: int = 0
    link_local_ips: tuple[str, ...] = ()
    mac_address: str = ""


@dataclass(frozen=True)
class Dependency:
    condition: str = "service_started"
    restart: bool = False
    required: bool = True


@dataclass(frozen=True)
class FileReference:
    """A service's use of a top-level secret or config."""

    source: str
    target: str
    uid: str = ""
    gid: str = ""
    mode: int | None = None


@dataclass
class Service:
    name: str
    config: dict  # the normalised document of this service (hashing, create bodies, `config`)
    image: str
    build: dict | None
    scale: int
    container_name: str | None
    ports: list[PortSpec]
    volumes: list[VolumeSpec]
    networks: dict[str, ServiceNetwork]
    network_mode: str | None
    depends_on: dict[str, Dependency]
    pull_policy: str
    secrets: list[FileReference]
    configs: list[FileReference]
    stop_grace_period: float | None
    profiles: list[str] = field(default_factory=list)

    @property
    def links_to(self) -> set[str]:
        """Services this one needs running first: depends_on, links, volumes_from, network_mode."""
        needed = set(self.depends_on)
        for link in self.config.get("links") or []:
            needed.add(link.split(":")[0])
        for entry in self.config.get("volumes_from") or []:
            if not entry.startswith("container:"):
                needed.add(entry.split(":")[0])
        for mode in (self.network_mode, self.config.get("ipc"), self.config.get("pid")):
            if mode and str(mode).startswith("service:"):
                needed.add(str(mode).split(":", 1)[1])
        return needed


@dataclass(frozen=True)
class Network:
    key: str
    name: str
    driver: str = ""
    driver_opts: dict = field(default_factory=dict)
    ipam: dict = field(default_factory=dict)
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    labels: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    key: str
    name: str
    driver: str = ""
    driver_opts: dict = field(default_factory=dict)
    external: bool = False
    labels: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FileSource:
    """A top-level secret or config: a file, an environment variable or inline content."""

    key: str
    file: str = ""
    environment: str = ""
    content: str | None = None


@dataclass
class Project:
    name: str
    working_dir: str
    config_files: list[str]
    environment: dict[str, str]
    services: dict[str, Service]
    networks: dict[str, Network]
    volumes: dict[str, Volume]
    secrets: dict[str, FileSource]
    configs: dict[str, FileSource]
    document: dict
    disabled: dict[str, dict] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        if name not in self.services:
            raise ComposeError(f"no such service: {name}")
        return self.services[name]

    def select(self, names: list[str]) -> list[Service]:
        return [self.service(n) for n in names] if names else list(self.services.values())


def _file_refs(entries, kind: str) -> list[FileReference]:
    refs = []
    for entry in entries or []:
        if isinstance(entry, str):
            entry = {"source": entry}
        target = entry.get("target") or entry["source"]
        if kind == "secrets" and not target.startswith("/"):
            target = f"/run/secrets/{target}"
        elif kind == "configs" and not target.startswith("/"):
            target = f"/{target}"
        mode = entry.get("mode")
        refs.append(FileReference(entry["source"], target, str(entry.get("uid") or ""), str(entry.get("gid") or ""),
                                  int(str(mode), 8) if isinstance(mode, str) else mode))
    return refs


def build_service(name: str, config: dict, project_name: str) -> Service:
    where = f"services.{name}"
    ports = [p for raw in config.get("ports") or [] for p in PortSpec.parse(raw, f"{where}.ports")]
    volumes = [VolumeSpec.parse(v, f"{where}.volumes") for v in config.get("volumes") or []]
    network_mode = config.get("network_mode")
    networks: dict[str, ServiceNetwork] = {}
    if not network_mode:
        for net, spec in (config.get("networks") or {"default": None}).items():
            spec = spec or {}
            networks[net] = ServiceNetwork(tuple(spec.get("aliases") or ()), spec.get("ipv4_address") or "",
                                           spec.get("ipv6_address") or "", int(spec.get("priority") or 0),
                                           tuple(spec.get("link_local_ips") or ()), spec.get("mac_address") or "")
    depends_on = {dep: Dependency((spec or {}).get("condition", "service_started"),
                                  str((spec or {}).get("restart", False)).lower() == "true",
                                  bool((spec or {}).get("required", True)))
                  for dep, spec in (config.get("depends_on") or {}).items()}
    replicas = (config.get("deploy") or {}).get("replicas")
    scale = config.get("scale", replicas if replicas is not None else 1)
    try:
        scale = int(scale)
    except (TypeError, ValueError):
        raise ComposeError(f"{where}.scale: invalid number {scale!r}") from None
    image = config.get("image") or f"{project_name}-{name}"
    return Service(name, config, image, config.get("build"), scale, config.get("container_name"), ports, volumes,
                   networks, network_mode, depends_on, config.get("pull_policy") or "missing",
                   _file_refs(config.get("secrets"), "secrets"), _file_refs(config.get("configs"), "configs"),
                   _duration(config.get("stop_grace_period"), f"{where}.stop_grace_period"),
                   list(config.get("profiles") or []))


def build_project(loaded) -> Project:
    """The typed project from a `config.loader.Loaded`."""
    doc = loaded.document
    name = loaded.name
    services = {n: build_service(n, c, name) for n, c in (doc.get("services") or {}).items()}
    networks: dict[str, Network] = {}
    declared = dict(doc.get("networks") or {})
    uses_default = any("default" in s.networks for s in services.values())
    if uses_default and "default" not in declared:
        declared["default"] = {}
    for key, spec in declared.items():
        spec, external, net_name = _declared(key, spec, name)
        networks[key] = Network(key, net_name, spec.get("driver") or "", dict(spec.get("driver_opts") or {}),
                                dict(spec.get("ipam") or {}), bool(external), bool(spec.get("internal")),
                                bool(spec.get("attachable")), bool(spec.get("enable_ipv6")),
                                _labels(spec.get("labels")))
    volumes: dict[str, Volume] = {}
    for key, spec in (doc.get("volumes") or {}).items():
        spec, external, vol_name = _declared(key, spec, name)
        volumes[key] = Volume(key, vol_name, spec.get("driver") or "", dict(spec.get("driver_opts") or {}),
                              bool(external), _labels(spec.get("labels")))
    sources = {}
    for kind in ("secrets", "configs"):
        sources[kind] = {key: FileSource(key, (spec or {}).get("file") or "", (spec or {}).get("environment") or "",
                                         (spec or {}).get("content"))
                         for key, spec in (doc.get(kind) or {}).items()}
    return Project(name, loaded.working_dir, loaded.config_files, loaded.environment, services, networks, volumes,
                   sources["secrets"], sources["configs"], doc, loaded.disabled)


def _declared(key: str, spec: dict | None, project_name: str) -> tuple[dict, bool, str]:
    """A top-level network or volume: (its spec, whether external, its engine name)."""
    spec = spec or {}
    external = spec.get("external")
    if isinstance(external, dict):  # the legacy `external: {name: ...}`
        spec = {**spec, "name": external.get("name") or spec.get("name")}
        external = True
    return spec, bool(external), spec.get("name") or (key if external else f"{project_name}_{key}")


def _labels(value) -> dict:
    from dockyard.compose.config.merge import list_to_mapping

    return {k: v or "" for k, v in list_to_mapping(value or {}).items()}
