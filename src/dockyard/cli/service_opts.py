"""`service create` and `service update` flags, and the ServiceSpec JSON they make, as docker/cli's
cli/command/service/opts.go and update.go: create builds a spec from the flags; update changes
the spec the daemon has (read with insertDefaults) only where a flag was given."""

from dockyard.cli.common import env_list, labels, read_lines_file, size_flag
from dockyard.cli.flags import Opt, UsageError

# Flags shared by create and update (update adds -add/-rm forms of the lists).
COMMON = (
    Opt(("--cap-add",), "cap_add", "list", "Add Linux capabilities", metavar="list"),
    Opt(("--cap-drop",), "cap_drop", "list", "Drop Linux capabilities", metavar="list"),
    Opt(("-d", "--detach"), "detach", "bool", "Exit immediately instead of waiting for the service to converge"),
    Opt(("--endpoint-mode",), "endpoint_mode", "str", 'Endpoint mode (vip or dnsrr) (default "vip")',
        metavar="string"),
    Opt(("--entrypoint",), "entrypoint", "str", "Overwrite the default ENTRYPOINT of the image", metavar="command"),
    Opt(("--health-cmd",), "health_cmd", "str", "Command to run to check health", metavar="string"),
    Opt(("--health-interval",), "health_interval", "str", "Time between running the check (ms|s|m|h)",
        metavar="duration"),
    Opt(("--health-retries",), "health_retries", "int", "Consecutive failures needed to report unhealthy",
        metavar="int"),
    Opt(("--health-start-period",), "health_start_period", "str",
        "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)",
        metavar="duration"),
    Opt(("--health-timeout",), "health_timeout", "str", "Maximum time to allow one check to run (ms|s|m|h)",
        metavar="duration"),
    Opt(("--hostname",), "hostname", "str", "Container hostname", metavar="string"),
    Opt(("--init",), "init", "bool", "Use an init inside each service container to forward signals and reap "
        "processes", default=None),
    Opt(("--isolation",), "isolation", "str", "Service container isolation mode", metavar="string"),
    Opt(("--limit-cpu",), "limit_cpu", "str", "Limit CPUs", metavar="decimal"),
    Opt(("--limit-memory",), "limit_memory", "str", "Limit Memory", metavar="bytes"),
    Opt(("--limit-pids",), "limit_pids", "int", "Limit maximum number of processes (default 0 = unlimited)",
        metavar="int"),
    Opt(("--log-driver",), "log_driver", "str", "Logging driver for service", metavar="string"),
    Opt(("--log-opt",), "log_opt", "list", "Logging driver options", metavar="list"),
    Opt(("--max-concurrent",), "max_concurrent", "int", "Number of job tasks to run concurrently (default equal "
        "to --replicas)", metavar="uint"),
    Opt(("--no-healthcheck",), "no_healthcheck", "bool", "Disable any container-specified HEALTHCHECK"),
    Opt(("--no-resolve-image",), "no_resolve_image", "bool",
        "Do not query the registry to resolve image digest and supported platforms"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress progress output"),
    Opt(("--read-only",), "read_only", "bool", "Mount the container's root filesystem as read only", default=None),
    Opt(("--replicas",), "replicas", "int", "Number of tasks", metavar="uint"),
    Opt(("--replicas-max-per-node",), "replicas_max_per_node", "int",
        "Maximum number of tasks per node (default 0 = unlimited)", metavar="uint"),
    Opt(("--reserve-cpu",), "reserve_cpu", "str", "Reserve CPUs", metavar="decimal"),
    Opt(("--reserve-memory",), "reserve_memory", "str", "Reserve Memory", metavar="bytes"),
    Opt(("--restart-condition",), "restart_condition", "str",
        'Restart when condition is met ("none", "on-failure", "any")', metavar="string"),
    Opt(("--restart-delay",), "restart_delay", "str", "Delay between restart attempts (ns|us|ms|s|m|h)",
        metavar="duration"),
    Opt(("--restart-max-attempts",), "restart_max_attempts", "int", "Maximum number of restarts before giving up",
        metavar="uint"),
    Opt(("--restart-window",), "restart_window", "str", "Window used to evaluate the restart policy "
        "(ns|us|ms|s|m|h)", metavar="duration"),
    Opt(("--rollback-delay",), "rollback_delay", "str", "Delay between task rollbacks (ns|us|ms|s|m|h)",
        metavar="duration"),
    Opt(("--rollback-failure-action",), "rollback_failure_action", "str",
        'Action on rollback failure ("pause", "continue")', metavar="string"),
    Opt(("--rollback-max-failure-ratio",), "rollback_max_failure_ratio", "str",
        "Failure rate to tolerate during a rollback", metavar="float"),
    Opt(("--rollback-monitor",), "rollback_monitor", "str",
        "Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)", metavar="duration"),
    Opt(("--rollback-order",), "rollback_order", "str", 'Rollback order ("start-first", "stop-first")',
        metavar="string"),
    Opt(("--rollback-parallelism",), "rollback_parallelism", "int",
        "Maximum number of tasks rolled back simultaneously (0 to roll back all at once)", metavar="uint"),
    Opt(("--stop-grace-period",), "stop_grace_period", "str",
        "Time to wait before force killing a container (ns|us|ms|s|m|h)", metavar="duration"),
    Opt(("--stop-signal",), "stop_signal", "str", "Signal to stop the container", metavar="string"),
    Opt(("-t", "--tty"), "tty", "bool", "Allocate a pseudo-TTY", default=None),
    Opt(("--update-delay",), "update_delay", "str", "Delay between updates (ns|us|ms|s|m|h)", metavar="duration"),
    Opt(("--update-failure-action",), "update_failure_action", "str",
        'Action on update failure ("pause", "continue", "rollback")', metavar="string"),
    Opt(("--update-max-failure-ratio",), "update_max_failure_ratio", "str",
        "Failure rate to tolerate during an update", metavar="float"),
    Opt(("--update-monitor",), "update_monitor", "str",
        "Duration after each task update to monitor for failure (ns|us|ms|s|m|h)", metavar="duration"),
    Opt(("--update-order",), "update_order", "str", 'Update order ("start-first", "stop-first")', metavar="string"),
    Opt(("--update-parallelism",), "update_parallelism", "int",
        "Maximum number of tasks updated simultaneously (0 to update all at once)", metavar="uint"),
    Opt(("-u", "--user"), "user", "str", "Username or UID (format: <name|uid>[:<group|gid>])", metavar="string"),
    Opt(("--with-registry-auth",), "with_registry_auth", "bool", "Send registry authentication details to swarm "
        "agents"),
    Opt(("-w", "--workdir"), "workdir", "str", "Working directory inside the container", metavar="string"),
)

# The list flags: create takes them as given; update has <name>-add and <name>-rm instead.
LISTS = {
    "constraint": "Placement constraints", "container-label": "Container labels", "dns": "Set custom DNS servers",
    "dns-option": "Set DNS options", "dns-search": "Set custom DNS search domains", "env": "Set environment "
    "variables", "group": "Set one or more supplementary user groups for the container", "host": "Set one or more "
    "custom host-to-IP mappings (host:ip)", "label": "Service labels", "mount": "Attach a filesystem mount to the "
    "service", "network": "Network attachments", "placement-pref": "Add a placement preference", "publish":
    "Publish a port as a node port", "secret": "Specify secrets to expose to the service", "config": "Specify "
    "configurations to expose to the service", "sysctl": "Sysctl options", "ulimit": "Ulimit options",
}
SHORT = {"env": "-e", "label": "-l", "publish": "-p"}


def list_opts(suffixes: tuple[str, ...]) -> tuple[Opt, ...]:
    out = []
    for name, text in LISTS.items():
        for suffix in suffixes:
            flag = f"--{name}{suffix}"
            names = (SHORT[name], flag) if not suffix and name in SHORT else (flag,)
            what = {"": text, "-add": f"Add or update {text[0].lower() + text[1:]}",
                    "-rm": f"Remove {text[0].lower() + text[1:]}"}[suffix]
            out.append(Opt(names, f"{name}{suffix}".replace("-", "_"), "list", what, metavar="list"))
    return tuple(out)


def _fail(message: str):
    raise UsageError(message)


def duration(text: str, flag: str) -> int:
    from dockyard.errors import InvalidParameter
    from dockyard.util.durations import parse_ns

    try:
        return parse_ns(text)
    except InvalidParameter:
        return _fail(f'invalid argument "{text}" for "{flag}" flag: time: invalid duration "{text}"')


def nano_cpus(text: str, flag: str) -> int:
    try:
        value = float(text)
    except ValueError:
        return _fail(f'invalid argument "{text}" for "{flag}" flag: failed to parse {text} as a rational number')
    return int(round(value * 1e9))


def ratio(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        return _fail(f'invalid argument "{text}" for "{flag}" flag: strconv.ParseFloat: parsing "{text}": '
                     "invalid syntax")


def csv_fields(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        out[key.strip().lower()] = value if sep else ""
    return out


def mount(text: str) -> dict:
    """docker/cli's opts.MountOpt: type=bind|volume|tmpfs,source=,target=,readonly,..."""
    fields = csv_fields(text)
    kind = fields.pop("type", "volume") or "volume"
    body: dict = {"Type": kind}
    for key, value in fields.items():
        if key in ("source", "src"):
            body["Source"] = value
        elif key in ("target", "dst", "destination"):
            body["Target"] = value
        elif key in ("readonly", "ro"):
            body["ReadOnly"] = value.lower() not in ("false", "0")
        elif key == "consistency":
            body["Consistency"] = value
        elif key == "bind-propagation":
            body.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "volume-nocopy":
            body.setdefault("VolumeOptions", {})["NoCopy"] = value.lower() not in ("false", "0")
        elif key == "volume-driver":
            body.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-label":
            k, _, v = value.partition("=")
            body.setdefault("VolumeOptions", {}).setdefault("Labels", {})[k] = v
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            body.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            body.setdefault("TmpfsOptions", {})["SizeBytes"] = size_flag(value, "--mount")
        elif key == "tmpfs-mode":
            body.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
        else:
            _fail(f'invalid argument "{text}" for "--mount" flag: unexpected key \'{key}\' in \'{text}\'')
    if "Target" not in body:
        _fail(f'invalid argument "{text}" for "--mount" flag: target is required')
    return body


def port(text: str) -> list[dict]:
    """docker/cli's opts.PortOpt: published=,target=,protocol=,mode= or [published:]target[/proto]."""
    if "=" in text:
        fields = csv_fields(text)
        body: dict = {"Protocol": fields.get("protocol", "tcp") or "tcp",
                      "PublishMode": fields.get("mode", "ingress") or "ingress"}
        if "target" not in fields:
            _fail(f'invalid argument "{text}" for "-p, --publish" flag: missing mandatory field "target"')
        body["TargetPort"] = int(fields["target"])
        if fields.get("published"):
            body["PublishedPort"] = int(fields["published"])
        return [body]
    spec, _, proto = text.partition("/")
    published, _, target = spec.rpartition(":")
    if not target.isdigit() or (published and not published.isdigit()):
        _fail(f'invalid argument "{text}" for "-p, --publish" flag: invalid port specification')
    body = {"Protocol": proto or "tcp", "TargetPort": int(target), "PublishMode": "ingress"}
    if published:
        body["PublishedPort"] = int(published)
    return [body]


def references(client, kind: str, values: list[str]) -> list[dict] | None:
    """--secret / --config: references with their objects' IDs (cli/payloadrefs.py)."""
    from dockyard.cli.payloadrefs import UnresolvedReference, parse_reference, resolve

    try:
        return resolve(client, kind, [parse_reference(kind, v) for v in values]) or None
    except UnresolvedReference as exc:
        return _fail(str(exc))


def updated_references(client, kind: str, current: list[dict] | None, remove: list[str], add: list[str]):
    from dockyard.cli.payloadrefs import UnresolvedReference, parse_reference, updated

    try:
        return updated(client, kind, current, remove,
                       [parse_reference(kind, v, f"--{kind}-add") for v in add]) or None
    except UnresolvedReference as exc:
        return _fail(str(exc))


def placement_pref(text: str) -> dict:
    strategy, _, value = text.partition("=")
    if strategy != "spread":
        _fail(f'invalid argument "{text}" for "--placement-pref" flag: unsupported placement preference '
              f"{strategy} (only spread is supported)")
    return {"Spread": {"SpreadDescriptor": value}}


def ulimit(text: str) -> dict:
    name, _, limits = text.partition("=")
    soft, _, hard = limits.partition(":")
    return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}


def healthcheck(values: dict, current: dict | None) -> dict | None:
    keys = ("health_cmd", "health_interval", "health_timeout", "health_retries", "health_start_period")
    given = {k: values[k] for k in keys if values[k] is not None}
    if values["no_healthcheck"]:
        if given:
            _fail("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return current
    check = dict(current or {})
    if "health_cmd" in given:
        check["Test"] = ["CMD-SHELL", given["health_cmd"]]
    for key, field in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                       ("health_start_period", "StartPeriod")):
        if key in given:
            check[field] = duration(given[key], "--" + key.replace("_", "-"))
    if "health_retries" in given:
        check["Retries"] = given["health_retries"]
    return check


def update_config(values: dict, prefix: str, current: dict | None) -> dict | None:
    """--update-* / --rollback-*: docker/cli sends the whole config with its defaults once any is given."""
    keys = [f"{prefix}_{k}" for k in ("parallelism", "delay", "monitor", "failure_action", "max_failure_ratio",
                                      "order")]
    if current is None and not any(values[k] is not None for k in keys):
        return None
    config = dict(current or {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000,
                              "MaxFailureRatio": 0, "Order": "stop-first"})
    flag = "--" + prefix
    if values[f"{prefix}_parallelism"] is not None:
        config["Parallelism"] = values[f"{prefix}_parallelism"]
    if values[f"{prefix}_delay"] is not None:
        config["Delay"] = duration(values[f"{prefix}_delay"], flag + "-delay")
    if values[f"{prefix}_monitor"] is not None:
        config["Monitor"] = duration(values[f"{prefix}_monitor"], flag + "-monitor")
    if values[f"{prefix}_failure_action"] is not None:
        config["FailureAction"] = values[f"{prefix}_failure_action"]
    if values[f"{prefix}_max_failure_ratio"] is not None:
        config["MaxFailureRatio"] = ratio(values[f"{prefix}_max_failure_ratio"], flag + "-max-failure-ratio")
    if values[f"{prefix}_order"] is not None:
        config["Order"] = values[f"{prefix}_order"]
    return config


def restart_policy(values: dict, current: dict | None) -> dict | None:
    keys = ("restart_condition", "restart_delay", "restart_max_attempts", "restart_window")
    if not any(values[k] is not None for k in keys):
        return current
    policy = dict(current or {})
    if values["restart_condition"] is not None:
        policy["Condition"] = values["restart_condition"]
    if values["restart_delay"] is not None:
        policy["Delay"] = duration(values["restart_delay"], "--restart-delay")
    if values["restart_max_attempts"] is not None:
        policy["MaxAttempts"] = values["restart_max_attempts"]
    if values["restart_window"] is not None:
        policy["Window"] = duration(values["restart_window"], "--restart-window")
    return policy


def resources(values: dict, current: dict | None) -> dict:
    out = dict(current or {})
    limits, reservations = dict(out.get("Limits") or {}), dict(out.get("Reservations") or {})
    if values["limit_cpu"] is not None:
        limits["NanoCPUs"] = nano_cpus(values["limit_cpu"], "--limit-cpu")
    if values["limit_memory"] is not None:
        limits["MemoryBytes"] = size_flag(values["limit_memory"], "--limit-memory")
    if values["limit_pids"] is not None:
        limits["Pids"] = values["limit_pids"]
    if values["reserve_cpu"] is not None:
        reservations["NanoCPUs"] = nano_cpus(values["reserve_cpu"], "--reserve-cpu")
    if values["reserve_memory"] is not None:
        reservations["MemoryBytes"] = size_flag(values["reserve_memory"], "--reserve-memory")
    out["Limits"], out["Reservations"] = limits, reservations
    return out


def container_scalars(values: dict, container: dict) -> None:
    """The plain ContainerSpec flags, where given."""
    for key, field in (("hostname", "Hostname"), ("user", "User"), ("workdir", "Dir"), ("stop_signal", "StopSignal"),
                       ("isolation", "Isolation")):
        if values[key] is not None:
            container[field] = values[key]
    for key, field in (("init", "Init"), ("read_only", "ReadOnly"), ("tty", "TTY")):
        if values[key] is not None:
            container[field] = values[key]
    if values["stop_grace_period"] is not None:
        container["StopGracePeriod"] = duration(values["stop_grace_period"], "--stop-grace-period")
    if values["entrypoint"] is not None:
        import shlex

        container["Command"] = shlex.split(values["entrypoint"])
    check = healthcheck(values, container.get("Healthcheck"))
    if check is not None:
        container["Healthcheck"] = check


def create_spec(client, values: dict, image: str, args: list[str]) -> dict:
    """docker/cli's serviceOptions.ToService."""
    mode_name = values["mode"] or "replicated"
    if mode_name not in ("replicated", "global", "replicated-job", "global-job"):
        _fail(f"invalid mode: {mode_name}")
    replicas = values["replicas"]
    if mode_name == "global" and replicas is not None:
        _fail("replicas can only be used with replicated or replicated-job mode")
    if values["max_concurrent"] is not None and not mode_name.endswith("job"):
        _fail("max-concurrent can only be used with replicated-job mode")
    if mode_name == "replicated":
        mode: dict = {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    elif mode_name == "global":
        mode = {"Global": {}}
    elif mode_name == "replicated-job":
        total = 1 if replicas is None else replicas
        mode = {"ReplicatedJob": {"MaxConcurrent": values["max_concurrent"] or total, "TotalCompletions": total}}
    else:
        mode = {"GlobalJob": {}}
    env = [line for path in values["env_file"] for line in read_lines_file(path, "env")] + values["env"]
    container: dict = {"Image": image, "Labels": labels(values["container_label"]), "Env": env_list(env) or None}
    if args:
        container["Args"] = args
    container_scalars(values, container)
    if values["mount"]:
        container["Mounts"] = [mount(m) for m in values["mount"]]
    if values["group"]:
        container["Groups"] = values["group"]
    if values["dns"] or values["dns_option"] or values["dns_search"]:
        container["DNSConfig"] = {"Nameservers": values["dns"] or None, "Options": values["dns_option"] or None,
                                  "Search": values["dns_search"] or None}
    if values["host"]:
        container["Hosts"] = [_host_entry(h) for h in values["host"]]
    if values["secret"]:
        container["Secrets"] = references(client, "secret", values["secret"])
    if values["config"]:
        container["Configs"] = references(client, "config", values["config"])
    if values["cap_add"]:
        container["CapabilityAdd"] = values["cap_add"]
    if values["cap_drop"]:
        container["CapabilityDrop"] = values["cap_drop"]
    if values["sysctl"]:
        container["Sysctls"] = labels(values["sysctl"])
    if values["ulimit"]:
        container["Ulimits"] = [ulimit(u) for u in values["ulimit"]]
    task: dict = {"ContainerSpec": container, "Resources": resources(values, None)}
    policy = restart_policy(values, None)
    if policy is None and mode_name.endswith("job"):
        policy = {"Condition": "on-failure"}  # docker/cli's default for jobs
    if policy is not None:
        task["RestartPolicy"] = policy
    placement: dict = {}
    if values["constraint"]:
        placement["Constraints"] = values["constraint"]
    if values["placement_pref"]:
        placement["Preferences"] = [placement_pref(p) for p in values["placement_pref"]]
    if values["replicas_max_per_node"]:
        placement["MaxReplicas"] = values["replicas_max_per_node"]
    task["Placement"] = placement
    if values["network"]:
        task["Networks"] = [{"Target": n} for n in values["network"]]
    if values["log_driver"]:
        task["LogDriver"] = {"Name": values["log_driver"], "Options": labels(values["log_opt"])}
    spec: dict = {"Name": values["name"] or "", "Labels": labels(values["label"]), "TaskTemplate": task,
                  "Mode": mode}
    if not mode_name.endswith("job"):
        spec["UpdateConfig"] = update_config(values, "update", None) or update_config(
            {**values, "update_parallelism": 1}, "update", None)
        spec["RollbackConfig"] = update_config(values, "rollback", None) or update_config(
            {**values, "rollback_parallelism": 1}, "rollback", None)
    elif any(values[f"update_{k}"] is not None for k in ("parallelism", "delay", "monitor", "failure_action",
                                                         "max_failure_ratio", "order")):
        _fail("update configuration cannot be used with jobs")
    endpoint: dict = {"Mode": values["endpoint_mode"] or "vip"}
    if values["publish"]:
        endpoint["Ports"] = [p for text in values["publish"] for p in port(text)]
    spec["EndpointSpec"] = endpoint
    return spec


def _host_entry(text: str) -> str:
    """--host name:ip becomes swarm's "ip name" (hosts(5) order)."""
    name, sep, address = text.partition(":")
    if not sep:
        _fail(f'invalid argument "{text}" for "--host" flag: bad format for add-host: "{text}"')
    return f"{address} {name}"


def _merge_list(current: list, add: list, remove: list, key) -> list:
    kept = [item for item in current if key(item) not in {key(r) for r in remove}]
    added_keys = {key(a) for a in add}
    return [item for item in kept if key(item) not in added_keys] + add


def update_spec(client, values: dict, spec: dict) -> dict:
    """docker/cli's updateService: the flags given change the spec the daemon has."""
    task = spec.setdefault("TaskTemplate", {})
    container = task.setdefault("ContainerSpec", {})
    if values["image"]:
        container["Image"] = values["image"]
    if values["args"] is not None:
        import shlex

        container["Args"] = shlex.split(values["args"])
    container_scalars(values, container)
    env_key = lambda e: e.partition("=")[0]  # noqa: E731 - a key function
    container["Env"] = _merge_list(container.get("Env") or [], env_list(values["env_add"]),
                                   values["env_rm"], env_key) or None
    spec["Labels"] = {k: v for k, v in {**(spec.get("Labels") or {}), **labels(values["label_add"])}.items()
                      if k not in values["label_rm"]}
    container["Labels"] = {k: v for k, v in {**(container.get("Labels") or {}),
                                             **labels(values["container_label_add"])}.items()
                           if k not in values["container_label_rm"]} or None
    mounts = _merge_list(container.get("Mounts") or [], [mount(m) for m in values["mount_add"]],
                         [{"Target": t} for t in values["mount_rm"]], lambda m: m["Target"])
    container["Mounts"] = mounts or None
    if values["group_add"] or values["group_rm"]:
        container["Groups"] = _merge_list(container.get("Groups") or [], values["group_add"], values["group_rm"],
                                          str) or None
    if values["host_add"] or values["host_rm"]:
        container["Hosts"] = _merge_list(container.get("Hosts") or [], [_host_entry(h) for h in values["host_add"]],
                                         [_host_entry(h) if ":" in h else f"x {h}" for h in values["host_rm"]],
                                         lambda h: h.split()[-1]) or None
    for kind, key in (("secret", "Secrets"), ("config", "Configs")):
        if values[f"{kind}_add"] or values[f"{kind}_rm"]:
            container[key] = updated_references(client, kind, container.get(key), values[f"{kind}_rm"],
                                                values[f"{kind}_add"])
    dns = dict(container.get("DNSConfig") or {})
    for flag, field in (("dns", "Nameservers"), ("dns_option", "Options"), ("dns_search", "Search")):
        if values[f"{flag}_add"] or values[f"{flag}_rm"]:
            dns[field] = _merge_list(dns.get(field) or [], values[f"{flag}_add"], values[f"{flag}_rm"], str) or None
    if dns:
        container["DNSConfig"] = dns
    if values["cap_add"]:
        container["CapabilityAdd"] = sorted(set(container.get("CapabilityAdd") or []) | set(values["cap_add"]))
    if values["cap_drop"]:
        container["CapabilityDrop"] = sorted(set(container.get("CapabilityDrop") or []) | set(values["cap_drop"]))
    if values["sysctl_add"] or values["sysctl_rm"]:
        sysctls = {**(container.get("Sysctls") or {}), **labels(values["sysctl_add"])}
        container["Sysctls"] = {k: v for k, v in sysctls.items() if k not in values["sysctl_rm"]} or None
    task["Resources"] = resources(values, task.get("Resources"))
    policy = restart_policy(values, task.get("RestartPolicy"))
    if policy is not None:
        task["RestartPolicy"] = policy
    placement = dict(task.get("Placement") or {})
    if values["constraint_add"] or values["constraint_rm"]:
        placement["Constraints"] = _merge_list(placement.get("Constraints") or [], values["constraint_add"],
                                               values["constraint_rm"], str) or None
    if values["placement_pref_add"] or values["placement_pref_rm"]:
        placement["Preferences"] = _merge_list(
            placement.get("Preferences") or [], [placement_pref(p) for p in values["placement_pref_add"]],
            [placement_pref(p) for p in values["placement_pref_rm"]], lambda p: p["Spread"]["SpreadDescriptor"]) \
            or None
    if values["replicas_max_per_node"] is not None:
        placement["MaxReplicas"] = values["replicas_max_per_node"]
    task["Placement"] = placement
    if values["network_add"] or values["network_rm"]:
        task["Networks"] = _merge_list(task.get("Networks") or [], [{"Target": n} for n in values["network_add"]],
                                       [{"Target": n} for n in values["network_rm"]], lambda n: n["Target"]) or None
    if values["log_driver"]:
        task["LogDriver"] = {"Name": values["log_driver"], "Options": labels(values["log_opt"])}
    mode = spec.get("Mode") or {}
    if values["replicas"] is not None:
        if "Replicated" in mode:
            mode["Replicated"] = {"Replicas": values["replicas"]}
        elif "ReplicatedJob" in mode:
            mode["ReplicatedJob"]["TotalCompletions"] = values["replicas"]
        else:
            _fail("replicas can only be used with replicated or replicated-job mode")
    if values["max_concurrent"] is not None:
        if "ReplicatedJob" not in mode:
            _fail("max-concurrent can only be used with replicated-job mode")
        mode["ReplicatedJob"]["MaxConcurrent"] = values["max_concurrent"]
    for prefix, key in (("update", "UpdateConfig"), ("rollback", "RollbackConfig")):
        config = update_config(values, prefix, spec.get(key))
        if config is not None:
            spec[key] = config
    endpoint = dict(spec.get("EndpointSpec") or {})
    if values["endpoint_mode"]:
        endpoint["Mode"] = values["endpoint_mode"]
    if values["publish_add"] or values["publish_rm"]:
        removed = [{"TargetPort": int(p.split(":")[-1].split("/")[0])} if "=" not in p else
                   {"TargetPort": int(csv_fields(p).get("target", "0"))} for p in values["publish_rm"]]
        endpoint["Ports"] = _merge_list(endpoint.get("Ports") or [],
                                        [p for text in values["publish_add"] for p in port(text)], removed,
                                        lambda p: p["TargetPort"]) or None
    if endpoint:
        spec["EndpointSpec"] = endpoint
    if values["force"]:
        task["ForceUpdate"] = int(task.get("ForceUpdate") or 0) + 1
    return spec
