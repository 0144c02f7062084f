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


    def changes(self, key: str) -> list[tuple[str, int]]:
        """Compare the flattened root with the image's layers (this driver keeps no diff)."""
        fs = self.fs_path(key)
        parent = self._meta(key).get("parent")
        out: list[tuple[str, int]] = []
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(fs):
            rel_dir = dirpath[len(fs):] or "/"
            for name in dirnames + filenames:
                path = os.path.join(rel_dir, name)
                seen.add(path)
                st = os.lstat(os.path.join(dirpath, name))
                below = self.lstat(parent, path)
                if below is None:
                    out.append((path, 1))
                elif not stat.S_ISDIR(st.st_mode) and (st.st_mtime_ns != below.st_mtime_ns
                                                       or st.st_size != below.st_size or st.st_mode != below.st_mode):
                    out.append((path, 0))
        lower_paths: set[str] = set()
        for layer in self.parent_chain(parent):
            root = self.fs_path(layer)
            for dirpath, dirnames, filenames in os.walk(root):
                rel_dir = dirpath[len(root):] or "/"
                lower_paths.update(os.path.join(rel_dir, n) for n in dirnames + filenames)
        for path in lower_paths - seen:
            if self.lstat(parent, path) is not None and os.path.dirname(path) in seen | {"/"}:
                out.append((path, 2))
        # Directories above a change count as modified, as overlay's upper dir would show them.
        changed_dirs = {os.path.dirname(p) for p, _ in out} - {"/"}
        for directory in changed_dirs:
            while directory not in ("/", ""):
                if self.lstat(parent, directory) is not None and (directory, 0) not in out:
                    out.append((directory, 0))
                directory = os.path.dirname(directory)
        return sorted(set(out))


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _merge(src: str, dst: str) -> None:
    """Copy an overlay-format layer onto a flattened tree, honouring whiteouts."""
    try:
        opaque = os.getxattr(src, "trusted.overlay.opaque") == b"y"
    except OSError:
        opaque = False
    if opaque:
        for name in os.listdir(dst):
            _remove(os.path.join(dst, name))
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
            shutil.copyfile(entry.path, target, follow_symlinks=False)
        else:
            os.mknod(target, st.st_mode, st.st_rdev)
        # Owner first: chown drops set-id bits and file capabilities, which copystat then restores
        # (with the times, so the copy compares equal to its layer when committing).
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
        shutil.copystat(entry.path, target, follow_symlinks=False)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
