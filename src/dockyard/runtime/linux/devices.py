"""The standard device nodes and links a container's /dev holds (Docker's defaults)."""

import os
import stat

DEFAULT_DEVICES = [
    # path, type, major, minor, mode
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
]

DEFAULT_LINKS = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
    ("/proc/kcore", "/dev/core"),
]


def oci_devices() -> list[dict]:
    return [{"path": p, "type": t, "major": ma, "minor": mi, "fileMode": mode, "uid": 0, "gid": 0}
            for p, t, ma, mi, mode in DEFAULT_DEVICES]


def create_devices(root: str, devices: list[dict]) -> None:
    """mknod each device under ``root`` (the container's /dev is a fresh tmpfs)."""
    old_umask = os.umask(0)
    try:
        for dev in devices:
            path = root + dev["path"]
            os.makedirs(os.path.dirname(path), exist_ok=True)  # /dev/net/tun, /dev/dri/...
            kind = stat.S_IFCHR if dev.get("type", "c") == "c" else stat.S_IFBLK
            if os.path.lexists(path):
                os.unlink(path)
            os.mknod(path, kind | dev.get("fileMode", 0o666), os.makedev(dev["major"], dev["minor"]))
            os.chown(path, dev.get("uid", 0), dev.get("gid", 0))
    finally:
        os.umask(old_umask)


def create_links(root: str) -> None:
    for source, link in DEFAULT_LINKS:
        path = root + link
        if not os.path.lexists(path):
            os.symlink(source, path)
