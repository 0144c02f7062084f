"""A machine's processes, held in one cgroup subtree so stop and kill reach every one of them.

The engine runs in ``dockyard-machines/<key>/engine`` of the v2 tree (the unified hierarchy
beside the v1 controllers on hybrid hosts), and its containers under ``dockyard-machines/<key>``
(its --cgroup-parent) in every hierarchy. Shims, userland proxies and containers are all its
descendants, so the subtree holds everything the machine runs even after the engine exits;
``cgroup.kill`` ends it in one write. Without a v2 tree the v1 ``pids`` hierarchy is used and
the processes are signalled one by one until none is left.
"""

from __future__ import annotations

import os
import signal
import time

ROOT = "dockyard-machines"


def _tracking_mount() -> tuple[str, bool]:
    """(mount point, is v2) of the hierarchy that tracks machines."""
    from dockyard.runtime.linux.cgroups import hierarchy

    v1, v2 = hierarchy()
    if v2:
        return v2, True
    return v1.get("pids") or v1.get("freezer") or next(iter(v1.values())), False


class MachineCgroup:
    def __init__(self, key: str) -> None:
        if not key or "/" in key or key in (".", ".."):
            raise ValueError(f"invalid machine key {key!r}")
        self.relative = f"{ROOT}/{key}"
        mount, self.v2 = _tracking_mount()
        self.dir = os.path.join(mount, self.relative)

    @property
    def parent_for_containers(self) -> str:
        return "/" + self.relative

    @property
    def engine_procs(self) -> str:
        """Writing a PID here moves that process into the machine (done by the engine's launcher shell)."""
        return os.path.join(self.dir, "engine", "cgroup.procs")

    def prepare(self) -> None:
        os.makedirs(os.path.join(self.dir, "engine"), exist_ok=True)

    def pids(self) -> list[int]:
        return _procs_under(self.dir)

    def container_pids(self) -> list[int]:
        """The processes of the machine's containers (each in a cgroup of its own below the parent)."""
        from dockyard.runtime.linux.cgroups import hierarchy

        v1, _v2 = hierarchy()
        base = os.path.join(v1.get("pids") or next(iter(v1.values())), self.relative) if v1 else self.dir
        found: list[int] = []
        try:
            entries = os.listdir(base)
        except FileNotFoundError:
            return found
        for entry in entries:
            if entry != "engine" and os.path.isdir(os.path.join(base, entry)):
                found += _procs_under(os.path.join(base, entry))
        return found

    def signal_all(self, sig: int, pids: list[int] | None = None) -> None:
        for pid in self.pids() if pids is None else pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def wait_empty(self, timeout: float, containers_only: bool = False) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while self.container_pids() if containers_only else self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return True

    def kill(self) -> None:
        """Every process of the machine, at once; returns when none is left."""
        if not os.path.isdir(self.dir):
            return
        kill_file = os.path.join(self.dir, "cgroup.kill")
        for _ in range(50):
            if os.path.exists(kill_file):
                with open(kill_file, "w") as f:
                    f.write("1")
            else:
                self.signal_all(signal.SIGKILL)
            if self.wait_empty(2):
                return
        raise OSError(f"processes of {self.dir} survived SIGKILL: {self.pids()}")

    def remove(self) -> None:
        """The subtree in the tracking hierarchy and the containers' directories in every other one."""
        from dockyard.runtime.linux.cgroups import hierarchy

        v1, v2 = hierarchy()
        mounts = set(v1.values()) | ({v2} if v2 else set())
        for mount in mounts:
            _rmdir_tree(os.path.join(mount, self.relative))
            try:
                os.rmdir(os.path.join(mount, ROOT))  # the last machine's removal takes the common parent too
            except OSError:
                pass


def _procs_under(top: str) -> list[int]:
    found: list[int] = []
    for directory, _dirs, _files in os.walk(top):
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                found += [int(line) for line in f if line.strip()]
        except OSError:
            continue
    return found


def _rmdir_tree(path: str) -> None:
    if not os.path.isdir(path):
        return
    for directory, _dirs, _files in sorted(os.walk(path, topdown=False), key=lambda w: -len(w[0])):
        try:
            os.rmdir(directory)
        except OSError:
            pass
