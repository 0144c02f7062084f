"""One task's life on its node (swarmkit's agent/exec controller, driven as exec.Do does): accept,
prepare (pull the image if the node lacks it, create the container), start once the task's desired
state says so, watch the container until it exits, and stop it when the managers want the task
shut down. Every step is reported; a status only moves forward.

A controller adopts the task's container when one exists already (the daemon restarted while
the task ran): it carries on from the container's state instead of making a second one.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable

from dockyard.cluster.agent import container as task_container
from dockyard.cluster.services.task import ContainerStatus, Task, TaskState, TaskStatus
from dockyard.engine.backend import ClusterBackend, TaskFile
from dockyard.engine.container import Container
from dockyard.engine.specs.networks import EndpointSettings
from dockyard.errors import Conflict, DockyardError, NotFound

log = logging.getLogger("dockyard.cluster.agent")

Report = Callable[[str, TaskStatus], Awaitable[None]]
Pull = Callable[[str], Awaitable[None]]
Files = Callable[[Task], list[TaskFile]]  # a task's secrets and configs, opened (blocking)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Controller:
    def __init__(self, task: Task, backend: ClusterBackend, report: Report, pull: Pull | None,
                 files: Files | None = None) -> None:
        self.task = task
        self._backend = backend
        self._report = report
        self._pull = pull
        self._files = files
        self._changed = asyncio.Event()
        self._closing = False
        self._state = task.status.state
        self._container_id = task.status.container_status.container_id if task.status.container_status else ""

    def close(self) -> None:
        """Stop driving the task at the next step: a create, start or stop under way completes
        first, so nothing is left half made (the caller awaits run())."""
        self._closing = True
        self._changed.set()

    def update(self, task: Task) -> None:
        """The managers changed the task (its desired state, mostly)."""
        self.task = task
        self._changed.set()

    async def _set(self, state: TaskState, message: str, err: str = "", exit_code: int | None = None) -> None:
        self._state = state
        status = TaskStatus(_now(), state, message, err)
        if self._container_id:
            c = self._find()
            pid = c.state.pid if c is not None and c.state.running else 0
            status.container_status = ContainerStatus(self._container_id, pid, exit_code or 0)
        if state == TaskState.RUNNING:
            status.ports = [p for p in self.task.endpoint_ports if p.publish_mode == "host"]
        await self._report(self.task.id, status)

    def _find(self) -> Container | None:
        try:
            return self._backend.inspect_container(self._container_id or self.task.container_name())
        except NotFound:
            return None

    def _stopping(self) -> bool:
        return self.task.desired_state >= TaskState.SHUTDOWN

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one task's trouble must not end the agent
            log.exception("task %s: controller failed", self.task.id)
            await self._fail_unexpectedly(exc)

    async def _fail_unexpectedly(self, exc: Exception) -> None:
        """A step that failed in a way no rule above foresaw ends the task as failed (the managers
        then replace it per its restart policy) instead of leaving it in the state it was in,
        e.g. starting, for ever."""
        if self._state.terminal():
            return
        try:
            await self._set(TaskState.FAILED, self._state.name.lower(), f"task: {exc or type(exc).__name__}")
        except Exception:  # noqa: BLE001 - the report itself failed: the managers' reaper sees the node
            log.exception("task %s: the failure could not be reported", self.task.id)

    async def _run(self) -> None:
        existing = self._find()
        if existing is not None:
            self._container_id = existing.id
        while not self._closing:
            self._changed.clear()
            if self._stopping():
                await self._shutdown()
                return
            if self._state.terminal():
                await self._changed.wait()
                continue
            if self._state < TaskState.ACCEPTED:
                await self._set(TaskState.ACCEPTED, "accepted")
            elif self._state < TaskState.READY:
                if self.task.desired_state < TaskState.RUNNING and self.task.not_before is not None:
                    # Held back by a restart's delay: nothing is made until it may run, so a task
                    # that cannot be prepared is not retried faster than the delay. (A stop-first
                    # update's new task is prepared while the old one stops, as swarmkit's agent
                    # prepares a task up to its desired state ready.)
                    await self._changed.wait()
                    continue
                if not await self._prepare():
                    return
            elif self._state < TaskState.RUNNING:
                if self.task.desired_state < TaskState.RUNNING:
                    await self._changed.wait()  # ready, waiting for the managers' go
                    continue
                if not await self._start():
                    return
            else:
                await self._watch()

    async def _prepare(self) -> bool:
        await self._set(TaskState.PREPARING, "preparing")
        c = self._find()
        if c is None:
            request = task_container.create_request(self.task)
            try:
                if self._pull is not None:
                    await self._pull(request.image or "")
                c = await asyncio.to_thread(self._backend.create_managed_container, request,
                                            self.task.container_name())
                for extra in (self.task.spec.networks or [])[1:]:
                    await self._backend.connect_to_network(c.id, extra.target or "", EndpointSettings(
                        aliases=list(extra.aliases or []) or None, driver_opts=extra.driver_opts))
                spec = self.task.spec.container_spec
                if self._files is not None and spec is not None and (spec.secrets or spec.configs):
                    files = await asyncio.to_thread(self._files, self.task)
                    await asyncio.to_thread(self._backend.set_task_files, c.id, files)
            except DockyardError as exc:
                await self._set(TaskState.REJECTED, "preparing", str(exc))
                return False
        self._container_id = c.id
        if c.state.running:  # adopted: it runs already
            await self._set(TaskState.RUNNING, "started")
        elif c.state.status == "exited" and c.state.started_at:
            await self._exited(c.state.exit_code)
        else:
            await self._set(TaskState.READY, "prepared")
        return True

    async def _start(self) -> bool:
        await self._set(TaskState.STARTING, "starting")
        try:
            await self._backend.start_container(self._container_id)
        except DockyardError as exc:
            await self._set(TaskState.FAILED, "starting", str(exc))
            return False
        return await self._until_healthy()

    async def _until_healthy(self) -> bool:
        """moby's controller.Start: a container with a health check counts as running only once
        healthy (the task stays starting, and an update waits for it); unhealthy, it is stopped and
        the task fails as Docker's does. Without a health check it runs at once."""
        health = asyncio.ensure_future(self._backend.wait_health(self._container_id, "starting"))
        while not health.done():
            changed = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait({health, changed}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            if not health.done() and (self._stopping() or self._closing):
                health.cancel()
                return True  # still starting: the loop shuts it down (or a new agent adopts it)
            self._changed.clear()
        if health.result() == "unhealthy":
            await self._unhealthy()
            return False
        c = self._find()
        if c is None:
            await self._set(TaskState.FAILED, "starting", "task: the container was removed")
        elif not c.state.running:  # it ended while starting
            await self._exited(c.state.exit_code)
        else:
            await self._set(TaskState.RUNNING, "started")
        return True

    async def _watch(self) -> None:
        """Wait for the container to exit or for the managers to change the task."""
        c = self._find()
        if c is None:
            await self._set(TaskState.FAILED, "started", "task: the container was removed")
            return
        if not c.state.running:
            await self._exited(c.state.exit_code)
            return
        waiting = asyncio.ensure_future(self._backend.wait_container(self._container_id))
        changed = asyncio.ensure_future(self._changed.wait())
        watched: set[asyncio.Future] = {waiting, changed}
        if c.state.health is not None:  # healthy so far: Docker stops a task that turns unhealthy
            health = asyncio.ensure_future(self._backend.wait_health(self._container_id, "healthy"))
            watched.add(health)
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in watched - {waiting}:
                future.cancel()
        if any(f not in (waiting, changed) and f.result() == "unhealthy" for f in done) and not self._stopping():
            waiting.cancel()
            await self._unhealthy()
        elif waiting in done:
            try:
                code = waiting.result()
            except NotFound:
                await self._set(TaskState.FAILED, "started", "task: the container was removed")
                return
            if not self._stopping():
                await self._exited(code)
        else:
            waiting.cancel()

    async def _unhealthy(self) -> None:
        """Stop the container and fail the task in moby's words (its exitError with the health cause)."""
        await self._shutdown_container()
        c = self._find()
        code = c.state.exit_code if c is not None else 137
        await self._set(TaskState.FAILED, "started", f"task: non-zero exit ({code}): dockerexec: unhealthy container",
                        exit_code=code)

    async def _exited(self, code: int) -> None:
        if code == 0:
            await self._set(TaskState.COMPLETE, "finished", exit_code=0)
        else:
            await self._set(TaskState.FAILED, "started", f"task: non-zero exit ({code})", exit_code=code)

    async def _shutdown_container(self) -> None:
        c = self._find()
        if c is not None and c.state.running:
            spec = self.task.spec.container_spec
            grace = (spec.stop_grace_period if spec and spec.stop_grace_period is not None else 10_000_000_000)
            try:
                await self._backend.stop_container(c.id, grace // 1_000_000_000)
            except NotFound:
                pass

    async def _shutdown(self) -> None:
        await self._shutdown_container()
        c = self._find()
        if not self._state.terminal():
            code = c.state.exit_code if c is not None else None
            await self._set(TaskState.SHUTDOWN, "shutdown", exit_code=code)

    async def remove(self) -> None:
        """The task is gone from the node's assignments: its container goes too."""
        c = self._find()
        if c is not None:
            try:
                await self._backend.remove_container(c.id, force=True)
            except (NotFound, Conflict):  # gone, or going (the agent's sweep of stale containers)
                pass
