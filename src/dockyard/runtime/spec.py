"""Container configuration -> OCI runtime spec: one testable function, like runc's specconv."""

from dataclasses import dataclass

from dockyard.runtime.linux.capabilities import DOCKER_DEFAULT, all_capabilities
from dockyard.runtime.linux.devices import oci_devices
from dockyard.runtime.linux.users import ExecUser

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass(frozen=True)
class NameFiles:
    """Per-container files bind-mounted over /etc/hostname, /etc/hosts and /etc/resolv.conf."""

    hostname: str
    hosts: str
    resolv_conf: str


def process_env(config_env: list[str], hostname: str, tty: bool) -> list[str]:
    """Docker's order: PATH default, HOSTNAME, TERM, then the container's own env overriding."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    if tty:
        env["TERM"] = "xterm"
    for entry in config_env:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
        else:
            env.pop(key, None)
    return [f"{k}={v}" for k, v in env.items()]


def default_mounts(files: NameFiles) -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": files.resolv_conf,
         "options": ["rbind", "rprivate"]},
        {"destination": "/etc/hostname", "type": "bind", "source": files.hostname, "options": ["rbind", "rprivate"]},
        {"destination": "/etc/hosts", "type": "bind", "source": files.hosts, "options": ["rbind", "rprivate"]},
    ]


def build_process(*, args: list[str], env: list[str], cwd: str, user: ExecUser, tty: bool,
                  privileged: bool = False) -> dict:
    """The OCI ``process`` object, shared by a container's first process and its execs.
    ``privileged`` grants every capability this kernel knows (`exec --privileged`)."""
    caps = all_capabilities() if privileged else list(DOCKER_DEFAULT)
    root_user = user.uid == 0
    return {
        "terminal": tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)},
        "args": args,
        "env": env,
        "cwd": cwd or "/",
        # Docker gives a non-root user no effective or permitted capabilities by default.
        "capabilities": {"bounding": caps, "effective": caps if root_user else [],
                         "permitted": caps if root_user else [], "inheritable": [], "ambient": []},
        "noNewPrivileges": False,
    }


def build_spec(*, args: list[str], env: list[str], cwd: str, user: ExecUser, hostname: str, tty: bool,
               rootfs: str, files: NameFiles, cgroups_path: str, readonly_rootfs: bool = False) -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": build_process(args=args, env=env, cwd=cwd, user=user, tty=tty),
        "root": {"path": rootfs, "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": default_mounts(files),
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "cgroupsPath": cgroups_path,
            "devices": oci_devices(),
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    }
