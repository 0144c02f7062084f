"""Network namespaces the daemon owns: made, kept alive by a bind mount of their nsfs file, entered
by one thread at a time, and removed.

A network namespace belongs to a thread, not a process, so the daemon enters one from a fresh
thread of its own (``run_in``) and never from a pooled one: if switching back failed, that thread
would otherwise go on serving other work in the wrong namespace.
"""

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from dockyard.util import syscalls as sc

T = TypeVar("T")


def _in_fresh_thread(fn: Callable[[], T]) -> T:
    result: list = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=body, name="netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def _entered(enter: Callable[[], None], fn: Callable[[], T]) -> T:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter()
        try:
            return fn()
        finally:
            sc.setns(home, sc.CLONE_NEWNET)  # if this raises, the thread dies with it
    finally:
        os.close(home)


def create(path: str, setup: Callable[[], T] | None = None) -> T | None:
    """A new network namespace pinned at ``path``; ``setup`` runs inside it before this returns."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))

    def made() -> T | None:
        sc.mount("/proc/thread-self/ns/net", path, None, sc.MS_BIND)
        return setup() if setup else None

    try:
        return _in_fresh_thread(lambda: _entered(lambda: sc.unshare(sc.CLONE_NEWNET), made))
    except BaseException:
        remove(path)
        raise


def run_in(path: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` inside the namespace at ``path`` (sockets it opens stay in that namespace)."""

    def enter() -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWNET)
        finally:
            os.close(fd)

    return _in_fresh_thread(lambda: _entered(enter, fn))


def is_pinned(path: str) -> bool:
    """Whether ``path`` is a live namespace mount (a leftover file after a crash is not)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def remove(path: str) -> None:
    with contextlib.suppress(OSError):
        sc.umount2(path, sc.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
