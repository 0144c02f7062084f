"""Engine API: `GET /services/{id}/logs` and `GET /tasks/{id}/logs`, gathered from every node:
the tasks on this node are read here (json-file logs), those on other nodes through a log
subscription their agents publish to (cluster/agent/logbroker.py).

Each line carries its task's context as Docker's details (`com.docker.swarm.node.id=...,
com.docker.swarm.service.id=...,com.docker.swarm.task.id=... line`): the docker CLI asks for
details and prints `<task name>@<node>    | line` from them. `tail` counts per task, as each
node's log publisher does in swarmkit. With `follow`, tasks that start later are followed too,
until the client hangs up. A node that is down is left out; one that does not answer a request
that does not follow is waited for NODE_WAIT seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dockyard.api.http import Request
from dockyard.cluster.agent.logbroker import LogBroker
from dockyard.cluster.agent.logs import LogQuery, container_of, follow_task_log
from dockyard.cluster.objects import NodeState
from dockyard.cluster.services.control import ServiceControl
from dockyard.cluster.services.task import Task
from dockyard.engine.containers import ContainerService
from dockyard.errors import InvalidParameter
from dockyard.util.frames import STDERR, STDOUT, frame
from dockyard.util.jsonlog import LogRecord
from dockyard.util.timefmt import rfc3339_fixed

CONTEXT = "com.docker.swarm"
RESCAN = 1.0  # how often a follow looks for tasks that started since
NODE_WAIT = 10.0  # seconds without a word from the other nodes before a request that does not follow ends


class _Options:
    def __init__(self, req: Request) -> None:
        stdout, stderr = req.flag("stdout"), req.flag("stderr")
        if not (stdout or stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail = req.arg("tail", "all") or "all"
        count: int | None = None
        if tail != "all":
            try:
                count = int(tail)
            except ValueError:
                raise InvalidParameter('tail value must be a positive integer or "all"') from None
            if count < 0:
                raise InvalidParameter("negative tail values not supported")
        self.query = LogQuery(stdout, stderr, req.timestamp_arg("since"), count, req.flag("follow"))
        self.timestamps = req.flag("timestamps")
        self.details = req.flag("details")


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


def register(router, control: ServiceControl, containers: ContainerService, swarm: Any) -> None:
    def address() -> str:
        status = swarm.node(swarm.local_node_id()).manager_status
        return status.addr if status is not None else ""

    broker = LogBroker(swarm.handlers, swarm.store, address)

    def down_nodes() -> set[str]:
        return {n.id for n in swarm.nodes() if n.status.state == NodeState.DOWN}

    async def stream(req: Request, select: Callable[[], list[Task]], tty: bool) -> None:
        options = _Options(req)
        query = options.query
        here = swarm.local_node_id()
        tasks = await asyncio.to_thread(select)
        out = await req.start_stream(200, "application/vnd.docker.raw-stream" if tty
                                     else "application/vnd.docker.multiplexed-stream")
        lock = asyncio.Lock()  # one frame at a time from the followers
        followed: set[str] = set()
        followers: list[asyncio.Task] = []

        async def write(task: Task, records: list[LogRecord]) -> None:
            async with lock:
                await out.write(_encode(task, records, options, tty))

        async def show(task: Task, first: bool) -> None:
            c = container_of(containers, task.id)
            if c is not None:
                await follow_task_log(containers, c, query, first, lambda records: write(task, records), req.gone)

        async def show_remote(remote: list[Task], first: bool) -> None:
            """The tasks of other nodes, through one subscription (tail only on the first look)."""
            by_id = {t.id: t for t in remote}
            nodes: dict[str, list[str]] = {}
            for t in remote:
                nodes.setdefault(t.node_id, []).append(t.id)
            asked = LogQuery(query.stdout, query.stderr, query.since, query.tail if first else None, query.follow)
            sub = await broker.subscribe(nodes, asked)
            try:
                while query.follow or sub.pending:
                    batch = await sub.next(None if query.follow else NODE_WAIT)
                    if batch is None:
                        return  # a node that does not answer: what came is the answer
                    if batch.task_id in by_id and batch.records:
                        await write(by_id[batch.task_id], batch.records)
            finally:
                await sub.close()

        async def start(current: list[Task], first: bool) -> None:
            new = [t for t in sorted(current, key=lambda t: t.created_at) if t.id not in followed and t.node_id]
            down = await asyncio.to_thread(down_nodes) if any(t.node_id != here for t in new) else set()
            remote = []
            for task in new:
                if task.node_id == here:
                    if container_of(containers, task.id) is None:
                        continue  # not created yet: a later rescan finds it
                    followers.append(asyncio.ensure_future(show(task, first)))
                elif task.node_id not in down and task.status.container_status is not None:
                    remote.append(task)  # its container exists (the agent reported it)
                else:
                    continue
                followed.add(task.id)
            if remote:
                followers.append(asyncio.ensure_future(show_remote(remote, first)))

        try:
            await start(tasks, True)
            if not query.follow:
                await asyncio.gather(*followers)
            else:
                while not req.gone.is_set():
                    try:
                        await asyncio.wait_for(req.gone.wait(), RESCAN)
                    except TimeoutError:
                        await start(await asyncio.to_thread(select), False)
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
