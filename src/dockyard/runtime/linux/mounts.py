"""Mounting an OCI ``mounts`` list inside the container's mount namespace, and pivot_root."""

import os
import stat

from dockyard.runtime.linux.cgroupfs import mount_cgroups
from dockyard.util import syscalls as sc
from dockyard.util.mountopts import parse_options


def secure_join(root: str, path: str) -> str:
    """Join ``path`` onto ``root`` resolving symlinks as if ``root`` were ``/``, so a link in the
    image can never point a mount outside the container's root (like runc's securejoin)."""
    parts = [p for p in path.split("/") if p and p != "."]
    current = ""
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.rpartition("/")[0]
            continue
        candidate = f"{current}/{part}"
        full = root + candidate
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            current = candidate
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 255:
                raise OSError(f"too many symlinks resolving {path}")
            link = os.readlink(full)
            if link.startswith("/"):
                current = ""
            parts = [p for p in link.split("/") if p and p != "."] + parts
            continue
        current = candidate
    return root + (current or "/")


def _ensure_target(target: str, source_is_dir: bool) -> None:
    if os.path.lexists(target):
        return
    if source_is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


def mount_one(root: str, m: dict, *, cgroupns: bool = False) -> None:
    """Mount one OCI mount entry under ``root``. ``cgroupns``: the process has a cgroup namespace
    of its own (a ``cgroup`` mount then mounts the hierarchies afresh instead of binding them)."""
    options = m.get("options") or []
    flags, propagation, data = parse_options(options)
    mtype = m.get("type") or ("bind" if flags & sc.MS_BIND else "none")
    if mtype == "cgroup":
        target = secure_join(root, m["destination"])
        _ensure_target(target, True)
        mount_cgroups(target, flags, cgroupns)
        return
    if mtype == "bind":
        flags |= sc.MS_BIND
    target = secure_join(root, m["destination"])
    is_dir = True
    if flags & sc.MS_BIND:
        is_dir = os.path.isdir(m["source"])
    _ensure_target(target, is_dir)
    if flags & sc.MS_BIND:
        sc.mount(m["source"], target, None, flags & (sc.MS_BIND | sc.MS_REC))
        remount = flags & ~(sc.MS_BIND | sc.MS_REC)
        if remount:
            sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | remount)
    else:
        sc.mount(m.get("source") or mtype, target, mtype, flags, data or None)
    if propagation:
        sc.mount(None, target, None, propagation)


# mount(2) copies at most one page of option data; an overlay over many layers needs more.
_MOUNT_DATA_MAX = 4095


def mount_filesystem(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    """mount(2), or the filesystem-context API when the options exceed a page (an overlay with
    ~40 or more lower dirs): there every lower dir is passed on its own as `lowerdir+` (Linux 6.8+)."""
    if len(data.encode()) <= _MOUNT_DATA_MAX:
        sc.mount(source, target, fstype, flags, data or None)
        return
    settings: list[tuple[str, str | None]] = [("source", source)]
    for option in data.split(","):
        key, eq, value = option.partition("=")
        if key == "lowerdir":
            settings.extend(("lowerdir+", lower) for lower in value.split(":"))
        else:
            settings.append((key, value if eq else None))
    attrs = 0
    for flag, attr in ((sc.MS_RDONLY, sc.MOUNT_ATTR_RDONLY), (sc.MS_NOSUID, sc.MOUNT_ATTR_NOSUID),
                       (sc.MS_NODEV, sc.MOUNT_ATTR_NODEV), (sc.MS_NOEXEC, sc.MOUNT_ATTR_NOEXEC)):
        if flags & flag:
            attrs |= attr
    try:
        sc.mount_with_context(fstype, target, settings, attrs)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} (mounting {fstype} with {len(data)} bytes of options needs "
                                 "Linux 6.8 or later)") from None


def mount_rootfs(root: str, rootfs_mounts: list[dict]) -> None:
    """Make the host's mounts slaves in this namespace (runc's default root propagation: mounts
    made here never reach the host, while shared host mounts still reach `rslave` binds), then mount
    the root filesystem at ``root``. A read-only root is applied after pivot_root, once every
    mount below / is in place."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    for m in rootfs_mounts:
        flags, _, data = parse_options(m.get("options") or [])
        if m["type"] == "bind":
            sc.mount(m["source"], root, None, sc.MS_BIND | sc.MS_REC)
        else:
            mount_filesystem(m["source"], root, m["type"], flags, data)
    if not rootfs_mounts:  # an OCI bundle whose root is a plain directory must become a mount point
        sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)


def pivot_into(root: str) -> None:
    """Make ``root`` the process's ``/`` and detach the old root (the `pivot_root(".", ".")` trick)."""
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def mask_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
            else:
                sc.mount("/dev/null", path, None, sc.MS_BIND)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno != 2:
                raise


def readonly_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)
        except OSError as exc:
            if exc.errno != 2:
                raise


def remount_root_readonly() -> None:
    sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
