"""ps, ls, config, images, volumes, top, port, version, events: reading the project back from the engine."""

from __future__ import annotations

import json
import sys

from dockyard import __version__
from dockyard.client.engine import ContainerSummary
from dockyard.compose import state
from dockyard.compose.errors import ComposeError
from dockyard.compose.service import LABEL_CONFIG_FILES, LABEL_PROJECT, LABEL_SERVICE


def _table(headers: list[str], rows: list[list[str]]) -> str:
    from dockyard.cli.output import table

    return table(headers, rows)


def format_ports(container: ContainerSummary) -> str:
    shown = []
    for port in sorted(container.ports, key=lambda p: (p.private_port, p.protocol, p.host_ip)):
        if port.public_port:
            ip = port.host_ip or "0.0.0.0"
            host = f"[{ip}]" if ":" in ip and ip != "::" else (":::" if ip == "::" else ip)
            prefix = ":::" if ip == "::" else f"{host}:"
            shown.append(f"{prefix}{port.public_port}->{port.private_port}/{port.protocol}")
        else:
            shown.append(f"{port.private_port}/{port.protocol}")
    return ", ".join(dict.fromkeys(shown))


def _ps_row(container: ContainerSummary) -> dict:
    from dockyard.cli.output import ago, ellipsis

    return {"ID": container.id, "Name": container.name, "Image": container.image,
            "Command": container.command, "Project": container.labels.get(LABEL_PROJECT, ""),
            "Service": container.labels.get(LABEL_SERVICE, ""), "Created": container.created,
            "RunningFor": ago(container.created), "State": container.state, "Status": container.status,
            "Health": "", "ExitCode": 0, "Ports": format_ports(container),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(container.labels.items())),
            "_command": json.dumps(ellipsis(container.command, 20), ensure_ascii=False)}


def ps(ctx, args) -> int:
    name = ctx.project_name() if not args.services else ctx.load(args.services).name
    containers = state.project_containers(ctx.engine, name, all=args.all or bool(args.status),
                                          services=args.services or None)
    if not args.all and not args.status:
        containers = [c for c in containers if c.state in ("running", "paused", "restarting")]
    if args.status:
        containers = [c for c in containers if c.state in args.status]
    if args.filter:
        for entry in args.filter:
            key, _, value = entry.partition("=")
            if key != "status":
                raise ComposeError(f"invalid filter {key!r}: only status is supported")
            containers = [c for c in containers if c.state == value]
    if args.services_only:
        sys.stdout.write("".join(f"{s}\n" for s in dict.fromkeys(c.labels.get(LABEL_SERVICE, "")
                                                                   for c in containers)))
        return 0
    if args.quiet:
        sys.stdout.write("".join(f"{c.id}\n" for c in containers))
        return 0
    rows = [_ps_row(c) for c in containers]
    if args.format == "json":
        sys.stdout.write("".join(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}) + "\n"
                                 for r in rows))
        return 0
    if args.format and args.format != "table":
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(args.format, rows, {k: k.upper() for k in rows[0]} if rows else {}))
        return 0
    sys.stdout.write(_table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"],
                            [[r["Name"], r["Image"], r["_command"], r["Service"], r["RunningFor"], r["Status"],
                              r["Ports"]] for r in rows]))
    return 0


def ls(ctx, args) -> int:
    containers = ctx.engine.containers({LABEL_PROJECT: None}, all=True)
    projects: dict[str, dict] = {}
    for container in containers:
        name = container.labels.get(LABEL_PROJECT, "")
        entry = projects.setdefault(name, {"states": {}, "files": container.labels.get(LABEL_CONFIG_FILES, "")})
        entry["states"][container.state] = entry["states"].get(container.state, 0) + 1
    rows = []
    for name in sorted(projects):
        entry = projects[name]
        if not args.all and "running" not in entry["states"]:
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(entry["states"].items()))
        rows.append({"Name": name, "Status": status, "ConfigFiles": entry["files"]})
    if args.filter:
        for entry in args.filter:
            key, _, value = entry.partition("=")
            if key != "name":
                raise ComposeError(f"invalid filter {key!r}")
            rows = [r for r in rows if value in r["Name"]]
    if args.quiet:
        sys.stdout.write("".join(r["Name"] + "\n" for r in rows))
    elif args.format == "json":
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        sys.stdout.write(_table(["NAME", "STATUS", "CONFIG FILES"],
                                [[r["Name"], r["Status"], r["ConfigFiles"]] for r in rows]))
    return 0


