"""The snapshotter contract (containerd's model): snapshots are directories, and
``mounts()`` hands back mount specs. Nothing here mounts on the host; the runtime
performs the mounts inside the container's mount namespace.

Committed snapshots are image layers, keyed by chain ID, stored in overlay's own
format (whiteouts as 0/0 character devices, opaque directories as xattrs). Active
snapshots are a container's writable layer, keyed by container ID.
"""

import json
import os
import shutil
from dataclasses import dataclass

from dockyard.errors import NotFound


@dataclass(frozen=True)
class Mount:
    type: str
    source: str
    options: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"type": self.type, "source": self.source, "options": list(self.options)}


class Snapshotter:
    """Shared bookkeeping; subclasses decide how an active snapshot becomes a root filesystem."""

    name = "base"

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(os.path.join(root, "snapshots"), exist_ok=True)

    # -- paths and metadata -------------------------------------------------------------
    def _dir(self, key: str) -> str:
        return os.path.join(self.root, "snapshots", key)

    def fs_path(self, key: str) -> str:
        return os.path.join(self._dir(key), "fs")

    def _meta(self, key: str) -> dict:
        try:
            with open(os.path.join(self._dir(key), "meta.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            raise NotFound(f"snapshot {key} does not exist") from None

    def parent(self, key: str) -> str | None:
        return self._meta(key).get("parent")

    def exists(self, key: str) -> bool:
        return os.path.exists(os.path.join(self._dir(key), "meta.json"))

    def parent_chain(self, key: str | None) -> list[str]:
        """Keys from ``key`` down to the base layer (top first)."""
        chain = []
        while key:
            chain.append(key)
            key = self._meta(key).get("parent")
        return chain

    def _write_meta(self, key: str, parent: str | None, kind: str) -> None:
        with open(os.path.join(self._dir(key), "meta.json"), "w") as f:
            json.dump({"parent": parent, "kind": kind}, f)

    # -- committed layers ---------------------------------------------------------------
    def begin_layer(self, key: str) -> str:
        """A fresh directory to extract a layer into; finish with commit_layer."""
        staging = self._dir(key) + ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(os.path.join(staging, "fs"))
        return os.path.join(staging, "fs")

    def commit_layer(self, key: str, parent: str | None) -> None:
        staging = self._dir(key) + ".staging"
        with open(os.path.join(staging, "meta.json"), "w") as f:
            json.dump({"parent": parent, "kind": "committed"}, f)
        if os.path.exists(self._dir(key)):  # another import committed the same layer first
            shutil.rmtree(staging, ignore_errors=True)
            return
        os.rename(staging, self._dir(key))

    def abort_layer(self, key: str) -> None:
        shutil.rmtree(self._dir(key) + ".staging", ignore_errors=True)

    # -- active snapshots ---------------------------------------------------------------
    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        raise NotImplementedError

    def mounts(self, key: str) -> list[Mount]:
        raise NotImplementedError

    def changes(self, key: str) -> list[tuple[str, int]]:
        raise NotImplementedError

    def remove(self, key: str) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def lstat(self, key: str | None, path: str) -> os.stat_result | None:
        """``path`` as the stack under ``key`` shows it, without mounting (None if absent)."""
        import stat as _stat

        rel = path.lstrip("/")
        for k in self.parent_chain(key):
            try:
                st = os.lstat(os.path.join(self.fs_path(k), rel))
            except (FileNotFoundError, NotADirectoryError):
                continue
            if _stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            return st
        return None

    def read_file(self, key: str, path: str) -> str | None:
        """A file's text as the container would see it at ``path``, or None."""
        return read_layered_file([self.fs_path(k) for k in self.parent_chain(key)], path)


def read_layered_file(dirs: list[str], path: str) -> str | None:
    """Read ``path`` from a stack of overlay-format dirs (top first), honouring whiteouts,
    without mounting anything."""
    import stat as _stat

    rel = path.lstrip("/")
    for directory in dirs:
        full = os.path.join(directory, rel)
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # whited out in this layer
        if not _stat.S_ISREG(st.st_mode):
            return None
        with open(full, encoding="utf-8", errors="replace") as f:
            return f.read()
    return None
