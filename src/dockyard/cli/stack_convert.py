"""A loaded compose document into what `stack deploy` sends (docker/cli's cli/compose/convert):
networks to create, secrets and configs, and one ServiceSpec per service, as Docker's JSON.

Every name is scoped by the stack (`<stack>_<name>`) unless the file names the object itself
(`name:`, or `external:`), and everything made carries the `com.docker.stack.namespace` label,
which is how `stack ls|ps|services|rm` find a stack again: a stack keeps no state of its own.
The conversion asks the daemon nothing: secret and config references carry names here, and
`stack deploy` resolves them to IDs once the objects exist (cli/stack_deploy.py).
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass, field

NAMESPACE_LABEL = "com.docker.stack.namespace"
IMAGE_LABEL = "com.docker.stack.image"
DEFAULT_NETWORK_DRIVER = "overlay"
_NOT_USER_DEFINED = ("default", "bridge", "host", "none")  # container.NetworkMode.IsUserDefined


class ConvertError(Exception):
    """The file asks for something a stack cannot be; docker/cli's words."""


@dataclass
class Namespace:
    name: str

    def scope(self, name: str) -> str:
        return f"{self.name}_{name}"

    def descope(self, name: str) -> str:
        return name.removeprefix(self.name + "_")

    def labelled(self, labels: dict | list | None) -> dict[str, str]:
        return {**_mapping(labels), NAMESPACE_LABEL: self.name}


@dataclass
class StackPlan:
    namespace: Namespace
    networks: dict[str, dict] = field(default_factory=dict)  # name -> POST /networks/create body
    external_networks: list[str] = field(default_factory=list)
    secrets: list[dict] = field(default_factory=list)  # SecretSpec bodies
    configs: list[dict] = field(default_factory=list)  # ConfigSpec bodies
    services: dict[str, dict] = field(default_factory=dict)  # the file's service name -> ServiceSpec


def convert(document: dict, stack: str) -> StackPlan:
    namespace = Namespace(stack)
    plan = StackPlan(namespace)
    services = document.get("services") or {}
    used: set[str] = set()
    for service in services.values():
        used.update(service.get("networks") or {"default": None})
    plan.networks, plan.external_networks = networks(namespace, document.get("networks") or {}, used)
    plan.secrets = payloads(namespace, document.get("secrets") or {}, "secret")
    plan.configs = payloads(namespace, document.get("configs") or {}, "config")
    for name, service in services.items():
        try:
            plan.services[name] = service_spec(namespace, name, service, document)
        except (ConvertError, ValueError) as exc:
            raise ConvertError(f"service {name}: {exc}") from None
    return plan


# -- top-level objects


def _mapping(value: dict | list | None) -> dict[str, str]:
    """labels, driver options, sysctls: a mapping or a list of KEY=VALUE, values as strings."""
    if isinstance(value, list):
        return dict((*item.split("=", 1), "")[:2] for item in map(str, value))  # type: ignore[misc]
    out = {}
    for key, item in (value or {}).items():
        out[str(key)] = "" if item is None else ("true" if item is True else "false" if item is False else str(item))
    return out


def _external(spec: dict) -> tuple[bool, str]:
    """Whether the object is external, and the name it has then (`name:`, the legacy
    `external: {name: ...}`, or its key: the caller passes the key as the default)."""
    external = spec.get("external")
    if isinstance(external, dict):
        return True, external.get("name") or spec.get("name") or ""
    return bool(external), spec.get("name") or ""


def networks(namespace: Namespace, declared: dict, used: set[str]) -> tuple[dict[str, dict], list[str]]:
    """The networks the services use: bodies for those to create, names of external ones."""
    create: dict[str, dict] = {}
    external: list[str] = []
    for key in sorted(used):
        spec = declared.get(key) or {}
        is_external, name = _external(spec)
        if is_external:
            external.append(name or key)
            continue
        body: dict = {"Name": name or namespace.scope(key), "Driver": spec.get("driver") or DEFAULT_NETWORK_DRIVER,
                      "Labels": namespace.labelled(spec.get("labels"))}
        if spec.get("driver_opts"):
            body["Options"] = _mapping(spec["driver_opts"])
        if spec.get("internal"):
            body["Internal"] = True
        if spec.get("attachable"):
            body["Attachable"] = True
        ipam = spec.get("ipam") or {}
        if ipam.get("driver") or ipam.get("config"):
            body["IPAM"] = {"Driver": ipam.get("driver") or "",
                            "Config": [{"Subnet": c["subnet"]} for c in ipam.get("config") or [] if c.get("subnet")]}
        create[body["Name"]] = body
    return create, external


