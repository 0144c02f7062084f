"""Capability names and numbers, Docker's default set, and applying the five sets to a process."""

import functools

from dockyard.util import syscalls

NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
NUMBERS = {name: number for number, name in enumerate(NAMES)}

# Docker's default capability set (moby oci/caps/defaults.go).
DOCKER_DEFAULT = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


@functools.cache  # the kernel's and our bounding set do not change while we run: read them once
def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


@functools.cache
def host_bounding() -> int:
    """The bounding set we run under: no process started here can hold more."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << (last_cap() + 1)) - 1


def all_capabilities() -> list[str]:
    """Every capability this host lets us grant (--privileged): the kernel's, within our own
    bounding set. Machines like these lack CAP_SYS_RESOURCE, and asking for it would fail."""
    allowed = host_bounding()
    return [name for number, name in enumerate(NAMES[: last_cap() + 1]) if allowed & (1 << number)]


def mask(names: list[str]) -> int:
    value = 0
    for name in names:
        number = NUMBERS.get(name)
        if number is not None:
            value |= 1 << number
    return value


def drop_bounding(keep: int) -> None:
    """Drop every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    for number in range(last_cap() + 1):
        if not keep & (1 << number):
            try:
                syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)
            except OSError:
                pass  # already absent from the host's bounding set


def apply(caps: dict) -> None:
    """Set effective, permitted, inheritable and ambient sets from an OCI ``process.capabilities``."""
    syscalls.capset(mask(caps.get("effective", [])), mask(caps.get("permitted", [])),
                    mask(caps.get("inheritable", [])))
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    for name in caps.get("ambient", []):
        number = NUMBERS.get(name)
        if number is not None:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, number)
