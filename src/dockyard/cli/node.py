"""`node ls|inspect|update|promote|demote|rm|ps`, as docker/cli's cli/command/node: the same
columns (ID with `*` for this node, HOSTNAME, STATUS, AVAILABILITY, MANAGER STATUS, ENGINE
VERSION), pretty template, messages and refusals."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import filters_json
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.cli.secret import fail, pretty_time

LS = Command("node ls", "[OPTIONS]", "List nodes in the swarm", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display IDs"),
), max_args=0)
INSPECT = Command("node inspect", "[OPTIONS] self|NODE [NODE...]", "Display detailed information on one or more nodes",
                  (Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),
                   Opt(("--pretty",), "pretty", "bool", "Print the information in a human friendly format")),
                  min_args=1)
UPDATE = Command("node update", "[OPTIONS] NODE", "Update a node", (
    Opt(("--availability",), "availability", "str", 'Availability of the node ("active", "pause", "drain")',
        metavar="string"),
    Opt(("--label-add",), "label_add", "list", 'Add or update a node label ("key=value")', metavar="list"),
    Opt(("--label-rm",), "label_rm", "list", "Remove a node label if exists", metavar="list"),
    Opt(("--role",), "role", "str", 'Role of the node ("worker", "manager")', metavar="string"),
), min_args=1, max_args=1)
PROMOTE = Command("node promote", "NODE [NODE...]", "Promote one or more nodes to manager in the swarm", (),
                  min_args=1)
DEMOTE = Command("node demote", "NODE [NODE...]", "Demote one or more nodes from manager in the swarm", (),
                 min_args=1)
RM = Command("node rm", "[OPTIONS] NODE [NODE...]", "Remove one or more nodes from the swarm", (
    Opt(("-f", "--force"), "force", "bool", "Force remove a node from the swarm"),
), min_args=1)
PS = Command("node ps", "[OPTIONS] [NODE...]", "List tasks running on one or more nodes, defaults to current node", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Pretty-print tasks using a Go template", metavar="string"),
    Opt(("--no-resolve",), "no_resolve", "bool", "Do not map IDs to Names"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display task IDs"),
))

LS_TABLE = ("table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t"
            "{{.ManagerStatus}}\t{{.EngineVersion}}")
LS_HEADERS = {"ID": "ID", "Self": "", "Hostname": "HOSTNAME", "Status": "STATUS", "Availability": "AVAILABILITY",
              "ManagerStatus": "MANAGER STATUS", "EngineVersion": "ENGINE VERSION", "TLSStatus": "TLS STATUS"}
PRETTY = """ID:			{{.ID}}
{{- if .Name }}
Name:			{{.Name}}
{{- end }}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Hostname:              	{{.Hostname}}
Joined at:             	{{.CreatedAt}}
Status:
 State:			{{.StatusState}}
 {{- if .HasStatusMessage}}
 Message:              	{{.StatusMessage}}
 {{- end}}
 Availability:         	{{.SpecAvailability}}
 {{- if .StatusAddr}}
 Address:		{{.StatusAddr}}
 {{- end}}
{{- if .HasManagerStatus}}
Manager Status:
 Address:		{{.ManagerStatusAddr}}
 Raft Status:		{{.ManagerStatusReachability}}
 {{- if .IsManagerStatusLeader}}
 Leader:		Yes
 {{- else}}
 Leader:		No
 {{- end}}
{{- end}}
Platform:
 Operating System:	{{.PlatformOS}}
 Architecture:		{{.PlatformArchitecture}}
