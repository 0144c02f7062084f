"""up, create, down, start, stop, restart, pause, unpause, kill, rm, scale, wait."""

from __future__ import annotations

import argparse
import sys

from dockyard.client.transport import APIError
from dockyard.compose import graph, resources, state
from dockyard.compose.convergence import Converger, Options
from dockyard.compose.errors import ComposeError
from dockyard.compose.parallel import run_all, run_graph
from dockyard.compose.progress import Progress
from dockyard.compose.service import LABEL_SERVICE


def _scale(entries: list[str] | None) -> dict[str, int]:
    out = {}
    for entry in entries or []:
        name, sep, count = entry.partition("=")
        if not sep or not count.isdigit():
            raise ComposeError(f"invalid --scale value {entry!r}: use SERVICE=NUM")
        out[name] = int(count)
    return out


def _progress(ctx, title: str = "Running") -> Progress:
    return Progress(title, ctx.options.progress)


def up(ctx, args) -> int:
    from dockyard.compose.up import UpRequest, converge

    if args.build and args.no_build:
        raise ComposeError("--build and --no-build are incompatible")
    if args.force_recreate and args.no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if args.exit_code_from:
        args.abort_on_container_exit = True
    if args.detach and (args.abort_on_container_exit or args.attach_dependencies):
        raise ComposeError("--abort-on-container-exit and -d cannot be combined.")
    project = ctx.load(args.services)
    if args.exit_code_from and args.exit_code_from not in project.services:
        raise ComposeError(f"no such service: {args.exit_code_from}")
    request = UpRequest(args.services, args.no_deps, "always" if args.build else "never" if args.no_build else "",
                        Options(args.force_recreate, args.no_recreate, args.no_start, None, args.timeout),
                        _scale(args.scale), args.remove_orphans)
    import time

    started = time.time()
    with _progress(ctx) as progress:
        names = converge(ctx.engine, project, request, progress)
    if args.no_start:
        return 0
    if args.wait:
        return _wait(ctx, project, names, args.wait_timeout)
    if args.detach:
        return 0
    from dockyard.compose.commands.interact import attach_logs

    shown = names if args.attach_dependencies or not args.services else args.services
    return attach_logs(ctx, project, shown, abort=args.abort_on_container_exit, exit_code_from=args.exit_code_from,
                       stop_project=lambda: stop(ctx, argparse.Namespace(services=[], timeout=args.timeout)),
                       since=started)


def _wait(ctx, project, names: list[str], timeout: int | None) -> int:
    import time

    deadline = time.monotonic() + (timeout or 600)
    with _progress(ctx) as progress:
        for container in state.project_containers(ctx.engine, project.name, services=names):
            while True:
                details = ctx.engine.inspect_container(container.id)
                if details.health in ("", "healthy") and details.running:
                    progress.event("Container", container.name, "Healthy" if details.health else "Running")
                    break
                if details.health == "unhealthy" or not details.running:
                    progress.event("Container", container.name, "Error", failed=True)
                    raise ComposeError(f"container {container.name} is "
                                       f"{'unhealthy' if details.running else 'exited'}")
                if time.monotonic() > deadline:
                    raise ComposeError("timeout waiting for the services to be healthy")
                time.sleep(0.2)
    return 0


def create(ctx, args) -> int:
    from dockyard.compose.up import UpRequest, converge

    project = ctx.load(args.services)
    request = UpRequest(args.services, args.no_deps if hasattr(args, "no_deps") else False,
                        "always" if args.build else "never" if args.no_build else "",
                        Options(args.force_recreate, args.no_recreate, True), _scale(args.scale),
                        args.remove_orphans)
    with _progress(ctx) as progress:
        converge(ctx.engine, project, request, progress)
    return 0


