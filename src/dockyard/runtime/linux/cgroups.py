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
        assert self.unified is not None  # only called on the v2 hierarchy
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

    def set_device_rules(self, rules: list[str]) -> None:
        """Docker's device rules ("c 1:3 rwm", "a *:* rwm") into the v1 devices controller: deny
        everything, then allow the list. (cgroup v2 needs an eBPF program instead; not done.)"""
        directory = self.dirs.get("devices")
        if not directory:
            return
        _write(os.path.join(directory, "devices.deny"), "a")
        for rule in rules:
            _write(os.path.join(directory, "devices.allow"), "a" if rule.startswith("a") else rule)

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup."""
        path = (os.path.join(self.unified, "memory.events") if self.unified
                else os.path.join(self.dirs.get("memory", ""), "memory.oom_control"))
        return _keyed(_read(path)).get("oom_kill", 0)

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


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _int(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def _keyed(text: str | None) -> dict[str, int]:
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _blkio_v1(text: str | None) -> list[dict]:
    entries = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            entries.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    return entries


def _io_v2(text: str | None) -> list[dict]:
    entries = []
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = parts[0].split(":")
        fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            if key in fields:
                entries.append({"major": int(major), "minor": int(minor), "op": op, "value": int(fields[key])})
    return entries


class CgroupStats:
    """Raw figures in Docker's stats shape (cpu_stats, memory_stats, blkio_stats, pids_stats)."""

    def __init__(self, cgroup: Cgroup) -> None:
        self.cgroup = cgroup

    def collect(self) -> dict:
        return self._v2() if self.cgroup.unified else self._v1()

    def _v1(self) -> dict:
        d = self.cgroup.dirs
        percpu = [int(x) for x in (_read(f"{d['cpuacct']}/cpuacct.usage_percpu") or "").split()]
        cpu_stat = _keyed(_read(f"{d['cpuacct']}/cpuacct.stat"))
        tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        throttling = _keyed(_read(f"{d['cpu']}/cpu.stat")) if "cpu" in d else {}
        memory = _keyed(_read(f"{d['memory']}/memory.stat"))
        return {
            "cpu_stats": {
                "cpu_usage": {"total_usage": _int(f"{d['cpuacct']}/cpuacct.usage") or 0, "percpu_usage": percpu,
                              "usage_in_kernelmode": cpu_stat.get("system", 0) * tick_ns,
                              "usage_in_usermode": cpu_stat.get("user", 0) * tick_ns},
                "throttling_data": {"periods": throttling.get("nr_periods", 0),
                                    "throttled_periods": throttling.get("nr_throttled", 0),
                                    "throttled_time": throttling.get("throttled_time", 0)},
            },
            "memory_stats": {"usage": _int(f"{d['memory']}/memory.usage_in_bytes") or 0,
                             "max_usage": _int(f"{d['memory']}/memory.max_usage_in_bytes") or 0,
                             "stats": memory, "limit": _int(f"{d['memory']}/memory.limit_in_bytes") or 0},
            "blkio_stats": {"io_service_bytes_recursive": _blkio_v1(
                _read(f"{d['blkio']}/blkio.throttle.io_service_bytes_recursive")),
                "io_serviced_recursive": _blkio_v1(_read(f"{d['blkio']}/blkio.throttle.io_serviced_recursive"))},
            "pids_stats": {"current": _int(f"{d['pids']}/pids.current") or 0},
        }

    def _v2(self) -> dict:
        u = self.cgroup.unified
        cpu = _keyed(_read(f"{u}/cpu.stat"))
        memory = _keyed(_read(f"{u}/memory.stat"))
        limit_text = (_read(f"{u}/memory.max") or "max").strip()
        return {
            "cpu_stats": {
                "cpu_usage": {"total_usage": cpu.get("usage_usec", 0) * 1000,
                              "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
                              "usage_in_usermode": cpu.get("user_usec", 0) * 1000},
                "throttling_data": {"periods": cpu.get("nr_periods", 0), "throttled_periods":
                                    cpu.get("nr_throttled", 0), "throttled_time": cpu.get("throttled_usec", 0) * 1000},
            },
            "memory_stats": {"usage": _int(f"{u}/memory.current") or 0, "stats": memory,
                             "limit": 0 if limit_text == "max" else int(limit_text)},
            "blkio_stats": {"io_service_bytes_recursive": _io_v2(_read(f"{u}/io.stat"))},
            "pids_stats": {"current": _int(f"{u}/pids.current") or 0},
        }
