"""`docker load`: images from an archive into the store, all or nothing.

Reads Docker's format (`manifest.json`, with the layers in per-layer directories as Docker 20.10
writes them or in `blobs/` as Docker 25+ does) and OCI image layouts (`index.json`, nested
indexes). The archive is staged first; every layer is checked against the DiffIDs in its image's
config before the store changes; then layers are registered, configs added and tags set. A
failure before the configs are added undoes the layers and blobs this load created.
"""

import hashlib
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from dockyard.errors import InvalidParameter, NotFound
from dockyard.images import archive_layout as layout
from dockyard.images import reference
from dockyard.images.archive_stage import StagedArchive, StagedFile, stage
from dockyard.images.importer import host_architecture
from dockyard.images.layers import chunks, decompressed
from dockyard.images.layerstore import chain_id
from dockyard.images.store import ImageStore
from dockyard.util.ids import short_id

Report = Callable[[dict], None]  # receives Docker JSON messages: {"stream": ...} or progress
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
MAX_INDEX_DEPTH = 8


@dataclass
class ArchiveImage:
    """One image the archive describes, as paths inside the archive."""

    config_name: str
    layer_names: list[str]
    tags: list[reference.Reference]
    config_digest: str | None = None  # OCI layouts name every blob by digest: checked
    layer_digests: list[str | None] = field(default_factory=list)
    config_bytes: bytes = b""
    diff_ids: list[str] = field(default_factory=list)

    @property
    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config_bytes).hexdigest()


def load(store: ImageStore, stream: BinaryIO, report: Report, *, quiet: bool = False) -> list[str]:
    """Load every image in the archive read from ``stream``; return their IDs in archive order."""
    staged = stage_into(store, stream)
    try:
        images = describe(staged)
        for image in images:
            _read_config(staged, image)
        return _commit(store, staged, images, report, quiet)
    finally:
        staged.remove()


def stage_into(store: ImageStore, stream: BinaryIO) -> StagedArchive:
    root = store.content.staging_dir("load")
    try:
        return stage(stream, root)
    except BaseException:
        StagedArchive(root).remove()
        raise


# -- reading the archive's description ---------------------------------------------------------
def describe(staged: StagedArchive) -> list[ArchiveImage]:
    if staged.find(layout.MANIFEST_FILE):
        images = _docker_images(staged)
    elif staged.find(layout.OCI_INDEX_FILE):
        images = _oci_images(staged)
    elif staged.find(layout.REPOSITORIES_FILE):
        raise InvalidParameter("invalid archive: it has a `repositories` file but no manifest.json; archives "
                               "from Docker before 1.10 are not supported (save the image again with a newer Docker)")
    else:
        raise InvalidParameter("invalid archive: no manifest.json or index.json found; give an archive made by "
                               "`docker save` or an OCI image layout")
    if not images:
        raise InvalidParameter("invalid archive: it describes no image for this platform")
    return images


def _tag(text: object) -> reference.Reference:
    try:
        ref = reference.parse(str(text), default_tag=False) if isinstance(text, str) else None
    except InvalidParameter:
        ref = None
    if ref is None or not ref.tag or ref.digest:
        raise InvalidParameter(f"invalid archive: invalid tag {text!r} in RepoTags (expected NAME:TAG)")
    return ref


def _docker_images(staged: StagedArchive) -> list[ArchiveImage]:
    entries = staged.read_json(layout.MANIFEST_FILE, "manifest")
    if not isinstance(entries, list):
        raise InvalidParameter("invalid archive: manifest.json must be a list of images")
    images = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or \
                not isinstance(entry.get("Layers") or [], list) or \
                not all(isinstance(name, str) for name in entry.get("Layers") or []):
            raise InvalidParameter(f"invalid archive: entry {number} of manifest.json needs a Config path and a "
                                   "list of Layers paths")
        tags = [_tag(t) for t in entry.get("RepoTags") or []]
        layers = list(entry.get("Layers") or [])
        images.append(ArchiveImage(entry["Config"], layers, tags, layer_digests=[None] * len(layers)))
    return images