def payloads(namespace: Namespace, declared: dict, kind: str) -> list[dict]:
    """Secrets or configs the stack owns (external ones exist already): their data from the file."""
    out = []
    for key, spec in declared.items():
        spec = spec or {}
        if _external(spec)[0]:
            continue
        body: dict = {"Name": spec.get("name") or namespace.scope(key),
                      "Labels": namespace.labelled(spec.get("labels"))}
        if kind == "secret" and spec.get("driver"):
            body["Data"] = ""
            body["Driver"] = {"Name": spec["driver"], "Options": _mapping(spec.get("driver_opts"))}
        elif spec.get("file"):
            try:
                with open(spec["file"], "rb") as f:
                    body["Data"] = base64.b64encode(f.read()).decode()
            except OSError as exc:
                raise ConvertError(f"open {spec['file']}: {(exc.strerror or str(exc)).lower()}") from None
        else:
            raise ConvertError(f"{kind} {key}: a stack's {kind}s come from a file (file:) or exist already "
                               "(external: true)")
        if spec.get("template_driver"):
            body["Templating"] = {"Name": spec["template_driver"]}
        out.append(body)
    return out


# -- services


def service_spec(namespace: Namespace, key: str, service: dict, document: dict) -> dict:
    image = service.get("image") or ""
    deploy = service.get("deploy") or {}
    # Privileges as the Go CLI sends them (its zero values): a spec the docker CLI deploys over ours
    # is then the same spec, and restarts no task
    privileges = {"CredentialSpec": None, "SELinuxContext": None, "NoNewPrivileges": False}
    container: dict = {"Image": image, "Labels": namespace.labelled(service.get("labels")), "Privileges": privileges}
    _container_scalars(service, container)
    mounts = [mount(namespace, v, document.get("volumes") or {}) for v in service.get("volumes") or []]
    if mounts:
        container["Mounts"] = mounts
    for kind, word in (("secrets", "Secret"), ("configs", "Config")):
        refs = file_references(namespace, service.get(kind) or [], document.get(kind) or {}, word)
        if refs:
            container[kind.capitalize()] = refs
    networks = attachments(namespace, key, service.get("networks") or {}, document.get("networks") or {})
    task: dict = {"ContainerSpec": container, "Resources": resources(deploy.get("resources") or {}),
                  "Placement": placement(deploy.get("placement") or {}), "Networks": networks}
    policy = restart_policy(deploy.get("restart_policy"), service.get("restart"))
    if policy is not None:
        task["RestartPolicy"] = policy
    if service.get("logging"):
        logging = service["logging"]
        task["LogDriver"] = {"Name": logging.get("driver") or "", "Options": _mapping(logging.get("options"))}
    spec: dict = {
        "Name": namespace.scope(key),
        "Labels": {**namespace.labelled(deploy.get("labels")), IMAGE_LABEL: image},
        "TaskTemplate": task,
        "Mode": mode(deploy.get("mode") or "", deploy.get("replicas")),
        "EndpointSpec": endpoint(deploy.get("endpoint_mode") or "", service.get("ports") or []),
    }
    for source, target in (("update_config", "UpdateConfig"), ("rollback_config", "RollbackConfig")):
        if deploy.get(source) is not None:
            spec[target] = update_config(deploy[source])
    return spec


def _words(value) -> list[str] | None:
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _container_scalars(service: dict, container: dict) -> None:
    """The keys that map one to one onto ContainerSpec."""
    for source, target in (("entrypoint", "Command"), ("command", "Args")):
        words = _words(service.get(source))
        if words is not None:
            container[target] = words
    for source, target in (("hostname", "Hostname"), ("working_dir", "Dir"), ("user", "User"),
                           ("stop_signal", "StopSignal"), ("isolation", "Isolation")):
        if service.get(source):
            container[target] = str(service[source])
    for source, target in (("tty", "TTY"), ("stdin_open", "OpenStdin"), ("read_only", "ReadOnly")):
        if service.get(source):
            container[target] = True
    if service.get("init") is not None:
        container["Init"] = bool(service["init"])
    if service.get("oom_score_adj"):
        container["OomScoreAdj"] = int(service["oom_score_adj"])
    environment = service.get("environment") or {}
    if environment:
        container["Env"] = sorted(k if v is None else f"{k}={v}" for k, v in environment.items())
    hosts = extra_hosts(service.get("extra_hosts") or {})
    if hosts:
        container["Hosts"] = hosts
    if service.get("dns") or service.get("dns_search"):
        container["DNSConfig"] = {k: v for k, v in (("Nameservers", service.get("dns")),
                                                    ("Search", service.get("dns_search"))) if v}
    if service.get("healthcheck") is not None:
        container["Healthcheck"] = healthcheck(service["healthcheck"])
    if service.get("stop_grace_period") is not None:
        container["StopGracePeriod"] = duration(service["stop_grace_period"])
    if service.get("sysctls"):
        container["Sysctls"] = _mapping(service["sysctls"])
    add, drop = capabilities(service.get("cap_add") or [], service.get("cap_drop") or [])
    if add:
        container["CapabilityAdd"] = add
    if drop:
        container["CapabilityDrop"] = drop
    if service.get("ulimits"):
        container["Ulimits"] = ulimits(service["ulimits"])


