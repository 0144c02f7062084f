"""The daemon's table of exec instances. Like Docker's, they live in memory only. It stands apart
from the exec service so that the container service, which forgets a container's execs when it
removes the container (also an auto-removed one), does not depend on the service that runs them."""

import asyncio
from dataclasses import dataclass, field

from dockyard.engine.specs.execs import ExecCreate
from dockyard.errors import NotFound
from dockyard.runtime.process import Launched


@dataclass
class Exec:
    id: str
    container_id: str
    config: ExecCreate  # the create request
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    started: bool = False
    attachers: list = field(default_factory=list)
    launched: Launched | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    internal: bool = False  # a health probe


class ExecRecords:
    def __init__(self) -> None:
        self._execs: dict[str, Exec] = {}

    def add(self, e: Exec) -> None:
        self._execs[e.id] = e

    def get(self, exec_id: str) -> Exec:
        e = self._execs.get(exec_id)
        if e is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return e

    def forget(self, exec_id: str) -> None:
        self._execs.pop(exec_id, None)

    def forget_container(self, cid: str) -> None:
        for exec_id in [i for i, e in self._execs.items() if e.container_id == cid]:
            del self._execs[exec_id]

    def of_container(self, cid: str) -> list[Exec]:
        return [e for e in self._execs.values() if e.container_id == cid]