def _names(annotations: dict | None) -> list[reference.Reference]:
    """An index entry's name: containerd's full reference, else an OCI ref name that is a whole
    NAME:TAG (a bare tag names no repository, so the image stays untagged)."""
    annotations = annotations if isinstance(annotations, dict) else {}
    for key in (layout.ANNOTATION_IMAGE_NAME, layout.ANNOTATION_REF_NAME):
        text = annotations.get(key)
        if isinstance(text, str) and ":" in text.rpartition("/")[2]:
            try:
                ref = reference.parse(text, default_tag=False)
            except InvalidParameter:
                continue
            if ref.tag and not ref.digest:
                return [ref]
    return []


def _platform_matches(platform: object) -> bool:
    if not isinstance(platform, dict):
        return True
    return platform.get("os", "linux") == "linux" and platform.get("architecture") in (None, host_architecture())


def _oci_images(staged: StagedArchive) -> list[ArchiveImage]:
    index = staged.read_json(layout.OCI_INDEX_FILE, "index")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise InvalidParameter("invalid archive: index.json has no manifests list")
    by_config: dict[str, ArchiveImage] = {}
    for descriptor in index["manifests"]:
        names = _names(descriptor.get("annotations") if isinstance(descriptor, dict) else None)
        for image in _manifests(staged, descriptor, 0, top=True):
            known = by_config.setdefault(image.config_name, image)
            known.tags += [n for n in names if str(n) not in {str(t) for t in known.tags}]
    return list(by_config.values())


def _blob(staged: StagedArchive, descriptor: object, what: str) -> tuple[str, StagedFile | None]:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str) or \
            not descriptor["digest"].startswith("sha256:"):
        raise InvalidParameter(f"invalid archive: a {what} descriptor has no sha256 digest")
    name = layout.blob_path(descriptor["digest"])
    found = staged.find(name)
    if found is not None and found.digest != descriptor["digest"]:
        raise InvalidParameter(f"invalid archive: blob {name} does not match its digest (it holds {found.digest})")
    return name, found


def _manifests(staged: StagedArchive, descriptor: object, depth: int, *, top: bool) -> list[ArchiveImage]:
    """The image manifests below ``descriptor``; nested indexes keep this platform's entries. Blobs an
    index names but the layout lacks (other platforms, attestations) are skipped below the top."""
    if depth > MAX_INDEX_DEPTH:
        raise InvalidParameter("invalid archive: image indexes nested too deeply")
    name, found = _blob(staged, descriptor, "manifest")
    if found is None:
        if top:
            raise InvalidParameter(f"invalid archive: index.json names {name}, which is missing")
        return []
    document = staged.read_json(name, "manifest")
    if not isinstance(document, dict):
        raise InvalidParameter(f"invalid archive: {name} is not a manifest or an index")
    media_type = document.get("mediaType") or (descriptor.get("mediaType") if isinstance(descriptor, dict) else None)
    if media_type in layout.INDEX_TYPES or (media_type is None and "manifests" in document):
        found_images = []
        for child in document.get("manifests") or []:
            if isinstance(child, dict) and _platform_matches(child.get("platform")):
                found_images += _manifests(staged, child, depth + 1, top=False)
        return found_images
    if media_type not in layout.MANIFEST_TYPES and not (media_type is None and "config" in document):
        return []  # not an image (an artifact, an attestation)
    config_name, _ = _blob(staged, document.get("config"), "config")
    layer_names, layer_digests = [], []
    for layer in document.get("layers") or []:
        layer_name, _ = _blob(staged, layer, "layer")
        layer_names.append(layer_name)
        layer_digests.append(layer["digest"])
    return [ArchiveImage(config_name, layer_names, [], config_digest=document["config"]["digest"],
                         layer_digests=layer_digests)]


def _read_config(staged: StagedArchive, image: ArchiveImage) -> None:
    image.config_bytes = staged.read(image.config_name, "image config")
    if image.config_digest and image.image_id != image.config_digest:
        raise InvalidParameter(f"invalid archive: config {image.config_name} does not match its digest")
    try:
        config = json.loads(image.config_bytes)
    except ValueError as exc:
        raise InvalidParameter(f"invalid archive: image config {image.config_name!r} is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidParameter(f"invalid archive: image config {image.config_name!r} is not a JSON object")
    os_name = config.get("os") or "linux"
    if os_name != "linux":
        raise InvalidParameter(f"cannot load {os_name} image on linux")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and d.startswith("sha256:") and len(d) == 71
                                                  for d in diff_ids):
        raise InvalidParameter(f"invalid archive: image config {image.config_name!r} has invalid rootfs.diff_ids")
    if len(diff_ids) != len(image.layer_names):
        raise InvalidParameter(f"invalid manifest, layers length mismatch: expected {len(image.layer_names)}, "
                               f"got {len(diff_ids)}")
    image.diff_ids = diff_ids


