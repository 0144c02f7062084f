"""Overlay snapshotter: image layers are read-only lower dirs; a container gets an upper dir."""

import os
import tempfile

from dockyard.storage.snapshotter import Mount, Snapshotter


class OverlaySnapshotter(Snapshotter):
    name = "overlay2"

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self._empty = os.path.join(root, "empty")
        os.makedirs(self._empty, exist_ok=True)

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        base = self._dir(key)
        os.makedirs(os.path.join(base, "fs"))
        os.mkdir(os.path.join(base, "work"))
        self._write_meta(key, parent, "active")
        return self.mounts(key)

    def mounts(self, key: str) -> list[Mount]:
        meta = self._meta(key)
        lowers = [self.fs_path(k) for k in self.parent_chain(meta.get("parent"))] or [self._empty]
        options = (
            "lowerdir=" + ":".join(lowers),
            "upperdir=" + self.fs_path(key),
            "workdir=" + os.path.join(self._dir(key), "work"),
        )
        return [Mount("overlay", "overlay", options)]


    def changes(self, key: str) -> list[tuple[str, int]]:
        """(path, kind) for what the writable layer changed: 0 modified, 1 added, 2 deleted."""
        import stat

        upper = self.fs_path(key)
        parent = self._meta(key).get("parent")
        out: list[tuple[str, int]] = []
        for dirpath, dirnames, filenames in os.walk(upper):
            rel_dir = dirpath[len(upper):] or "/"
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                path = os.path.join(rel_dir, name)
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    out.append((path, 2))
                else:
                    out.append((path, 0 if self.lstat(parent, path) is not None else 1))
        return sorted(out)


def overlay_works(root: str) -> bool:
    """Try a real overlay mount under ``root`` (some filesystems cannot hold upper dirs). By system
    call: run at every daemon start, where mount(8) and umount(8) cost two processes."""
    from dockyard.util.syscalls import mount, umount2

    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for name in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(tmp, name))
        opts = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
        try:
            mount("overlay", f"{tmp}/merged", "overlay", 0, opts)
        except OSError:
            return False
        umount2(f"{tmp}/merged")
        return True
