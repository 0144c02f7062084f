"""Isolation flags of run/create (capabilities, devices, namespaces, ulimits, sysctls, ...) turned
into HostConfig fields, with the docker CLI's client-side checks."""

from dockyard.cli.common import size_flag
from dockyard.cli.flags import Opt, UsageError

ISOLATION_OPTIONS = (
    Opt(("--runtime",), "runtime", "str", "Runtime to use for this container", metavar="string"),
    Opt(("--cap-add",), "cap_add", "list", "Add Linux capabilities", metavar="list"),
    Opt(("--cap-drop",), "cap_drop", "list", "Drop Linux capabilities", metavar="list"),
    Opt(("--privileged",), "privileged", "bool", "Give extended privileges to this container"),
    Opt(("--device",), "device", "list", "Add a host device to the container", metavar="list"),
    Opt(("--device-cgroup-rule",), "device_cgroup_rule", "list", "Add a rule to the cgroup allowed devices list",
        metavar="list"),
    Opt(("--ulimit",), "ulimit", "list", "Ulimit options (default [])", metavar="ulimit"),
    Opt(("--sysctl",), "sysctl", "list", "Sysctl options (default map[])", metavar="map"),
    Opt(("--shm-size",), "shm_size", "str", "Size of /dev/shm", metavar="bytes"),
    Opt(("--pid",), "pid", "str", "PID namespace to use", metavar="string"),
    Opt(("--ipc",), "ipc", "str", "IPC mode to use", metavar="string"),
    Opt(("--uts",), "uts", "str", "UTS namespace to use", metavar="string"),
    Opt(("--userns",), "userns", "str", "User namespace to use", metavar="string"),
    Opt(("--cgroupns",), "cgroupns", "str", "Cgroup namespace to use (host|private)", metavar="string"),
    Opt(("--cgroup-parent",), "cgroup_parent", "str", "Optional parent cgroup for the container", metavar="string"),
    Opt(("--group-add",), "group_add", "list", "Add additional groups to join", metavar="list"),
    Opt(("--oom-kill-disable",), "oom_kill_disable", "bool", "Disable OOM Killer"),
    Opt(("--oom-score-adj",), "oom_score_adj", "int", "Tune host's OOM preferences (-1000 to 1000)", metavar="int"),
    Opt(("--kernel-memory",), "kernel_memory", "str", "Kernel memory limit", metavar="bytes"),
    Opt(("--device-read-bps",), "device_read_bps", "list", "Limit read rate (bytes per second) from a device",
        metavar="list"),
    Opt(("--device-write-bps",), "device_write_bps", "list", "Limit write rate (bytes per second) to a device",
        metavar="list"),
    Opt(("--device-read-iops",), "device_read_iops", "list", "Limit read rate (IO per second) from a device",
        metavar="list"),
    Opt(("--device-write-iops",), "device_write_iops", "list", "Limit write rate (IO per second) to a device",
        metavar="list"),
)
_ULIMIT = r"^([a-z]+)=(-?\d+)(?::(-?\d+))?$"  # compiled only when --ulimit is given: `re` costs every run 4 ms


def _device(text: str) -> dict:
    """`/dev/x[:/dev/y][:rwm]`, as the docker CLI parses --device."""
    import re

    parts = text.split(":")
    host, inside, permissions = parts[0], parts[0], "rwm"
    if len(parts) == 2:
        if re.fullmatch(r"[rwm]{1,3}", parts[1]):
            permissions = parts[1]
        else:
            inside = parts[1]
    elif len(parts) == 3:
        inside, permissions = parts[1], parts[2]
    elif len(parts) > 3:
        raise UsageError(f'invalid argument "{text}" for "--device" flag: bad format for path: {text}')
    if not re.fullmatch(r"[rwm]{1,3}", permissions) or not inside.startswith("/"):
        raise UsageError(f'invalid argument "{text}" for "--device" flag: bad format for path: {text}')
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": permissions}


def parse_ulimit(text: str) -> dict:
    import re

    match = re.match(_ULIMIT, text)
    if not match:
        raise UsageError(f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit argument: {text}')
    soft = int(match.group(2))
    hard = int(match.group(3)) if match.group(3) is not None else soft
    return {"Name": match.group(1), "Soft": soft, "Hard": hard}


def _throttle(text: str, flag: str, as_bytes: bool) -> dict:
    path, sep, rate = text.rpartition(":")
    if not sep or not path.startswith("/dev/"):
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: bad format: {text}')
    if as_bytes:
        value = size_flag(rate, flag)
    else:
        if not rate.isdigit():
            raise UsageError(f'invalid argument "{text}" for "{flag}" flag: invalid rate for device: {text}. '
                             "The correct format is <device-path>:<number>. Number must be a positive integer")
        value = int(rate)
    return {"Path": path, "Rate": value}


def isolation_fields(values: dict) -> dict:
    host: dict = {}
    if values["runtime"]:
        host["Runtime"] = values["runtime"]
    if values["cap_add"]:
        host["CapAdd"] = list(values["cap_add"])
    if values["cap_drop"]:
        host["CapDrop"] = list(values["cap_drop"])
    if values["privileged"]:
        host["Privileged"] = True
    if values["device"]:
        host["Devices"] = [_device(d) for d in values["device"]]
    if values["device_cgroup_rule"]:
        host["DeviceCgroupRules"] = list(values["device_cgroup_rule"])
    if values["ulimit"]:
        host["Ulimits"] = [parse_ulimit(u) for u in values["ulimit"]]
    if values["sysctl"]:
        sysctls = {}
        for entry in values["sysctl"]:
            key, eq, value = entry.partition("=")
            if not eq:
                raise UsageError(f'invalid argument "{entry}" for "--sysctl" flag: sysctl \'{entry}\' is not '
                                 "allowed")
            sysctls[key] = value
        host["Sysctls"] = sysctls
    if values["shm_size"]:
        host["ShmSize"] = size_flag(values["shm_size"], "--shm-size")
    for key, field in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"), ("userns", "UsernsMode"),
                       ("cgroupns", "CgroupnsMode"), ("cgroup_parent", "CgroupParent")):
        if values[key]:
            host[field] = values[key]
    if values["group_add"]:
        host["GroupAdd"] = list(values["group_add"])
    if values["oom_kill_disable"]:
        host["OomKillDisable"] = True
    if values["oom_score_adj"] is not None:
        host["OomScoreAdj"] = values["oom_score_adj"]
    if values["kernel_memory"]:
        host["KernelMemory"] = size_flag(values["kernel_memory"], "--kernel-memory")
    for key, field, as_bytes in (("device_read_bps", "BlkioDeviceReadBps", True),
                                 ("device_write_bps", "BlkioDeviceWriteBps", True),
                                 ("device_read_iops", "BlkioDeviceReadIOps", False),
                                 ("device_write_iops", "BlkioDeviceWriteIOps", False)):
        if values[key]:
            flag = "--" + key.replace("_", "-")
            host[field] = [_throttle(t, flag, as_bytes) for t in values[key]]
    return host