# -- changing the store ------------------------------------------------------------------------
def _commit(store: ImageStore, staged: StagedArchive, images: list[ArchiveImage], report: Report,
            quiet: bool) -> list[str]:
    added_blobs: list[str] = []
    new_chains: list[str] = []
    plan: list[tuple[str, str | None, str]] = []  # (diff_id, parent chain, chain) to register, in order
    try:
        planned: set[str] = set()
        for image in images:
            parent = None
            for number, diff_id in enumerate(image.diff_ids):
                chain = chain_id(parent, diff_id)
                if chain not in planned and not store.layers.exists(chain):
                    _ensure_layer_blob(store, staged, image, number, added_blobs)
                    plan.append((diff_id, parent, chain))
                    planned.add(chain)
                parent = chain
        for diff_id, parent, chain in plan:
            size = store.content.size(diff_id)
            if not quiet:
                report(_progress(diff_id, 0, size))
            if not store.layers.exists(chain):
                try:
                    store.layers.register(diff_id, parent)
                except (tarfile.TarError, OSError, EOFError) as exc:
                    raise InvalidParameter(f"invalid archive: layer {diff_id} could not be applied: {exc}") from None
                new_chains.append(chain)
            if not quiet:
                report(_progress(diff_id, size, size))
    except BaseException:
        for chain in reversed(new_chains):
            store.layers.release(chain)
        for digest in added_blobs:
            store.content.delete(digest)
        raise
    loaded = []
    for image in images:
        stored = store.add(image.config_bytes)
        for tag in image.tags:
            try:
                previous = store.get(str(tag)).id
            except NotFound:
                previous = None
            if previous and previous != stored.id:
                report({"stream": f"The image {tag.familiar()} already exists, renaming the old one with ID "
                                  f"{previous} to empty string\n"})
            store.tag(stored.id, tag)
            report({"stream": f"Loaded image: {tag.familiar()}\n"})
        if not image.tags:
            report({"stream": f"Loaded image ID: {stored.id}\n"})
        loaded.append(stored.id)
    return loaded


def _progress(diff_id: str, current: int, total: int) -> dict:
    return {"status": "Loading layer", "progressDetail": {"current": current, "total": total},
            "id": short_id(diff_id)}


def _mismatch(image: ArchiveImage, number: int, got: str) -> InvalidParameter:
    return InvalidParameter(f'invalid diffID for layer {number} of image {short_id(image.image_id)}: expected '
                            f'"{image.diff_ids[number]}", got "{got}"; the archive is damaged or was altered, '
                            "nothing was loaded")


def _ensure_layer_blob(store: ImageStore, staged: StagedArchive, image: ArchiveImage, number: int,
                       added: list[str]) -> None:
    """Put layer ``number``'s uncompressed tar into the content store under its DiffID, verified."""
    name, diff_id = image.layer_names[number], image.diff_ids[number]
    found = staged.find(name)
    if found is None:
        raise InvalidParameter(f"invalid archive: layer {name!r} of image {short_id(image.image_id)} is missing")
    if found.digest == diff_id:
        if os.path.exists(found.path) and store.content.adopt(found.path, diff_id):
            added.append(diff_id)
        elif not store.content.exists(diff_id):  # moved in by an earlier image, then removed meanwhile
            raise InvalidParameter(f"layer {diff_id} vanished while loading; try again")
        return
    with open(found.path, "rb") as f:
        head = f.read(6)
    if not head.startswith(_COMPRESSED_MAGIC):
        raise _mismatch(image, number, found.digest)
    existed = store.content.exists(diff_id)
    hasher = hashlib.sha256()
    finished = []

    def hashed(reader: BinaryIO):
        for data in chunks(reader):
            hasher.update(data)
            yield data
        finished.append(True)

    try:
        with open(found.path, "rb") as f:
            store.content.ingest(hashed(decompressed(f)), expected=diff_id)  # stores nothing on a mismatch
    except InvalidParameter:
        if finished:
            raise _mismatch(image, number, "sha256:" + hasher.hexdigest()) from None
        raise
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise InvalidParameter(f"invalid archive: layer {name!r} could not be decompressed: {exc}") from None
    if not existed:
        added.append(diff_id)
