"""Mounts a machine's engine left under its directories (namespace pins, overlay roots, shm) when
it was killed: found in mountinfo and detached, deepest first."""

from __future__ import annotations

import contextlib
import re

_ESCAPE = re.compile(r"\\([0-7]{3})")


def mounts_under(*roots: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if any(point == root or point.startswith(root.rstrip("/") + "/") for root in roots):
                found.append(point)
    return found


def unmount_under(*roots: str) -> list[str]:
    """Detach every mount under ``roots``; returns those that stayed."""
    for _ in range(5):
        points = mounts_under(*roots)
        if not points:
            return []
        from dockyard.util.syscalls import MNT_DETACH, umount2  # ctypes: only when there is something to detach

        for point in sorted(set(points), key=len, reverse=True):
            with contextlib.suppress(OSError):
                umount2(point, MNT_DETACH)
    return mounts_under(*roots)
