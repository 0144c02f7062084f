"""The flags update shares with run and create, as HostConfig fields: resources (memory, CPU,
pids, block IO) and the restart policy."""

from dockyard.cli.common import size_flag
from dockyard.cli.flags import Opt, UsageError

RESOURCE_OPTIONS = (
    Opt(("-m", "--memory"), "memory", "str", "Memory limit", metavar="bytes"),
    Opt(("--memory-swap",), "memory_swap", "str", "Swap limit equal to memory plus swap: '-1' to enable unlimited "
        "swap", metavar="bytes"),
    Opt(("--memory-reservation",), "memory_reservation", "str", "Memory soft limit", metavar="bytes"),
    Opt(("--cpus",), "cpus", "str", "Number of CPUs", metavar="decimal"),
    Opt(("-c", "--cpu-shares"), "cpu_shares", "int", "CPU shares (relative weight)", metavar="int"),
    Opt(("--cpu-period",), "cpu_period", "int", "Limit CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Opt(("--cpu-quota",), "cpu_quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    Opt(("--cpuset-cpus",), "cpuset_cpus", "str", "CPUs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("--cpuset-mems",), "cpuset_mems", "str", "MEMs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("--pids-limit",), "pids_limit", "int", "Tune container pids limit (set -1 for unlimited)", metavar="int"),
    Opt(("--blkio-weight",), "blkio_weight", "int", "Block IO (relative weight), between 10 and 1000, or 0 to "
        "disable", metavar="uint16"),
)


def resource_fields(values: dict) -> dict:
    fields: dict = {}
    for key, flag, field in (("memory", "--memory", "Memory"), ("memory_swap", "--memory-swap", "MemorySwap"),
                             ("memory_reservation", "--memory-reservation", "MemoryReservation")):
        if values[key] is not None:
            fields[field] = size_flag(values[key], flag)
    if values["cpus"] is not None:
        try:
            fields["NanoCpus"] = int(round(float(values["cpus"]) * 1e9))
        except ValueError:
            raise UsageError(f'invalid argument "{values["cpus"]}" for "--cpus" flag') from None
    for key, field in (("cpu_shares", "CpuShares"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"),
                       ("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems"), ("pids_limit", "PidsLimit"),
                       ("blkio_weight", "BlkioWeight")):
        if values[key] is not None:
            fields[field] = values[key]
    return fields


def restart_policy(text: str | None) -> dict:
    if not text:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = text.partition(":")
    if count and name != "on-failure":
        raise UsageError("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise UsageError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}