def duration(value) -> int:
    """A compose duration (`10s`, `1m30s`) in nanoseconds, as Docker's JSON carries them."""
    from dockyard.errors import InvalidParameter
    from dockyard.util.durations import parse_ns

    try:
        return parse_ns(str(value))
    except InvalidParameter:
        raise ConvertError(f'time: invalid duration "{value}"') from None


def extra_hosts(hosts: dict) -> list[str]:
    """host:ip (normalised to a mapping by the loader) into swarmkit's "IP host" lines, in order."""
    out = []
    for host, ip in hosts.items():
        if ip is None and ":" in host:  # host:IPv6 the loader could not split
            host, ip = host.split(":", 1)
        out.append(f"{ip} {host}")
    return out


def healthcheck(check: dict) -> dict:
    if check.get("disable"):
        if check.get("test"):
            raise ConvertError("test and disable can't be set at the same time")
        return {"Test": ["NONE"]}
    test = check.get("test")
    body: dict = {}
    if test is not None:
        body["Test"] = ["CMD-SHELL", test] if isinstance(test, str) else [str(t) for t in test]
    for source, target in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                           ("start_interval", "StartInterval")):
        if check.get(source) is not None:
            body[target] = duration(check[source])
    if check.get("retries") is not None:
        body["Retries"] = int(check["retries"])
    return body


def capabilities(add: list[str], drop: list[str]) -> tuple[list[str], list[str]]:
    """docker/cli's EffectiveCapAddCapDrop: CAP_ names, ALL wins, and one added is not dropped."""
    def normal(names: list[str]) -> list[str]:
        out = []
        for name in names:
            name = name.upper()
            name = name if name == "ALL" or name.startswith("CAP_") else "CAP_" + name
            if name not in out:
                out.append(name)
        return out

    add, drop = normal(add), normal(drop)
    if "ALL" in add:
        return ["ALL"], [d for d in drop if d != "ALL"]
    if "ALL" in drop:
        return add, ["ALL"]
    return add, [d for d in drop if d not in add]


def ulimits(limits: dict) -> list[dict]:
    out = []
    for name, value in sorted(limits.items()):
        if isinstance(value, dict):
            out.append({"Name": name, "Soft": int(value["soft"]), "Hard": int(value["hard"])})
        else:
            out.append({"Name": name, "Soft": int(value), "Hard": int(value)})
    return out


def restart_policy(policy: dict | None, restart: str | None) -> dict | None:
    """deploy.restart_policy, or else the service's `restart` (which docker/cli also warns about)."""
    if policy is not None:
        body: dict = {}
        if policy.get("condition"):
            body["Condition"] = policy["condition"]
        for source, target in (("delay", "Delay"), ("window", "Window")):
            if policy.get(source) is not None:
                body[target] = duration(policy[source])
        if policy.get("max_attempts") is not None:
            body["MaxAttempts"] = int(policy["max_attempts"])
        return body
    name, _, count = (restart or "no").partition(":")
    if name == "no":
        return None
    if name in ("always", "unless-stopped"):
        return {"Condition": "any"}
    if name == "on-failure":
        return {"Condition": "on-failure", "MaxAttempts": int(count or 0)}
    raise ConvertError(f"unknown restart policy: {restart}")


