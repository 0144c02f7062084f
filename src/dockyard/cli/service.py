"""`service create|ls|ps|inspect|update|rollback|scale|rm|logs`, as docker/cli's cli/command/service:
the same flags (service_opts.py), tables, pretty inspect and log prefixes; create, update,
rollback and scale wait for the service to converge (service_progress.py) unless --detach."""

import json
import sys

from dockyard.cli import service_opts
from dockyard.cli.client import APIError, Client
from dockyard.cli.common import filters_json
from dockyard.cli.flags import Command, Opt, UsageError, command

CREATE = Command("service create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new service", (
    *service_opts.COMMON, *service_opts.list_opts(("",)),
    Opt(("--env-file",), "env_file", "list", "Read in a file of environment variables", metavar="list"),
    Opt(("--mode",), "mode", "str", 'Service mode ("replicated", "global", "replicated-job", "global-job") '
        '(default "replicated")', metavar="string"),
    Opt(("--name",), "name", "str", "Service name", metavar="string"),
), stop_at_positional=True, min_args=1)

UPDATE = Command("service update", "[OPTIONS] SERVICE", "Update a service", (
    *service_opts.COMMON, *service_opts.list_opts(("-add", "-rm")),
    Opt(("--args",), "args", "str", "Service command args", metavar="command"),
    Opt(("--force",), "force", "bool", "Force update even if no changes require it"),
    Opt(("--image",), "image", "str", "Service image tag", metavar="string"),
    Opt(("--rollback",), "rollback", "bool", "Rollback to previous specification"),
), min_args=1, max_args=1)

LS = Command("service ls", "[OPTIONS]", "List services", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display IDs"),
), max_args=0)

PS = Command("service ps", "[OPTIONS] SERVICE [SERVICE...]", "List the tasks of one or more services", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Pretty-print tasks using a Go template", metavar="string"),
    Opt(("--no-resolve",), "no_resolve", "bool", "Do not map IDs to Names"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display task IDs"),
), min_args=1)

INSPECT = Command("service inspect", "[OPTIONS] SERVICE [SERVICE...]",
                  "Display detailed information on one or more services", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--pretty",), "pretty", "bool", "Print the information in a human friendly format"),
), min_args=1)

