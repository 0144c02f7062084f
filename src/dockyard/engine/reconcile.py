"""After a daemon restart: what became of the containers that ran while the daemon was away. A
shim that still runs keeps its container (we take its output and stdin back); one that ended left
its exit in exit.json; one that died without a word gets Docker's 255."""

from __future__ import annotations

import asyncio
import logging
import os

from dockyard.engine.container import Container, Runtime, State
from dockyard.runtime.process import pump_output
from dockyard.runtime.shim import SOCKET_NAME, short_path
from dockyard.util.atomic import read_json
from dockyard.util.timefmt import now_ns

log = logging.getLogger("dockyard.containers")


def live_shim(state_dir: str) -> dict | None:
    """The shim's pid.json if that shim still runs and still parents that container process."""
    try:
        record = read_json(os.path.join(state_dir, "pid.json"))
        with open(f"/proc/{record['pid']}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return record if ppid == record["shim"] else None


def adopted_state(c: Container, live: dict) -> State:
    """The daemon died between launching the shim and recording the start: the container runs."""
    return State(status="running", pid=live["pid"], shim_pid=live["shim"],
                 started_at=live.get("started_at") or now_ns(), health=c.state.health)


def exit_state(c: Container, state_dir: str) -> State:
    """The exit the shim recorded in exit.json, or Docker's 255 when it recorded none."""
    try:
        record = read_json(os.path.join(state_dir, "exit.json"))
        code, finished = record["exit_code"], record["finished_at"]
        error = ""
    except (OSError, ValueError, KeyError):
        code, finished, record = 255, now_ns(), {}
        error = "the container's supervisor ended without recording an exit status"
    return State(status="exited", exit_code=code, started_at=c.state.started_at, finished_at=finished,
                 error=error, health=c.state.health, oom_killed=bool(record.get("oom_killed")))


async def reconnect_stdio(c: Container, rt: Runtime, state_dir: str) -> None:
    """Take the container's output stream and stdin back from its shim, so attach and
    `logs -f` work again for containers that outlived a previous daemon."""
    dir_fd = os.open(state_dir, os.O_PATH | os.O_CLOEXEC)
    try:
        reader, writer = await asyncio.open_unix_connection(short_path(dir_fd, SOCKET_NAME))
    except OSError as exc:
        log.warning("cannot reattach to the output of %s: %s", c.id[:12], exc)
        return
    finally:
        os.close(dir_fd)
    rt.stdin_writer = writer
    rt.started.set()
    await pump_output(reader, bool(c.config.tty), rt.attachers)
