"""`docker stats`: samples in the Engine API's shape, from the container's cgroups."""

import os

from dockyard.engine.container import Container
from dockyard.runtime.linux.cgroups import Cgroup, CgroupStats
from dockyard.util.timefmt import ZERO_TIME, now_ns, rfc3339_ns


def _system_cpu_ns() -> int:
    """All CPUs' time since boot, from /proc/stat, in nanoseconds (Docker's system_cpu_usage)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))


def _host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _networks(pid: int) -> dict:
    """Per-interface counters inside the container's network namespace, without `lo` (as Docker)."""
    networks: dict[str, dict] = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return networks
    for line in lines:
        name, _, data = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in data.split()]
        networks[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                          "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}
    return networks


def empty_sample() -> dict:
    return {"read": ZERO_TIME, "cpu_stats": {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0,
                                             "online_cpus": 0, "throttling_data": {}}}


def sample(c: Container, cgroup_path: str) -> dict:
    stats = CgroupStats(Cgroup(cgroup_path)).collect()
    host_memory = _host_memory()
    memory = stats["memory_stats"]
    if not memory.get("limit") or memory["limit"] > host_memory:
        memory["limit"] = host_memory  # "no limit" reads as the host's memory, as in Docker
    stats["cpu_stats"]["system_cpu_usage"] = _system_cpu_ns()
    stats["cpu_stats"]["online_cpus"] = os.cpu_count() or 1
    stats.update(read=rfc3339_ns(now_ns()), name=c.name, id=c.id, num_procs=0, storage_stats={},
                 networks=_networks(c.state.pid))
    return stats
