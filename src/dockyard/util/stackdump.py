"""What dockerd's SIGUSR1 gives (a file of goroutine stacks in its exec root), for asyncio: every
task the daemon's loop holds and where each one waits, plus the open file descriptors. It is how
one sees a request handler or a stream that outlived its client, and what tests count."""

import asyncio
import io
import logging
import os
import time

log = logging.getLogger("dockyard.stackdump")


def dump_tasks(directory: str, loop: asyncio.AbstractEventLoop) -> str:
    """Write ``task-stacks-<UTC time>.log`` into ``directory``; its path. The first line says
    ``<N> tasks, <M> open file descriptors``; then each task's name, coroutine and stack."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    fds = len(os.listdir("/proc/self/fd")) - 1  # less the one listdir itself holds
    out = io.StringIO()
    out.write(f"{len(tasks)} tasks, {fds} open file descriptors\n")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.write(f"\n{task.get_name()}: {task.get_coro()!r}\n")
        task.print_stack(file=out)
    os.makedirs(directory, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 1_000_000_000:09d}Z"
    path = os.path.join(directory, f"task-stacks-{stamp}.log")
    with open(path, "w") as f:
        f.write(out.getvalue())
    return path


def install(directory: str, loop: asyncio.AbstractEventLoop, signum: int) -> None:
    """Dump on ``signum`` (SIGUSR1, as dockerd), logging where the file went."""

    def on_signal() -> None:
        try:
            path = dump_tasks(directory, loop)
        except OSError as exc:
            log.error("failed to write the task stacks: %s", exc)
        else:
            log.info("task stacks written to %s", path)

    loop.add_signal_handler(signum, on_signal)
