"""The filesystem storage driver, in CNCF distribution's layout (``docker/registry/v2/...``) so a
data directory written by either registry is read by the other.

Blobs live once, by digest; a repository sees a blob through a link file. Every file a client can
see appears by rename after an fsync, so a killed server leaves either the old state or the new
one: half-written uploads stay under ``_uploads``, which nothing lists.

Leases: every event that makes a blob wanted (an upload committed, a mount, an existence check
before a push, a manifest naming it) records the time in ``leases``; the garbage collector keeps a
blob leased since its mark phase began minus the grace period, which is what lets it run while
pushes go on (containerd's leases, kept by time).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.registry.names import Digest, parse_digest

# How often a lease also refreshes the blob file's mtime, which is what a collector in another
# process (`dockyard registry garbage-collect` beside a running server) can see.
MTIME_REFRESH = 60.0


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int
    path: str


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """temp + fsync + rename + directory fsync; temporary names are unique per writer."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    fsync_dir(directory)


def _read_link(path: str) -> Digest | None:
    try:
        with open(path, encoding="ascii") as f:
            return parse_digest(f.read().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    except Exception:  # noqa: BLE001 - a damaged link is no link
        return None


class Storage:
    def __init__(self, root: str) -> None:
        self.root = root
        self.v2 = os.path.join(root, "docker", "registry", "v2")
        self.blobs_dir = os.path.join(self.v2, "blobs")
        self.repos_dir = os.path.join(self.v2, "repositories")
        os.makedirs(self.blobs_dir, exist_ok=True)
        os.makedirs(self.repos_dir, exist_ok=True)
        self.lock = threading.Lock()
        self.leases: dict[str, float] = {}
        self.pins: dict[str, int] = {}

    # -- paths -----------------------------------------------------------------------------
    def blob_path(self, d: Digest) -> str:
        return os.path.join(self.blobs_dir, d.algorithm, d.hex[:2], d.hex, "data")

    def repo_path(self, name: str) -> str:
        return os.path.join(self.repos_dir, name)

    def layer_link(self, name: str, d: Digest) -> str:
        return os.path.join(self.repos_dir, name, "_layers", d.algorithm, d.hex, "link")

    def revision_link(self, name: str, d: Digest) -> str:
        return os.path.join(self.repos_dir, name, "_manifests", "revisions", d.algorithm, d.hex, "link")

    def tags_dir(self, name: str) -> str:
        return os.path.join(self.repos_dir, name, "_manifests", "tags")

    def tag_link(self, name: str, tag: str) -> str:
        return os.path.join(self.tags_dir(name), tag, "current", "link")

    def referrer_dir(self, name: str, subject: Digest) -> str:
        return os.path.join(self.repos_dir, name, "_referrers", subject.algorithm, subject.hex)

    def uploads_dir(self, name: str) -> str:
        return os.path.join(self.repos_dir, name, "_uploads")

    def upload_dir(self, name: str, upload_id: str) -> str:
        return os.path.join(self.uploads_dir(name), upload_id)

    def check(self) -> None:
        """Raise OSError when the store cannot be listed and written (the health check)."""
        os.listdir(self.blobs_dir)
        probe = os.path.join(self.blobs_dir, f".health-{uuid.uuid4().hex}")
        with open(probe, "wb") as f:
            f.write(b"ok")
        os.unlink(probe)

    # -- leases ----------------------------------------------------------------------------
    def touch(self, d: Digest) -> None:
        now = time.time()
        key = str(d)
        with self.lock:
            previous = self.leases.get(key, 0.0)
            self.leases[key] = now
        if now - previous > MTIME_REFRESH:
            try:
                os.utime(self.blob_path(d))
            except OSError:
                pass

    @contextmanager
    def pinned(self, digests: list[Digest]) -> Iterator[None]:
        """Hold ``digests`` against collection while a manifest naming them (or a mount) is being
        written; releasing leases them at that moment, after the links are on disk, so a collector
        whose walk began earlier keeps them whatever the grace period."""
        keys = [str(d) for d in digests]
        with self.lock:
            for key in keys:
                self.pins[key] = self.pins.get(key, 0) + 1
        try:
            yield
        finally:
            now = time.time()
            with self.lock:
                for key in keys:
                    self.leases[key] = now
                    left = self.pins[key] - 1
                    if left:
                        self.pins[key] = left
                    else:
                        del self.pins[key]

    def leased_since(self, d: Digest, since: float) -> bool:
        return self.leases.get(str(d), 0.0) >= since

    def prune_leases(self, before: float) -> None:
        with self.lock:
            for key in [k for k, t in self.leases.items() if t < before]:
                del self.leases[key]

    # -- blobs -----------------------------------------------------------------------------
    def stat_blob(self, d: Digest) -> BlobInfo | None:
        path = self.blob_path(d)
        try:
            return BlobInfo(d, os.stat(path).st_size, path)
        except OSError:
            return None

    def repo_blob(self, name: str, d: Digest, *, lease: bool = True) -> BlobInfo | None:
        """The blob as repository ``name`` sees it: linked there and present."""
        if not os.path.exists(self.layer_link(name, d)) and not os.path.exists(self.revision_link(name, d)):
            return None
        if lease:
            self.touch(d)
        return self.stat_blob(d)

    def link_blob(self, name: str, d: Digest) -> None:
        self.touch(d)
        path = self.layer_link(name, d)
        if not os.path.exists(path):
            atomic_write(path, str(d).encode())

    def unlink_blob(self, name: str, d: Digest) -> bool:
        try:
            os.unlink(self.layer_link(name, d))
            return True
        except FileNotFoundError:
            return False

    def commit_blob(self, source: str, d: Digest) -> None:
        """Move a verified, fsynced file into place. Two uploads of the same blob both succeed:
        the second rename replaces identical bytes, and readers holding the old file keep it."""
        target = self.blob_path(d)
        directory = os.path.dirname(target)
        with self.lock:
            self.leases[str(d)] = time.time()
            os.makedirs(directory, exist_ok=True)
            if os.path.exists(target):
                os.unlink(source)
                os.utime(target)
                return
            os.rename(source, target)
        fsync_dir(directory)

    def write_blob(self, data: bytes, d: Digest) -> None:
        """Store bytes already verified against ``d`` (manifests)."""
        if self.stat_blob(d) is not None:
            self.touch(d)
            return
        tmp = os.path.join(self.blobs_dir, f".tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.commit_blob(tmp, d)

    def read_blob(self, d: Digest) -> bytes | None:
        try:
            with open(self.blob_path(d), "rb") as f:
                return f.read()
        except OSError:
            return None

    def all_blobs(self) -> Iterator[tuple[Digest, str]]:
        for algorithm in sorted(os.listdir(self.blobs_dir)):
            top = os.path.join(self.blobs_dir, algorithm)
            if algorithm.startswith(".") or not os.path.isdir(top):
                continue
            for prefix in os.listdir(top):
                for hexpart in os.listdir(os.path.join(top, prefix)):
                    try:
                        d = parse_digest(f"{algorithm}:{hexpart}")
                    except Exception:  # noqa: BLE001 - not ours
                        continue
                    yield d, self.blob_path(d)

    def delete_blob_unless_leased(self, d: Digest, since: float) -> bool:
        """Delete an unreferenced blob unless something wanted it at or after ``since``.
        Runs under the lock that commits and leases take, so it never interleaves with them."""
        path = self.blob_path(d)
        with self.lock:
            if self.leases.get(str(d), 0.0) >= since or str(d) in self.pins:
                return False
            try:
                if os.stat(path).st_mtime >= since:
                    return False
                os.unlink(path)
            except FileNotFoundError:
                return False
        directory = os.path.dirname(path)
        try:
            os.rmdir(directory)
        except OSError:
            pass
        return True

    # -- manifests and tags ----------------------------------------------------------------
    def put_manifest(self, name: str, d: Digest, body: bytes) -> None:
        self.write_blob(body, d)
        path = self.revision_link(name, d)
        if not os.path.exists(path):
            atomic_write(path, str(d).encode())

    def has_manifest(self, name: str, d: Digest) -> bool:
        return os.path.exists(self.revision_link(name, d)) and self.stat_blob(d) is not None

    def get_manifest(self, name: str, d: Digest) -> bytes | None:
        if not os.path.exists(self.revision_link(name, d)):
            return None
        return self.read_blob(d)

    def delete_manifest(self, name: str, d: Digest) -> bool:
        """Remove the revision and every tag that points at it (as distribution does)."""
        path = self.revision_link(name, d)
        if not os.path.exists(path):
            return False
        for tag, target in self.tags(name):
            if target == d:
                self.untag(name, tag)
        os.unlink(path)
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        return True

    def delete_manifest_unless_leased(self, name: str, d: Digest, since: float) -> bool:
        """The collector's delete of an untagged manifest, skipped when a push wants it now."""
        with self.lock:
            if self.leases.get(str(d), 0.0) >= since or str(d) in self.pins:
                return False
            if self.tags_pointing_at(name, d):
                return False
            return self.delete_manifest(name, d)

    def tags_pointing_at(self, name: str, d: Digest) -> list[str]:
        return [tag for tag, target in self.tags(name) if target == d]

    def manifests(self, name: str) -> list[Digest]:
        top = os.path.join(self.repos_dir, name, "_manifests", "revisions")
        out = []
        for algorithm in _listdir(top):
            for hexpart in _listdir(os.path.join(top, algorithm)):
                d = _read_link(os.path.join(top, algorithm, hexpart, "link"))
                if d is not None:
                    out.append(d)
        return out

    def set_tag(self, name: str, tag: str, d: Digest) -> None:
        atomic_write(self.tag_link(name, tag), str(d).encode())

    def resolve_tag(self, name: str, tag: str) -> Digest | None:
        return _read_link(self.tag_link(name, tag))

    def untag(self, name: str, tag: str) -> bool:
        directory = os.path.join(self.tags_dir(name), tag)
        if not os.path.exists(os.path.join(directory, "current", "link")):
            return False
        # The link goes first (one atomic step); the emptied directories after.
        os.unlink(os.path.join(directory, "current", "link"))
        shutil.rmtree(directory, ignore_errors=True)
        return True

    def tags(self, name: str) -> list[tuple[str, Digest]]:
        out = []
        for tag in sorted(_listdir(self.tags_dir(name))):
            d = self.resolve_tag(name, tag)
            if d is not None:
                out.append((tag, d))
        return out

    # -- referrers -------------------------------------------------------------------------
    def add_referrer(self, name: str, subject: Digest, referrer: Digest) -> None:
        path = os.path.join(self.referrer_dir(name, subject), referrer.algorithm, referrer.hex, "link")
        if not os.path.exists(path):
            atomic_write(path, str(referrer).encode())

    def remove_referrer(self, name: str, subject: Digest, referrer: Digest) -> None:
        shutil.rmtree(os.path.join(self.referrer_dir(name, subject), referrer.algorithm, referrer.hex),
                      ignore_errors=True)

    def referrers(self, name: str, subject: Digest) -> list[Digest]:
        top = self.referrer_dir(name, subject)
        out = []
        for algorithm in _listdir(top):
            for hexpart in _listdir(os.path.join(top, algorithm)):
                d = _read_link(os.path.join(top, algorithm, hexpart, "link"))
                if d is not None and self.has_manifest(name, d):
                    out.append(d)
        return sorted(out, key=str)

    # -- repositories ----------------------------------------------------------------------
    def repositories(self, having: str = "_manifests") -> list[str]:
        """Every repository with a ``having`` directory (by default: with manifests), sorted (the
        catalog's order). Names are nested directories; ``_``-directories hold a repository's data."""
        out = []
        for directory, subdirs, _files in os.walk(self.repos_dir):
            if having in subdirs:
                out.append(os.path.relpath(directory, self.repos_dir))
            subdirs[:] = [s for s in subdirs if not s.startswith("_")]
        return sorted(out)

    def upload_ids(self, name: str) -> list[str]:
        return _listdir(self.uploads_dir(name))


def _listdir(path: str) -> list[str]:
    try:
        return [n for n in os.listdir(path) if not n.startswith(".")]
    except OSError:
        return []