def down(ctx, args) -> int:
    name = ctx.project_name()
    project = ctx._project
    engine = ctx.engine
    containers = state.project_containers(engine, name, oneoff=None)
    with _progress(ctx, "Running") as progress:
        if project is not None:
            converger = Converger(engine, project, progress)
            known = [c for c in containers if c.labels.get(LABEL_SERVICE) in project.services]
            grouped = state.by_service(known)

            def stop_service(service_name: str) -> None:
                service = project.services[service_name]
                run_all(grouped.get(service_name, []),
                        lambda c: converger.stop_and_remove(service, c, args.timeout))

            run_graph([s for s in project.services if s in grouped], graph.dependencies(project), stop_service,
                      reverse=True)
            rest = [c for c in containers if c not in known]
            oneoffs = [c for c in rest if c.labels.get("com.docker.compose.oneoff") == "True"]
            orphans = [c for c in rest if c not in oneoffs]
            run_all(oneoffs, lambda c: converger.stop_and_remove(None, c, args.timeout))
            if orphans and args.remove_orphans:
                run_all(orphans, lambda c: converger.stop_and_remove(None, c, args.timeout))
            elif orphans:
                sys.stderr.write(f"WARN[0000] Found orphan containers ([{' '.join(c.name for c in orphans)}]) for "
                                 "this project. If you removed or renamed this service in your compose file, you "
                                 "can run this command with the --remove-orphans flag to clean it up.\n")
            resources.remove_networks(engine, project, progress)
            if args.volumes:
                resources.remove_volumes(engine, project, progress)
            if args.rmi:
                _remove_images(engine, project, args.rmi, progress)
        else:
            from dockyard.compose.model import Project

            bare = Project(name, "", [], {}, {}, {}, {}, {}, {}, {})
            converger = Converger(engine, bare, progress)
            run_all(containers, lambda c: converger.stop_and_remove(None, c, args.timeout))
            resources.remove_networks(engine, bare, progress)
            if args.volumes:
                resources.remove_volumes(engine, bare, progress)
    return 0


def _remove_images(engine, project, which: str, progress: Progress) -> None:
    if which not in ("all", "local"):
        raise ComposeError(f"invalid --rmi option {which!r}: use all or local")
    for service in project.services.values():
        if which == "local" and service.config.get("image"):
            continue
        if engine.inspect_image(service.image) is None:
            continue
        progress.event("Image", service.image, "Removing")
        try:
            engine.remove_image(service.image)
        except APIError as exc:
            if exc.status != 404:
                progress.event("Image", service.image, "Error", failed=True)
                continue
        progress.event("Image", service.image, "Removed")


def _containers(ctx, services: list[str], *, all: bool = True, index: int | None = None):
    project = ctx.load(services)
    found = state.project_containers(ctx.engine, project.name, all=all, services=services or None)
    if index is not None:
        found = [c for c in found if state.number_of(c) == index]
    return project, found


def _simple(action: str, doing: str, done: str, *, order: str = "forward", running_only: bool = False,
            call=None):
    """A command that applies one engine call to the project's containers, in dependency order."""

    def command(ctx, args) -> int:
        project, containers = _containers(ctx, args.services)
        if running_only:
            containers = [c for c in containers if c.state in ("running", "paused", "restarting")]
        if action == "start" and not containers:
            raise ComposeError("no containers to start")
        grouped = state.by_service(containers)
        with _progress(ctx) as progress:
            def one(container) -> None:
                progress.event("Container", container.name, doing)
                try:
                    call(ctx.engine, container, args)
                except APIError as exc:
                    progress.event("Container", container.name, "Error", failed=True)
                    raise ComposeError(f"Error response from daemon: {exc.message}") from None
                progress.event("Container", container.name, done)

            run_graph([s for s in project.services if s in grouped], graph.dependencies(project),
                      lambda s: run_all(grouped[s], one), reverse=order == "reverse")
        return 0

    return command


def _stop_timeout(args) -> int | None:
    return getattr(args, "timeout", None)


start = _simple("start", "Starting", "Started", call=lambda e, c, a: e.start(c.id) if c.state != "running" else None)
stop = _simple("stop", "Stopping", "Stopped", order="reverse",
               call=lambda e, c, a: e.stop(c.id, _stop_timeout(a)))
