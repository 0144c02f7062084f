"""Overlay snapshotter: image layers are read-only lower dirs; a container gets an upper dir."""

import os
import subprocess
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


def overlay_works(root: str) -> bool:
    """Try a real overlay mount under ``root`` (some filesystems cannot hold upper dirs)."""
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for name in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(tmp, name))
        opts = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
        result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, f"{tmp}/merged"],
                                capture_output=True)
        if result.returncode != 0:
            return False
        subprocess.run(["umount", f"{tmp}/merged"], check=False)
        return True
