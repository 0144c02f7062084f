"""The container's first process when it gets a user namespace (`dockyardd --userns-remap`).

The order matters, because a namespace belongs to the user namespace it was made in:

1. As the host's root (we are the shim's child, still in the host's PID namespace): join the
   namespaces given by path (the daemon's network namespace), make a mount namespace, mount the
   root filesystem and everything that needs the host's privileges there: bind mounts (volumes,
   name files) and /dev with its device nodes (mknod is refused inside a user namespace).
2. Make the user namespace; the shim writes its uid/gid maps; become root inside it.
3. Make the PID, mount, UTS, IPC and cgroup namespaces, now owned by the new user namespace, and
   fork: the child is PID 1. We tell the shim its PID and leave; the shim, a child subreaper,
   inherits it.
4. PID 1 mounts what only the namespace's owner may mount (proc, sysfs, devpts, mqueue), pivots
   into the root, and execs as init.run does.
"""

import os

from dockyard.runtime.linux import devices, mounts
from dockyard.util import syscalls as sc

# Mounted by PID 1 inside the new namespaces; everything else is mounted by the host's root first.
LATE_TYPES = ("proc", "sysfs", "devpts", "mqueue", "cgroup")


def prepare_as_host_root(spec: dict, rootfs_mounts: list[dict]) -> None:
    root = spec["root"]["path"]
    sc.unshare(sc.CLONE_NEWNS)
    mounts.mount_rootfs(root, rootfs_mounts)
    uid = spec["linux"]["uidMappings"][0]["hostID"]
    gid = spec["linux"]["gidMappings"][0]["hostID"]
    for m in spec.get("mounts", []):
        target = mounts.secure_join(root, m["destination"])
        if m.get("type") in LATE_TYPES:
            os.makedirs(target, exist_ok=True)  # the container's root may not create it inside /dev
            continue
        mounts.mount_one(root, m)
        if m["destination"] == "/dev":
            devices.create_devices(root, spec["linux"].get("devices", []))
            devices.create_links(root)
            os.chown(target, uid, gid)  # /dev belongs to the container's root, as when runc mounts it


def enter_user_namespace(sync_read: int, sync_write: int) -> None:
    """Make the user namespace, have the shim map it, and become its root."""
    sc.unshare(sc.CLONE_NEWUSER)
    os.write(sync_write, b"U")
    if os.read(sync_read, 1) != b"M":
        raise OSError("the shim did not map the user namespace")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def fork_pid_1(spec: dict, joined: set[str], flags: dict[str, int], sync_write: int) -> None:
    """Make the remaining namespaces and fork PID 1; the parent reports its PID and exits."""
    namespaces = {ns["type"] for ns in spec["linux"].get("namespaces", [])}
    wanted = sc.CLONE_NEWNS
    for kind, flag in flags.items():
        if kind in namespaces and kind not in joined and kind != "mount":
            wanted |= flag
    if "pid" in namespaces:
        wanted |= sc.CLONE_NEWPID
    sc.unshare(wanted)
    pid = os.fork()
    if pid:
        os.write(sync_write, f"{pid}\n".encode())
        os._exit(0)


def rebind_root(spec: dict) -> None:
    """The root came from a more privileged mount namespace, so it is locked, and pivot_root refuses a
    locked mount: bind it onto itself (as runc does) and step into the new mount through the parent
    directory (the cwd still sees the one below)."""
    sc.mount(".", ".", None, sc.MS_BIND | sc.MS_REC)
    os.chdir("..")
    os.chdir(os.path.basename(spec["root"]["path"].rstrip("/")))


def mount_late(spec: dict, root: str) -> None:
    """PID 1's mounts under ``root``. sysfs needs a network namespace of our own; in the daemon's,
    bind the host's /sys read-only instead (runc does the same)."""
    cgroupns = any(ns["type"] == "cgroup" for ns in spec["linux"].get("namespaces", []))
    for m in spec.get("mounts", []):
        if m.get("type") not in LATE_TYPES:
            continue
        try:
            mounts.mount_one(root, m, cgroupns=cgroupns)
        except PermissionError:
            if m.get("type") != "sysfs":
                raise
            mounts.mount_one(root, {"destination": m["destination"], "type": "bind", "source": "/sys",
                                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
