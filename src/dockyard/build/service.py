"""The build service: a build request (context tar + options) in, an image and a message stream out;
plus the build cache's prune and disk-usage records."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, BinaryIO

from dockyard.build.cache import BuildCache
from dockyard.errors import Conflict, NotFound
from dockyard.util.timefmt import rfc3339_ns

if TYPE_CHECKING:
    from dockyard.build.archive import ContextArchive, Spool
    from dockyard.build.builder import BuildOptions
    from dockyard.images.store import Image
# The builder and the context archive are imported by the requests that use them: dockyardd starts
# (and a machine is up) sooner without them.


class BuildService:
    def __init__(self, data_root: str, store, containers, commits, images, events) -> None:
        self.store = store
        self.containers = containers
        self.commits = commits
        self.images = images  # ImageService: deletion rules for prune
        self.events = events
        self.cache = BuildCache(data_root)
        self.tmp_root = os.path.join(data_root, "build", "tmp")
        shutil.rmtree(self.tmp_root, ignore_errors=True)  # contexts left by a crash
        os.makedirs(self.tmp_root, exist_ok=True)

    def spool(self) -> Spool:
        """Where a context is received (then given to ``open_context``)."""
        from dockyard.build.archive import Spool

        return Spool(self.tmp_root)

    def read_context(self, source: BinaryIO) -> ContextArchive:
        """A context from a file object (a URL's body), indexed."""
        spool = self.spool()
        try:
            spool.copy_from(source)
        except BaseException:
            spool.close()
            raise
        from dockyard.build.archive import open_context

        return open_context(spool)

    async def build(self, context: ContextArchive, options: BuildOptions, emit) -> Image:
        """Build from ``context`` (the caller closes it)."""
        from dockyard.build.builder import Builder

        return await Builder(self, context, options, emit).run()

    # -- the cache records -------------------------------------------------------------------
    def records(self) -> list[dict]:
        """`system df`'s BuildCache rows: one per cached step whose image still exists."""
        out = []
        for key, record in self.cache.items():
            try:
                image = self.store.get(record["image"])
            except NotFound:
                continue
            tagged = bool(self.store.references_to(image.id))
            out.append({"ID": key[:25], "Parent": image.parent[7:19] if image.parent else "", "Type": "regular",
                        "Description": record.get("description", ""), "InUse": tagged or bool(
                            self.containers.uses_image(image.id)), "Shared": tagged,
                        "Size": record.get("size", 0), "CreatedAt": rfc3339_ns(record.get("created", 0)),
                        "LastUsedAt": rfc3339_ns(record.get("last_used", record.get("created", 0))),
                        "UsageCount": 1})
        return out

    def prune(self, *, all_records: bool = False) -> tuple[list[str], int]:
        """`build prune`: forget cached steps, and delete their images that nothing else holds
        (untagged, unused by containers, without children). Returns the records dropped and the
        bytes reclaimed."""
        dropped: list[str] = []
        reclaimed = 0
        records = sorted(self.cache.items(), key=lambda kv: -kv[1].get("created", 0))  # children first
        for key, record in records:
            image_id = record["image"]
            try:
                image = self.store.get(image_id)
            except NotFound:
                dropped.append(key)
                continue
            if self.store.references_to(image.id) or self.containers.uses_image(image.id):
                if all_records:
                    dropped.append(key)
                continue
            try:
                report = self.images.remove(image.id, prune=False)
            except (Conflict, NotFound):
                if all_records:
                    dropped.append(key)
                continue
            dropped.append(key)
            if any(r.get("Deleted") == image.id for r in report):
                reclaimed += record.get("size", 0)
        self.cache.drop(dropped)
        return dropped, reclaimed
