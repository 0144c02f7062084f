"""Run one operation per service along the dependency graph, in parallel where the graph allows.

Forward (start): a service runs once every dependency finished. Reverse (stop, remove): once every
service that depends on it finished. A failure stops what has not started yet and is raised after
the running operations end, so the engine is never left mid-call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait


def limit() -> int:
    try:
        return max(1, int(os.environ.get("COMPOSE_PARALLEL_LIMIT", "0"))) if os.environ.get(
            "COMPOSE_PARALLEL_LIMIT") else 16
    except ValueError:
        return 16


def run_graph(names: list[str], deps: dict[str, set[str]], operation: Callable[[str], object], *,
              reverse: bool = False) -> None:
    """`operation(name)` for each name, respecting `deps` (name -> the names it needs first)."""
    wanted = set(names)
    needs = {n: {d for d in deps.get(n, set()) if d in wanted} for n in names}
    if reverse:
        inverted: dict[str, set[str]] = {n: set() for n in names}
        for name, ds in needs.items():
            for d in ds:
                inverted[d].add(name)
        needs = inverted
    pending = list(names)
    done: set[str] = set()
    failures: list[BaseException] = []
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=limit()) as pool:
        while pending or running:
            if not failures:
                for name in [n for n in pending if needs[n] <= done]:
                    pending.remove(name)
                    running[pool.submit(operation, name)] = name
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                error = future.exception()
                if error is not None:
                    failures.append(error)
                else:
                    done.add(name)
            if failures and not running:
                break
    if failures:
        raise failures[0]


def run_all(items: Iterable, operation: Callable) -> list:
    """`operation(item)` for every item at once (bounded); results in order; the first error raised."""
    items = list(items)
    if len(items) <= 1:
        return [operation(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(limit(), len(items))) as pool:
        futures = [pool.submit(operation, item) for item in items]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]


class Once:
    """A lock per key, so two services needing the same image build or pull it once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        self.results: dict[str, object] = {}

    def run(self, key: str, operation: Callable[[], object]):
        with self.lock:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.results:
                self.results[key] = operation()
            return self.results[key]