def resources(source: dict) -> dict:
    from dockyard.util.units import parse_bytes

    out: dict = {}
    for key, target in (("limits", "Limits"), ("reservations", "Reservations")):
        given = source.get(key)
        if given is None:
            continue
        body: dict = {}
        if given.get("cpus") not in (None, ""):
            try:
                body["NanoCPUs"] = int(round(float(given["cpus"]) * 1e9))
            except ValueError:
                raise ConvertError(f"failed to parse {given['cpus']} as a rational number") from None
        if given.get("memory") not in (None, ""):
            body["MemoryBytes"] = parse_bytes(str(given["memory"]))
        if key == "limits" and given.get("pids"):
            body["Pids"] = int(given["pids"])
        generic = [{"DiscreteResourceSpec": {"Kind": r["discrete_resource_spec"]["kind"],
                                             "Value": int(r["discrete_resource_spec"]["value"])}}
                   for r in given.get("generic_resources") or [] if r.get("discrete_resource_spec")]
        if key == "reservations" and generic:
            body["GenericResources"] = generic
        out[target] = body
    return out


def placement(source: dict) -> dict:
    body: dict = {}
    if source.get("constraints"):
        body["Constraints"] = [str(c) for c in source["constraints"]]
    if source.get("preferences"):
        body["Preferences"] = [{"Spread": {"SpreadDescriptor": p["spread"]}} for p in source["preferences"]]
    if source.get("max_replicas_per_node"):
        body["MaxReplicas"] = int(source["max_replicas_per_node"])
    return body


def mode(name: str, replicas) -> dict:
    if name in ("global", "global-job") and replicas is not None:
        raise ConvertError("replicas can only be used with replicated or replicated-job mode")
    if name == "global":
        return {"Global": {}}
    if name == "global-job":
        return {"GlobalJob": {}}
    if name == "replicated-job":
        job: dict = {}
        if replicas is not None:
            job = {"MaxConcurrent": int(replicas), "TotalCompletions": int(replicas)}
        return {"ReplicatedJob": job}
    if name in ("replicated", ""):
        return {"Replicated": {} if replicas is None else {"Replicas": int(replicas)}}
    raise ConvertError(f"unknown mode: {name}")


def update_config(source: dict) -> dict:
    body: dict = {"Parallelism": int(source["parallelism"]) if source.get("parallelism") is not None else 1}
    for key, target in (("delay", "Delay"), ("monitor", "Monitor")):
        if source.get(key) is not None:
            body[target] = duration(source[key])
    if source.get("failure_action"):
        body["FailureAction"] = source["failure_action"]
    if source.get("max_failure_ratio") is not None:
        body["MaxFailureRatio"] = float(source["max_failure_ratio"])
    if source.get("order"):
        body["Order"] = source["order"]
    return body


# -- ports, networks, mounts, secrets and configs


def ports(value) -> list[dict]:
    """One `ports:` entry, long or short syntax (`[ip:]published:target[/proto]`, ranges)."""
    if isinstance(value, dict):
        body: dict = {"Protocol": value.get("protocol") or "tcp", "TargetPort": int(value["target"])}
        if value.get("published") not in (None, ""):
            body["PublishedPort"] = int(str(value["published"]))
        if value.get("mode"):
            body["PublishMode"] = value["mode"]
        return [body]
    text, _, protocol = str(value).partition("/")
    parts = text.rsplit(":", 2)
    target = parts[-1]
    published = parts[-2] if len(parts) > 1 else ""

    def span(text: str) -> list[int]:
        low, _, high = text.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ConvertError(f"invalid port specification: {value!r}")
        return list(range(int(low), int(high or low) + 1))

    targets = span(target)
    publish = span(published) if published else []
    if publish and len(publish) != len(targets) and len(publish) != 1:
        raise ConvertError(f"invalid ranges specified for container and host Ports: {target} and {published}")
    out = []
    for i, port in enumerate(targets):
        body = {"Protocol": protocol or "tcp", "TargetPort": port, "PublishMode": "ingress"}
        if publish:
            body["PublishedPort"] = publish[i] if len(publish) == len(targets) else publish[0]
        out.append(body)
    return out


def endpoint(endpoint_mode: str, entries: list) -> dict:
    configs = [p for entry in entries for p in ports(entry)]
    configs.sort(key=lambda p: p.get("PublishedPort", 0))  # stable, as docker/cli v28 sorts them
    body: dict = {}
    if endpoint_mode:
        body["Mode"] = endpoint_mode.lower()
    if configs:
        body["Ports"] = configs
    return body


