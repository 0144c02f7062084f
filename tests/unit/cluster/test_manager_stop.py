"""The manager's loops end when they are told to, also while they wait for the store to change
(a leave and a daemon stop wait for them)."""

from __future__ import annotations

import threading

from dockyard.cluster.manager import runner
from dockyard.cluster.store import MemoryStore


def test_stop_ends_the_loops_while_they_wait_for_a_change(monkeypatch) -> None:
    monkeypatch.setattr(runner, "IDLE_WAIT", 3600.0)  # nothing else would wake the wait
    store = MemoryStore()
    watching = threading.Event()
    watch = store.watch

    def watch_and_say(prefix: str, start_revision: int = 0):
        try:
            return watch(prefix, start_revision)
        finally:
            watching.set()

    monkeypatch.setattr(store, "watch", watch_and_say)
    manager = runner.Manager(store)
    manager.start()
    assert watching.wait(30)
    manager.stop()  # joins the loops' thread for at most 30 s
    assert not manager._thread.is_alive()


def test_a_stop_while_the_loops_make_their_watch_ends_them_too(monkeypatch) -> None:
    monkeypatch.setattr(runner, "IDLE_WAIT", 3600.0)
    store = MemoryStore()
    manager = runner.Manager(store)
    watch = store.watch

    def watch_once_stopping(prefix: str, start_revision: int = 0):
        for _ in range(3000):  # the stop comes while the watch is being made
            if manager._stop.wait(0.01):
                break
        return watch(prefix, start_revision)

    monkeypatch.setattr(store, "watch", watch_once_stopping)
    manager.start()
    manager.stop()
    assert not manager._thread.is_alive()
