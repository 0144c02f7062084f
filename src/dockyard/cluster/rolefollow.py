"""The node follows the role its spec asks for: `docker node promote` and `demote` change the spec
(nodes.py); this loop makes the node what the spec says (swarmkit's role manager), every few
seconds: a demoted manager leaves the store's membership and goes on as a worker; a promoted
worker gets a manager's certificate and its own store member (SwarmService.follow_role)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger(__name__)
PERIOD = 2.0


class RoleFollower:
    """A SwarmService listener: one thread while the daemon runs, idle while it is in no swarm."""

    def __init__(self, period: float = PERIOD) -> None:
        self._period = period
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def swarm_started(self, swarm: SwarmService) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # a promotion or demotion restarts the listeners from this very thread
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(swarm,), name="swarm-role", daemon=True)
        self._thread.start()

    def swarm_stopping(self) -> None:
        if self._thread is threading.current_thread():
            return  # the follower's own change of role: it goes on
        self._stop.set()

    def _run(self, swarm: SwarmService) -> None:
        while not self._stop.wait(self._period):
            try:
                swarm.follow_role()
            except Exception as exc:  # noqa: BLE001 - no manager answers now: the next period may
                log.info("following the node's role: %s", exc)
