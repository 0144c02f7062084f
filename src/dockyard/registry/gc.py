"""Garbage collection while the registry serves: mark, then sweep with leases.

Mark walks every repository's manifest revisions (with ``delete_untagged``, only those reachable
from a tag: index children and referrers of kept manifests count as reachable) and collects the
blobs they name. Sweep deletes the other blobs, except those leased since ``start - grace``:
uploaded, mounted, checked or named by a manifest being written after that moment (see
Storage.touch and Storage.pinned). A push racing the collector therefore never loses a blob, and
the registry never goes read-only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.registry.config import GCConfig
from dockyard.registry.names import Digest, parse_digest
from dockyard.registry.storage import Storage

log = logging.getLogger("dockyard.registry.gc")


@dataclass
class Result:
    marked: set[str] = field(default_factory=set)
    blobs: list[str] = field(default_factory=list)  # deleted (or, on a dry run, deletable)
    manifests: list[str] = field(default_factory=list)  # "repo@digest" removed as untagged


def _references(body: bytes) -> tuple[list[Digest], list[Digest], Digest | None]:
    """(blobs, child manifests, subject) a manifest names."""
    try:
        document = json.loads(body)
    except ValueError:
        return [], [], None
    blobs, children = [], []
    for key in ("config",):
        if isinstance(document.get(key), dict):
            blobs.append(document[key])
    blobs += [layer for layer in document.get("layers") or [] if isinstance(layer, dict)]
    children = [entry for entry in document.get("manifests") or [] if isinstance(entry, dict)]
    subject = document.get("subject") if isinstance(document.get("subject"), dict) else None

    def digests(items: list[dict]) -> list[Digest]:
        out = []
        for item in items:
            try:
                out.append(parse_digest(str(item.get("digest"))))
            except Exception:  # noqa: BLE001 - a malformed entry references nothing
                continue
        return out

    subject_digest = digests([subject])[0] if subject and digests([subject]) else None
    return digests(blobs), digests(children), subject_digest


def collect(storage: Storage, *, dry_run: bool = False, delete_untagged: bool = False, grace: float = 0.0,
            report: Callable[[str], object] | None = None) -> Result:
    start = time.time()
    since = start - grace
    result = Result()
    say = report or (lambda _text: None)
    for name in storage.repositories():
        say(f"{name}\n")
        revisions = storage.manifests(name)
        bodies = {d: storage.read_blob(d) for d in revisions}
        keep = set(revisions)
        if delete_untagged:
            keep = _reachable(storage, name, bodies)
            for digest in revisions:
                if digest in keep:
                    continue
                if _mtime(storage, name, digest) >= since:
                    keep.add(digest)  # pushed just now: its tag may follow
                    continue
                if dry_run:
                    deleted = not storage.leased_since(digest, since) and str(digest) not in storage.pins
                else:
                    deleted = storage.delete_manifest_unless_leased(name, digest, since)
                if not deleted:
                    keep.add(digest)
                    continue
                result.manifests.append(f"{name}@{digest}")
                say(f"{name}: manifest {'eligible for deletion' if dry_run else 'deleted'}: {digest}\n")
        for digest in keep:
            result.marked.add(str(digest))
            body = bodies.get(digest)
            if body is not None:
                blobs, _children, _subject = _references(body)
                result.marked.update(str(b) for b in blobs)
            say(f"{name}: marking manifest {digest}\n")
    # Manifests written during the walk are pinned or leased; the sweep below checks both.
    for digest, _path in list(storage.all_blobs()):
        if str(digest) in result.marked:
            continue
        if dry_run:
            if not storage.leased_since(digest, since) and _blob_mtime(storage, digest) < since:
                result.blobs.append(str(digest))
                say(f"blob eligible for deletion: {digest}\n")
            continue
        if storage.delete_blob_unless_leased(digest, since):
            result.blobs.append(str(digest))
            say(f"blob deleted: {digest}\n")
    storage.prune_leases(since)
    return result


def _reachable(storage: Storage, name: str, bodies: dict[Digest, bytes | None]) -> set[Digest]:
    """Manifests reachable from a tag: tagged ones, their index children, and referrers of kept ones."""
    referrers: dict[Digest, list[Digest]] = {}
    children: dict[Digest, list[Digest]] = {}
    for digest, body in bodies.items():
        if body is None:
            continue
        _blobs, kids, subject = _references(body)
        children[digest] = kids
        if subject is not None:
            referrers.setdefault(subject, []).append(digest)
    todo = [digest for _tag, digest in storage.tags(name)]
    keep: set[Digest] = set()
    while todo:
        digest = todo.pop()
        if digest in keep:
            continue
        keep.add(digest)
        todo += children.get(digest, []) + referrers.get(digest, [])
    return keep


def _mtime(storage: Storage, name: str, digest: Digest) -> float:
    import os

    try:
        return os.stat(storage.revision_link(name, digest)).st_mtime
    except OSError:
        return 0.0


def _blob_mtime(storage: Storage, digest: Digest) -> float:
    import os

    try:
        return os.stat(storage.blob_path(digest)).st_mtime
    except OSError:
        return float("inf")


class PeriodicCollector:
    """Runs ``collect`` every ``interval`` in a thread, beside the serving event loop."""

    def __init__(self, storage: Storage, config: GCConfig) -> None:
        self.storage = storage
        self.config = config
        self.task: asyncio.Task | None = None
        self.runs = 0
        self.last: Result | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval)
            try:
                self.last = await asyncio.to_thread(collect, self.storage, grace=self.config.grace,
                                                    delete_untagged=self.config.delete_untagged)
                self.runs += 1
                log.info("garbage collection: %d blobs marked, %d blobs and %d manifests deleted",
                         len(self.last.marked), len(self.last.blobs), len(self.last.manifests))
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("garbage collection failed")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
