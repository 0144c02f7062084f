"""Docker's resource settings (HostConfig's Memory, NanoCpus, CpuShares, PidsLimit, ...) written
into a container's cgroup, v1 or v2. Used at start (from the OCI spec) and by `docker update`."""

import os

from dockyard.runtime.linux.cgroups import Cgroup

CPU_PERIOD_DEFAULT = 100_000  # microseconds, as Docker uses for --cpus


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000), as runc converts them."""
    return 1 + ((shares - 2) * 9999) // 262142


def _cpu_quota(resources: dict) -> tuple[int | None, int | None]:
    period = resources.get("CpuPeriod") or None
    quota = resources.get("CpuQuota") or None
    if resources.get("NanoCpus"):
        period = period or CPU_PERIOD_DEFAULT
        quota = resources["NanoCpus"] * period // 1_000_000_000
    return quota, period


def apply(cgroup: Cgroup, resources: dict) -> None:
    """Write every setting present in ``resources`` (Docker's HostConfig field names)."""
    if cgroup.unified:
        _apply_v2(cgroup.unified, resources)
    else:
        _apply_v1(cgroup.dirs, resources)


def _apply_v1(dirs: dict[str, str], r: dict) -> None:
    memory = dirs.get("memory")
    if memory:
        # With both limits moving, the order matters: the kernel keeps memory <= memory+swap.
        swap_file = os.path.join(memory, "memory.memsw.limit_in_bytes")
        has_swap = os.path.exists(swap_file)
        if r.get("Memory"):
            if r.get("MemorySwap") and has_swap and r["MemorySwap"] != -1:
                try:
                    _write(swap_file, str(r["MemorySwap"]))
                    _write(os.path.join(memory, "memory.limit_in_bytes"), str(r["Memory"]))
                except OSError:
                    _write(os.path.join(memory, "memory.limit_in_bytes"), str(r["Memory"]))
                    _write(swap_file, str(r["MemorySwap"]))
            else:
                _write(os.path.join(memory, "memory.limit_in_bytes"), str(r["Memory"]))
                if has_swap:
                    # Docker's default: swap may equal the memory limit again (memory+swap = 2x).
                    total = -1 if r.get("MemorySwap") == -1 else 2 * r["Memory"]
                    _write(swap_file, str(total))
        if r.get("MemoryReservation"):
            _write(os.path.join(memory, "memory.soft_limit_in_bytes"), str(r["MemoryReservation"]))
    cpu = dirs.get("cpu")
    if cpu:
        if r.get("CpuShares"):
            _write(os.path.join(cpu, "cpu.shares"), str(r["CpuShares"]))
        quota, period = _cpu_quota(r)
        if period:
            _write(os.path.join(cpu, "cpu.cfs_period_us"), str(period))
        if quota:
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), str(quota))
    cpuset = dirs.get("cpuset")
    if cpuset:
        if r.get("CpusetCpus"):
            _write(os.path.join(cpuset, "cpuset.cpus"), r["CpusetCpus"])
        if r.get("CpusetMems"):
            _write(os.path.join(cpuset, "cpuset.mems"), r["CpusetMems"])
    pids = dirs.get("pids")
    if pids and r.get("PidsLimit") is not None:
        limit = r["PidsLimit"]
        _write(os.path.join(pids, "pids.max"), "max" if limit is None or limit <= 0 else str(limit))
    if memory and r.get("OomKillDisable"):
        _write(os.path.join(memory, "memory.oom_control"), "1")
    blkio = dirs.get("blkio")
    if blkio and r.get("BlkioWeight"):
        for name in ("blkio.weight", "blkio.bfq.weight"):
            if os.path.exists(os.path.join(blkio, name)):
                _write(os.path.join(blkio, name), str(r["BlkioWeight"]))
                break
    if blkio:
        for field, name in THROTTLES_V1.items():
            for entry in r.get(field) or []:
                _write(os.path.join(blkio, name), f"{_device_numbers(entry['Path'])} {entry['Rate']}")


