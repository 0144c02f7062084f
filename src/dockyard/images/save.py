"""`docker save`: images to one tar archive that Docker 20.10 and newer Docker both load.

The layout is what Docker 25+ writes: an OCI image layout (`oci-layout`, `index.json`,
`blobs/sha256/...`) with Docker's `manifest.json` and `repositories` beside it, whose paths point
into `blobs/`. Docker 20.10's `docker load` reads only `manifest.json` and follows its paths, so
it loads this too (docs/compat.md). Layers are the uncompressed tars named by DiffID, streamed
from the content store; entries are sorted and carry fixed metadata, so the output is
deterministic.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import sha256

from dockyard.errors import InvalidParameter, NotFound
from dockyard.images import archive_layout as layout
from dockyard.images import reference
from dockyard.images.store import Image, ImageStore
from dockyard.util import tarstream


@dataclass
class SaveItem:
    image: Image
    tags: list[reference.Reference] = field(default_factory=list)


def resolve(store: ImageStore, names: list[str]) -> list[SaveItem]:
    """Docker's rules: a repository name alone means all its tags; NAME:TAG that tag; an ID or a
    digest reference the image without tags. Every name must exist (checked before any output)."""
    if not names:
        raise InvalidParameter("no image names given: name at least one image to save")
    items: dict[str, SaveItem] = {}
    for name in names:
        for image, tag in _lookup(store, name):
            item = items.setdefault(image.id, SaveItem(image))
            if tag is not None and str(tag) not in {str(t) for t in item.tags}:
                item.tags.append(tag)
    for item in items.values():
        if not item.image.diff_ids:
            raise InvalidParameter(f"image {item.image.id} has no layers: empty export - not implemented")
    return list(items.values())


def _lookup(store: ImageStore, name: str) -> list[tuple[Image, reference.Reference | None]]:
    try:
        ref = reference.parse(name, default_tag=False)
    except InvalidParameter:
        ref = None
    if ref is not None and not ref.tag and not ref.digest:
        tagged = [(image, r) for image in store.list() for r in store.references_to(image.id)
                  if r.name == ref.name and r.tag and not r.digest]
        if tagged:
            return sorted(tagged, key=lambda pair: str(pair[1]))
    try:
        image = store.get(name)
    except NotFound:
        raise NotFound(f"No such image: {name}") from None
    return [(image, ref if ref is not None and ref.tag and not ref.digest else None)]


def _json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _platform(image: Image) -> dict:
    return {"architecture": image.config.get("architecture", ""), "os": image.config.get("os", "linux")}


def archive(store: ImageStore, items: list[SaveItem]) -> Iterator[bytes]:
    """The archive as chunks of bytes. Files are opened as they are reached, so memory stays small."""
    content = store.content
    blob_files: dict[str, tuple[str, int]] = {}  # digest -> (path, size): configs and layers
    blob_bytes: dict[str, bytes] = {}  # digest -> data: the OCI manifests made here
    docker_manifest: list[dict] = []
    index: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    for item in items:
        image = item.image
        config_path = content.path(image.id)
        blob_files[image.id] = (config_path, content.size(image.id))
        layer_descriptors = []
        for diff_id in image.diff_ids:
            if diff_id not in blob_files:
                if not content.exists(diff_id):
                    raise NotFound(f"layer {diff_id} of image {image.id} is missing from the content store")
                blob_files[diff_id] = (content.path(diff_id), content.size(diff_id))
            layer_descriptors.append({"mediaType": layout.OCI_LAYER_TAR, "digest": diff_id,
                                      "size": blob_files[diff_id][1]})
        manifest = _json({"schemaVersion": 2, "mediaType": layout.OCI_MANIFEST,
                          "config": {"mediaType": layout.OCI_CONFIG, "digest": image.id,
                                     "size": blob_files[image.id][1]},
                          "layers": layer_descriptors})
        manifest_digest = "sha256:" + sha256(manifest).hexdigest()
        blob_bytes[manifest_digest] = manifest
        descriptor = {"mediaType": layout.OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
                      "platform": _platform(image)}
        for tag in item.tags:
            index.append({**descriptor, "annotations": {layout.ANNOTATION_IMAGE_NAME: str(tag),
                                                        layout.ANNOTATION_REF_NAME: tag.tag}})
            repositories.setdefault(tag.familiar_name, {})[tag.tag or "latest"] = image.diff_ids[-1].partition(":")[2]
        if not item.tags:
            index.append(descriptor)
        docker_manifest.append({"Config": layout.blob_path(image.id),
                                "RepoTags": [t.familiar() for t in item.tags] or None,
                                "Layers": [layout.blob_path(d) for d in image.diff_ids]})

    yield tarstream.directory("blobs")
    yield tarstream.directory("blobs/sha256")
    for digest in sorted({*blob_files, *blob_bytes}):
        name = layout.blob_path(digest)
        if digest in blob_bytes:
            yield tarstream.file_from_bytes(name, blob_bytes[digest])
        else:
            path, size = blob_files[digest]
            yield from tarstream.file_from_path(name, path, size)
    yield tarstream.file_from_bytes(layout.OCI_INDEX_FILE, _json(
        {"schemaVersion": 2, "mediaType": layout.OCI_INDEX, "manifests": index}))
    yield tarstream.file_from_bytes(layout.MANIFEST_FILE, _json(docker_manifest) + b"\n")
    yield tarstream.file_from_bytes(layout.OCI_LAYOUT_FILE, layout.OCI_LAYOUT_CONTENT)
    if repositories:
        yield tarstream.file_from_bytes(layout.REPOSITORIES_FILE, _json(repositories) + b"\n")
    yield tarstream.end()
