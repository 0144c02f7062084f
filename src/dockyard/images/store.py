"""The image store: image configs (ID = config digest), references, and their layers."""

from __future__ import annotations

import builtins
import json
import os
import threading
from dataclasses import dataclass, field

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.images import reference
from dockyard.images.content import ContentStore
from dockyard.images.layerstore import LayerStore, chain_ids
from dockyard.util.atomic import read_json, sweep, write_json
from dockyard.util.timefmt import now_ns


@dataclass
class Image:
    id: str  # "sha256:<hex>"
    config: dict
    size: int = 0
    last_tag_time: int = 0
    repo_tags: list[str] = field(default_factory=list)  # familiar form: busybox:latest
    repo_digests: list[str] = field(default_factory=list)  # familiar form: busybox@sha256:<manifest digest>
    parent: str = ""  # the image this one was committed or built on ("" when pulled, loaded or imported)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))

    @property
    def top_chain(self) -> str | None:
        chains = chain_ids(self.diff_ids)
        return chains[-1] if chains else None


class ImageStore:
    def __init__(self, root: str, content: ContentStore, layers: LayerStore) -> None:
        self.root = os.path.join(root, "image")
        self._db = os.path.join(self.root, "imagedb")
        os.makedirs(self._db, exist_ok=True)
        self._refs_path = os.path.join(self.root, "repositories.json")
        self.content = content
        self.layers = layers
        self._lock = threading.Lock()
        self._images: dict[str, Image] = {}
        sweep(self.root)
        sweep(self._db)
        self._refs: dict[str, str] = read_json(self._refs_path) if os.path.exists(self._refs_path) else {}
        # Deleted images whose layers stopped containers still stand on (`rmi -f`, as Docker): image ID ->
        # {"diff_ids": [...], "size": n}, until release_held() once no container uses the image.
        self._held_path = os.path.join(self.root, "held.json")
        self._held: dict[str, dict] = read_json(self._held_path) if os.path.exists(self._held_path) else {}
        for name in os.listdir(self._db):
            if name.endswith(".json"):
                self._load(name[:-5])

    def _load(self, hexid: str) -> None:
        image_id = "sha256:" + hexid
        try:
            meta = read_json(os.path.join(self._db, hexid + ".json"))
            config = json.loads(self.content.read(image_id))
        except (OSError, ValueError, NotFound):
            return  # a torn import: the metadata is written last, so nothing refers to it
        self._images[image_id] = Image(image_id, config, meta.get("size", 0), meta.get("last_tag_time", 0),
                                       parent=meta.get("parent", ""))

    # -- lookups -------------------------------------------------------------------------
    def list(self) -> list[Image]:
        with self._lock:
            names = self._names_by_image()
            out = []
            for image in self._images.values():
                image.repo_tags, image.repo_digests = names.get(image.id, ([], []))
                out.append(image)
            return out

    def _names_by_image(self) -> dict[str, tuple[builtins.list[str], builtins.list[str]]]:
        """image ID -> (tags, digests) in Docker's familiar form; digest references are kept
        like tags (as Docker's repositories.json does) but reported apart, as RepoDigests."""
        names: dict[str, tuple[list[str], list[str]]] = {}
        for ref_text, image_id in sorted(self._refs.items()):
            ref = reference.parse(ref_text)
            tags, digests = names.setdefault(image_id, ([], []))
            (digests if ref.digest else tags).append(ref.familiar())
        return names

    def get(self, name: str) -> Image:
        """Resolve a reference, a full ID or a unique ID prefix, as Docker does."""
        with self._lock:
            image_id = self._resolve(name)
            image = self._images[image_id]
            image.repo_tags, image.repo_digests = self._names_by_image().get(image_id, ([], []))
            return image

    def _resolve(self, name: str) -> str:
        candidate = name.removeprefix("sha256:")
        if name.startswith("sha256:") or (candidate and all(c in "0123456789abcdef" for c in candidate)):
            matches = [i for i in self._images if i[7:].startswith(candidate)]
            if len(matches) == 1 and (name.startswith("sha256:") or name not in self._refs):
                return matches[0]
        try:
            ref = reference.parse(name)
        except InvalidParameter:
            raise NotFound(f"No such image: {name}") from None
        image_id = self._refs.get(str(ref))
        if image_id is None or image_id not in self._images:
            raise NotFound(f"No such image: {ref.familiar()}")
        return image_id

    def references_to(self, image_id: str) -> builtins.list[reference.Reference]:
        with self._lock:
            return [reference.parse(r) for r, i in sorted(self._refs.items()) if i == image_id]

    def children(self, image_id: str) -> builtins.list[Image]:
        with self._lock:
            return [i for i in self._images.values() if i.parent == image_id]

    # -- changes -------------------------------------------------------------------------
    def add(self, config_bytes: bytes, *, parent: str = "") -> Image:
        """Store an image config whose layers are already registered.

        ``parent`` is the image a commit or build step started from; `history` and `rmi` follow it.
        """
        config = json.loads(config_bytes)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        for chain in chain_ids(diff_ids):
            if not self.layers.exists(chain):
                raise InvalidParameter(f"image config refers to a missing layer {chain}")
        image_id = self.content.write(config_bytes)
        size = sum(self.layers.size(c) for c in chain_ids(diff_ids))
        with self._lock:
            known = self._images.get(image_id)
            if known is not None:
                return known  # the same config again (a re-pull, a re-load): nothing changes
            meta = {"size": size, "parent": parent} if parent else {"size": size}
            write_json(os.path.join(self._db, image_id[7:] + ".json"), meta)
            self._images[image_id] = Image(image_id, config, size, parent=parent)
            return self._images[image_id]

    def _write_meta(self, image: Image) -> None:
        meta: dict[str, object] = {"size": image.size, "last_tag_time": image.last_tag_time}
        if image.parent:
            meta["parent"] = image.parent
        write_json(os.path.join(self._db, image.id[7:] + ".json"), meta)

    def tag(self, image_id: str, ref: reference.Reference) -> None:
        with self._lock:
            if image_id not in self._images:
                raise NotFound(f"No such image: {image_id}")
            refs = dict(self._refs)
            refs[str(ref)] = image_id
            write_json(self._refs_path, refs)
            self._refs = refs
            image = self._images[image_id]
            if ref.digest:
                return  # a digest reference records where the image came from; it is not a tag
            image.last_tag_time = now_ns()
            self._write_meta(image)

    def untag(self, ref: reference.Reference) -> str:
        with self._lock:
            image_id = self._refs.get(str(ref))
            if image_id is None:
                raise NotFound(f"No such image: {ref.familiar()}")
            refs = dict(self._refs)
            del refs[str(ref)]
            write_json(self._refs_path, refs)
            self._refs = refs
            return image_id

    def delete_image(self, image_id: str, *, hold_layers: bool = False) -> builtins.list[str]:
        """Remove an untagged image and every layer no other image needs; return those layers' chain IDs.
        With ``hold_layers`` (containers stand on the image) its layers stay until release_held()."""
        with self._lock:
            if any(i == image_id for i in self._refs.values()):
                raise Conflict(f"image {image_id} is still tagged")
            image = self._images.get(image_id)
            if image is None:
                return []
            if hold_layers:  # recorded before the image goes: a crash in between keeps both
                self._write_held({**self._held, image_id: {"diff_ids": image.diff_ids, "size": image.size}})
            del self._images[image_id]
            os.unlink(os.path.join(self._db, image_id[7:] + ".json"))
            self.content.delete(image_id)
            return [] if hold_layers else self._release_unused(image.diff_ids)

    def held(self) -> builtins.list[str]:
        """IDs of deleted images whose layers are held for containers."""
        with self._lock:
            return list(self._held)

    def held_size(self, image_id: str) -> int | None:
        with self._lock:
            entry = self._held.get(image_id)
            return None if entry is None else int(entry.get("size") or 0)

    def release_held(self, image_id: str) -> builtins.list[str]:
        """The last container standing on a deleted image is gone: free the layers no image needs."""
        with self._lock:
            entry = self._held.get(image_id)
            if entry is None:
                return []
            held = dict(self._held)
            del held[image_id]
            self._write_held(held)
            return self._release_unused(list(entry.get("diff_ids") or []))

    def _write_held(self, held: dict[str, dict]) -> None:
        write_json(self._held_path, held)
        self._held = held

    def _release_unused(self, diff_ids: builtins.list[str]) -> builtins.list[str]:
        """Release the chains (top first) and layer blobs of ``diff_ids`` that no image and no held image
        uses; the caller holds the lock."""
        still_used_chains: set[str] = set()
        still_used_diffs: set[str] = set()
        for other in [*(i.diff_ids for i in self._images.values()),
                      *(list(e.get("diff_ids") or []) for e in self._held.values())]:
            still_used_chains.update(chain_ids(other))
            still_used_diffs.update(other)
        released: builtins.list[str] = []
        for chain in reversed(chain_ids(diff_ids)):
            if chain not in still_used_chains:
                self.layers.release(chain)
                released.append(chain)
        for diff_id in diff_ids:
            if diff_id not in still_used_diffs:
                self.content.delete(diff_id)
        return released