restart = _simple("restart", "Restarting", "Started", call=lambda e, c, a: e.restart(c.id, _stop_timeout(a)))
pause = _simple("pause", "Pausing", "Paused", running_only=True, call=lambda e, c, a: e.pause(c.id))
unpause = _simple("unpause", "Unpausing", "Unpaused", call=lambda e, c, a: e.unpause(c.id))
kill = _simple("kill", "Killing", "Killed", running_only=True, order="reverse",
               call=lambda e, c, a: e.kill(c.id, a.signal))


def rm(ctx, args) -> int:
    project, containers = _containers(ctx, args.services)
    with _progress(ctx, "Running") as progress:
        if args.stop:
            running = [c for c in containers if c.state in ("running", "paused", "restarting")]
            for container in running:
                progress.event("Container", container.name, "Stopping")
            run_all(running, lambda c: ctx.engine.stop(c.id))
            for container in running:
                progress.event("Container", container.name, "Stopped")
            containers = [c for c in state.project_containers(ctx.engine, project.name,
                                                              services=args.services or None)]
        stopped = [c for c in containers if c.state not in ("running", "paused", "restarting")]
        if not stopped:
            sys.stdout.write("No stopped containers\n")
            return 0
        if not args.force:
            sys.stdout.write(f"Going to remove {', '.join(c.name for c in stopped)}\n"
                             "? Are you sure? [y/N] ")
            sys.stdout.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                return 0
        for container in stopped:
            progress.event("Container", container.name, "Removing")
        run_all(stopped, lambda c: ctx.engine.remove_container(c.id, force=True, volumes=args.volumes))
        for container in stopped:
            progress.event("Container", container.name, "Removed")
    return 0


def scale(ctx, args) -> int:
    """`scale web=3 db=1`: `up -d` of those services at those counts (their dependencies too, unless
    --no-deps); containers past a count are removed, the highest numbers first."""
    from dockyard.compose.up import UpRequest, converge

    replicas: dict[str, int] = {}
    for entry in args.replicas:
        name, sep, count = entry.partition("=")
        if not sep or not name or not count:
            raise ComposeError(f"invalid scale specifier: {entry}")
        try:
            replicas[name] = int(count)
        except ValueError:
            raise ComposeError(f"invalid scale specifier: can't parse replica value as int: {entry}") from None
        if replicas[name] < 0:
            raise ComposeError(f"invalid scale specifier: {entry}: the number of replicas cannot be negative")
    services = sorted(replicas)
    project = ctx.load(services)
    with _progress(ctx) as progress:
        converge(ctx.engine, project, UpRequest(services, args.no_deps, "", Options(), replicas), progress)
    return 0


def wait(ctx, args) -> int:
    """Block until the services' running containers (one-offs too) have all stopped; exit with the status
    of the last one to stop, as Compose v2 does, then `down --remove-orphans` with --down-project."""
    import threading

    from dockyard.compose.service import LABEL_CONFIG_HASH, LABEL_PROJECT

    name = ctx.project_name()
    containers = [c for c in ctx.engine.containers({LABEL_PROJECT: name, LABEL_CONFIG_HASH: None}, all=False)
                  if c.labels.get(LABEL_SERVICE) in args.services]
    if not containers:
        raise ComposeError(f'no containers for project "{name}"')
    lock = threading.Lock()
    results: list[int] = []
    failures: list[str] = []

    def one(container) -> None:
        try:
            code = ctx.engine.wait(container.id)
        except APIError as exc:
            with lock:
                failures.append(exc.message)
            return
        with lock:
            sys.stdout.write(f'container "{container.id}" exited with status code {code}\n')
            sys.stdout.flush()
            results.append(code)

    threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # a bare join() would not see Ctrl+C
    if failures:
        sys.stderr.write(f"Error response from daemon: {failures[0]}\n")
        return 42  # Compose v2's status when a wait itself failed
    if args.down_project:
        down(ctx, argparse.Namespace(services=[], volumes=False, rmi=None, remove_orphans=True, timeout=None))
    return results[-1]