def _apply_v2(path: str, r: dict) -> None:
    if r.get("Memory"):
        _write(os.path.join(path, "memory.max"), str(r["Memory"]))
        swap = r.get("MemorySwap")
        if swap and swap != -1 and os.path.exists(os.path.join(path, "memory.swap.max")):
            _write(os.path.join(path, "memory.swap.max"), str(max(0, swap - r["Memory"])))
    if r.get("MemoryReservation"):
        _write(os.path.join(path, "memory.low"), str(r["MemoryReservation"]))
    if r.get("CpuShares"):
        _write(os.path.join(path, "cpu.weight"), str(_shares_to_weight(r["CpuShares"])))
    quota, period = _cpu_quota(r)
    if quota or period:
        _write(os.path.join(path, "cpu.max"), f"{quota or 'max'} {period or CPU_PERIOD_DEFAULT}")
    if r.get("CpusetCpus"):
        _write(os.path.join(path, "cpuset.cpus"), r["CpusetCpus"])
    if r.get("PidsLimit") is not None:
        limit = r["PidsLimit"]
        _write(os.path.join(path, "pids.max"), "max" if limit <= 0 else str(limit))
    if r.get("BlkioWeight"):
        _write(os.path.join(path, "io.weight"), str(r["BlkioWeight"]))
    for field, key in THROTTLES_V2.items():
        for entry in r.get(field) or []:
            _write(os.path.join(path, "io.max"), f"{_device_numbers(entry['Path'])} {key}={entry['Rate']}")
    if r.get("OomKillDisable") and os.path.exists(os.path.join(path, "memory.oom.group")):
        pass  # cgroup v2 has no switch to disable the OOM killer; Docker ignores the flag there too


THROTTLES_V1 = {"BlkioDeviceReadBps": "blkio.throttle.read_bps_device",
                "BlkioDeviceWriteBps": "blkio.throttle.write_bps_device",
                "BlkioDeviceReadIOps": "blkio.throttle.read_iops_device",
                "BlkioDeviceWriteIOps": "blkio.throttle.write_iops_device"}
THROTTLES_V2 = {"BlkioDeviceReadBps": "rbps", "BlkioDeviceWriteBps": "wbps", "BlkioDeviceReadIOps": "riops",
                "BlkioDeviceWriteIOps": "wiops"}


def _device_numbers(path: str) -> str:
    """"major:minor" of a block device, for the throttle files."""
    import stat

    st = os.stat(path)
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError(f"{path} is not a block device")
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


RESOURCE_FIELDS = ("Memory", "MemorySwap", "MemoryReservation", "CpuShares", "CpuPeriod", "CpuQuota", "NanoCpus",
                   "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "OomKillDisable", "BlkioDeviceReadBps",
                   "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps")
MIN_MEMORY = 6 * 1024 * 1024


def validate(current: dict, update: dict) -> dict:
    """Docker's checks on resource values; returns the merged settings."""
    from dockyard.errors import InvalidParameter

    merged = {k: current.get(k) for k in RESOURCE_FIELDS}
    merged.update({k: v for k, v in update.items() if k in RESOURCE_FIELDS and v not in (None,)})
    memory, swap = merged.get("Memory") or 0, merged.get("MemorySwap") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory and swap and swap != -1 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    reservation = merged.get("MemoryReservation") or 0
    if 0 < reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    swappiness = update.get("MemorySwappiness")  # not a live cgroup setting: checked, never merged
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    # moby's verifyPlatformContainerResources: the kernel refuses these with a bare EINVAL.
    period = merged.get("CpuPeriod") or 0
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second "
                               "(i.e. 1000000)")
    if 0 < (merged.get("CpuQuota") or 0) < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if (merged.get("NanoCpus") or 0) < 0 or (merged.get("CpuShares") or 0) < 0:
        raise InvalidParameter("CPU shares and NanoCPUs must not be negative")
    if merged.get("NanoCpus") and (merged.get("CpuQuota") or merged.get("CpuPeriod")):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if (merged.get("NanoCpus") or 0) > (os.cpu_count() or 1) * 1_000_000_000:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {os.cpu_count() or 1}.00, as there are only "
                               f"{os.cpu_count() or 1} CPUs available")
    if (weight := merged.get("BlkioWeight") or 0) and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    for field in THROTTLES_V1:
        for entry in merged.get(field) or []:
            try:
                _device_numbers(entry.get("Path") or "")
            except (OSError, ValueError) as exc:
                raise InvalidParameter(f"invalid {field} device {entry.get('Path')!r}: {exc}") from None
            if int(entry.get("Rate", -1)) < 0:
                raise InvalidParameter(f"invalid {field} rate for {entry.get('Path')}: must be positive")
    cpus = merged.get("CpusetCpus")
    if cpus:
        _check_cpuset(cpus, "cpus", os.sched_getaffinity(0))
    return merged


def _check_cpuset(text: str, what: str, available: set[int]) -> None:
    """Docker: "Requested CPUs are not available - requested 99, available: 0-1"."""
    from dockyard.errors import InvalidParameter

    wanted: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            wanted.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise InvalidParameter(f"Invalid value {text} for cpuset {what}") from None
    if not wanted <= available:
        span = f"{min(available)}-{max(available)}" if available else ""
        raise InvalidParameter(f"Requested CPUs are not available - requested {text}, available: {span}")
