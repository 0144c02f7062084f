"""Following a container's json-file log through one run: what was written so far, then what is
appended until the run ends. The file is the one source (the shim writes each record before it
forwards the output), so nothing is lost or repeated whenever the reader arrives; the output pump
only says "more was written", and the run's end says "the file is complete" (see Run)."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from dockyard.engine.container import Run, Runtime
from dockyard.runtime.process import Attacher
from dockyard.util.aio import first_of
from dockyard.util.frames import STDERR, STDOUT
from dockyard.util.jsonlog import LogCursor, LogRecord


class LogFollower:
    def __init__(self, rt: Runtime, run: Run | None, path: str) -> None:
        """``run``: the start to follow, taken in the same step as the first read (None: read
        what is there and stop)."""
        self.run = run
        self._rt = rt
        self._wake = asyncio.Event()
        self._waker = Attacher(lambda _stream, _data: self._wake.set(), {STDOUT, STDERR})
        self._cursor = LogCursor(path)
        if run is not None:
            rt.attachers.append(self._waker)

    def read_all(self) -> list[LogRecord]:
        return self._cursor.read_all()

    async def follow(self, emit: Callable[[list[LogRecord]], Awaitable[None]], stop: asyncio.Event,
                     until: float | None = None) -> bool:
        """Hand what is appended to ``emit`` until the run ends (True) or ``stop`` is set first
        (False); ``until`` (a unix time) ends it early."""
        while self.run is not None:
            ended = self.run.ended.is_set()  # before the read: once ended, this read gets the rest
            self._wake.clear()
            await emit(self._cursor.read_new())
            if ended or (until is not None and until <= time.time()):
                return True
            timeout = None if until is None else until - time.time()
            if await first_of(self._wake, self.run.ended, stop, timeout=timeout) is stop:
                return False
        return True

    def close(self) -> None:
        self._cursor.close()
        if self._waker in self._rt.attachers:
            self._rt.attachers.remove(self._waker)
