"""A worker's TaskChannel: its agent's two calls over the swarm's mutual-TLS channel to whichever
manager answers (agent/dispatch.py is the other end). A thread follows `tasks.watch` and keeps
the latest list of the node's tasks; when the manager goes (a leader change, a manager's daemon
killed) the thread watches again through the next manager it knows, and the agent meanwhile keeps
its tasks running as they are.
"""

from __future__ import annotations

import http.client
import logging
import queue
import ssl
import threading
from collections.abc import Callable

from dockyard.cluster.agent.dispatch import KEEPALIVE, STATUS, WATCH, task_from_wire, to_wire
from dockyard.cluster.channel import ChannelError, ManagerChannel
from dockyard.cluster.services.task import Task, TaskStatus
from dockyard.cluster.store.api import StoreUnavailable
from dockyard.errors import DockyardError

log = logging.getLogger("dockyard.cluster.agent")
RETRY = 1.0  # seconds between attempts to reach a manager
IDLE = KEEPALIVE * 3  # a watch silent for this long is taken for dead
TRANSPORT = (OSError, ssl.SSLError, http.client.HTTPException, ValueError)


class RemoteChannel:
    def __init__(self, channel: Callable[[], ManagerChannel], retry: float = RETRY,
                 managers: Callable[[list[str]], None] | None = None) -> None:
        self._factory = channel  # asked anew at each attempt: the managers the node knows change
        self._retry = retry
        self._remember = managers  # the swarm's managers, as the watch tells them (for the node's state)
        self._latest: queue.Queue[list[Task]] = queue.Queue()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def assignments(self, node_id: str, timeout: float) -> list[Task] | None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="agent-tasks-watch", daemon=True)
            self._thread.start()
        try:
            tasks = self._latest.get(timeout=timeout)
        except queue.Empty:
            return None
        while True:  # only the newest list counts
            try:
                tasks = self._latest.get_nowait()
            except queue.Empty:
                return [t for t in tasks if t.node_id == node_id]

    def _follow(self) -> None:
        while not self._stopped.is_set():
            try:
                for item in self._factory().watch(WATCH, {}, idle=IDLE):
                    if self._stopped.is_set():
                        return
                    if "Tasks" in item:
                        self._latest.put([task_from_wire(doc) for doc in item["Tasks"]])
                    if item.get("Managers") and self._remember is not None:
                        self._remember([str(m) for m in item["Managers"]])
            except (ChannelError, DockyardError, *TRANSPORT) as exc:
                log.info("the agent's watch of its tasks ended: %s; watching again", exc)
            self._stopped.wait(self._retry)

    def update_status(self, task_id: str, status: TaskStatus) -> bool:
        try:
            answer = self._factory().call(STATUS, {"TaskID": task_id, "Status": to_wire(status)})
        except ChannelError as exc:
            if exc.status < 500:  # not this node's task (any more), or a report it cannot take
                log.warning("task %s: the managers refused its status: %s", task_id, exc)
                return False
            raise StoreUnavailable(f"task {task_id}: {exc}") from exc  # the agent tries again
        except (DockyardError, *TRANSPORT) as exc:
            raise StoreUnavailable(f"task {task_id}: {exc}") from exc
        return bool(answer.get("Found"))

    def close(self) -> None:
        self._stopped.set()
