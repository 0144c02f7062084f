"""Small asyncio helpers."""

import asyncio
from collections.abc import Awaitable
from typing import Any

# The event loop keeps only weak references to tasks: a task nobody holds can be collected while it
# waits on a future that is not itself reachable from the loop (a restart policy's start was, and
# left its container "restarting" with PID 0). Fire-and-forget tasks are held here until they end.
_BACKGROUND: set[asyncio.Future] = set()


def background(coro: Awaitable[Any]) -> asyncio.Future:
    """Run ``coro`` as a task that stays referenced until it ends, for work nobody awaits."""
    task = asyncio.ensure_future(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def first_of(*events: asyncio.Event, timeout: float | None = None) -> asyncio.Event | None:
    """Wait until one of ``events`` is set and return it (None when ``timeout`` passed first).
    The helper tasks are cancelled and awaited before returning, so none outlives the call."""
    for event in events:
        if event.is_set():
            return event
    waiters = {asyncio.ensure_future(event.wait()): event for event in events}
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return next((waiters[w] for w in waiters if w in done), None)


async def flushed(writer: asyncio.StreamWriter) -> None:
    """Until everything written to ``writer`` has gone to the kernel. ``drain()`` alone returns as
    soon as the buffer is under the high-water mark, with up to 64 KiB still queued here: a message
    that must come after that data on another socket (the shim's "close_stdin") waits for this."""
    transport = writer.transport
    transport.set_write_buffer_limits(high=0)
    try:
        await writer.drain()
    finally:
        if not transport.is_closing():
            transport.set_write_buffer_limits()
