"""Blob upload sessions: monolithic and chunked, resumable by offset.

An upload is an ingest of the content store (dockyard.images.content.Ingest, containerd's
content.Writer) kept in distribution's place for it, ``_uploads/<id>/`` with its ``data`` and
``startedat``: bytes are appended at its offset with the sha256 state following them in memory,
rebuilt from the file after a restart. Finishing verifies the digest the client named (sha256 or
sha512) on the synced file and renames it into the blob store.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dockyard.errors import NotFound
from dockyard.images.content import DigestMismatch, Ingest
from dockyard.registry.errors import RegistryError
from dockyard.registry.names import Digest
from dockyard.registry.storage import Storage


@dataclass
class Upload:
    name: str
    id: str
    ingest: Ingest
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def offset(self) -> int:
        return self.ingest.offset

    @property
    def directory(self) -> str:
        return self.ingest.directory


class Uploads:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.active: dict[str, Upload] = {}

    def start(self, name: str) -> Upload:
        upload_id = str(uuid.uuid4())
        upload = Upload(name, upload_id, Ingest.create(self.storage.upload_dir(name, upload_id), upload_id))
        self.active[upload_id] = upload
        return upload

    def get(self, name: str, upload_id: str) -> Upload:
        upload = self.active.get(upload_id)
        if upload is not None and upload.name == name:
            return upload
        try:
            uuid.UUID(upload_id)
        except ValueError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id}) from None
        directory = self.storage.upload_dir(name, upload_id)
        if upload is not None or not os.path.isfile(os.path.join(directory, "data")):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        try:  # an upload from before a restart: resumed where its data ends
            upload = Upload(name, upload_id, Ingest.resume(directory, upload_id))
        except NotFound:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id}) from None
        self.active[upload_id] = upload
        return upload

    async def append(self, upload: Upload, chunks: AsyncIterator[bytes]) -> int:
        """Append a request body; what arrived before a client dropped stays (a resumable offset)."""
        written = 0
        try:
            async for chunk in chunks:
                written += upload.ingest.write(chunk)
        finally:
            upload.ingest.close()
        return written

    async def finish(self, upload: Upload, digest: Digest) -> int:
        """Verify and commit; the upload is gone afterwards whatever the outcome of the check."""
        size = upload.offset
        try:
            try:
                await asyncio.to_thread(upload.ingest.verify, None, str(digest))
            except DigestMismatch as exc:
                raise RegistryError("DIGEST_INVALID", detail={"digest": str(digest), "actual": exc.actual}) from None
            await asyncio.to_thread(self.storage.commit_blob, upload.ingest.data, digest)
            await asyncio.to_thread(self.storage.link_blob, upload.name, digest)
        finally:
            self.discard(upload)
        return size

    def discard(self, upload: Upload) -> None:
        self.active.pop(upload.id, None)
        upload.ingest.discard()

    def purge(self, older_than: float) -> int:
        """Remove uploads started before ``older_than`` (distribution's uploadpurging)."""
        removed = 0
        for name in self.storage.repositories(having="_uploads"):
            for upload_id in self.storage.upload_ids(name):
                directory = self.storage.upload_dir(name, upload_id)
                try:
                    if os.stat(os.path.join(directory, "data")).st_mtime < older_than and upload_id not in self.active:
                        shutil.rmtree(directory, ignore_errors=True)
                        removed += 1
                except OSError:
                    continue
        return removed
