"""A task container's secrets and configs as files in memory: one tmpfs per container, as moby's
setupSecretDir makes under the container's directory.

The tmpfs is mounted at `<exec-root>/<id>/task-files` (nodev, nosuid, noexec, mode 0700, sized to
its files), the files are written with their owner and mode, then it is remounted read-only; the
container gets each file by a read-only bind mount (engine/ocispec.py). Nothing is ever written to
a disk: not even when the exec root itself is on one, as in tests. The mount goes when the
container stops (`release`, as moby's cleanup unmounts a container's secrets at its exit: a task's
container never starts again, its task is replaced), at its removal, or with the host's reboot.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from dockyard.util import syscalls as sc

DIRECTORY = "task-files"
_PAGE = 4096
_FLAGS = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


@dataclass(frozen=True)
class FileInMemory:
    name: str  # the file's name in the tmpfs (one level, no slash)
    data: bytes
    uid: int
    gid: int
    mode: int


def directory(state_dir: str) -> str:
    return os.path.join(state_dir, DIRECTORY)


def _size(files: list[FileInMemory]) -> int:
    """Enough pages for the files' data plus the directory's own, with a margin for the inodes."""
    return sum(-(-len(f.data) // _PAGE) * _PAGE for f in files) + 16 * _PAGE


def write(state_dir: str, files: list[FileInMemory]) -> list[str]:
    """Mount a fresh tmpfs holding `files` (any earlier one of this container is released first);
    returns each file's path on the host. On failure nothing stays mounted."""
    release(state_dir)
    target = directory(state_dir)
    os.makedirs(target, mode=0o700, exist_ok=True)
    data = f"mode=0700,size={_size(files)},nr_inodes={len(files) + 16}"
    sc.mount("tmpfs", target, "tmpfs", _FLAGS, data)
    try:
        paths = []
        for f in files:
            if "/" in f.name or f.name in ("", ".", ".."):
                raise ValueError(f"invalid file name {f.name!r} for a task's secret or config")
            path = os.path.join(target, f.name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(f.data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchown(fd, f.uid, f.gid)
                os.fchmod(fd, f.mode)  # after chown: chown clears set-id bits
            finally:
                os.close(fd)
            paths.append(path)
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_RDONLY | _FLAGS, data)
        return paths
    except BaseException:
        release(state_dir)
        raise


def present(state_dir: str) -> bool:
    """The container's tmpfs is mounted (it has not stopped since its files were given)."""
    return os.path.ismount(directory(state_dir))


def release(state_dir: str) -> None:
    """Unmount the container's tmpfs (its files vanish with it) and remove the mount point."""
    target = directory(state_dir)
    if os.path.ismount(target):
        sc.umount2(target, sc.MNT_DETACH)
    shutil.rmtree(target, ignore_errors=True)
