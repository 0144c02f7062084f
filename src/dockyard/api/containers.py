"""Container endpoints: create, start, wait, attach, logs, inspect, list, remove."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING

from dockyard.api.codec import from_json
from dockyard.api.filters import Filters, match_networks, match_ports, match_volumes, port_filter, until_ns
from dockyard.api.http import Request, Response, end_hijack
from dockyard.engine import logconfig
from dockyard.engine.archive import Access
from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.logfollow import LogFollower
from dockyard.engine.mounts import public_view
from dockyard.engine.netviews import network_settings_view, ports_list_view
from dockyard.engine.specs.containers import ContainerCreate, ContainerUpdate, config_json, host_config_json
from dockyard.engine.stats import empty_sample, sample
from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotImplementedYet
from dockyard.runtime.process import Attacher
from dockyard.util.aio import first_of, flushed
from dockyard.util.detachkeys import DetachScanner
from dockyard.util.detachkeys import parse as parse_detach_keys
from dockyard.util.frames import STDERR, STDOUT, frame
from dockyard.util.signals import parse_signal
from dockyard.util.timefmt import rfc3339_fixed, rfc3339_ns

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon

LIST_FILTERS = {"ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label", "name",
                "network", "publish", "since", "status", "volume"}
STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}
WAIT_CONDITIONS = {"not-running", "next-exit", "removed"}


def command_line(c: Container) -> str:
    """The COMMAND of `docker ps`: Docker single-quotes each argument with a space in it."""
    return " ".join([c.path, *(f"'{a}'" if " " in a else a for a in c.args)])


def inspect_view(service: ContainerService, c: Container) -> dict:
    directory = service.container_dir(c.id)
    return {
        "Id": c.id,
        "Created": rfc3339_ns(c.created),
        "Path": c.path,
        "Args": c.args,
        "State": c.state.to_api(),
        "Image": c.image_id,
        "ResolvConfPath": f"{directory}/resolv.conf",
        "HostnamePath": f"{directory}/hostname",
        "HostsPath": f"{directory}/hosts",
        "LogPath": service.log_path(c.id),
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": c.driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config_json(c.host_config),
        "GraphDriver": {"Name": c.driver, "Data": _graph_data(service, c)},
        "Mounts": [public_view(m) for m in c.mount_points],
        "Config": config_json(c.config),
        "NetworkSettings": network_settings_view(c),
    }


def _graph_data(service: ContainerService, c: Container) -> dict:
    data = {}
    for m in service.rootfs_mounts(c):
        for option in m.options:
            key, _, value = option.partition("=")
            if value:
                data[{"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}.get(key, key)] = value
        if m.type == "bind":
            data["Dir"] = m.source
    if "UpperDir" in data:
        data["MergedDir"] = service.rootfs_path(c)
    return data


def list_view(service: ContainerService, c: Container, size: bool, link_names: list[str] | tuple = ()) -> dict:
    view = {
        "Id": c.id,
        "Names": [c.name, *link_names],
        "Image": service.image_name(c),
        "ImageID": c.image_id,
        "Command": command_line(c),
        "Created": c.created // 1_000_000_000,
        "Ports": ports_list_view(c),
        "Labels": c.config.labels or {},
        "State": c.state.status,
        "Status": c.state.describe(),
        "HostConfig": {"NetworkMode": c.host_config.network_mode or "default"},
        "NetworkSettings": {"Networks": (c.network_settings or {}).get("Networks") or {}},
        "Mounts": [public_view(m) for m in c.mount_points],
    }
    if size:
        view["SizeRw"], view["SizeRootFs"] = service.sizes(c)
    return view


def filter_containers(service: ContainerService, containers: list[Container], filters: Filters) -> list[Container]:
    for status in filters.get("status"):
        if status not in STATUSES:
            raise InvalidParameter(f"invalid filter 'status={status}'")
    exited_codes = []
    for value in filters.get("exited"):
        try:
            exited_codes.append(int(value))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'exited={value}'") from None
    before = [service.get(ref).created for ref in filters.get("before")]
    since = [service.get(ref).created for ref in filters.get("since")]
    # Docker ignores unknown ancestors: they match nothing
    ancestors = {image_id for ref in filters.get("ancestor") if (image_id := service.image_id(ref))}
    publish, expose = port_filter(filters, "publish"), port_filter(filters, "expose")
    out = []
    for c in containers:
        if not filters.match_regex("id", c.id) or not filters.match_regex("name", c.name):
            continue
        if not filters.match_labels(c.config.labels or {}):
            continue
        if filters.get("status") and c.state.status not in filters.get("status"):
            continue
        if exited_codes and (c.state.status != "exited" or c.state.exit_code not in exited_codes):
            continue
        if before and c.created >= min(before):
            continue
        if since and c.created <= max(since):
            continue
        if "ancestor" in filters and c.image_id not in ancestors:
            continue
        if (publish or expose) and not match_ports(ports_list_view(c), publish, expose):
            continue
        if not match_volumes([public_view(m) for m in c.mount_points], filters.get("volume")):
            continue
        if not match_networks((c.network_settings or {}).get("Networks") or {}, filters.get("network")):
            continue
        if "health" in filters and (c.state.health or {}).get("Status", "none") not in filters.get("health"):
            continue
        if "is-task" in filters and "true" in filters.get("is-task"):
            continue
        if "isolation" in filters and "default" not in filters.get("isolation"):
            continue
        out.append(c)
    return out


def register(router: Router, daemon: Daemon) -> None:
    service = daemon.containers

    async def create(req: Request) -> Response:
        spec = from_json(ContainerCreate, await req.json())
        if spec.host_config is not None and not spec.host_config.ipc_mode and \
                tuple(int(p) for p in req.api_version.split(".")) < (1, 40):
            # As dockerd: clients older than API 1.40 (docker-compose 1.x) knew "shareable" as the default.
            spec.host_config.ipc_mode = "shareable"
        container, warnings = service.create(spec, req.arg("name") or None)
        return Response(201, {"Id": container.id, "Warnings": warnings})

    async def start(req: Request) -> Response:
        started = await service.start(service.get(req.params["id"]))
        return Response(204 if started else 304)

    async def wait(req: Request) -> Response | None:
        condition = req.arg("condition", "not-running") or "not-running"
        if condition not in WAIT_CONDITIONS:
            raise InvalidParameter(f"invalid condition: {condition!r}; use not-running, next-exit or removed")
        c = service.get(req.params["id"])
        waiting = asyncio.ensure_future(service.wait(c, condition))
        gone = asyncio.ensure_future(req.gone.wait())
        try:
            stream = await req.start_stream(200, "application/json")
            await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, gone) if not waiting.done() else (gone,):
                task.cancel()
            await asyncio.gather(gone, return_exceptions=True)
        if not waiting.done() or waiting.cancelled():
            return None  # the client left: nobody to tell
        code = waiting.result()
        error = {"Message": c.state.error} if c.state.error else None
        await stream.write_json({"Error": error, "StatusCode": code})
        await stream.finish()
        return None

    async def attach(req: Request) -> Response | None:
        c = service.get(req.params["id"])
        # A stopped container can be attached to: the stream waits for its next start (`start -a`).
        # Refusing stopped containers is the CLI's business, as with Docker.
        if c.state.status in ("dead", "removing"):
            raise Conflict(f"You cannot attach to a container that is being removed: {c.id[:12]}")
        tty = bool(c.config.tty)
        streams = {s for s, name in ((STDOUT, "stdout"), (STDERR, "stderr")) if req.flag(name)}
        detach_keys = parse_detach_keys(req.arg("detachKeys"))
        content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        # The run is read before the hijack, which may wait for the client to read the head: a run
        # that ends meanwhile still ends this attach (read after, it would look like a stopped
        # container's attach, which waits for the next start).
        rt = service.runtime(c)
        run = rt.run
        json_file = logconfig.reads_back(c.host_config.log_config)
        from_log = req.flag("logs") and req.flag("stream") and not tty and json_file and run is not None
        reader, writer = await req.hijack(content_type)

        def send(stream: int, data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data if tty else frame(stream, data))

        # With logs and stream on a running container, the live part comes from the log file too,
        # from where the replay stopped, so no line comes twice (a TTY stays live: a prompt has no
        # newline to end its log record).
        follower = LogFollower(rt, run if from_log else None, service.log_path(c.id))

        async def replay(records) -> None:
            for record in records:
                stream = STDOUT if record.stream == "stdout" else STDERR
                if stream in streams:
                    send(stream, record.data)
            await writer.drain()

        pump = None
        try:
            if req.flag("logs"):
                await replay(follower.read_all())
            if req.flag("stream"):
                attacher = Attacher(send, streams)
                # A run that ended before its pump saw this attacher still ends the attach through
                # run.ended (attached before a start: that start's pump ends it).
                if not from_log:
                    rt.attachers.append(attacher)
                if req.flag("stdin"):
                    # As in moby, detach keys only apply to a TTY: piped binary input may hold any bytes.
                    scanner = DetachScanner(detach_keys) if tty else None
                    pump = asyncio.ensure_future(_pump_stdin(rt, reader, scanner, attacher, tty=tty,
                                                             stdin_once=bool(c.config.stdin_once)))
                try:
                    if from_log:
                        await follower.follow(replay, writer.closed)
                    else:
                        await first_of(attacher.done, writer.closed, *([run.ended] if run else []))
                finally:
                    if attacher in rt.attachers:
                        rt.attachers.remove(attacher)
        finally:
            follower.close()
        await end_hijack(writer, pump)
        return None

    async def logs(req: Request) -> Response | None:
        c = service.get(req.params["id"])
        if not logconfig.reads_back(c.host_config.log_config):
            raise NotImplementedYet("configured logging driver does not support reading")
        want_stdout, want_stderr = req.flag("stdout"), req.flag("stderr")
        if not (want_stdout or want_stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        since = req.timestamp_arg("since")
        until = req.timestamp_arg("until")
        tail = req.arg("tail", "all") or "all"
        if tail != "all":
            try:
                tail_count = int(tail)
            except ValueError:
                raise InvalidParameter(f"invalid value for tail: {tail!r}; use a number or all") from None
        timestamps = req.flag("timestamps")
        details = req.flag("details")
        tty = bool(c.config.tty)
        wanted = {name for name, on in (("stdout", want_stdout), ("stderr", want_stderr)) if on}

        def keep(r) -> bool:
            return r.stream in wanted and (since is None or r.time_ns / 1e9 > since) and (
                until is None or r.time_ns / 1e9 <= until)

        def encode(records) -> bytes:
            out = bytearray()
            for r in records:
                data = r.data
                if details:  # Docker: the attributes as k=v pairs, then a space, before the line
                    data = ",".join(f"{k}={v}" for k, v in sorted(r.attrs.items())).encode() + b" " + data
                if timestamps:
                    data = rfc3339_fixed(r.time_ns).encode() + b" " + data
                out += data if tty else frame(STDOUT if r.stream == "stdout" else STDERR, data)
            return bytes(out)

        run = service.runtime(c).run if req.flag("follow") and (until is None or until > time.time()) else None
        follower = LogFollower(service.runtime(c), run, service.log_path(c.id))
        try:
            records = [r for r in follower.read_all() if keep(r)]
            if tail != "all":
                records = records[-tail_count:] if tail_count > 0 else []
            content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
            stream = await req.start_stream(200, content_type)
            await stream.write(encode(records))

            async def emit(new) -> None:
                await stream.write(encode(r for r in new if keep(r)))

            if not await follower.follow(emit, req.gone, until):
                return None  # the client left: the stream ends unfinished
        finally:
            follower.close()
        await stream.finish()
        return None

    async def inspect(req: Request) -> Response:
        c = service.get(req.params["id"])
        view = inspect_view(service, c)
        if req.flag("size"):
            view["SizeRw"], view["SizeRootFs"] = service.sizes(c)
        return Response(200, view)

    async def list_containers(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), LIST_FILTERS)
        limit = req.int_arg("limit", -1)
        show_all = req.flag("all")
        containers = service.list()
        # A limit (`ps -l`, `-n`) lists stopped containers too, as moby's list does.
        if not show_all and limit <= 0 and not filters.get("status") and not filters.get("exited"):
            containers = [c for c in containers if c.state.running]
        containers = filter_containers(service, containers, filters)
        if limit > 0:
            containers = containers[:limit]
        size = req.flag("size")
        links = service.link_names()
        return Response(200, [list_view(service, c, size, links.get(c.id, ())) for c in containers])

    async def remove(req: Request) -> Response:
        c = service.get(req.params["id"])
        if req.flag("link"):
            raise InvalidParameter("Conflict, cannot remove the default link name of the container")
        await service.remove(c, force=req.flag("force"), volumes=req.flag("v"))
        return Response(204)

    async def remove_linked(req: Request) -> Response:
        """`DELETE /containers/<parent>/<alias>`: with link=1 the link goes; without, the container
        it names is removed, as Docker resolves the link name."""
        ref = f"{req.params['parent']}/{req.params['alias']}"
        if req.flag("link"):
            service.remove_link(ref)
            return Response(204)
        _parent, _entry, c = service.linked(ref)
        await service.remove(c, force=req.flag("force"), volumes=req.flag("v"))
        return Response(204)

    async def resize(req: Request) -> Response:
        c = service.get(req.params["id"])
        service.resize(c, *req.terminal_size())
        return Response(200)

    async def stop(req: Request) -> Response:
        c = service.get(req.params["id"])
        timeout = req.int_arg("t", -2)
        stopped = await service.stop(c, None if timeout == -2 else timeout)
        return Response(204 if stopped else 304)

    async def kill(req: Request) -> Response:
        c = service.get(req.params["id"])
        number = parse_signal(req.arg("signal") or "SIGKILL")
        try:
            await service.kill_and_wait(c, number)
        except Conflict as exc:
            raise Conflict(f"Cannot kill container: {req.params['id']}: {exc}") from None
        return Response(204)

    async def restart(req: Request) -> Response:
        timeout = req.int_arg("t", -2)
        await service.restart(service.get(req.params["id"]), None if timeout == -2 else timeout)
        return Response(204)

    async def rename(req: Request) -> Response:
        service.rename(service.get(req.params["id"]), req.arg("name"))
        return Response(204)

    async def pause(req: Request) -> Response:
        await service.pause(service.get(req.params["id"]))
        return Response(204)

    async def unpause(req: Request) -> Response:
        await service.unpause(service.get(req.params["id"]))
        return Response(204)

    async def top(req: Request) -> Response:
        c = service.get(req.params["id"])
        return Response(200, await asyncio.to_thread(service.top, c, req.arg("ps_args")))

    async def prune(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), {"until", "label", "label!"})
        until = None
        for value in filters.get("until"):
            until = until_ns(value)
        deleted, reclaimed = await service.prune(until, filters.match_labels)
        return Response(200, {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    async def stats(req: Request) -> Response | None:
        c = service.get(req.params["id"])
        stream_mode = req.flag("stream", True) and not req.flag("one-shot")
        previous = empty_sample()
        if not c.state.running or (c.state.status == "restarting" and not stream_mode):
            # Docker answers a stopped (or, without a stream, restarting) container with one empty
            # sample rather than an error.
            return Response(200, {**empty_sample(), "name": c.name, "id": c.id, "precpu_stats": previous["cpu_stats"]})
        if not req.flag("stream", True) and not req.flag("one-shot"):
            previous = await asyncio.to_thread(sample, c, service.cgroup_path(c))
            await asyncio.sleep(1)  # like Docker, a single sample carries the CPU use of the last second
        stream = await req.start_stream(200, "application/json")
        while c.state.running:
            current = await asyncio.to_thread(sample, c, service.cgroup_path(c))
            current["preread"] = previous["read"]
            current["precpu_stats"] = previous["cpu_stats"]
            await stream.write_json(current)
            if not stream_mode:
                break
            previous = current
            await asyncio.sleep(1)
        await stream.finish()
        return None

    async def changes(req: Request) -> Response:
        c = service.get(req.params["id"])
        found = await asyncio.to_thread(service.changes, c)
        if not found:  # Docker's nil slice: a JSON null, not an empty body (the CLI would print "EOF")
            return Response(200, b"null\n", {"Content-Type": "application/json"})
        return Response(200, [{"Path": path, "Kind": kind} for path, kind in found])

    async def export(req: Request) -> Response | None:
        c = service.get(req.params["id"])
        async with Access(service, c, {"op": "export"}) as access:
            first = await access.proc.stdout.read(65536)
            if not first:
                error = await access.failure()
                if error:
                    raise error
            stream = await req.start_stream(200, "application/x-tar")
            await stream.write(first)
            while data := await access.proc.stdout.read(65536):
                await stream.write(data)
            await stream.finish()
        return None

    async def archive_get(req: Request) -> Response | None:
        c = service.get(req.params["id"])
        path = req.arg("path")
        if not path:
            raise InvalidParameter("the path parameter is required: ?path=/in/the/container")
        head = req.method == "HEAD"
        async with Access(service, c, {"op": "get", "path": path, "stat_only": head}) as access:
            line = await access.proc.stdout.readline()
            if not line:
                error = await access.failure()
                raise error or DockyardError(f"could not read {path} in container {c.id[:12]}")
            header = {"X-Docker-Container-Path-Stat": base64.b64encode(line.strip()).decode()}
            if head:
                await access.proc.wait()
                return Response(200, None, header)
            stream = await req.start_stream(200, "application/x-tar", header)
            while data := await access.proc.stdout.read(65536):
                await stream.write(data)
            await stream.finish()
        return None

    async def archive_put(req: Request) -> Response:
        c = service.get(req.params["id"])
        path = req.arg("path")
        if not path:
            raise InvalidParameter("the path parameter is required: ?path=/in/the/container")
        service.check_writable(c, path)
        request = {"op": "put", "path": path, "no_overwrite_dir_non_dir": req.flag("noOverwriteDirNonDir")}
        async with Access(service, c, request, writable=True, stdin=True) as access:
            try:
                while chunk := await req.read_chunk():
                    access.proc.stdin.write(chunk)
                    await access.proc.stdin.drain()
                access.proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass
            error = await access.failure()
            if error:
                raise error
        return Response(200)

    async def update(req: Request) -> Response:
        c = service.get(req.params["id"])
        warnings = await service.update(c, from_json(ContainerUpdate, await req.json()))
        return Response(200, {"Warnings": warnings})

    router.add("POST", "/containers/create", create)
    router.add("POST", "/containers/{id}/update", update)
    router.add("GET", "/containers/{id}/export", export)
    router.add("GET", "/containers/{id}/archive", archive_get)
    router.add("PUT", "/containers/{id}/archive", archive_put)
    router.add("GET", "/containers/{id}/changes", changes)
    router.add("GET", "/containers/{id}/stats", stats)
    router.add("GET", "/containers/{id}/top", top)
    router.add("POST", "/containers/prune", prune)
    router.add("POST", "/containers/{id}/pause", pause)
    router.add("POST", "/containers/{id}/unpause", unpause)
    router.add("POST", "/containers/{id}/stop", stop)
    router.add("POST", "/containers/{id}/kill", kill)
    router.add("POST", "/containers/{id}/restart", restart)
    router.add("POST", "/containers/{id}/rename", rename)
    router.add("POST", "/containers/{id}/resize", resize)
    router.add("GET", "/containers/json", list_containers)
    router.add("POST", "/containers/{id}/start", start)
    router.add("POST", "/containers/{id}/wait", wait)
    router.add("POST", "/containers/{id}/attach", attach)
    router.add("GET", "/containers/{id}/logs", logs)
    router.add("GET", "/containers/{id}/json", inspect)
    router.add("DELETE", "/containers/{id}", remove)
    router.add("DELETE", "/containers/{parent}/{alias}", remove_linked, claims_path=False)


async def _pump_stdin(rt, reader: asyncio.StreamReader, scanner: DetachScanner | None, attacher: Attacher,
                      *, tty: bool, stdin_once: bool) -> None:
    """Client stdin -> container stdin, once the container has started. The detach keys end this
    attach and leave the container running. When the client closes its stdin: with a TTY this
    attach ends (the docker CLI detaches that way) and the container's stdin stays open for the
    next one, as in moby; without a TTY the container's stdin is closed if StdinOnce is set."""
    await rt.started.wait()
    try:
        while data := await reader.read(65536):
            if rt.stdin_writer is None:
                return
            data, detached = scanner.feed(data) if scanner else (data, False)
            if data:
                rt.stdin_writer.write(data)
                await rt.stdin_writer.drain()
            if detached:
                attacher.detached = True
                attacher.done.set()
                return
        if tty:
            attacher.detached = True
            attacher.done.set()
        elif stdin_once and rt.control is not None:
            if rt.stdin_writer is not None:
                await flushed(rt.stdin_writer)  # all the input is in the shim's socket before the close
            rt.control.send({"close_stdin": True})
    except (ConnectionError, OSError):
        pass
