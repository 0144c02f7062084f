"""Content-addressed blob store: blobs named by their sha256 digest, verified on write.

Blobs get in whole (``ingest``, ``write``) or through a resumable ingest (``writer``), containerd's
content.Writer: opened by a ref, written at its offset, its status (offset, start, last write)
readable at any time, committed once against the digest and size the writer names. The bytes of
an ingest are on disk under its ref, so one left by a client that went away, or by a daemon that
stopped, resumes where its data ends. ``Ingest`` works on any directory, which is how the registry
server keeps its upload sessions in distribution's layout.
"""

import calendar
import hashlib
import os
import shutil
import time
from collections.abc import Iterable
from typing import BinaryIO

from dockyard.errors import Conflict, InvalidParameter, NotFound

CHUNK = 1 << 20
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # startedat, as distribution writes it for its uploads


class DigestMismatch(InvalidParameter):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected, self.actual = expected, actual


class IngestStatus:
    """Where an ingest stands: ``offset`` bytes written, started and last written at (unix times)."""

    __slots__ = ("ref", "offset", "started_at", "updated_at")

    def __init__(self, ref: str, offset: int, started_at: float, updated_at: float) -> None:
        self.ref, self.offset, self.started_at, self.updated_at = ref, offset, started_at, updated_at

    def __repr__(self) -> str:
        return f"IngestStatus(ref={self.ref!r}, offset={self.offset})"


