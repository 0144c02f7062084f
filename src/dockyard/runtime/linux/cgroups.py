"""Control groups for containers on the v1 hierarchies or the unified v2 hierarchy.

The host decides: if any v1 controller is mounted (this project's machines mount v1 controllers
plus an empty v2 tree), containers get one directory per v1 controller, as Docker does on such
hosts; on a pure v2 host they get one directory in the unified tree.
"""

import os
import time

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd")


def _mounts() -> tuple[dict[str, str], str | None]:
    """(v1 controller -> mount point, v2 mount point) from /proc/self/mountinfo."""
    v1: dict[str, str] = {}
    v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = right.split()[:3]
            mountpoint = left.split()[4]
            if fstype == "cgroup2":
                v2 = v2 or mountpoint
            elif fstype == "cgroup":
                for option in options.split(","):
                    if option in V1_CONTROLLERS and option not in v1:
                        v1[option] = mountpoint
    return v1, v2


_CACHE: tuple[dict[str, str], str | None] | None = None


def hierarchy() -> tuple[dict[str, str], str | None]:
    global _CACHE
    if _CACHE is None:
        _CACHE = _mounts()
    return _CACHE


def version() -> int:
    v1, _ = hierarchy()
    return 1 if v1 else 2


class Cgroup:
    """One container's cgroup, ``path`` relative to each hierarchy's root (e.g. /dockyard/<id>)."""

    def __init__(self, path: str) -> None:
        self.path = "/" + path.strip("/")
        v1, v2 = hierarchy()
        if v1:
            self.dirs = {name: mount + self.path for name, mount in v1.items()}
            self.unified = None
        else:
            self.dirs = {}
            self.unified = (v2 or "/sys/fs/cgroup") + self.path

    # -- creation -------------------------------------------------------------------------------
    def create(self) -> None:
        if self.unified:
            self._create_unified()
            return
        v1, _ = hierarchy()
        for name, directory in self.dirs.items():
            if name != "cpuset":
                os.makedirs(directory, exist_ok=True)
                continue
            # A new v1 cpuset starts empty and refuses tasks: copy cpus and mems down each level.
            current = v1[name]
            for part in [p for p in self.path.split("/") if p]:
                parent, current = current, os.path.join(current, part)
                os.makedirs(current, exist_ok=True)
                _inherit_cpuset(parent, current)

    def _create_unified(self) -> None:
        base = self.unified[: -len(self.path)]
        current = base
        try:
            available = open(os.path.join(base, "cgroup.controllers")).read().split()
        except OSError:
            available = []
        for part in [p for p in self.path.split("/") if p]:
            if available:
                try:
                    with open(os.path.join(current, "cgroup.subtree_control"), "w") as f:
                        f.write(" ".join("+" + c for c in available))
                except OSError:
                    pass
            current = os.path.join(current, part)
            os.makedirs(current, exist_ok=True)

    def join(self) -> None:
        """Move the calling process, which must be single-threaded, into this cgroup everywhere.

        On v1 we write "0" to ``tasks`` rather than ``cgroup.procs``: moving only the current
        thread lets the kernel skip the global threadgroup rwsem, whose write side waits for an
        RCU grace period (7-15 ms on these machines, on every container start). For a
        single-threaded process, moving its one thread moves the whole process.
        """
        if self.unified:
            _write(os.path.join(self.unified, "cgroup.procs"), "0")
            return
        for directory in self.dirs.values():
            _write(os.path.join(directory, "tasks"), "0")

    # -- freezer --------------------------------------------------------------------------------
    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool) -> None:
        if self.unified:
            _write(os.path.join(self.unified, "cgroup.freeze"), "1" if frozen else "0")
            want, path, key = ("frozen 1" if frozen else "frozen 0"), os.path.join(self.unified, "cgroup.events"), None
        else:
            path = os.path.join(self.dirs["freezer"], "freezer.state")
            _write(path, "FROZEN" if frozen else "THAWED")
            want, key = ("FROZEN" if frozen else "THAWED"), path
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(path) as f:
                text = f.read()
            if (key and text.strip() == want) or (not key and want in text):
                return
            time.sleep(0.001)
        raise OSError(f"cgroup {self.path} did not become {'frozen' if frozen else 'thawed'} within 5 s")

    # -- queries --------------------------------------------------------------------------------
    def pids(self) -> list[int]:
        directory = self.unified or self.dirs.get("pids") or next(iter(self.dirs.values()))
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    # -- removal --------------------------------------------------------------------------------
    def remove(self) -> None:
        """rmdir every directory; the kernel may need a moment after the last process exits."""
        for directory in ([self.unified] if self.unified else self.dirs.values()):
            for _ in range(100):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _inherit_cpuset(parent: str, directory: str) -> None:
    for name in ("cpuset.cpus", "cpuset.mems"):
        target = os.path.join(directory, name)
        with open(target) as f:
            if f.read().strip():
                continue
        with open(os.path.join(parent, name)) as f:
            _write(target, f.read().strip())
