"""The manager's loops, run in passes: read the cluster (services, tasks, nodes), let each loop
decide (restart supervisor, orchestrators, scheduler, reaper, in that order), write what they
decided, then wait for the store to change or for a loop's timer.

The loops are level-triggered: each pass looks at the whole state, so a write refused because an
agent updated the task in between (versions differ) is simply decided again on the next pass,
which that agent's write starts.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable

from dockyard.cluster import codec
from dockyard.cluster.manager import global_, jobs, reaper, replicated, restart, scheduler
from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import Cluster, Node
from dockyard.cluster.services.records import Records, TaskCache
from dockyard.cluster.services.task import Task
from dockyard.cluster.store.api import Store, StoreUnavailable, Watch
from dockyard.cluster.swarm import CLUSTER_KEY

log = logging.getLogger("dockyard.cluster.manager")

Loop = Callable[[Snapshot], None]
LOOPS: tuple[Loop, ...] = (restart.supervise, replicated.reconcile, global_.reconcile, jobs.reconcile,
                           scheduler.schedule, reaper.reap)
BATCH = 100  # etcd refuses transactions of more than 128 operations by default
IDLE_WAIT = 5.0  # a pass at least this often, in case a watch event was lost
FOLLOWER_WAIT = 1.0  # how often a manager that does not lead the store asks again


def read(store: Store, now: datetime.datetime, cache: TaskCache | None = None) -> Snapshot:
    records = Records(store)
    kv = store.get(CLUSTER_KEY)
    cluster = codec.decode(Cluster, kv.value, kv.mod_revision) if kv else None
    nodes = {n.id: n for n in (codec.decode(Node, kv.value, kv.mod_revision) for kv in store.range(NODES_PREFIX))}
    tasks = cache.tasks(store) if cache is not None else records.tasks()
    return Snapshot(now, cluster, nodes, {s.id: s for s in records.services()}, {t.id: t for t in tasks})


def _write_batched(records: Records, changed: list[Task], deleted: list[Task]) -> int:
    """Write and delete in transactions of up to BATCH tasks; a batch refused because one of its
    tasks moved on meanwhile (an agent's report) is done task by task. Returns how many the store
    refused."""
    items = [(t, False) for t in changed] + [(t, True) for t in deleted]
    refused = 0
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        if records.write_tasks([t for t, gone in batch if not gone], [t for t, gone in batch if gone]):
            continue
        for task, gone in batch if len(batch) > 1 else []:
            refused += not (records.write_tasks([], [task]) if gone else records.write_tasks([task]))
        refused += len(batch) == 1
    return refused


def write(store: Store, snap: Snapshot) -> int:
    """Apply the pass's decisions; returns how many writes the store refused (to be decided again)."""
    records = Records(store)
    refused = 0
    new = [t for t in snap.written.values() if not t.version.index]
    for start in range(0, len(new), BATCH):
        if not records.write_tasks(new[start:start + BATCH]):
            refused += 1
    refused += _write_batched(records, [t for t in snap.written.values() if t.version.index],
                              list(snap.deleted.values()))
    for service in snap.services_written.values():
        if not records.update_service(service):
            refused += 1
    return refused


def run_pass(store: Store, now: datetime.datetime, loops: tuple[Loop, ...] = LOOPS,
             cache: TaskCache | None = None) -> Snapshot:
    snap = read(store, now, cache)
    for loop in loops:
        loop(snap)
    write(store, snap)
    if cache is not None:
        cache.forget([*snap.written.values(), *snap.deleted.values()])
    return snap


class Manager:
    """The loops on a thread of their own, for as long as this node manages the swarm."""

    def __init__(self, store: Store, leads: Callable[[], bool] = lambda: True) -> None:
        self._store = store
        # Only the store's leader decides, as swarmkit's orchestrators run on the Raft leader: two
        # managers passing at once would each add the task a slot lacks (new keys never conflict).
        self._leads = leads
        self._led_at = 0.0  # when the store last said this manager leads it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="swarm-manager", daemon=True)
        self._watch: Watch | None = None  # cancelled by stop(), so an idle wait ends at once

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        watch = self._watch
        if watch is not None:
            watch.cancel()  # wakes the loop's wait for a change (up to IDLE_WAIT) at once
        self._thread.join(timeout=30)

    def _leading(self) -> bool:
        """Asked of the store at most every FOLLOWER_WAIT seconds while it says yes (a pass per task
        report must not cost two more requests); no answer (an election) is no."""
        now = time.monotonic()
        if now - self._led_at < FOLLOWER_WAIT:
            return True
        try:
            leads = self._leads()
        except Exception:  # noqa: BLE001 - the member is restarting or has no leader
            leads = False
        self._led_at = now if leads else 0.0
        return leads

    def _run(self) -> None:
        watch = None
        cache = TaskCache()
        while not self._stop.is_set():
            try:
                if watch is None:
                    watch = self._watch = self._store.watch("/swarm/")
                    if self._stop.is_set():
                        break  # stop() came before the watch existed: it could not cancel it
                if not self._leading():
                    self._stop.wait(FOLLOWER_WAIT)
                    continue
                snap = run_pass(self._store, datetime.datetime.now(datetime.UTC), cache=cache)
                wait = IDLE_WAIT
                if snap.wake_at is not None:
                    wait = min(wait, max((snap.wake_at - datetime.datetime.now(datetime.UTC)).total_seconds(), 0))
                # The pass's own writes come back as events and start the next pass (which a
                # refused write needs): no pass at once besides, which would then run twice.
                if watch.next(wait) is not None:
                    while watch.next(0) is not None:  # a burst of changes is one pass
                        pass
            except StoreUnavailable as exc:
                log.warning("the manager's loops wait for the store: %s", exc)
                self._stop.wait(1.0)
            except Exception:  # noqa: BLE001 - a loop's bug must not end the manager
                log.exception("a manager pass failed")
                self._stop.wait(1.0)
        if watch is not None:
            watch.cancel()  # again if stop() did: a cancel is idempotent