class Ingest:
    """One ingest in ``directory``: its bytes in ``data``, when it began in ``startedat``. The
    sha256 state follows the writes in memory and is rebuilt from ``data`` when an ingest is
    reopened (after a restart). Not safe for two writers at once: the owner serialises them."""

    def __init__(self, directory: str, ref: str, started_at: float) -> None:
        self.directory = directory
        self.ref = ref
        self.started_at = started_at
        self.offset = 0
        self._sha256 = hashlib.sha256()
        self._file: BinaryIO | None = None

    @property
    def data(self) -> str:
        return os.path.join(self.directory, "data")

    @classmethod
    def create(cls, directory: str, ref: str) -> "Ingest":
        os.makedirs(directory)
        started = time.time()
        open(os.path.join(directory, "data"), "wb").close()
        _write_synced(os.path.join(directory, "startedat"), time.strftime(_TIME_FORMAT, time.gmtime(started)).encode())
        return cls(directory, ref, started)

    @classmethod
    def resume(cls, directory: str, ref: str) -> "Ingest":
        """The ingest in ``directory`` as it was left (NotFound when there is none)."""
        try:
            with open(os.path.join(directory, "startedat"), encoding="ascii") as f:
                started = float(calendar.timegm(time.strptime(f.read().strip(), _TIME_FORMAT)))
        except (OSError, ValueError):
            try:
                started = os.stat(directory).st_mtime
            except FileNotFoundError:
                raise NotFound(f"no ingest {ref!r}") from None
        ingest = cls(directory, ref, started)
        try:
            with open(ingest.data, "rb") as f:
                while chunk := f.read(CHUNK):
                    ingest._sha256.update(chunk)
                    ingest.offset += len(chunk)
        except FileNotFoundError:
            raise NotFound(f"no ingest {ref!r}") from None
        return ingest

    def status(self) -> IngestStatus:
        try:
            updated = os.stat(self.data).st_mtime
        except FileNotFoundError:
            updated = self.started_at
        return IngestStatus(self.ref, self.offset, self.started_at, updated)

    def write(self, data: bytes) -> int:
        """Append ``data`` at the offset."""
        if self._file is None:
            self._file = open(self.data, "ab")
        self._file.write(data)
        self._sha256.update(data)
        self.offset += len(data)
        return len(data)

    def write_at(self, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset``: the end of what is there (a resumed ingest), or before it,
        which drops what followed. A gap is refused."""
        if offset > self.offset:
            raise InvalidParameter(f"ingest {self.ref}: cannot write at {offset}, its data ends at {self.offset}")
        if offset < self.offset:
            self.truncate(offset)
        return self.write(data)

    def truncate(self, size: int) -> None:
        """Keep the first ``size`` bytes (containerd's Writer.Truncate), the hash state with them."""
        if not 0 <= size <= self.offset:
            raise InvalidParameter(f"ingest {self.ref}: cannot truncate to {size} of {self.offset} bytes")
        self.close()
        os.truncate(self.data, size)
        self._sha256, self.offset = hashlib.sha256(), 0
        with open(self.data, "rb") as f:
            while self.offset < size and (chunk := f.read(min(CHUNK, size - self.offset))):
                self._sha256.update(chunk)
                self.offset += len(chunk)

    def close(self) -> None:
        """Flush what was written (the ingest stays, to be resumed or committed)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def digest(self, algorithm: str = "sha256") -> str:
        """The digest of what is written so far (sha256 from the running state, others by reading)."""
        self.close()
        if algorithm == "sha256":
            return "sha256:" + self._sha256.hexdigest()
        hasher = hashlib.new(algorithm)
        with open(self.data, "rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        return f"{algorithm}:{hasher.hexdigest()}"

    def verify(self, size: int | None, expected: str) -> str:
        """Synced to disk and checked: ``size`` bytes (when given) whose digest is ``expected``
        ("algorithm:hex"); the digest, or SizeMismatch / DigestMismatch."""
        self.close()
        fd = os.open(self.data, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if size is not None and size != self.offset:
            raise InvalidParameter(f"ingest {self.ref}: unexpected commit size {self.offset}, expected {size}")
        algorithm = expected.partition(":")[0]
        if algorithm not in hashlib.algorithms_available:
            raise InvalidParameter(f"invalid digest {expected!r}: unknown algorithm")
        actual = self.digest(algorithm)
        if actual != expected:
            raise DigestMismatch(expected, actual)
        return actual

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _write_synced(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._blobs = os.path.join(root, "blobs", "sha256")
        self._ingest = os.path.join(root, "ingest")
        self._refs = os.path.join(self._ingest, "refs")  # resumable ingests, by the sha256 of their ref
        self._open: dict[str, Ingest] = {}
        os.makedirs(self._blobs, exist_ok=True)
        os.makedirs(self._refs, exist_ok=True)
        self._sweep_ingest()

    def _sweep_ingest(self) -> None:
        """Drop what a crash left half-written (one-shot ingests, staged archives): at start-up none
        is in use. Ingests opened by a ref stay, to be resumed."""
        for name in os.listdir(self._ingest):
            if name == "refs":
                continue
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

    # -- resumable ingests (containerd's content.Writer) --------------------------------------
    def _ref_dir(self, ref: str) -> str:
        if not ref:
            raise InvalidParameter("an ingest needs a ref")
        return os.path.join(self._refs, hashlib.sha256(ref.encode()).hexdigest())

    def writer(self, ref: str) -> Ingest:
        """The ingest named ``ref``, resumed where its data ends, or a new one. One writer at a
        time: until it is closed (``release``), committed or aborted, another is refused."""
        if ref in self._open:
            raise Conflict(f"ingest {ref!r} is locked: another writer has it open")
        directory = self._ref_dir(ref)
        if os.path.isdir(directory):
            ingest = Ingest.resume(directory, ref)
        else:
            ingest = Ingest.create(directory, ref)
            _write_synced(os.path.join(directory, "ref"), ref.encode())
        self._open[ref] = ingest
        return ingest

    def release(self, ingest: Ingest) -> None:
        """Stop writing for now: what was written stays, for ``writer(ref)`` to resume."""
        ingest.close()
        if self._open.get(ingest.ref) is ingest:
            del self._open[ingest.ref]

    def commit(self, ingest: Ingest, size: int | None, expected: str) -> str:
        """Verify the ingest (``size`` bytes, sha256 digest ``expected``) and move it in as a blob.
        The ingest is gone afterwards, whatever the outcome of the check."""
        try:
            digest = ingest.verify(size, expected)
            self.path(digest)  # a sha256 digest: the only kind this store holds
            self.adopt(ingest.data, digest)
            return digest
        finally:
            self.release(ingest)
            ingest.discard()

    def abort(self, ref: str) -> None:
        """Drop the ingest ``ref`` and what it wrote."""
        ingest = self._open.pop(ref, None)
        if ingest is not None:
            ingest.close()
        shutil.rmtree(self._ref_dir(ref), ignore_errors=True)

    def status(self, ref: str) -> IngestStatus:
        ingest = self._open.get(ref)
        if ingest is not None:
            return ingest.status()
        directory = self._ref_dir(ref)
        if not os.path.isdir(directory):
            raise NotFound(f"no ingest {ref!r}")
        return Ingest.resume(directory, ref).status()

    def statuses(self) -> list[IngestStatus]:
        """Every ingest in progress (open or left to resume)."""
        found = []
        for name in sorted(os.listdir(self._refs)):
            try:
                with open(os.path.join(self._refs, name, "ref"), encoding="utf-8") as f:
                    found.append(self.status(f.read()))
            except (OSError, NotFound):
                continue  # removed meanwhile, or not finished being created
        return found
