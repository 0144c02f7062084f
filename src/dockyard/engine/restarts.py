"""When a restart policy restarts a container: Docker's backoff between restarts (see
engine/restart.py for the policy's decision), a pending restart that a user's stop, kill or
remove cancels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dockyard.engine import restart
from dockyard.engine.container import Container, Runtime
from dockyard.util.aio import background


class RestartSchedule:
    def __init__(self, save: Callable[[Container], None]) -> None:
        self.save = save

    def schedule(self, c: Container, rt: Runtime, due: Callable[[Container], Awaitable[None]]) -> None:
        """Mark the container restarting and call ``due`` after the backoff delay."""
        uptime = (c.state.finished_at - c.state.started_at) / 1e9
        rt.restart_delay = restart.next_delay(rt.restart_delay, uptime)
        c.state.status = "restarting"
        self.save(c)
        loop = asyncio.get_running_loop()
        rt.pending_restart = loop.call_later(rt.restart_delay, self._run, c, due)

    def _run(self, c: Container, due: Callable[[Container], Awaitable[None]]) -> None:
        # Held until it ends: a start collected half-way left the container `restarting`, PID 0.
        background(due(c))

    def cancel(self, c: Container, rt: Runtime | None) -> bool:
        """Stop a pending restart; True if there was one (the container is exited again)."""
        if rt is None or rt.pending_restart is None:
            return False
        rt.pending_restart.cancel()
        rt.pending_restart = None
        c.state.status = "exited"
        self.save(c)
        return True
