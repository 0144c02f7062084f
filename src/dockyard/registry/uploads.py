"""Blob upload sessions: monolithic and chunked, resumable by offset (containerd's ingest model).

An upload's bytes go to ``_uploads/<id>/data``; the sha256 state is kept in memory as bytes
arrive, and rebuilt from the file after a restart. Finishing fsyncs the file, verifies the digest
the client named (sha256 or sha512) and renames the file into the blob store.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dockyard.registry.errors import RegistryError
from dockyard.registry.names import Digest
from dockyard.registry.storage import Storage, atomic_write

CHUNK = 1 << 20


@dataclass
class Upload:
    name: str
    id: str
    directory: str
    started: float
    offset: int = 0
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def data(self) -> str:
        return os.path.join(self.directory, "data")


def _hash_file(path: str, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


class Uploads:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.active: dict[str, Upload] = {}

    def start(self, name: str) -> Upload:
        upload_id = str(uuid.uuid4())
        directory = self.storage.upload_dir(name, upload_id)
        os.makedirs(directory)
        started = time.time()
        open(os.path.join(directory, "data"), "wb").close()
        atomic_write(os.path.join(directory, "startedat"), time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                          time.gmtime(started)).encode())
        upload = Upload(name, upload_id, directory, started)
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
        data = os.path.join(directory, "data")
        if upload is not None or not os.path.isfile(data):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        # An upload from before a restart: its hash state is rebuilt from what is on disk.
        upload = Upload(name, upload_id, directory, os.stat(directory).st_mtime)
        with open(data, "rb") as f:
            while chunk := f.read(CHUNK):
                upload.sha256.update(chunk)
                upload.offset += len(chunk)
        self.active[upload_id] = upload
        return upload

    async def append(self, upload: Upload, chunks: AsyncIterator[bytes]) -> int:
        """Append a request body; what arrived before a client dropped stays (a resumable offset)."""
        written = 0
        with open(upload.data, "ab") as f:
            try:
                async for chunk in chunks:
                    f.write(chunk)
                    upload.sha256.update(chunk)
                    upload.offset += len(chunk)
                    written += len(chunk)
            finally:
                f.flush()
        return written

    async def finish(self, upload: Upload, digest: Digest) -> int:
        """Verify and commit; the upload is gone afterwards whatever the outcome of the check."""
        size = upload.offset
        try:
            await asyncio.to_thread(_fsync_path, upload.data)
            if digest.algorithm == "sha256":
                actual = upload.sha256.hexdigest()
            else:
                actual = await asyncio.to_thread(_hash_file, upload.data, digest.algorithm)
            if actual != digest.hex:
                raise RegistryError("DIGEST_INVALID", detail={"digest": str(digest),
                                                              "actual": f"{digest.algorithm}:{actual}"})
            await asyncio.to_thread(self.storage.commit_blob, upload.data, digest)
            await asyncio.to_thread(self.storage.link_blob, upload.name, digest)
        finally:
            self.discard(upload)
        return size

    def discard(self, upload: Upload) -> None:
        self.active.pop(upload.id, None)
        shutil.rmtree(upload.directory, ignore_errors=True)

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


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
