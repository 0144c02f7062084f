"""The agent: runs on every node of a swarm, keeps one controller per task assigned to the node,
and removes the containers of tasks that are no longer assigned to it (deleted by the reaper,
or left behind by a daemon that was down while they went).

It hears of its tasks through a TaskChannel (the store on a manager, the mutual-TLS link on a
worker); the channel is blocking, so it is read on a thread, and the controllers run on the
daemon's event loop with the engine backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from dockyard.cluster.agent.channel import TaskChannel
from dockyard.cluster.agent.container import NODE_ID_LABEL, TASK_ID_LABEL
from dockyard.cluster.agent.controller import Controller, Files, Pull
from dockyard.cluster.services.task import Task, TaskStatus
from dockyard.cluster.store.api import StoreUnavailable
from dockyard.engine.backend import ClusterBackend
from dockyard.errors import Conflict, NotFound
from dockyard.util.aio import background

log = logging.getLogger("dockyard.cluster.agent")
POLL = 2.0  # how long one wait for assignments lasts, so that stop() is heard
CLOSE_TIMEOUT = 30.0  # a step of a controller (a create, a start, a stop with its grace period)
CHANNEL_THREADS = 8  # the assignments' long poll, and status reports of tasks in parallel


class Agent:
    def __init__(self, node_id: str, channel: TaskChannel, backend: ClusterBackend, pull: Pull | None = None,
                 files: Files | None = None) -> None:
        self.node_id = node_id
        self._channel = channel
        self._backend = backend
        self._pull = pull
        self._files = files
        self._controllers: dict[str, tuple[Controller, asyncio.Task]] = {}
        self._stopped = asyncio.Event()
        self._runner: asyncio.Task | None = None
        # The channel's calls on threads of their own: in the default executor a status report
        # queued behind the containers being created (and the long poll held a thread there).
        self._calls = ThreadPoolExecutor(CHANNEL_THREADS, thread_name_prefix="agent-channel")
        self._pending: dict[str, TaskStatus] = {}  # by task: the newest status not sent yet
        self._senders: dict[str, asyncio.Task] = {}

    def start(self) -> None:
        self._runner = asyncio.ensure_future(self._run())

    async def stop(self, remove_containers: bool = False) -> None:
        """Stop watching; the tasks' containers keep running (a daemon restart adopts them) unless
        the node leaves the swarm, when they go (moby's Cluster.Leave)."""
        self._stopped.set()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        held = list(self._controllers.values())
        self._controllers.clear()
        await asyncio.gather(*(self._close(controller, running) for controller, running in held))
        await asyncio.gather(*self._senders.values(), return_exceptions=True)
        await asyncio.to_thread(self._channel.close)
        self._calls.shutdown(wait=False)
        if remove_containers:
            for c in self._backend.managed_containers({NODE_ID_LABEL: self.node_id}):
                with contextlib.suppress(NotFound):
                    await self._backend.remove_container(c.id, force=True)

    async def _report(self, task_id: str, status: TaskStatus) -> None:
        """Hand the status to the task's sender and go on, as swarmkit's agent reports: a controller
        does not wait for the store between its steps, and a status overtaken by a newer one
        before it was sent is not sent (statuses only move forward)."""
        self._pending[task_id] = status
        if task_id not in self._senders:
            self._senders[task_id] = asyncio.ensure_future(self._send(task_id))

    async def _send(self, task_id: str) -> None:
        try:
            while task_id in self._pending and not self._stopped.is_set():
                status = self._pending.pop(task_id)
                await self._deliver(task_id, status)
        finally:
            self._senders.pop(task_id, None)

    async def _deliver(self, task_id: str, status: TaskStatus) -> None:
        while not self._stopped.is_set():
            try:
                await asyncio.get_running_loop().run_in_executor(self._calls, self._channel.update_status, task_id,
                                                                 status)
                return
            except StoreUnavailable as exc:
                log.warning("task %s: status %s not reported yet: %s", task_id, status.state.docker, exc)
                await asyncio.sleep(1.0)

    async def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                tasks = await asyncio.get_running_loop().run_in_executor(self._calls, self._channel.assignments,
                                                                         self.node_id, POLL)
            except StoreUnavailable as exc:
                log.warning("the agent waits for its managers: %s", exc)
                await asyncio.sleep(1.0)
                continue
            except Exception:  # noqa: BLE001 - the agent outlives a bad answer
                log.exception("the agent could not read its assignments")
                await asyncio.sleep(1.0)
                continue
            if tasks is not None:
                await self._reconcile(tasks)

    async def _reconcile(self, tasks: list[Task]) -> None:
        assigned = {t.id: t for t in tasks}
        for task in tasks:
            held = self._controllers.get(task.id)
            if held is not None:
                held[0].update(task)
                continue
            controller = Controller(task, self._backend, self._report, self._pull, self._files)
            self._controllers[task.id] = (controller, asyncio.ensure_future(controller.run()))
        for task_id in [t for t in self._controllers if t not in assigned]:
            controller, running = self._controllers.pop(task_id)
            background(self._close(controller, running, remove=True))
        # Containers of tasks this node no longer has (removed while the daemon was down).
        for c in self._backend.managed_containers({NODE_ID_LABEL: self.node_id}):
            if (c.config.labels or {}).get(TASK_ID_LABEL) not in assigned:
                background(self._remove(c.id))

    @staticmethod
    async def _close(controller: Controller, running: asyncio.Future, remove: bool = False) -> None:
        """Let the controller finish its step (a cancel in the middle of a create or start would leave
        a container half made), then remove the task's container if the task is gone."""
        controller.close()
        try:
            await asyncio.wait_for(asyncio.shield(running), CLOSE_TIMEOUT)
        except TimeoutError:
            running.cancel()
        if remove:
            await controller.remove()

    async def _remove(self, container_id: str) -> None:
        with contextlib.suppress(NotFound, Conflict):  # gone, or going (its controller's close removes it)
            await self._backend.remove_container(container_id, force=True)
