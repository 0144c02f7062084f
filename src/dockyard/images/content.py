"""Content-addressed blob store: blobs named by their sha256 digest, verified on write."""

import hashlib
import os
from collections.abc import Iterable

from dockyard.errors import InvalidParameter, NotFound


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._blobs = os.path.join(root, "blobs", "sha256")
        self._ingest = os.path.join(root, "ingest")
        os.makedirs(self._blobs, exist_ok=True)
        os.makedirs(self._ingest, exist_ok=True)
        self._sweep_ingest()

    def _sweep_ingest(self) -> None:
        """Drop what a crash left half-written (ingests, staged archives): at start-up none is in use."""
        import shutil

        for name in os.listdir(self._ingest):
            path = os.path.join(self._ingest, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    def path(self, digest: str) -> str:
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256" or len(hexpart) != 64:
            raise InvalidParameter(f"invalid digest {digest!r}: only sha256 digests are supported")
        return os.path.join(self._blobs, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def write(self, data: bytes, expected: str | None = None) -> str:
        return self.ingest([data], expected)

    def ingest(self, chunks: Iterable[bytes], expected: str | None = None) -> str:
        """Store a stream of chunks; refuse it when ``expected`` is given and does not match."""
        hasher = hashlib.sha256()
        tmp = os.path.join(self._ingest, f"{os.getpid()}-{os.urandom(6).hex()}")
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + hasher.hexdigest()
            if expected and expected != digest:
                raise InvalidParameter(f"digest mismatch: expected {expected}, got {digest}")
            final = self.path(digest)
            if not os.path.exists(final):
                os.rename(tmp, final)
            return digest
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def adopt(self, path: str, digest: str) -> bool:
        """Move in a file, on this file system and synced, whose sha256 (``digest``) the caller computed
        while writing it: a blob gets in by rename instead of a second copy. True when it is new."""
        final = self.path(digest)
        if os.path.exists(final):
            return False
        os.rename(path, final)
        return True

    def staging_dir(self, prefix: str) -> str:
        """A fresh directory name next to the blobs (same file system, so `adopt` can rename)."""
        return os.path.join(self._ingest, f"{prefix}-{os.getpid()}-{os.urandom(6).hex()}")

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def size(self, digest: str) -> int:
        return os.stat(self.path(digest)).st_size
