"""distribution's ``config.yml``, with ``REGISTRY_*`` environment overrides (REGISTRY_HTTP_ADDR sets
``http.addr``), read into typed records. Unknown sections are ignored as distribution ignores them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dockyard.util.durations import parse_ns

DEFAULT_ROOT = "/var/lib/registry"


class ConfigError(Exception):
    pass


@dataclass
class TLSConfig:
    certificate: str = ""
    key: str = ""
    clientcas: list[str] = field(default_factory=list)


@dataclass
class HTTPConfig:
    addr: str = ":5000"
    net: str = "tcp"
    host: str = ""  # the externally reachable base URL, for Location headers
    prefix: str = "/"
    secret: str = ""
    tls: TLSConfig | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class AuthConfig:
    kind: str = ""  # "", "htpasswd", "token" or "silly"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Endpoint:
    name: str
    url: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    timeout: float = 1.0
    threshold: int = 10
    backoff: float = 1.0
    ignoredmediatypes: list[str] = field(default_factory=list)
    ignored_actions: list[str] = field(default_factory=list)
    disabled: bool = False


@dataclass
class ProxyConfig:
    remoteurl: str
    username: str = ""
    password: str = ""


@dataclass
class GCConfig:
    """The in-server collector (Dockyard's; distribution has none)."""
    enabled: bool = False
    interval: float = 3600.0
    grace: float = 600.0
    delete_untagged: bool = False


@dataclass
class HealthConfig:
    """health.storagedriver: a periodic check of the storage; unhealthy after ``threshold`` failures."""
    storage: bool = False
    interval: float = 10.0
    threshold: int = 3


@dataclass
class Config:
    log_level: str = "info"
    root: str = DEFAULT_ROOT
    delete_enabled: bool = False
    readonly: bool = False
    blobdescriptor: str = "inmemory"
    upload_purge_age: float = 7 * 24 * 3600.0
    http: HTTPConfig = field(default_factory=HTTPConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    endpoints: list[Endpoint] = field(default_factory=list)
    proxy: list[ProxyConfig] = field(default_factory=list)  # upstreams, asked in order
    gc: GCConfig = field(default_factory=GCConfig)
    health: HealthConfig = field(default_factory=lambda: HealthConfig())

    @property
    def listen(self) -> tuple[str, int]:
        host, _, port = self.http.addr.rpartition(":")
        try:
            return host or "0.0.0.0", int(port)
        except ValueError:
            raise ConfigError(f"http.addr {self.http.addr!r}: want host:port") from None


def seconds(value: Any, where: str) -> float:
    if isinstance(value, (int, float)):
        return float(value) / 1e9 if value > 10_000_000 else float(value)  # Go configs give nanoseconds
    try:
        return parse_ns(str(value)) / 1e9
    except Exception:  # noqa: BLE001 - InvalidParameter's message names the text
        raise ConfigError(f"{where}: invalid duration {value!r}") from None


def _env_overrides(tree: dict, environ: dict[str, str]) -> None:
    import yaml

    for key, raw in sorted(environ.items()):
        if not key.startswith("REGISTRY_") or key == "REGISTRY_CONFIGURATION_PATH":
            continue
        parts = key[len("REGISTRY_"):].lower().split("_")
        node = tree
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child in (None, "") else {str(child): {}}
                node[part] = child
            node = child
        value = yaml.safe_load(raw) if raw else ""
        node[parts[-1]] = value


def _headers(value: Any) -> dict[str, list[str]]:
    out = {}
    for name, values in (value or {}).items():
        out[str(name)] = [str(v) for v in (values if isinstance(values, list) else [values])]
    return out


def load(path: str | None, environ: dict[str, str] | None = None) -> Config:
    import yaml

    environ = dict(os.environ if environ is None else environ)
    tree: dict = {}
    path = path or environ.get("REGISTRY_CONFIGURATION_PATH")
    if path:
        try:
            with open(path) as f:
                tree = yaml.safe_load(f) or {}
        except OSError as exc:
            raise ConfigError(f"open {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the configuration must be a mapping")
    _env_overrides(tree, environ)
    return from_tree(tree)


def from_tree(tree: dict) -> Config:
    config = Config()
    version = str(tree.get("version", "0.1"))
    if version not in ("0.1", "0.1.0"):
        raise ConfigError(f"unsupported configuration version {version}")
    log = tree.get("log") or {}
    config.log_level = str(log.get("level") or tree.get("loglevel") or "info")

    storage = tree.get("storage") or {}
    drivers = [k for k in storage if k not in ("delete", "cache", "maintenance", "redirect", "tag", "gc")]
    if len(drivers) > 1:
        raise ConfigError(f"storage: more than one driver given: {', '.join(sorted(drivers))}")
    driver = drivers[0] if drivers else "filesystem"
    if driver not in ("filesystem",):
        raise ConfigError(f"storage driver {driver!r} is not supported (filesystem is)")
    options = storage.get(driver) or {}
    config.root = str(options.get("rootdirectory") or DEFAULT_ROOT)
    config.delete_enabled = bool((storage.get("delete") or {}).get("enabled", False))
    cache = storage.get("cache") or {}
    # distribution's name is blobdescriptor; Docker in Action's config uses the older layerinfo.
    config.blobdescriptor = str(cache.get("blobdescriptor") or cache.get("layerinfo") or "inmemory")
    if config.blobdescriptor not in ("inmemory", "redis", ""):
        raise ConfigError(f"storage.cache.blobdescriptor: unknown cache {config.blobdescriptor!r}")
    maintenance = storage.get("maintenance") or {}
    purging = maintenance.get("uploadpurging") or {}
    if purging.get("age") is not None:
        config.upload_purge_age = seconds(purging["age"], "storage.maintenance.uploadpurging.age")
    config.readonly = bool((maintenance.get("readonly") or {}).get("enabled", False))
    gc = storage.get("gc") or maintenance.get("gc") or {}
    config.gc = GCConfig(enabled=bool(gc.get("enabled", False)),
                         interval=seconds(gc.get("interval", "1h"), "storage.gc.interval"),
                         grace=seconds(gc.get("grace", "10m"), "storage.gc.grace"),
                         delete_untagged=bool(gc.get("deleteuntagged", False)))

    http = tree.get("http") or {}
    config.http = HTTPConfig(addr=str(http.get("addr") or ":5000"), net=str(http.get("net") or "tcp"),
                             host=str(http.get("host") or "").rstrip("/"),
                             prefix="/" + str(http.get("prefix") or "/").strip("/"),
                             secret=str(http.get("secret") or ""), headers=_headers(http.get("headers")))
    tls = http.get("tls") or {}
    if tls.get("certificate") or tls.get("key"):
        if not (tls.get("certificate") and tls.get("key")):
            raise ConfigError("http.tls: both certificate and key are needed")
        config.http.tls = TLSConfig(str(tls["certificate"]), str(tls["key"]),
                                    [str(c) for c in tls.get("clientcas") or []])

    auth = tree.get("auth") or {}
    if len(auth) > 1:
        raise ConfigError(f"auth: more than one access controller given: {', '.join(sorted(auth))}")
    for kind, options in auth.items():
        if kind not in ("htpasswd", "token", "silly"):
            raise ConfigError(f"auth: unknown access controller {kind!r}")
        options = options or {}
        wanted = {"htpasswd": ("realm", "path"), "token": ("realm", "service", "issuer", "rootcertbundle"),
                  "silly": ("realm", "service")}[kind]
        missing = [k for k in wanted if not options.get(k)]
        if missing:
            raise ConfigError(f"auth.{kind}: missing {', '.join(missing)}")
        config.auth = AuthConfig(kind, dict(options))

    for entry in (tree.get("notifications") or {}).get("endpoints") or []:
        if not entry.get("url") or not entry.get("name"):
            raise ConfigError("notifications.endpoints: each endpoint needs a name and a url")
        ignore = entry.get("ignore") or {}
        config.endpoints.append(Endpoint(
            name=str(entry["name"]), url=str(entry["url"]), headers=_headers(entry.get("headers")),
            timeout=seconds(entry.get("timeout", "1s"), "notifications timeout"),
            threshold=int(entry.get("threshold", 10)),
            backoff=seconds(entry.get("backoff", "1s"), "notifications backoff"),
            ignoredmediatypes=[str(m) for m in (entry.get("ignoredmediatypes") or ignore.get("mediatypes") or [])],
            ignored_actions=[str(a) for a in ignore.get("actions") or []],
            disabled=bool(entry.get("disabled", False))))

    # distribution's one upstream (a mapping), or Dockyard's list of them, asked in order.
    proxies = tree.get("proxy") or []
    for proxy in proxies if isinstance(proxies, list) else [proxies]:
        if not isinstance(proxy, dict) or not proxy.get("remoteurl"):
            raise ConfigError("proxy: each upstream needs a remoteurl")
        config.proxy.append(ProxyConfig(str(proxy["remoteurl"]).rstrip("/"), str(proxy.get("username") or ""),
                                        str(proxy.get("password") or "")))
    health = (tree.get("health") or {}).get("storagedriver") or {}
    config.health = HealthConfig(storage=bool(health.get("enabled", False)),
                                 interval=seconds(health.get("interval", "10s"), "health.storagedriver.interval"),
                                 threshold=max(1, int(health.get("threshold", 3))))
    return config