def config(ctx, args) -> int:
    project = ctx.load()
    if args.services:
        sys.stdout.write("".join(f"{s}\n" for s in project.services))
        return 0
    if args.volumes:
        sys.stdout.write("".join(f"{v}\n" for v in project.volumes))
        return 0
    if args.profiles:
        found = {p for s in list(project.services.values()) for p in s.profiles}
        found |= {p for d in project.disabled.values() for p in d.get("profiles") or []}
        sys.stdout.write("".join(f"{p}\n" for p in sorted(found)))
        return 0
    if args.images:
        sys.stdout.write("".join(f"{s.image}\n" for s in project.services.values()))
        return 0
    document = normalised(project)
    if args.hash:
        from dockyard.compose.service import config_hash

        wanted = project.services if args.hash == "*" else args.hash.split(",")
        for name in wanted:
            sys.stdout.write(f"{name} {config_hash(project.service(name))}\n")
        return 0
    if args.quiet:
        return 0
    if args.format == "json":
        text = json.dumps(document, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def normalised(project) -> dict:
    """The model as Compose v2's `config` prints it: the name, services with defaults filled, networks."""
    services = {}
    for name in sorted(project.services):
        service = project.services[name]
        config = dict(service.config)
        if not service.network_mode:
            config["networks"] = {k: (v if v else None) for k, v in (config.get("networks") or {"default": None})
                                  .items()}
        services[name] = dict(sorted(config.items()))
    document: dict = {"name": project.name, "services": services}
    networks = {}
    for key, network in project.networks.items():
        entry: dict = {"name": network.name}
        if network.driver:
            entry["driver"] = network.driver
        if network.external:
            entry["external"] = True
        if network.internal:
            entry["internal"] = True
        if network.ipam:
            entry["ipam"] = network.ipam
        if network.labels:
            entry["labels"] = network.labels
        networks[key] = entry
    if networks:
        document["networks"] = networks
    volumes = {}
    for key, volume in project.volumes.items():
        entry = {"name": volume.name}
        if volume.driver:
            entry["driver"] = volume.driver
        if volume.external:
            entry["external"] = True
        if volume.labels:
            entry["labels"] = volume.labels
        volumes[key] = entry
    if volumes:
        document["volumes"] = volumes
    for kind in ("secrets", "configs"):
        if project.document.get(kind):
            document[kind] = project.document[kind]
    return document


def images(ctx, args) -> int:
    from dockyard.cli.output import human_size

    name = ctx.project_name() if not args.services else ctx.load(args.services).name
    containers = state.project_containers(ctx.engine, name, services=args.services or None)
    rows = []
    seen = {}
    for container in containers:
        image_id = container.image_id
        if image_id not in seen:
            details = ctx.engine.inspect_image(image_id) or {}
            seen[image_id] = details
        details = seen[image_id]
        tags = details.get("RepoTags") or [container.image]
        repo, _, tag = tags[0].rpartition(":")
        if not repo:
            repo, tag = tags[0], "latest"
        rows.append({"ContainerName": container.name, "Repository": repo, "Tag": tag,
                     "ID": image_id.removeprefix("sha256:")[:12], "Size": int(details.get("Size") or 0)})
    if args.quiet:
        sys.stdout.write("".join(f"{i}\n" for i in dict.fromkeys(c.image_id for c in containers)))
    elif args.format == "json":
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        sys.stdout.write(_table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
                                [[r["ContainerName"], r["Repository"], r["Tag"], r["ID"], human_size(r["Size"])]
                                 for r in rows]))
    return 0


def volumes(ctx, args) -> int:
    """The project's volumes; with services, only those their running containers mount."""
    from dockyard.cli.volumes import write_volumes

    name = ctx.project_name() if not args.services else ctx.load(args.services).name
    answer = ctx.engine.transport.call("GET", "/volumes",
                                       query={"filters": json.dumps({"label": [f"{LABEL_PROJECT}={name}"]})})
    found = answer.get("Volumes") or []
    if args.services:
        mounted = {m for c in state.project_containers(ctx.engine, name, all=False, oneoff=None,
                                                         services=args.services) for m in c.mounts}
        found = [v for v in found if v["Name"] in mounted]
    write_volumes(found, args.format, args.quiet)
    return 0


def top(ctx, args) -> int:
    project = ctx.load(args.services)
    containers = [c for c in state.project_containers(ctx.engine, project.name, services=args.services or None)
                  if c.state == "running"]
    for container in containers:
        answer = ctx.engine.top(container.id)
        sys.stdout.write(f"{container.name}\n")
        sys.stdout.write(_table(answer.get("Titles") or [], answer.get("Processes") or []))
        sys.stdout.write("\n")
    return 0


def port(ctx, args) -> int:
    project = ctx.load([args.service])
    containers = [c for c in state.project_containers(ctx.engine, project.name, services=[args.service])
                  if state.number_of(c) == args.index]
    if not containers:
        raise ComposeError(f"service \"{args.service}\" is not running container #{args.index}")
    details = ctx.engine.inspect_container(containers[0].id)
    bindings = details.ports.get(f"{args.private_port}/{args.protocol}") or []
    if not bindings:
        raise ComposeError(f"no port {args.private_port}/{args.protocol} for container {containers[0].name}: "
                           "the port is not published")
    first = bindings[0]
    sys.stdout.write(f"{first.get('HostIp') or '0.0.0.0'}:{first.get('HostPort')}\n")
    return 0


def version(ctx, args) -> int:
    if args.format == "json":
        sys.stdout.write(json.dumps({"version": f"v{__version__}"}) + "\n")
    elif args.short:
        sys.stdout.write(f"{__version__}\n")
    else:
        sys.stdout.write(f"Dockyard Compose version v{__version__}\n")
    return 0


def events(ctx, args) -> int:
    import time

    name = ctx.project_name()
    from dockyard.client.engine import label_filters

    response = ctx.engine.events(label_filters({LABEL_PROJECT: name}, type=["container"]))
    try:
        for event in response.json_lines():
            attributes = dict((event.get("Actor") or {}).get("Attributes") or {})
            service = attributes.get(LABEL_SERVICE, "")
            if args.services and service not in args.services:
                continue
            nanos = event.get("timeNano") or int(event.get("time", 0)) * 10**9
            if args.json:
                sys.stdout.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(nanos / 1e9)),
                                             "type": "container", "action": event.get("Action", ""),
                                             "id": (event.get("Actor") or {}).get("ID", ""), "service": service,
                                             "attributes": attributes}) + "\n")
            else:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(nanos / 1e9))
                shown = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items())
                                  if not k.startswith("com.docker.compose"))
                sys.stdout.write(f"{stamp}.{nanos % 10**9 // 1000:06d} container {event.get('Action', '')} "
                                 f"{(event.get('Actor') or {}).get('ID', '')} ({shown})\n")
            sys.stdout.flush()
    finally:
        response.close()
    return 0
