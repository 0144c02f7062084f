"""`service inspect --pretty`: the fields docker/cli's pretty template shows, in its order, layout
(tabs included) and value formats (Go durations, binary sizes, CPUs as decimals)."""

from dockyard.cli.output import binary_size


def go_duration(ns: int) -> str:
    """Go's time.Duration String(): 5s, 1m30s, 1h0m0s, 500ms, 0s."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                value = ns / size
                return f"{value:g}{unit}"
    seconds = ns / 1e9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


def _update(lines: list[str], title: str, config: dict, order_word: str) -> None:
    lines.append(f"{title}:")
    lines.append(f" Parallelism:\t{config.get('Parallelism', 0)}")
    if config.get("Delay"):
        lines.append(f" Delay:\t\t{go_duration(config['Delay'])}")
    lines.append(f" On failure:\t{config.get('FailureAction', '')}")
    if config.get("Monitor"):
        lines.append(f" Monitoring Period: {go_duration(config['Monitor'])}")
    lines.append(f" Max failure ratio: {config.get('MaxFailureRatio', 0):g}")
    lines.append(f" {order_word} order:".ljust(20) + str(config.get("Order", "")))


def pretty(service: dict, names) -> str:
    spec = service["Spec"]
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    lines = ["", f"ID:\t\t{service['ID']}", f"Name:\t\t{spec.get('Name', '')}"]
    if spec.get("Labels"):
        lines.append("Labels:")
        lines += [f" {k}={v}" if v else f" {k}" for k, v in sorted(spec["Labels"].items())]
    mode = spec.get("Mode") or {}
    if "Global" in mode:
        lines.append("Service Mode:\tGlobal")
    elif "Replicated" in mode:
        lines.append("Service Mode:\tReplicated")
        if mode["Replicated"].get("Replicas"):
            lines.append(f" Replicas:\t{mode['Replicated']['Replicas']}")
    else:
        lines.append("Service Mode:")
    status = service.get("UpdateStatus")
    if status:
        lines += ["UpdateStatus:", f" State:\t\t{status.get('State', '')}"]
        if status.get("StartedAt"):
            lines.append(f" Started:\t{status['StartedAt']}")
        if status.get("CompletedAt"):
            lines.append(f" Completed:\t{status['CompletedAt']}")
        lines.append(f" Message:\t{status.get('Message', '')}")
    placement = task.get("Placement") or {}
    lines.append("Placement:")
    if placement.get("Constraints"):
        lines.append(f" Constraints:\t[{' '.join(placement['Constraints'])}]")
    if placement.get("Preferences"):
        prefs = " ".join("spread=" + p["Spread"]["SpreadDescriptor"] for p in placement["Preferences"]
                         if p.get("Spread"))
        lines.append(f" Preferences:   [{prefs}]")
    if placement.get("MaxReplicas"):
        lines.append(f" Max Replicas Per Node:   {placement['MaxReplicas']}")
    if spec.get("UpdateConfig"):
        _update(lines, "UpdateConfig", spec["UpdateConfig"], "Update")
    if spec.get("RollbackConfig"):
        _update(lines, "RollbackConfig", spec["RollbackConfig"], "Rollback")
    lines += ["ContainerSpec:", f" Image:\t\t{container.get('Image', '')}"]
    if container.get("Args"):
        lines.append(" Args:\t\t" + "".join(a + " " for a in container["Args"]))
    if container.get("Env"):
        lines.append(" Env:\t\t" + "".join(e + " " for e in container["Env"]))
    if container.get("Dir"):
        lines.append(f" Dir:\t\t{container['Dir']}")
    if container.get("Init") is not None:
        lines.append(f" Init:\t\t{str(container['Init']).lower()}")
    if container.get("User"):
        lines.append(f" User: {container['User']}")
    if container.get("CapabilityAdd") or container.get("CapabilityDrop"):
        lines.append("Capabilities:")
        if container.get("CapabilityAdd"):
            lines.append(f" Add: {', '.join(container['CapabilityAdd'])}")
        if container.get("CapabilityDrop"):
            lines.append(f" Drop: {', '.join(container['CapabilityDrop'])}")
    if container.get("Mounts"):
        lines.append("Mounts:")
        for m in container["Mounts"]:
            lines += [f" Target:\t{m.get('Target', '')}", f"  Source:\t{m.get('Source', '')}",
                      f"  ReadOnly:\t{str(bool(m.get('ReadOnly'))).lower()}", f"  Type:\t\t{m.get('Type', '')}"]
    for key, word, name_key in (("Configs", "Configs", "ConfigName"), ("Secrets", "Secrets", "SecretName")):
        if container.get(key):
            lines.append(f"{word}:")
            for ref in container[key]:
                lines += [f" Target:\t{(ref.get('File') or {}).get('Name', '')}", f"  Source:\t{ref.get(name_key, '')}"]
    resources = task.get("Resources") or {}
    reservations, limits = resources.get("Reservations") or {}, resources.get("Limits") or {}
    if reservations or limits or resources:
        lines.append("Resources:")
        if reservations.get("NanoCPUs") or reservations.get("MemoryBytes"):
            lines.append(" Reservations:")
            if reservations.get("NanoCPUs"):
                lines.append(f"  CPU:\t\t{reservations['NanoCPUs'] / 1e9:g}")
            if reservations.get("MemoryBytes"):
                lines.append(f"  Memory:\t{binary_size(reservations['MemoryBytes'])}")
        if limits.get("NanoCPUs") or limits.get("MemoryBytes"):
            lines.append(" Limits:")
            if limits.get("NanoCPUs"):
                lines.append(f"  CPU:\t\t{limits['NanoCPUs'] / 1e9:g}")
            if limits.get("MemoryBytes"):
                lines.append(f"  Memory:\t{binary_size(limits['MemoryBytes'])}")
        if limits.get("Pids"):
            lines.append(f"  PIDs:\t\t{limits['Pids']}")
    if task.get("Networks"):
        lines.append("Networks:" + "".join(f" {n['Target']}" for n in task["Networks"]) + " ")
    endpoint = spec.get("EndpointSpec") or {}
    lines.append(f"Endpoint Mode:\t{endpoint.get('Mode', 'vip')}")
    ports = (service.get("Endpoint") or {}).get("Ports") or endpoint.get("Ports") or []
    if ports:
        lines.append("Ports:")
        for p in ports:
            lines += [f" PublishedPort = {p.get('PublishedPort', 0)}", f"  Protocol = {p.get('Protocol', 'tcp')}",
                      f"  TargetPort = {p.get('TargetPort', 0)}", f"  PublishMode = {p.get('PublishMode', '')}"]
        lines[-1] += " "
    check = container.get("Healthcheck")
    if check:
        lines += [" Healthcheck:", f"  Interval = {go_duration(check.get('Interval') or 0)}",
                  f"  Retries = {check.get('Retries') or 0}",
                  f"  StartPeriod =\t{go_duration(check.get('StartPeriod') or 0)}",
                  f"  Timeout =\t{go_duration(check.get('Timeout') or 0)}"]
        if check.get("Test"):
            lines.append("  Tests:")
            lines += [f"\t Test = {test}" for test in check["Test"]]
            lines[-1] += " "
    return "\n".join(lines) + "\n\n"
