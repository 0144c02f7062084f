"""The OCI ``cgroup`` mount: the container's own cgroups at /sys/fs/cgroup, as runc mounts them.

On the v1 hierarchies: a tmpfs, and in it one directory per controller hierarchy holding the
container's cgroup of that hierarchy (a bind of the host's directory, or, in a cgroup namespace of
its own, the hierarchy mounted afresh, rooted at the container's cgroup); a hierarchy that carries
several controllers ("cpu,cpuacct") gets a symlink per controller. On a pure v2 host: cgroup2
mounted in the container's cgroup namespace, or a bind of its cgroup directory without one.
Runs after the process has joined its cgroups and made its namespaces, before pivot_root.
"""

import os

from dockyard.runtime.linux.cgroups import hierarchy
from dockyard.util import syscalls as sc


def _v1_mounts() -> list[tuple[str, str, list[str]]]:
    """(mount point, root inside the hierarchy, controller options) of each v1 hierarchy."""
    found = []
    seen = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = right.split()[:3]
            if fstype != "cgroup":
                continue
            fields = left.split()
            controllers = [o for o in options.split(",") if o not in ("rw", "ro") and "=" not in o
                           or o.startswith("name=")]
            key = ",".join(sorted(controllers))
            if key in seen:  # the same hierarchy mounted twice: the first mount is the one to use
                continue
            seen.add(key)
            found.append((fields[4], fields[3], controllers))
    return found


def _own_paths() -> dict[frozenset[str], str]:
    """This process's cgroup in each hierarchy (/proc/self/cgroup), keyed by controller set."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            paths[frozenset(controllers.split(",")) if controllers else frozenset()] = path
    return paths


def _bind(source: str, target: str, flags: int) -> None:
    sc.mount(source, target, None, sc.MS_BIND)
    sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | flags)


def _below(root: str, path: str) -> str:
    """``path`` (as /proc/self/cgroup names it) relative to a mount whose root is ``root``."""
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return path.lstrip("/")


def mount_cgroups(target: str, flags: int, own_namespace: bool) -> None:
    """``flags``: the mount's MS_* flags (MS_RDONLY unless privileged); ``own_namespace``: the
    process made a cgroup namespace after joining its cgroups."""
    v1, v2 = hierarchy()
    own = _own_paths()
    if not v1:
        if own_namespace:
            sc.mount("cgroup2", target, "cgroup2", flags)
        else:
            _bind(os.path.join(v2 or "/sys/fs/cgroup", _below("/", own.get(frozenset(), "/"))), target, flags)
        return
    sc.mount("tmpfs", target, "tmpfs", (flags & ~sc.MS_RDONLY) | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
             "mode=755")
    for mountpoint, root, controllers in _v1_mounts():
        name = os.path.basename(mountpoint)
        dest = os.path.join(target, name)
        os.makedirs(dest, exist_ok=True)
        if own_namespace:
            sc.mount("cgroup", dest, "cgroup", flags, ",".join(controllers))
        else:
            path = next((p for key, p in own.items() if key and key <= set(controllers)), "/")
            _bind(os.path.join(mountpoint, _below(root, path)), dest, flags)
        for controller in controllers:
            if controller != name and "," in name and not controller.startswith("name="):
                os.symlink(name, os.path.join(target, controller))
    if flags & sc.MS_RDONLY:
        # runc's intent: the tmpfs read-only too once filled (runc 1.1's own remount does not take, so
        # under Docker 20.10 it stays writable; nothing there reaches the host either way).
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV
                 | sc.MS_NOEXEC)