Resources:
 CPUs:			{{.ResourceNanoCPUs}}
 Memory:		{{.ResourceMemory}}
{{- if .HasEnginePlugins}}
Plugins:
{{- range $k, $v := .EnginePlugins }}
 {{ $k }}:{{if $v }}		{{ $v }}{{ end }}
{{- end }}
{{- end }}
Engine Version:		{{.EngineVersion}}
{{- if .EngineLabels}}
Engine Labels:
{{- range $k, $v := .EngineLabels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{- end }}
{{- if .HasTLSInfo}}
TLS Info:
 TrustRoot:
{{.TLSInfoTrustRoot}}
 Issuer Subject:	{{.TLSInfoCertIssuerSubject}}
 Issuer Public Key:	{{.TLSInfoCertIssuerPublicKey}}
{{- end}}"""
TASK_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t"
              "{{.Ports}}")
TASK_HEADERS = {"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE", "DesiredState": "DESIRED STATE",
                "CurrentState": "CURRENT STATE", "Error": "ERROR", "Ports": "PORTS"}


def _pretty(word: str) -> str:
    """docker/cli's formatter.PrettyPrint: the first letter upper-cased."""
    return word[:1].upper() + word[1:]


def _natural(text: str) -> list:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _tls_equal(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("TrustRoot", "CertIssuerSubject", "CertIssuerPublicKey"))


def _tls_status(node: dict, cluster_tls: dict) -> str:
    mine = node["Description"].get("TLSInfo") or {}
    if not any(cluster_tls.values()) or not any(mine.values()):
        return "Unknown"
    return "Ready" if _tls_equal(mine, cluster_tls) else "Needs Rotation"


def _manager_status(node: dict) -> str:
    status = node.get("ManagerStatus")
    if not status:
        return ""
    return "Leader" if status.get("Leader") else _pretty(status.get("Reachability", ""))


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import formatted

    nodes = client.call("GET", "/nodes", query={"filters": filters_json(values["filter"])}) or []
    nodes.sort(key=lambda n: _natural(n["Description"]["Hostname"]))
    template = values["format"] or "table"
    if values["quiet"] and template == "table":
        sys.stdout.write("".join(n["ID"] + "\n" for n in nodes))
        return 0
    swarm = (client.call("GET", "/info").get("Swarm") or {}) if nodes else {}
    cluster_tls = (swarm.get("Cluster") or {}).get("TLSInfo") or {}
    rows = [{"Availability": _pretty(n["Spec"]["Availability"]), "EngineVersion":
             n["Description"]["Engine"]["EngineVersion"], "Hostname": n["Description"]["Hostname"], "ID": n["ID"],
             "ManagerStatus": _manager_status(n), "Self": n["ID"] == swarm.get("NodeID"),
             "Status": _pretty(n["Status"]["State"]), "TLSStatus": _tls_status(n, cluster_tls)} for n in nodes]
    if template == "json":
        template = "{{json .}}"
    elif template == "table":
        template = LS_TABLE
    sys.stdout.write(formatted(template, rows, LS_HEADERS))
    return 0


def reference(client: Client, ref: str) -> str:
    """`self` is this node (docker/cli's node.Reference)."""
    if ref != "self":
        return ref
    node_id = (client.call("GET", "/info").get("Swarm") or {}).get("NodeID", "")
    if not node_id:
        client.call("GET", "/nodes")  # Docker's refusal when this node is not a manager
        raise SystemExit(fail("node ID not found in /info"))
    return node_id


def _bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, %.4g."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def _pretty_fields(node: dict) -> dict:
    d, spec, status = node["Description"], node["Spec"], node["Status"]
    manager = node.get("ManagerStatus") or {}
    tls = d.get("TLSInfo") or {}
    plugins: dict[str, list[str]] = {}
    for plugin in d["Engine"].get("Plugins") or []:
        plugins.setdefault(plugin["Type"], []).append(plugin["Name"])
    resources = d.get("Resources") or {}
    return {
        "ID": node["ID"], "Name": spec.get("Name", ""), "Labels": spec.get("Labels") or {}, "Hostname": d["Hostname"],
        "CreatedAt": pretty_time(node["CreatedAt"]), "StatusState": _pretty(status["State"]),
        "HasStatusMessage": bool(status.get("Message")), "StatusMessage": _pretty(status.get("Message", "")),
        "SpecAvailability": _pretty(spec["Availability"]), "StatusAddr": status.get("Addr", ""),
        "HasManagerStatus": bool(manager), "ManagerStatusAddr": manager.get("Addr", ""),
        "ManagerStatusReachability": _pretty(manager.get("Reachability", "")),
        "IsManagerStatusLeader": bool(manager.get("Leader")), "PlatformOS": d["Platform"]["OS"],
        "PlatformArchitecture": d["Platform"]["Architecture"],
        "ResourceNanoCPUs": int(resources.get("NanoCPUs", 0) // 1_000_000_000),
        "ResourceMemory": _bytes_size(resources["MemoryBytes"]) if resources.get("MemoryBytes") else "",
        "HasEnginePlugins": bool(plugins), "EnginePlugins": {k: ", ".join(v) for k, v in plugins.items()},
        "EngineVersion": d["Engine"]["EngineVersion"], "EngineLabels": d["Engine"].get("Labels") or {},
        "HasTLSInfo": any(tls.values()), "TLSInfoTrustRoot": tls.get("TrustRoot", ""),
        "TLSInfoCertIssuerSubject": tls.get("CertIssuerSubject", ""),
        "TLSInfoCertIssuerPublicKey": tls.get("CertIssuerPublicKey", ""),
    }


@command(INSPECT)
def inspect(client: Client, values: dict, args: list[str]) -> int:
    import json

    from dockyard.cli.template import render

    template = "pretty" if values["pretty"] else values["format"] or ""
    if template.startswith("pretty") and template != "pretty":
        return fail("cannot supply extra formatting options to the pretty template")
    found, errors = [], []
    for ref in args:
        try:
            found.append(client.call("GET", f"/nodes/{reference(client, ref)}"))
        except APIError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if template == "pretty":
        sys.stdout.write("".join(render(PRETTY, _pretty_fields(n)) + "\n" for n in found))
    elif template:
        sys.stdout.write("".join(render(template, n) + "\n" for n in found))
    else:
        sys.stdout.write(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    return fail("\n".join(errors)) if errors else 0


class _NoChange(Exception):
    """The role was already the one asked for (docker/cli's errNoRoleChange): nothing is sent."""


def _update_nodes(client: Client, refs: list[str], merge, done) -> int:
    for ref in refs:
        node = client.call("GET", f"/nodes/{ref}")
        try:
            merge(node)
        except _NoChange:
            continue
        client.call("POST", f"/nodes/{node['ID']}/update", body=node["Spec"],
                    query={"version": node["Version"]["Index"]})
        done(ref)
    return 0


@command(UPDATE)
def update(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.common import labels

    def merge(node: dict) -> None:
        spec = node["Spec"]
        if values["role"] is not None:
            spec["Role"] = values["role"]
        if values["availability"] is not None:
            spec["Availability"] = values["availability"]
        spec["Labels"] = spec.get("Labels") or {}
        spec["Labels"].update(labels(values["label_add"]))
        for key in values["label_rm"]:
            if key not in spec["Labels"]:
                raise UsageError(f"key {key} doesn't exist in node's labels")
            del spec["Labels"][key]

    try:
        return _update_nodes(client, args, merge, lambda ref: sys.stdout.write(ref + "\n"))
    except UsageError as exc:
        return fail(str(exc))


def _role_change(role: str, already: str):
    def merge(node: dict) -> None:
        if node["Spec"]["Role"] == role:
            sys.stdout.write(already.format(node["ID"]))
            raise _NoChange()
        node["Spec"]["Role"] = role

    return merge


@command(PROMOTE)
def promote(client: Client, _values: dict, args: list[str]) -> int:
    return _update_nodes(client, args, _role_change("manager", "Node {} is already a manager.\n"),
                         lambda ref: sys.stdout.write(f"Node {ref} promoted to a manager in the swarm.\n"))


@command(DEMOTE)
def demote(client: Client, _values: dict, args: list[str]) -> int:
    return _update_nodes(client, args, _role_change("worker", "Node {} is already a worker.\n"),
                         lambda ref: sys.stdout.write(f"Manager {ref} demoted in the swarm.\n"))


@command(RM)
def rm(client: Client, values: dict, args: list[str]) -> int:
    errors = []
    for ref in args:
        try:
            client.call("DELETE", f"/nodes/{ref}", query={"force": values["force"]})
        except APIError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        sys.stdout.write(ref + "\n")
    return fail("\n".join(errors)) if errors else 0


def _task_rows(client: Client, tasks: list[dict], trunc: bool, resolve: bool) -> list[dict]:
    """docker/cli's task.Print: names `service.slot` (or `service.node` for a global service), older
    tasks of the same name indented with ` \\_ `, nodes by hostname."""
    from dockyard.cli.output import ago
    from dockyard.util.timefmt import parse_rfc3339

    services: dict[str, str] = {}
    hostnames: dict[str, str] = {}

    def service_name(service_id: str) -> str:
        if resolve and service_id not in services:
            try:
                services[service_id] = client.call("GET", f"/services/{service_id}")["Spec"]["Name"]
            except APIError:
                services[service_id] = service_id
        return services.get(service_id, service_id)

    def hostname(node_id: str) -> str:
        if resolve and node_id and node_id not in hostnames:
            try:
                hostnames[node_id] = client.call("GET", f"/nodes/{node_id}")["Description"]["Hostname"]
            except APIError:
                hostnames[node_id] = node_id
        return hostnames.get(node_id, node_id)

    def name(task: dict) -> str:
        base = service_name(task.get("ServiceID", ""))
        return f"{base}.{task['Slot']}" if task.get("Slot") else f"{base}.{task.get('NodeID', '')}"

    def newest_first(task: dict) -> tuple:
        return name(task), task.get("Slot", 0), -parse_rfc3339(str(task.get("UpdatedAt") or task.get("CreatedAt")))

    tasks = sorted(tasks, key=newest_first)
    rows, previous = [], ""
    for task in tasks:
        status = task.get("Status") or {}
        image = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Image", "")
        if trunc:
            image = image.split("@", 1)[0]
        shown = name(task)
        ports = ", ".join(f"*:{p.get('PublishedPort')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
                          for p in (status.get("PortStatus") or {}).get("Ports") or [])
        error = status.get("Err", "")
        rows.append({
            "ID": task["ID"][:12] if trunc else task["ID"], "Name": (" \\_ " + shown) if shown == previous else shown,
            "Image": image, "Node": hostname(task.get("NodeID", "")),
            "DesiredState": _pretty(task.get("DesiredState", "")),
            "CurrentState": f"{_pretty(status.get('State', ''))} {ago(parse_rfc3339(status['Timestamp']) / 1e9)}"
                            if status.get("Timestamp") else _pretty(status.get("State", "")),
            "Error": f'"{error[:29] + "…" if trunc and len(error) > 30 else error}"' if error else "",
            "Ports": ports,
        })
        previous = shown
    return rows


@command(PS)
def ps(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.output import formatted

    tasks: list[dict] = []
    errors: list[str] = []
    for ref in args or ["self"]:
        try:
            node = client.call("GET", f"/nodes/{reference(client, ref)}")
            entries = [*values["filter"], f"node={node['ID']}"]
            tasks += client.call("GET", "/tasks", query={"filters": filters_json(entries)}) or []
        except APIError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if not errors or tasks:
        template = values["format"] or "table"
        if values["quiet"] and template == "table":
            sys.stdout.write("".join(t["ID"] + "\n" for t in tasks))
        else:
            rows = _task_rows(client, tasks, not values["no_trunc"], not values["no_resolve"])
            sys.stdout.write(formatted(TASK_TABLE if template == "table" else template, rows, TASK_HEADERS))
    return fail("\n".join(errors)) if errors else 0