def attachments(namespace: Namespace, key: str, wanted: dict | list, declared: dict) -> list[dict]:
    """The service's networks (its stack's `default` when it names none), with the service's own
    name as an alias on user-defined networks, sorted by target so a redeploy sends the same."""
    if isinstance(wanted, list):  # the short form, if the loader did not make it long
        wanted = {name: None for name in wanted}
    out = []
    for name, config in (wanted or {"default": None}).items():
        if name not in declared and name != "default":
            raise ConvertError(f'undefined network "{name}"')
        spec = declared.get(name) or {}
        is_external, own_name = _external(spec)
        target = own_name or (name if is_external else namespace.scope(name))
        body: dict = {"Target": target}
        aliases = [str(a) for a in (config or {}).get("aliases") or []]
        if target not in _NOT_USER_DEFINED and not target.startswith("container:"):
            aliases.append(key)
        if aliases:
            body["Aliases"] = aliases
        if (config or {}).get("driver_opts"):
            body["DriverOpts"] = _mapping(config["driver_opts"])
        out.append(body)
    return sorted(out, key=lambda n: n["Target"])


_PROPAGATION = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_CONSISTENCY = ("consistent", "cached", "delegated")


def _short_volume(text: str) -> dict:
    """`[source:]target[:mode,...]` into the long syntax's keys (docker/cli's volumespec.Parse)."""
    parts = text.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    if len(parts) > 3:
        raise ConvertError(f"invalid spec: {text}: too many colons")
    source, target = parts[0], parts[1]
    long: dict = {"type": "bind" if source.startswith(("/", ".", "~")) else "volume", "source": source,
                  "target": target}
    for option in (parts[2].split(",") if len(parts) == 3 else []):
        if option == "ro":
            long["read_only"] = True
        elif option == "nocopy":
            long["volume"] = {"nocopy": True}
        elif option in _PROPAGATION:
            long["bind"] = {"propagation": option}
        elif option in _CONSISTENCY:
            long["consistency"] = option
    return long


def mount(namespace: Namespace, value, volumes: dict) -> dict:
    spec = _short_volume(value) if isinstance(value, str) else value
    kind = spec.get("type") or "volume"
    body: dict = {"Type": kind, "Target": spec.get("target") or ""}
    source = spec.get("source") or ""
    if source:
        body["Source"] = source
    if spec.get("read_only"):
        body["ReadOnly"] = True
    if spec.get("consistency"):
        body["Consistency"] = spec["consistency"]
    if kind == "bind" and (spec.get("bind") or {}).get("propagation"):
        body["BindOptions"] = {"Propagation": spec["bind"]["propagation"]}
    if kind == "tmpfs":
        if source:
            raise ConvertError("invalid tmpfs source, source must be empty")
        size = (spec.get("tmpfs") or {}).get("size")
        if size is not None:
            from dockyard.util.units import parse_bytes

            body["TmpfsOptions"] = {"SizeBytes": parse_bytes(str(size))}
    if kind == "bind" and not source:
        raise ConvertError("invalid bind source, source cannot be empty")
    if kind != "volume" or not source:
        return body
    if source not in volumes:
        raise ConvertError(f'undefined volume "{source}"')
    declared = volumes[source] or {}
    is_external, own_name = _external(declared)
    body["Source"] = own_name or (source if is_external else namespace.scope(source))
    options: dict = {}
    if (spec.get("volume") or {}).get("nocopy"):
        options["NoCopy"] = True
    if (spec.get("volume") or {}).get("subpath"):
        options["Subpath"] = spec["volume"]["subpath"]
    if not is_external:
        options["Labels"] = namespace.labelled(declared.get("labels"))
        if declared.get("driver") or declared.get("driver_opts") is not None:
            options["DriverConfig"] = {"Name": declared.get("driver") or "",
                                       "Options": _mapping(declared.get("driver_opts"))}
    body["VolumeOptions"] = options
    return body


def file_references(namespace: Namespace, entries: list, declared: dict, word: str) -> list[dict]:
    """A service's `secrets:` or `configs:` as references by name: the stack's own objects are
    `<stack>_<key>`, external ones keep their name; sorted by name, so a redeploy sends the same."""
    out = []
    for entry in entries:
        entry = {"source": entry} if isinstance(entry, str) else entry
        source = entry["source"]
        if source not in declared:
            raise ConvertError(f'undefined {word.lower()} "{source}"')
        spec = declared[source] or {}
        is_external, own_name = _external(spec)
        name = own_name or (source if is_external else namespace.scope(source))
        mode = entry.get("mode")
        if isinstance(mode, str):
            mode = int(mode, 8)
        out.append({"File": {"Name": entry.get("target") or source, "UID": str(entry.get("uid") or "0"),
                             "GID": str(entry.get("gid") or "0"), "Mode": 0o444 if mode is None else int(mode)},
                    f"{word}Name": name})
    return sorted(out, key=lambda r: r[f"{word}Name"])
