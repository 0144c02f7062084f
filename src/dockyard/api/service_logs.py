"""Engine API: `GET /services/{id}/logs` and `GET /tasks/{id}/logs`, from the task containers on
this node (json-file logs), merged in time order.

Each line carries its task's context as Docker's details (`com.docker.swarm.node.id=...,
com.docker.swarm.service.id=...,com.docker.swarm.task.id=... line`): the docker CLI asks for
details and prints `<task name>@<node>    | line` from them. `tail` counts per task, as each
node's log publisher does in swarmkit. With `follow`, tasks that start later are followed too,
until the client hangs up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dockyard.api.http import Request
from dockyard.cluster.agent.container import TASK_ID_LABEL
from dockyard.cluster.services.control import ServiceControl
from dockyard.cluster.services.task import Task
from dockyard.engine import logconfig
from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.logfollow import LogFollower
from dockyard.errors import InvalidParameter
from dockyard.util.frames import STDERR, STDOUT, frame
from dockyard.util.jsonlog import LogRecord
from dockyard.util.timefmt import rfc3339_fixed

CONTEXT = "com.docker.swarm"
RESCAN = 1.0  # how often a follow looks for tasks that started since


class _Options:
    def __init__(self, req: Request) -> None:
        self.stdout, self.stderr = req.flag("stdout"), req.flag("stderr")
        if not (self.stdout or self.stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail = req.arg("tail", "all") or "all"
        self.tail: int | None = None
        if tail != "all":
            try:
                self.tail = int(tail)
            except ValueError:
                raise InvalidParameter('tail value must be a positive integer or "all"') from None
            if self.tail < 0:
                raise InvalidParameter("negative tail values not supported")
        self.since = req.timestamp_arg("since")
        self.follow = req.flag("follow")
        self.timestamps = req.flag("timestamps")
        self.details = req.flag("details")

    def keep(self, r: LogRecord) -> bool:
        wanted = (r.stream == "stdout" and self.stdout) or (r.stream == "stderr" and self.stderr)
        return wanted and (self.since is None or r.time_ns / 1e9 > self.since)


def _encode(task: Task, records: list[LogRecord], options: _Options, tty: bool) -> bytes:
    out = bytearray()
    for r in records:
        data = r.data
        if options.details:
            attrs = {**r.attrs, f"{CONTEXT}.node.id": task.node_id, f"{CONTEXT}.service.id": task.service_id,
                     f"{CONTEXT}.task.id": task.id}
            data = ",".join(f"{k}={v}" for k, v in sorted(attrs.items())).encode() + b" " + data
        if options.timestamps:
            data = rfc3339_fixed(r.time_ns).encode() + b" " + data
        out += data if tty else frame(STDOUT if r.stream == "stdout" else STDERR, data)
    return bytes(out)


def register(router, control: ServiceControl, containers: ContainerService) -> None:
    def container_of(task: Task) -> Container | None:
        for c in containers.list():
            if (c.config.labels or {}).get(TASK_ID_LABEL) == task.id:
                return c
        return None

    async def stream(req: Request, select: Callable[[], list[Task]], tty: bool) -> None:
        options = _Options(req)
        tasks = await asyncio.to_thread(select)
        out = await req.start_stream(200, "application/vnd.docker.raw-stream" if tty
                                     else "application/vnd.docker.multiplexed-stream")
        lock = asyncio.Lock()  # one frame at a time from the followers
        followed: set[str] = set()
        followers: list[asyncio.Task] = []

        async def show(task: Task, c: Container, first: bool) -> None:
            if not logconfig.reads_back(c.host_config.log_config):
                return
            run = containers.runtime(c).run if options.follow else None
            follower = LogFollower(containers.runtime(c), run, containers.log_path(c.id))
            try:
                records = [r for r in follower.read_all() if options.keep(r)]
                if options.tail is not None and first:
                    records = records[-options.tail:] if options.tail > 0 else []
                async with lock:
                    await out.write(_encode(task, records, options, tty))
                if options.follow:
                    async def emit(new: list[LogRecord]) -> None:
                        async with lock:
                            await out.write(_encode(task, [r for r in new if options.keep(r)], options, tty))

                    await follower.follow(emit, req.gone)
            finally:
                follower.close()

        def start(current: list[Task], first: bool) -> None:
            for task in sorted(current, key=lambda t: t.created_at):
                c = container_of(task)
                if c is None or task.id in followed:
                    continue
                followed.add(task.id)
                followers.append(asyncio.ensure_future(show(task, c, first)))

        try:
            start(tasks, True)
            if not options.follow:
                await asyncio.gather(*followers)
            else:
                while not req.gone.is_set():
                    try:
                        await asyncio.wait_for(req.gone.wait(), RESCAN)
                    except TimeoutError:
                        start(await asyncio.to_thread(select), False)
                return None  # the client left: the stream ends unfinished
        finally:
            for f in followers:
                f.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        await out.finish()
        return None

    async def service_logs(req: Request) -> None:
        service = await asyncio.to_thread(control.service, req.params["id"])
        tty = bool(service.spec.container().tty)
        return await stream(req, lambda: control.tasks({"service": [service.id]}), tty)

    async def task_logs(req: Request) -> None:
        task = await asyncio.to_thread(control.task, req.params["id"])
        tty = bool(task.spec.container_spec and task.spec.container_spec.tty)
        return await stream(req, lambda: [t for t in control.tasks({"id": [task.id]}) if t.id == task.id], tty)

    router.add("GET", "/services/{id}/logs", service_logs)
    router.add("GET", "/tasks/{id}/logs", task_logs)