ROLLBACK = Command("service rollback", "[OPTIONS] SERVICE", "Revert changes to a service's configuration", (
    Opt(("-d", "--detach"), "detach", "bool", "Exit immediately instead of waiting for the service to converge"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress progress output"),
), min_args=1, max_args=1)

SCALE = Command("service scale", "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
                "Scale one or multiple replicated services", (
    Opt(("-d", "--detach"), "detach", "bool", "Exit immediately instead of waiting for the service to converge"),
), min_args=1)

RM = Command("service rm", "SERVICE [SERVICE...]", "Remove one or more services", (), min_args=1)

LOGS = Command("service logs", "[OPTIONS] SERVICE|TASK", "Fetch the logs of a service or task", (
    Opt(("--details",), "details", "bool", "Show extra details provided to logs"),
    Opt(("-f", "--follow"), "follow", "bool", "Follow log output"),
    Opt(("--no-resolve",), "no_resolve", "bool", "Do not map IDs to Names in output"),
    Opt(("--no-task-ids",), "no_task_ids", "bool", "Do not include task IDs in output"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("--raw",), "raw", "bool", "Do not neatly format logs"),
    Opt(("--since",), "since", "str", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
        '(e.g. "42m" for 42 minutes)', metavar="string"),
    Opt(("-t", "--timestamps"), "timestamps", "bool", "Show timestamps"),
    Opt(("-n", "--tail"), "tail", "str", "Number of lines to show from the end of the logs", default="all",
        metavar="string"),
), min_args=1, max_args=1)


def _fail(message: str) -> int:
    sys.stderr.write(message + "\n")
    return 1


def _converge(client: Client, service_id: str, values: dict) -> int:
    if values.get("detach") or values.get("quiet"):
        return 0
    from dockyard.cli.service_progress import wait_converged

    return wait_converged(client, service_id)


def resolve_service_image(client: Client, spec: dict, warn: bool = True) -> list[str]:
    """The Go client's resolveContainerSpecImage: pin the image to the digest its registry has now
    (name:tag@digest), or, when the registry cannot say, name it with its tag and return (or,
    with ``warn``, print) the warning."""
    from dockyard.images import reference

    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    image = container.get("Image") or ""
    try:
        ref = reference.parse(image)
    except Exception:  # noqa: BLE001 - the daemon names a bad reference
        return []
    try:
        digest = client.call("GET", f"/distribution/{image}/json")["Descriptor"]["digest"]
    except (APIError, KeyError, TypeError):
        warning = (f"image {ref.familiar()} could not be accessed on a registry to record\nits digest. "
                   f"Each node will access {ref.familiar()} independently,\npossibly leading to different "
                   "nodes running different\nversions of the image.\n")
        if warn:
            sys.stderr.write(warning)
        if not ref.digest:
            container["Image"] = ref.familiar()
        return [warning.rstrip("\n")]
    container["Image"] = f"{ref.familiar().split('@')[0]}@{digest}"
    return []


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    try:
        spec = service_opts.create_spec(client, values, args[0], args[1:])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not values["no_resolve_image"]:
        resolve_service_image(client, spec)
    created = client.call("POST", "/services/create", body=spec)
    for warning in created.get("Warnings") or []:
        sys.stderr.write(warning + "\n")
    sys.stdout.write(created["ID"] + "\n")
    return _converge(client, created["ID"], values)


def _inspect(client: Client, ref: str, defaults: bool = False) -> dict:
    try:
        return client.call("GET", f"/services/{ref}", query={"insertDefaults": defaults or None})
    except APIError as exc:
        if exc.status == 404:
            raise APIError(404, f"service {ref} not found") from None
        raise


def _post_update(client: Client, service: dict, spec: dict, rollback: bool = False) -> None:
    query = {"version": service["Version"]["Index"], "rollback": "previous" if rollback else None}
    answer = client.call("POST", f"/services/{service['ID']}/update", query=query, body=spec)
    for warning in (answer or {}).get("Warnings") or []:
        sys.stderr.write(warning + "\n")


@command(UPDATE)
def update(client: Client, values: dict, args: list[str]) -> int:
    service = _inspect(client, args[0], defaults=True)
    if values["rollback"]:
        _post_update(client, service, service["Spec"], rollback=True)
    else:
        try:
            spec = service_opts.update_spec(client, values, json.loads(json.dumps(service["Spec"])))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if values["image"] and not values["no_resolve_image"]:
            resolve_service_image(client, spec)
        _post_update(client, service, spec)
    sys.stdout.write(args[0] + "\n")
    return _converge(client, service["ID"], values)


@command(ROLLBACK)
def rollback(client: Client, values: dict, args: list[str]) -> int:
    service = _inspect(client, args[0])
    _post_update(client, service, service["Spec"], rollback=True)
    sys.stdout.write(args[0] + "\n")
    return _converge(client, service["ID"], values)


@command(SCALE)
def scale(client: Client, values: dict, args: list[str]) -> int:
    errors, scaled = [], []
    for arg in args:
        name, sep, count = arg.partition("=")
        if not sep or not count.isdigit():
            errors.append(f"invalid scale specifier '{arg}'.\nSee 'dockyard service scale --help'.\n\n"
                          "Usage:  dockyard service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\n"
                          "Scale one or multiple replicated services")
            continue
        try:
            service = _inspect(client, name)
            mode = service["Spec"].get("Mode") or {}
            if "Replicated" in mode:
                mode["Replicated"]["Replicas"] = int(count)
            elif "ReplicatedJob" in mode:
                mode["ReplicatedJob"]["TotalCompletions"] = int(count)
            else:
                errors.append("scale can only be used with replicated or replicated-job mode")
                continue
            _post_update(client, service, service["Spec"])
        except APIError as exc:
            errors.append(f"{name}: Error response from daemon: {exc.message}")
            continue
        sys.stdout.write(f"{name} scaled to {count}\n")
        scaled.append(service["ID"])
    status = 0
    if not values["detach"]:
        for service_id in scaled:
            status = _converge(client, service_id, {}) or status
    if errors:
        return _fail("\n".join(errors))
    return status


@command(RM)
def rm(client: Client, _values: dict, args: list[str]) -> int:
    from dockyard.cli.secret import remove_objects  # the same loop as secret rm and config rm

    return remove_objects(client, "/services", args)


# -- ls


def _image(service: dict, no_trunc: bool = False) -> str:
    image = ((service["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", "")
    return image if no_trunc else image.split("@")[0]


def _mode(spec: dict) -> str:
    mode = spec.get("Mode") or {}
    return {"Global": "global", "ReplicatedJob": "replicated job", "GlobalJob": "global job"}.get(
        next(iter(mode), "Replicated"), "replicated")


def _replicas(service: dict) -> str:
    status = service.get("ServiceStatus") or {}
    running, desired, completed = (status.get("RunningTasks", 0), status.get("DesiredTasks", 0),
                                   status.get("CompletedTasks", 0))
    spec = service["Spec"]
    mode = spec.get("Mode") or {}
    if "Replicated" in mode:
        max_per_node = ((spec.get("TaskTemplate") or {}).get("Placement") or {}).get("MaxReplicas")
        text = f"{running}/{desired}"
        return text + (f" (max {max_per_node} per node)" if max_per_node else "")
    if "ReplicatedJob" in mode:
        total = mode["ReplicatedJob"].get("TotalCompletions", 1)
        return f"{running}/{desired} ({completed}/{total} completed)"
    if "GlobalJob" in mode:
        return f"{running}/{desired} ({completed}/{desired + completed} completed)"
    return f"{running}/{desired}"


def _ports(service: dict) -> str:
    ports = (service.get("Endpoint") or {}).get("Ports") or []
    return ", ".join(f"*:{p['PublishedPort']}->{p['TargetPort']}/{p.get('Protocol', 'tcp')}"
                     for p in ports if p.get("PublishMode", "ingress") == "ingress" and p.get("PublishedPort"))


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    found = client.call("GET", "/services", query={"filters": filters_json(values["filter"]), "status": True}) or []
    write_services(found, values)
    return 0


def write_services(found: list[dict], values: dict) -> None:
    """docker/cli's service ListFormatWrite (`service ls`, `stack services`): by name, -q for IDs."""
    from dockyard.cli.output import formatted

    found.sort(key=lambda s: s["Spec"].get("Name", ""))
    template = values["format"] or "table"
    if values["quiet"] and template == "table":
        sys.stdout.write("".join(s["ID"][:12] + "\n" for s in found))  # docker/cli's truncated IDs, as in the table
        return
    if template == "table":
        template = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"
    elif template == "json":
        template = "{{json .}}"
    rows = [{"ID": s["ID"][:12], "Name": s["Spec"].get("Name", ""), "Mode": _mode(s["Spec"]),
             "Replicas": _replicas(s), "Image": _image(s), "Ports": _ports(s)} for s in found]
    headers = {"ID": "ID", "Name": "NAME", "Mode": "MODE", "Replicas": "REPLICAS", "Image": "IMAGE",
               "Ports": "PORTS"}
    sys.stdout.write(formatted(template, rows, headers))


# -- ps


class _Names:
    """Node and service IDs to names, asked once each (docker/cli's idresolver)."""

    def __init__(self, client: Client, off: bool) -> None:
        self.client, self.off = client, off
        self.cache: dict[str, str] = {}

    def node(self, node_id: str) -> str:
        if self.off or not node_id:
            return node_id
        if node_id not in self.cache:
            try:
                node = self.client.call("GET", f"/nodes/{node_id}")
                self.cache[node_id] = (node["Spec"].get("Name") or node["Description"]["Hostname"])
            except APIError:
                self.cache[node_id] = node_id
        return self.cache[node_id]

    def service(self, service_id: str) -> str:
        if self.off:
            return service_id
        key = "s:" + service_id
        if key not in self.cache:
            try:
                self.cache[key] = self.client.call("GET", f"/services/{service_id}")["Spec"]["Name"]
            except APIError:
                self.cache[key] = service_id
        return self.cache[key]


def _state_since(task: dict) -> str:
    from dockyard.cli.output import ago
    from dockyard.util.timefmt import parse_rfc3339

    state = task["Status"]["State"]
    return f"{state.capitalize()} {ago(parse_rfc3339(task['Status']['Timestamp']) / 1e9).lower()}"


@command(PS)
def ps(client: Client, values: dict, args: list[str]) -> int:
    filters = json.loads(filters_json(values["filter"]) or "{}")
    tasks: list[dict] = []
    errors: list[str] = []
    for ref in args:
        try:
            service = _inspect(client, ref)
        except APIError as exc:
            errors.append(f"no such service: {ref}" if exc.status == 404 else f"Error response from daemon: "
                          f"{exc.message}")
            continue
        query = {"filters": json.dumps({**filters, "service": [service["ID"]]})}
        tasks += client.call("GET", "/tasks", query=query) or []
    if errors and not tasks:
        return _fail("\n".join(errors))
    write_tasks(client, tasks, values)
    return _fail("\n".join(errors)) if errors else 0


def write_tasks(client: Client, tasks: list[dict], values: dict) -> None:
    """docker/cli's task.Print (`service ps`, `node ps`, `stack ps`): by name, newest first, a
    slot's earlier tasks as `\\_ name` rows."""
    from dockyard.cli.output import ellipsis, formatted

    names = _Names(client, values["no_resolve"])

    def name(task: dict) -> str:
        service = names.service(task["ServiceID"])
        return f"{service}.{task['Slot']}" if task.get("Slot") else f"{service}.{task.get('NodeID', '')}"

    tasks.sort(key=lambda t: t["CreatedAt"], reverse=True)
    tasks.sort(key=name)
    template = values["format"] or "table"
    if values["quiet"] and template == "table":
        sys.stdout.write("".join(t["ID"] + "\n" for t in tasks))
        return
    if template == "table":
        template = ("table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t"
                    "{{.Error}}\t{{.Ports}}")
    rows, previous = [], None
    for task in tasks:
        task_name = name(task)
        shown = task_name if task_name != previous else f" \\_ {task_name}"
        previous = task_name
        err = task["Status"].get("Err", "")
        if err and not values["no_trunc"]:
            err = ellipsis(err, 30)
        image = ((task["Spec"].get("ContainerSpec") or {}).get("Image", ""))
        ports = ((task["Status"].get("PortStatus") or {}).get("Ports") or [])
        rows.append({
            "ID": task["ID"] if values["no_trunc"] else task["ID"][:12], "Name": shown,
            "Image": image if values["no_trunc"] else image.split("@")[0], "Node": names.node(task.get("NodeID", "")),
            "DesiredState": task["DesiredState"].capitalize(), "CurrentState": _state_since(task),
            "Error": f'"{err}"' if err else "",
            "Ports": ", ".join(f"*:{p.get('PublishedPort')}->{p['TargetPort']}/{p.get('Protocol', 'tcp')}"
                               for p in ports),
        })
    headers = {"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE", "DesiredState": "DESIRED STATE",
               "CurrentState": "CURRENT STATE", "Error": "ERROR", "Ports": "PORTS"}
    sys.stdout.write(formatted(template, rows, headers))


# -- inspect


@command(INSPECT)
def inspect(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.service_pretty import pretty
    from dockyard.cli.template import render

    if values["pretty"] and values["format"]:
        return _fail("--format is incompatible with human friendly format")
    found, errors = [], []
    for ref in args:
        try:
            found.append(_inspect(client, ref))
        except APIError as exc:
            errors.append(f"Error: no such service: {ref}" if exc.status == 404 else f"Error response from daemon: "
                          f"{exc.message}")
    if values["pretty"]:
        sys.stdout.write("".join(pretty(s, _Names(client, False)) for s in found))
    elif values["format"]:
        sys.stdout.write("".join(render(values["format"], s) + "\n" for s in found))
    else:
        sys.stdout.write(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    return _fail("\n".join(errors)) if errors else 0


# -- logs


@command(LOGS)
def logs(client: Client, values: dict, args: list[str]) -> int:
    import time

    from dockyard.cli.common import time_flag

    ref = args[0]
    try:
        service = client.call("GET", f"/services/{ref}")
        path, tty = f"/services/{ref}/logs", bool(
            service["Spec"]["TaskTemplate"].get("ContainerSpec", {}).get("TTY"))
        replicas = (service["Spec"].get("Mode") or {}).get("Replicated", {}).get("Replicas")
        width = len(str(replicas)) if replicas is not None else 1
    except APIError as exc:
        if exc.status != 404:
            raise
        try:
            task = client.call("GET", f"/tasks/{ref}")
        except APIError as inner:
            if inner.status == 404:
                return _fail(f"no such task or service: {ref}")
            raise
        path, tty = f"/tasks/{ref}/logs", bool((task["Spec"].get("ContainerSpec") or {}).get("TTY"))
        width = len(str(task.get("Slot", 0)))
    if tty and not values["raw"]:
        return _fail("tty service logs only supported with --raw")
    query = {"stdout": True, "stderr": True, "follow": values["follow"], "timestamps": values["timestamps"],
             "tail": values["tail"], "details": values["details"] or not values["raw"],
             "since": time_flag(values["since"], time.time()) if values["since"] else None}
    response = client.send("GET", path, query=query)
    try:
        if tty or values["raw"]:
            from dockyard.cli.streams import copy_output

            copy_output(response, multiplexed=not tty)
        else:
            _pretty_logs(client, response, values, width)
    finally:
        response.close()
    return 0


def _pretty_logs(client: Client, response, values: dict, width: int) -> None:
    """Each line prefixed with `<service>.<slot>.<task>@<node>` from the details' context."""
    import os
    from urllib.parse import unquote

    from dockyard.util.frames import HEADER, STDERR

    names = _Names(client, values["no_resolve"])
    cache: dict[tuple[str, str, str], str] = {}

    def prefix(node_id: str, service_id: str, task_id: str) -> str:
        key = (node_id, service_id, task_id)
        if key not in cache:
            task = client.call("GET", f"/tasks/{task_id}")
            name = f"{names.service(service_id)}.{task.get('Slot', 0)}"
            if not values["no_task_ids"]:
                name += "." + (task["ID"] if values["no_trunc"] else task["ID"][:12])
            cache[key] = name + "@" + names.node(node_id) + " " * max(width - len(str(task.get("Slot", 0))), 0)
        return cache[key]

    def line(data: bytes) -> bytes:
        parts = data.split(b" ", 2 if values["timestamps"] else 1)
        stamp = parts.pop(0) + b" " if values["timestamps"] else b""
        details_raw, message = parts[0].decode(), parts[1] if len(parts) > 1 else b""
        details = {}
        for pair in details_raw.split(","):
            key, _, value = pair.partition("=")
            details[unquote(key)] = unquote(value)
        context = [details.pop(f"com.docker.swarm.{k}.id", "") for k in ("node", "service", "task")]
        out = stamp + (prefix(*context) + "    | ").encode()
        if values["details"]:
            out += ",".join(sorted(f"{k}={v}" for k, v in details.items())).encode() + b" "
        return out + message

    buffer = b""
    while data := response.read_some():
        buffer += data
        while len(buffer) >= HEADER.size:
            stream, size = HEADER.unpack_from(buffer)
            if len(buffer) < HEADER.size + size:
                break
            payload, buffer = buffer[HEADER.size:HEADER.size + size], buffer[HEADER.size + size:]
            os.write(sys.stderr.fileno() if stream == STDERR else sys.stdout.fileno(), line(payload))
