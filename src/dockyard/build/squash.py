"""`build --squash`: the layers a build added over its base image merged into one new layer, as
Docker's daemon does it (daemon/images/image_squash.go, called by the classic builder with the
target stage's FROM image).

The result has the base image's layers plus one; its history keeps every row, the build's rows
marked `empty_layer`, and ends with a row of its own ("merge <image> to <base>"); it has no parent
image. The image the steps made stays (untagged, still the build cache).

The merged layer comes from the build's layer directories (overlay format, top first): for each
path the top-most layer that has it decides. An entry is written as it is there; a whiteout only
when the base image has the path (something made and removed within the build leaves nothing);
and an opaque marker where a build layer replaced a directory the base image has.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import tempfile
from collections.abc import Iterator

from dockyard.build.fsview import FSView, is_opaque, is_whiteout
from dockyard.images.diff import Change, LayerTarWriter, read_xattrs
from dockyard.images.layers import OPAQUE_WHITEOUT, chunks, is_overlay_xattr
from dockyard.images.layerstore import chain_id, chain_ids
from dockyard.images.store import Image, ImageStore


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def squash_changes(upper: list[str], lower: list[str]) -> Iterator[Change]:
    """The changes the layer dirs ``upper`` (the build's, top first) make over the image whose layer
    dirs are ``lower`` (top first), as one layer, in the sorted depth-first order of a layer tar."""
    base = FSView(lower)
    dirs, hides = _merged([""], upper)
    if hides and lower and base.listdir(""):
        yield Change("opaque", OPAQUE_WHITEOUT, dirs[0], os.lstat(dirs[0]))
    yield from _walk(dirs, "", base, bool(lower) and not hides)


def _merged(names: list[str], layers: list[str]) -> tuple[list[str], bool]:
    """The directories (top first) that make up one directory across ``layers``, and whether they
    hide what is below the build (an opaque directory, or a non-directory under it)."""
    found: list[str] = []
    for layer in layers:
        path = os.path.join(layer, *names)
        st = _lstat(path)
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            return found, True
        found.append(path)
        if is_opaque(path):
            return found, True
    return found, False


def _walk(dirs: list[str], rel: str, base: FSView, base_shows: bool) -> Iterator[Change]:
    top: dict[str, tuple[int, os.stat_result]] = {}  # name -> (which of dirs has it first, its stat)
    for number, directory in enumerate(dirs):
        for name in os.listdir(directory):
            if name not in top:
                st = _lstat(os.path.join(directory, name))
                if st is not None:
                    top[name] = (number, st)
    for name in sorted(top):
        number, st = top[name]
        child = f"{rel}/{name}" if rel else name
        path = os.path.join(dirs[number], name)
        if is_whiteout(st):
            if base_shows and base.lstat(child) is not None:
                yield Change("whiteout", child, path, st)
            continue
        xattrs = {k: v for k, v in read_xattrs(path).items() if not is_overlay_xattr(k)}
        yield Change("add", child, path, st, xattrs)
        if not stat.S_ISDIR(st.st_mode):
            continue
        if is_opaque(path):
            sub, hides = [path], True
        else:
            below, hides = _merged([name], dirs[number + 1:])
            sub = [path, *below]
        if hides and base_shows:
            old = base.lstat(child)
            if old is not None and stat.S_ISDIR(old.st_mode) and base.listdir(child):
                yield Change("opaque", f"{child}/{OPAQUE_WHITEOUT}", path, st)
        yield from _walk(sub, child, base, base_shows and not hides)


def squash_image(store: ImageStore, image: Image, base: Image | None, *, created: str,
                 clamp: int | None = None) -> Image:
    """A new image: ``base``'s layers plus the rest of ``image``'s merged into one (``clamp``: the
    reproducible builds' SOURCE_DATE_EPOCH, capping the layer's times)."""
    layers = store.layers
    snapshotter = layers.snapshotter
    base_ids = base.diff_ids if base is not None else []
    chains = chain_ids(image.diff_ids)
    upper = [snapshotter.fs_path(layers.snapshot_key(c)) for c in reversed(chains[len(base_ids):])]
    base_chain = base.top_chain if base is not None else None
    lower = [snapshotter.fs_path(k) for k in snapshotter.parent_chain(layers.snapshot_key(base_chain))]
    diff_id = _write_layer(store, upper, lower, clamp)
    layers.register(diff_id, base_chain)
    config = copy.deepcopy(image.config)
    config["rootfs"] = {"type": "layers", "diff_ids": [*base_ids, diff_id]}
    kept = len((base.config.get("history") or []) if base is not None else [])
    history = config.get("history") or []
    for row in history[kept:]:
        row["empty_layer"] = True
    comment = f"merge {image.id} to {base.id}" if base is not None else f"create new from {image.id}"
    config["history"] = [*history, {"created": created, "comment": comment}]
    config["created"] = created
    data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    try:
        return store.add(data)
    except BaseException:
        chain = chain_id(base_chain, diff_id)
        if not any(chain in chain_ids(i.diff_ids) for i in store.list()):
            layers.release(chain)
        raise


def _write_layer(store: ImageStore, upper: list[str], lower: list[str], clamp: int | None) -> str:
    from dockyard.build.reproducible import clamp_layer

    content = store.content
    with tempfile.TemporaryFile(dir=content.root) as tmp:
        writer = LayerTarWriter(tmp)
        writer.idmap = store.layers.idmap  # a remapped daemon's layers hold shifted owners
        for change in squash_changes(upper, lower):
            writer.add(change)
        writer.close()
        tmp.seek(0)
        if clamp is None:
            return content.ingest(chunks(tmp))
        with tempfile.TemporaryFile(dir=content.root) as clamped:
            clamp_layer(tmp, clamped, clamp)
            clamped.seek(0)
            return content.ingest(chunks(clamped))
