"""Health checks: the image's HEALTHCHECK or --health-*, probed by exec inside the container."""

import asyncio
import logging
import os
import signal
import time

from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.execs import ExecService
from dockyard.engine.specs.containers import HealthConfig
from dockyard.engine.specs.execs import ExecCreate
from dockyard.errors import DockyardError
from dockyard.runtime.process import Attacher
from dockyard.util.frames import STDERR, STDOUT
from dockyard.util.timefmt import now_ns, rfc3339_ns

log = logging.getLogger("dockyard.health")

DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def probe_command(healthcheck: HealthConfig | None) -> list[str] | None:
    test = (healthcheck.test if healthcheck else None) or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:])
    return list(test)  # an old-style test with no kind: run it as given


class HealthMonitor:
    def __init__(self, containers: ContainerService, execs: ExecService) -> None:
        self.containers = containers
        self.execs = execs
        self._tasks: dict[str, asyncio.Task] = {}

    def watch(self, c: Container) -> None:
        command = probe_command(c.config.healthcheck)
        if command is None:
            return
        old = self._tasks.pop(c.id, None)
        if old:
            old.cancel()
        c.state.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self._tasks[c.id] = asyncio.ensure_future(self._loop(c, command))

    async def _loop(self, c: Container, command: list[str]) -> None:
        hc = c.config.healthcheck or HealthConfig()
        interval = (hc.interval or DEFAULT_INTERVAL) / 1e9
        timeout = (hc.timeout or DEFAULT_TIMEOUT) / 1e9
        retries = hc.retries or DEFAULT_RETRIES
        start_period = (hc.start_period or 0) / 1e9
        started = time.monotonic()
        pid = c.state.pid
        try:
            while True:
                await asyncio.sleep(interval)
                if c.state.status != "running" or c.state.pid != pid:
                    return
                result = await self._probe(c, command, timeout)
                if c.state.pid != pid or c.state.health is None:
                    return
                self._record(c, result, retries, time.monotonic() - started < start_period)
        except asyncio.CancelledError:
            return
        finally:
            if self._tasks.get(c.id) is asyncio.current_task():
                del self._tasks[c.id]

    async def _probe(self, c: Container, command: list[str], timeout: float) -> dict:
        begin = now_ns()
        output = bytearray()

        def collect(_stream: int, data: bytes) -> None:
            if len(output) < MAX_OUTPUT:
                output.extend(data[: MAX_OUTPUT - len(output)])

        try:
            e = self.execs.create(c, ExecCreate(cmd=command, attach_stdout=True, attach_stderr=True), internal=True)
            e.attachers.append(Attacher(collect, {STDOUT, STDERR}))
            await self.execs.start(e)
        except DockyardError as exc:
            return {"Start": rfc3339_ns(begin), "End": rfc3339_ns(now_ns()), "ExitCode": -1, "Output": str(exc)}
        try:
            await asyncio.wait_for(e.finished.wait(), timeout=timeout)
            code = e.exit_code if e.exit_code is not None else -1
            text = output.decode(errors="replace")
        except TimeoutError:
            if e.pid:
                try:
                    os.kill(e.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            code, text = -1, f"Health check exceeded timeout ({timeout:g}s)"
        finally:
            self.execs.forget(e.id)
        return {"Start": rfc3339_ns(begin), "End": rfc3339_ns(now_ns()), "ExitCode": code, "Output": text}

    def _record(self, c: Container, result: dict, retries: int, in_start_period: bool) -> None:
        health = c.state.health
        before = health["Status"]
        health["Log"] = (health["Log"] + [result])[-MAX_LOG_ENTRIES:]
        if result["ExitCode"] == 0:
            health["Status"], health["FailingStreak"] = "healthy", 0
        elif not in_start_period:
            health["FailingStreak"] += 1
            if health["FailingStreak"] >= retries:
                health["Status"] = "unhealthy"
        self.containers.save(c)
        if health["Status"] != before:
            self.containers.emit(c, f"health_status: {health['Status']}")
