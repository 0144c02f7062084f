"""Fire-and-forget tasks outlive the garbage collector (the event loop holds tasks only weakly)."""

import asyncio
import gc
import weakref

from dockyard.util.aio import background


async def _wait_forever() -> None:
    # A future nobody else holds: the task waiting on it is reachable only through references to it.
    await asyncio.get_running_loop().create_future()


def test_an_unreferenced_task_is_collected_but_a_background_one_is_kept() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        plain = weakref.ref(asyncio.ensure_future(_wait_forever()))
        kept = weakref.ref(background(_wait_forever()))
        await asyncio.sleep(0)  # both tasks start and park on their futures
        gc.collect()
        plain_alive, kept_alive = plain() is not None, kept() is not None
        task = kept()
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
        del task
        gc.collect()
        return plain_alive, kept_alive, kept() is None

    plain_alive, kept_alive, released_when_done = asyncio.run(scenario())
    assert not plain_alive, "the control case: an unreferenced pending task is collected"
    assert kept_alive, "background() must hold its task while it runs"
    assert released_when_done, "background() must let go of a task that ended"
