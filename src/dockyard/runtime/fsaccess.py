"""Reading and writing a container's files from outside it (`docker cp`, `docker export`).

Run as a short-lived helper process (`python -m dockyard.runtime.fsaccess REQUEST_JSON`) so that
its mount namespace and chroot never touch the daemon. It either enters a running container's
mount namespace, or mounts the container's layers in a private namespace and chroots into them.
Either way paths, symlinks included, resolve inside the container, never on the host.

stdout carries the answer: for "get", one JSON line (the path's stat) then a tar stream; for
"export", a tar stream of the whole root; for "put", nothing (stdin is the tar to extract).
"""

import json
import os
import stat
import sys
import tarfile
from typing import Any

from dockyard.runtime.linux.mounts import mount_filesystem, mount_one
from dockyard.util import syscalls as sc
from dockyard.util.timefmt import rfc3339_ns  # everything is imported before we enter the container


def _enter(request: dict) -> None:
    if request.get("pid"):
        fd = os.open(f"/proc/{request['pid']}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        sc.setns(fd, sc.CLONE_NEWNS)
        os.close(fd)
        os.chdir("/")
        return
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    target = request["mountpoint"]
    mount = request["mount"]
    flags = sc.MS_RDONLY if request.get("readonly") else 0
    if mount["type"] == "bind":
        sc.mount(mount["source"], target, None, sc.MS_BIND | sc.MS_REC)
    else:
        mount_filesystem(mount["source"], target, mount["type"], flags, ",".join(mount["options"]))
    for volume in request.get("volumes") or []:  # parents first, as the container mounts them
        mount_one(target, volume)
    os.chroot(target)
    os.chdir("/")


def _stat(path: str) -> dict:
    st = os.lstat(path)
    mode = st.st_mode
    go_mode = stat.S_IMODE(mode)  # Go's os.FileMode bits, as X-Docker-Container-Path-Stat carries them
    if stat.S_ISDIR(mode):
        go_mode |= 1 << 31
    elif stat.S_ISLNK(mode):
        go_mode |= 1 << 27
    return {"name": os.path.basename(path.rstrip("/")) or "/", "size": st.st_size, "mode": go_mode,
            "mtime": rfc3339_ns(st.st_mtime_ns), "linkTarget": os.readlink(path) if stat.S_ISLNK(mode) else ""}


def _fail(message: str, code: int) -> None:
    sys.stderr.write(json.dumps({"error": message, "status": code}) + "\n")
    sys.exit(1)


def main() -> None:
    """Every failure ends as one JSON line on stderr (the daemon's error), never a traceback."""
    try:
        _serve(json.loads(sys.argv[1]))
    except tarfile.TarError as exc:
        _fail(f"Error processing tar file: {exc}", 400)
    except FileNotFoundError as exc:
        _fail(f"Could not find the file {exc.filename or ''}: {exc.strerror}", 404)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 500)
    except Exception as exc:  # noqa: BLE001 - reported, in one line, to the daemon
        _fail(f"{type(exc).__name__}: {exc}", 500)


def _serve(request: dict) -> None:
    try:
        _enter(request)
    except OSError as exc:
        _fail(f"cannot reach the container's files: {exc}", 500)
    op = request["op"]
    out = sys.stdout.buffer
    if op == "export":
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(os.listdir("/")):
                tar.add("/" + entry, arcname=entry)
        return
    path = request["path"] or "/"
    if op == "get":
        if not os.path.lexists(path):
            _fail(f"Could not find the file {path} in container {request['container']}", 404)
        out.write(json.dumps(_stat(path)).encode() + b"\n")
        out.flush()
        if request.get("stat_only"):
            return
        name = os.path.basename(path.rstrip("/")) or "."
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(path, arcname=name)
        return
    if op == "put":
        if not os.path.isdir(path):
            if os.path.lexists(path):
                _fail("extraction point is not a directory", 400)
            _fail(f"Could not find the file {path} in container {request['container']}", 404)
        no_overwrite = request.get("no_overwrite_dir_non_dir", False)
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
            for member in tar:
                target = os.path.join(path, member.name)
                if no_overwrite and os.path.lexists(target):
                    if os.path.isdir(target) != member.isdir():
                        _fail(f"cannot overwrite {'directory' if os.path.isdir(target) else 'non-directory'} "
                              f"{target} with {'directory' if member.isdir() else 'non-directory'}", 400)
                tar.extract(member, path, numeric_owner=True, **_TRUSTED)
        return
    _fail(f"unknown operation {op}", 400)


# Inside the chroot or the container's mount namespace, the container's own root is the boundary.
_TRUSTED: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}

if __name__ == "__main__":
    main()
