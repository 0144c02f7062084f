"""Copy snapshotter: the fallback where overlayfs is unavailable. A container's root is a
flattened copy of its image's layers, bind-mounted by the runtime."""

import os
import shutil
import stat

from dockyard.storage.snapshotter import Mount, Snapshotter


class CopySnapshotter(Snapshotter):
    name = "vfs"

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        fs = self.fs_path(key)
        os.makedirs(fs)
        for layer in reversed(self.parent_chain(parent)):
            _merge(self.fs_path(layer), fs)
        self._write_meta(key, parent, "active")
        return self.mounts(key)

    def mounts(self, key: str) -> list[Mount]:
        return [Mount("bind", self.fs_path(key), ("rbind", "rw"))]


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _merge(src: str, dst: str) -> None:
    """Copy an overlay-format layer onto a flattened tree, honouring whiteouts."""
    try:
        opaque = os.getxattr(src, "trusted.overlay.opaque") == b"y"
    except OSError:
        opaque = False
    if opaque:
        for entry in os.listdir(dst):
            _remove(os.path.join(dst, entry))
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if _is_whiteout(st):
            _remove(target)
            continue
        if entry.is_dir(follow_symlinks=False):
            if os.path.lexists(target) and not os.path.isdir(target):
                _remove(target)
            if not os.path.lexists(target):
                os.mkdir(target)
            _merge(entry.path, target)
            shutil.copystat(entry.path, target, follow_symlinks=False)
            os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
            continue
        if os.path.lexists(target):
            _remove(target)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(entry.path, target, follow_symlinks=False)
        else:
            os.mknod(target, st.st_mode, st.st_rdev)
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
