"""Exec endpoints: create, start (hijacked or detached), inspect, resize."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dockyard.api.codec import from_json
from dockyard.api.http import Request, Response, end_hijack
from dockyard.engine.container import Container
from dockyard.engine.execrecords import Exec
from dockyard.engine.specs.execs import ExecCreate, ExecStart
from dockyard.runtime.process import Attacher
from dockyard.util.aio import first_of, flushed
from dockyard.util.detachkeys import DetachScanner
from dockyard.util.detachkeys import parse as parse_detach_keys
from dockyard.util.frames import STDERR, STDOUT, frame

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon


def exec_view(e: Exec, c: Container) -> dict:
    """`GET /exec/{id}/json`, as moby's ExecInspect."""
    config = e.config
    cmd = config.cmd or []
    return {
        "ID": e.id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "ProcessConfig": {"tty": bool(config.tty), "entrypoint": cmd[0] if cmd else "", "arguments": cmd[1:],
                          "privileged": bool(config.privileged), "user": config.user or "",
                          "workingDir": config.working_dir or ""},
        "OpenStdin": bool(config.attach_stdin),
        "OpenStderr": bool(config.attach_stderr),
        "OpenStdout": bool(config.attach_stdout),
        "CanRemove": False,
        "ContainerID": c.id,
        "DetachKeys": config.detach_keys or "",
        "Pid": e.pid,
    }


def register(router: Router, daemon: Daemon) -> None:
    execs = daemon.execs
    containers = daemon.containers

    async def create(req: Request) -> Response:
        c = containers.get(req.params["id"])
        e = execs.create(c, from_json(ExecCreate, await req.json()))
        return Response(201, {"Id": e.id})

    async def start(req: Request) -> Response | None:
        e = execs.get(req.params["id"])
        body = from_json(ExecStart, await req.json())
        if body.detach:
            await execs.start(e)
            return Response(200)
        tty = bool(e.config.tty)
        # moby frames the stream by the start request's Tty, not the exec's: a TTY exec started with
        # Tty false (docker-py's exec_start default) comes back framed as stdout.
        raw = bool(body.tty)
        streams = {s for s, wanted in ((STDOUT, e.config.attach_stdout), (STDERR, e.config.attach_stderr)) if wanted}
        keys = parse_detach_keys(e.config.detach_keys or "")
        scanner = DetachScanner(keys) if tty else None  # detach keys only apply to a TTY, as in moby
        content_type = "application/vnd.docker.raw-stream" if raw else "application/vnd.docker.multiplexed-stream"
        reader, writer = await req.hijack(content_type)

        def send(stream: int, data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data if raw else frame(stream, data))

        attacher = Attacher(send, streams)
        e.attachers.append(attacher)
        try:
            await execs.start(e)
        except Exception as exc:  # noqa: BLE001 - the connection is hijacked: report inside the stream
            message = f"{exc}\r\n".encode()
            writer.write(message if raw else frame(STDERR, message))
            await writer.drain()
            writer.close()
            return None
        pump = asyncio.ensure_future(_pump_stdin(e, reader, scanner, attacher)) if e.config.attach_stdin else None
        # A client that hangs up ends this handler; the process runs on, as with Docker.
        await first_of(attacher.done, writer.closed)
        if not attacher.detached:
            await first_of(e.finished, writer.closed)
        await end_hijack(writer, pump)
        return None

    async def inspect(req: Request) -> Response:
        e = execs.get(req.params["id"])
        return Response(200, exec_view(e, containers.get(e.container_id)))

    async def resize(req: Request) -> Response:
        e = execs.get(req.params["id"])
        execs.resize(e, *req.terminal_size())
        return Response(200)

    router.add("POST", "/containers/{id}/exec", create)
    router.add("POST", "/exec/{id}/start", start)
    router.add("GET", "/exec/{id}/json", inspect)
    router.add("POST", "/exec/{id}/resize", resize)


async def _pump_stdin(e, reader: asyncio.StreamReader, scanner: DetachScanner | None, attacher: Attacher) -> None:
    writer = e.launched.io_writer
    try:
        while data := await reader.read(65536):
            data, detached = scanner.feed(data) if scanner else (data, False)
            if data:
                writer.write(data)
                await writer.drain()
            if detached:
                attacher.detached = True
                attacher.done.set()
                return
        if scanner is not None:  # a TTY: the client closing stdin detaches it, as in moby
            attacher.detached = True
            attacher.done.set()
        else:
            await flushed(writer)  # all the input is in the shim's socket before the close
            e.launched.control.send({"close_stdin": True})
    except (ConnectionError, OSError):
        pass
