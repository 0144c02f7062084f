"""A new image on top of a parent (or of nothing): what `commit` and each build step write.

image/image.go NewChildImage: the parent's history plus one row, its DiffIDs plus the new layer
(none when the step changed nothing: Docker's empty layer), architecture and OS carried over.
"""

from __future__ import annotations

import json

from dockyard import __version__
from dockyard.images.importer import host_architecture
from dockyard.images.layerstore import chain_id, chain_ids
from dockyard.images.store import Image, ImageStore


def add_child_image(store: ImageStore, parent: Image | None, diff_id: str | None, config: dict, *,
                    history_row: dict, created: str, container: str = "", container_config: dict | None = None,
                    author: str = "") -> Image:
    """Register ``diff_id`` (already in the content store) over ``parent`` and store the image."""
    parent_chain = parent.top_chain if parent is not None else None
    if diff_id is not None:
        store.layers.register(diff_id, parent_chain)
    row = dict(history_row)
    if diff_id is None:
        row["empty_layer"] = True
    base = parent.config if parent is not None else {}
    image_config = {
        "architecture": base.get("architecture") or host_architecture(),
        "config": config,
        "created": created,
        "docker_version": __version__,
        "history": [*(base.get("history") or []), row],
        "os": base.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": (parent.diff_ids if parent else []) + ([diff_id] if diff_id else [])},
    }
    if container:
        image_config["container"] = container
    if container_config is not None:
        image_config["container_config"] = container_config
    if author:
        image_config["author"] = author
    for key in ("variant", "os.version", "os.features"):
        if base.get(key):
            image_config[key] = base[key]
    # Sorted keys, as Docker's image config marshalling writes them.
    data = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    try:
        return store.add(data, parent=parent.id if parent is not None else "")
    except BaseException:
        chain = chain_id(parent_chain, diff_id) if diff_id else None
        if chain and not any(chain in chain_ids(i.diff_ids) for i in store.list()):
            store.layers.release(chain)  # no image holds the new layer: it goes too
        raise
