"""Layer bookkeeping: each layer is known by its chain ID, backed by a committed snapshot,
and keeps its uncompressed tar (named by DiffID) in the content store."""

import hashlib
import os
from typing import overload

from dockyard.images.content import ContentStore
from dockyard.images.layers import apply_tar
from dockyard.storage.snapshotter import Snapshotter
from dockyard.util.atomic import read_json, sweep, write_json


def chain_id(parent_chain: str | None, diff_id: str) -> str:
    if not parent_chain:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(chain_id(out[-1] if out else None, diff_id))
    return out


def tree_size(path: str) -> int:
    """Bytes used by regular files and links under ``path``, counting hard-linked files once."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


class LayerStore:
    def __init__(self, root: str, content: ContentStore, snapshotter: Snapshotter, idmap=None) -> None:
        self._db = os.path.join(root, "layerdb")
        os.makedirs(self._db, exist_ok=True)
        sweep(self._db)
        self.content = content
        self.snapshotter = snapshotter
        self.idmap = idmap  # a userns-remapped daemon's: layers are unpacked in the remapped range

    def _meta_path(self, chain: str) -> str:
        return os.path.join(self._db, chain.removeprefix("sha256:") + ".json")

    def exists(self, chain: str) -> bool:
        return os.path.exists(self._meta_path(chain))

    def size(self, chain: str) -> int:
        return read_json(self._meta_path(chain))["size"]

    @overload
    @staticmethod
    def snapshot_key(chain: str) -> str: ...
    @overload
    @staticmethod
    def snapshot_key(chain: None) -> None: ...
    @staticmethod
    def snapshot_key(chain: str | None) -> str | None:
        return chain.removeprefix("sha256:") if chain else None

    def register(self, diff_id: str, parent_chain: str | None) -> str:
        """Unpack the layer tar ``diff_id`` (already in the content store) on top of ``parent_chain``."""
        chain = chain_id(parent_chain, diff_id)
        if self.exists(chain):
            return chain
        key = self.snapshot_key(chain)
        fs = self.snapshotter.begin_layer(key)
        try:
            apply_tar(self.content.path(diff_id), fs, overlay_whiteouts=True, diff_id=diff_id, idmap=self.idmap)
            size = tree_size(fs)
            self.snapshotter.commit_layer(key, self.snapshot_key(parent_chain))
        except BaseException:
            self.snapshotter.abort_layer(key)
            raise
        write_json(self._meta_path(chain), {"diff_id": diff_id, "parent": parent_chain, "size": size})
        return chain

    def release(self, chain: str) -> None:
        """Drop a layer that no image uses any more (its snapshot and metadata)."""
        meta_path = self._meta_path(chain)
        if not os.path.exists(meta_path):
            return
        self.snapshotter.remove(self.snapshot_key(chain))
        os.unlink(meta_path)
