"""logs (and `up`'s attached output), exec, run, cp."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

from dockyard.client.engine import ContainerSummary
from dockyard.client.transport import APIError
from dockyard.compose import state
from dockyard.compose.errors import ComposeError
from dockyard.util.frames import HEADER

COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


class LogPrinter:
    """`web-1  | line` with one colour per container, whole lines only, from many threads."""

    def __init__(self, names: list[str], *, colour: bool, prefix: bool = True) -> None:
        self.width = max((len(n) for n in names), default=0)
        self.colour = colour
        self.prefix = prefix
        self.lock = threading.Lock()
        self.colours = {n: COLOURS[i % len(COLOURS)] for i, n in enumerate(names)}

    def line(self, name: str, text: str) -> None:
        if self.prefix:
            label = f"{name.ljust(self.width)}  | "
            if self.colour:
                label = f"\x1b[{self.colours.get(name, '0')}m{label}\x1b[0m"
        else:
            label = ""
        with self.lock:
            sys.stdout.write(label + text + "\n")
            sys.stdout.flush()


def _short_name(project: str, container: ContainerSummary) -> str:
    """Compose v2 prints `web-1` for `<project>-web-1`."""
    return container.name.removeprefix(f"{project}-")


def stream_lines(response, tty: bool):
    """Lines of a (maybe multiplexed) log stream."""
    buffer = b""
    pending = b""
    try:
        while data := response.read_some():
            if tty:
                pending += data
            else:
                buffer += data
                while len(buffer) >= HEADER.size:
                    _stream, size = HEADER.unpack_from(buffer)
                    if len(buffer) < HEADER.size + size:
                        break
                    pending += buffer[HEADER.size:HEADER.size + size]
                    buffer = buffer[HEADER.size + size:]
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                yield line.rstrip(b"\r").decode(errors="replace")
        if pending:
            yield pending.decode(errors="replace")
    finally:
        response.close()


def _follow(ctx, printer: LogPrinter, name: str, container: ContainerSummary, follow: bool, tail: str,
            timestamps: bool, since: str | None = None) -> None:
    try:
        details = ctx.engine.inspect_container(container.id)
        response = ctx.engine.logs(container.id, follow=follow, tail=tail, timestamps=timestamps, since=since)
    except APIError:
        return
    tty = bool((details.raw.get("Config") or {}).get("Tty"))
    for line in stream_lines(response, tty):
        printer.line(name, line)


def logs(ctx, args) -> int:
    project = ctx.load(args.services)
    containers = state.project_containers(ctx.engine, project.name, services=args.services or None)
    if args.index is not None:
        containers = [c for c in containers if state.number_of(c) == args.index]
    names = [_short_name(project.name, c) for c in containers]
    printer = LogPrinter(names, colour=not args.no_color and sys.stdout.isatty(), prefix=not args.no_log_prefix)
    threads = [threading.Thread(target=_follow, daemon=True,
                                args=(ctx, printer, n, c, args.follow, args.tail, args.timestamps, args.since))
               for n, c in zip(names, containers, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    return 0


def attach_logs(ctx, project, services: list[str], *, abort: bool, exit_code_from: str | None,
                stop_project: Callable[[], object], since: float | None = None) -> int:
    """`up` without -d: every container's output until they all exit (or one, with --abort-on-container-exit);
    Ctrl+C stops the project's containers (``stop_project``: `up`'s own stop, so the two modules need not
    import each other)."""
    containers = state.project_containers(ctx.engine, project.name, services=services)
    names = [_short_name(project.name, c) for c in containers]
    sys.stdout.write(f"Attaching to {', '.join(names)}\n")
    sys.stdout.flush()
    printer = LogPrinter(names, colour=sys.stdout.isatty())
    exited: list[tuple[ContainerSummary, int]] = []
    done = threading.Event()
    lock = threading.Lock()

    def watch(name: str, container: ContainerSummary) -> None:
        # output from this `up` on, not what an earlier run of a restarted container printed
        _follow(ctx, printer, name, container, True, "all", False, f"{since:.6f}" if since else None)
        try:
            code = ctx.engine.wait(container.id)
        except APIError:
            code = 0
        with printer.lock:
            sys.stdout.write(f"{name} exited with code {code}\n")
            sys.stdout.flush()
        with lock:
            exited.append((container, code))
            if abort or len(exited) == len(containers):
                done.set()

    for name, container in zip(names, containers, strict=True):
        threading.Thread(target=watch, args=(name, container), daemon=True).start()
    stop_all = False
    try:
        while not done.wait(0.5):
            pass
        stop_all = abort
    except KeyboardInterrupt:
        sys.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n")
        stop_all = True
    if stop_all:
        if abort:
            sys.stdout.write("Aborting on container exit...\n")
        stop_project()
    if exit_code_from:
        for container, code in exited:
            if container.labels.get("com.docker.compose.service") == exit_code_from:
                return code
        for container in state.project_containers(ctx.engine, project.name, services=[exit_code_from]):
            return ctx.engine.inspect_container(container.id).exit_code
    if abort and exited:
        return exited[0][1]
    return 0


def _env_list(entries: list[str] | None) -> list[str]:
    out = []
    for entry in entries or []:
        if "=" in entry:
            out.append(entry)
        elif entry in os.environ:
            out.append(f"{entry}={os.environ[entry]}")
    return out


def exec_(ctx, args) -> int:
    project = ctx.load([args.service])
    container = state.service_container(ctx.engine, project.name, args.service, args.index)
    tty = not args.no_tty and sys.stdin.isatty()
    body = {"Cmd": args.command, "AttachStdin": not args.detach and tty or (not args.detach and args.interactive),
            "AttachStdout": not args.detach, "AttachStderr": not args.detach, "Tty": tty,
            "Privileged": args.privileged, "User": args.user, "WorkingDir": args.workdir,
            "Env": _env_list(args.env) or None}
    if not args.command:
        raise ComposeError("exec requires at least 2 arguments")
    exec_id = ctx.engine.exec_create(container.id, {k: v for k, v in body.items() if v is not None})
    if args.detach:
        ctx.engine.exec_start(exec_id, tty=tty, detach=True).close()
        return 0
    from dockyard.cli.streams import stream_attached

    response = ctx.engine.exec_start(exec_id, tty=tty)
    stream_attached(response, tty=tty, stdin=bool(body["AttachStdin"]))
    return int(ctx.engine.exec_inspect(exec_id).get("ExitCode") or 0)


def run(ctx, args) -> int:
    from dockyard.compose import images
    from dockyard.compose.convergence import Converger, Options
    from dockyard.compose.progress import Progress
    from dockyard.compose.up import UpRequest, converge

    project = ctx.load([args.service])
    service = project.service(args.service)
    with Progress("Running", ctx.options.progress) as progress:
        deps = [d for d in service.links_to if d in project.services]
        if deps and not args.no_deps:
            converge(ctx.engine, project, UpRequest(deps, False, "", Options()), progress)
        image_id = images.ensure(ctx.engine, project, service, progress)
        from dockyard.compose import resources

        networks, volumes = resources.used_by(project, [service.name])
        resources.ensure_networks(ctx.engine, project, networks, progress, [])
        resources.ensure_volumes(ctx.engine, project, volumes, progress, [])
    converger = Converger(ctx.engine, project, Progress("Running", "quiet"))
    converger.names.update(state.running_names(state.project_containers(ctx.engine, project.name)))
    tty = not args.no_tty and sys.stdin.isatty()
    overrides: dict = {"Tty": tty, "OpenStdin": not args.detach, "AttachStdin": not args.detach,
                       "AttachStdout": not args.detach, "AttachStderr": not args.detach, "StdinOnce": not args.detach}
    if args.command:
        overrides["Cmd"] = args.command
    if args.entrypoint is not None:
        import shlex

        overrides["Entrypoint"] = shlex.split(args.entrypoint)
    if args.user:
        overrides["User"] = args.user
    if args.workdir:
        overrides["WorkingDir"] = args.workdir
    suffix = os.urandom(6).hex()
    body_env = list((service.config.get("environment") or {}).items())
    env = [f"{k}={v}" for k, v in body_env if v is not None] + _env_list(args.env)
    if env:
        overrides["Env"] = env
    if args.label:
        labels = dict(x.partition("=")[::2] for x in args.label)
        overrides["Labels"] = labels  # merged below
    if not args.service_ports:
        service.ports = []
    if args.publish:
        from dockyard.compose.model import PortSpec

        service.ports = [p for raw in args.publish for p in PortSpec.parse(raw, "--publish")]
    if args.volume:
        from dockyard.compose.model import VolumeSpec

        service.volumes = service.volumes + [VolumeSpec.parse(v, "--volume") for v in args.volume]
    if args.label:
        from dockyard.compose.service import container_labels

        extra = overrides.pop("Labels")
        overrides["Labels"] = {**container_labels(project, service, 1, oneoff=True, image_id=image_id), **extra}
    number = 1
    cid = converger.create(service, number, image_id, name=args.name, oneoff=suffix, overrides=overrides,
                           report=False)
    name = ctx.engine.inspect_container(cid).name
    if args.detach:
        ctx.engine.start(cid)
        sys.stdout.write(name + "\n")
        return 0
    from dockyard.cli.streams import send_terminal_size, stream_attached

    response = ctx.engine.attach(cid, stdin=True)
    ctx.engine.start(cid)
    if tty:
        send_terminal_size(ctx.engine.transport, cid)
    stream_attached(response, tty=tty, stdin=True)
    code = ctx.engine.wait(cid)
    if args.rm:
        try:
            ctx.engine.remove_container(cid, force=True, volumes=True)
        except APIError:
            pass
    return code


def cp(ctx, args) -> int:
    project = ctx.load()

    def resolve(text: str) -> str:
        service, sep, path = text.partition(":")
        if not sep or service.startswith(("/", ".")):
            return text
        containers = state.project_containers(ctx.engine, project.name, services=[service])
        if not containers:
            raise ComposeError(f"no container found for service \"{service}\"")
        chosen = [c for c in containers if state.number_of(c) == (args.index or 1)] or containers
        return f"{chosen[0].id}:{path}"

    from dockyard.cli.container.copy import cp as docker_cp

    return docker_cp(ctx.engine.transport, [resolve(args.source), resolve(args.destination)])
