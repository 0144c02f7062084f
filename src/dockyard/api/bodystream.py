"""A request body as a blocking file object, for work that runs in a thread (`docker load`).

The event loop reads the body and hands it over in pieces of about 1 MiB through a small queue,
so a large upload is never held in memory and the worker blocks only while the client is slow.
"""

import asyncio
import io
import queue
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from dockyard.api.http import Request

T = TypeVar("T")

PIECE = 1 << 20


class BodyReader(io.RawIOBase):
    def __init__(self, depth: int = 8) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._piece = memoryview(b"")
        self._eof = False
        self.abandoned = False  # the worker stopped reading: the feeder stops handing over
        self.cut = False  # the body broke off: the worker sees the end of its input

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._piece:
            if self._eof:
                return 0
            try:
                piece = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self.cut:
                    self._eof = True
                continue
            if piece is None:
                self._eof = True
                return 0
            self._piece = memoryview(piece)
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        return n

    def abandon(self) -> None:
        """Called by the worker when it is done: unblocks a feeder waiting on a full queue."""
        self.abandoned = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def put(self, piece: bytes | None) -> None:
        if not self.abandoned:
            self._queue.put(piece)


async def feed(request: Request, reader: BodyReader) -> None:
    """Copy the request body into ``reader`` until its end, or until the worker abandons it."""
    pending: list[bytes] = []
    size = 0
    try:
        while not reader.abandoned:
            data = await request.read_chunk(PIECE)
            if data:
                pending.append(data)
                size += len(data)
            if pending and (size >= PIECE or not data):
                await asyncio.to_thread(reader.put, b"".join(pending))
                pending, size = [], 0
            if not data:
                await asyncio.to_thread(reader.put, None)
                return
    finally:
        reader.cut = True


async def consume(request: Request, work: Callable[[BinaryIO], T]) -> T:
    """Run ``work`` in a thread on the request body as a file, fed while it arrives (`docker
    import`): the body goes where ``work`` writes it, never whole into memory."""
    body = BodyReader()

    def run() -> T:
        try:
            return work(io.BufferedReader(body, PIECE))
        finally:
            body.abandon()

    feeder = asyncio.ensure_future(feed(request, body))
    try:
        result = await asyncio.to_thread(run)
    finally:
        await asyncio.wait({feeder})  # the worker has abandoned the body, so the feeder stops
    error = feeder.exception()
    if error is not None:
        raise error
    await request.drain()  # what the worker did not need (a tar's end padding)
    return result
