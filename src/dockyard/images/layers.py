"""Layer tarballs: decompression, and applying a layer (with whiteouts) onto a directory.

Applying keeps what a layer tar can say about a file: type, mode, owner, hard links, devices,
extended attributes (PAX ``SCHILY.xattr.*`` records, file capabilities among them), sparse
layouts and modification times (directories last, after their contents changed them).
"""

import bz2
import errno
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from dockyard.errors import InvalidParameter

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."
CHUNK = 1 << 20


def is_overlay_xattr(name: str) -> bool:
    """Overlayfs's own bookkeeping (opaque, origin, redirect...): never carried in a layer."""
    return name.startswith(("trusted.overlay.", "user.overlay."))


def decompressed(raw: BinaryIO) -> BinaryIO:
    """Wrap ``raw`` so it reads uncompressed bytes (gzip, bzip2, xz, zstd or plain tar)."""
    peekable: Any = raw if hasattr(raw, "peek") else _Peekable(raw)
    head = peekable.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=peekable, mode="rb"))
    if head.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(peekable, "rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(peekable, "rb"))
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard  # imported here: only zstd layers need it

        # zstandard's reader has no peek(), which every reader returned here offers (docker load uses it).
        reader = zstandard.ZstdDecompressor().stream_reader(peekable, read_across_frames=True)
        return cast(BinaryIO, _Peekable(cast(BinaryIO, reader)))
    return peekable


class _Peekable:
    """A minimal buffered reader with peek(), for streams that lack it (HTTP bodies)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._buf = b""

    def peek(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = self._raw.read(n - len(self._buf))
            if not more:
                break
            self._buf += more
        return self._buf

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data, self._buf = self._buf + self._raw.read(), b""
            return data
        if self._buf:
            data, self._buf = self._buf[:n], self._buf[n:]
            return data
        return self._raw.read(n)

    def readable(self) -> bool:
        return True


class _Hashing:
    """Reads through to ``raw`` and hashes every byte, for checking a DiffID while applying."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hasher = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.hasher.update(data)
        return data

    def drain(self) -> str:
        while self.read(CHUNK):
            pass
        return "sha256:" + self.hasher.hexdigest()


def chunks(reader: BinaryIO) -> Iterator[bytes]:
    while True:
        data = reader.read(CHUNK)
        if not data:
            return
        yield data


def _safe_relpath(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidParameter(f"invalid layer: path {name!r} escapes the root")
    return "/".join(parts)


def _inside(dest: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == dest or real.startswith(dest + "/")


def apply_tar(source: str | BinaryIO, dest: str, *, overlay_whiteouts: bool = True,
              diff_id: str | None = None, idmap=None) -> None:
    """Extract a layer tar (a path or an uncompressed stream) into ``dest``.

    Whiteouts become overlay whiteouts (0/0 character devices, opaque xattrs) when ``dest`` is an
    overlay lower dir, or deletions when it is a flattened copy. With ``diff_id`` the tar's digest
    is checked as it is read; a mismatch raises InvalidParameter (the caller discards ``dest``).
    """
    raw: BinaryIO = open(source, "rb") if isinstance(source, str) else source
    try:
        hashing = _Hashing(raw) if diff_id else None
        reader = cast(BinaryIO, hashing) if hashing is not None else raw
        applier = _Applier(os.path.realpath(dest), overlay_whiteouts)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                if idmap is not None:  # a userns-remapped daemon keeps its layers in the remapped range
                    member.uid, member.gid = idmap.host_uid(member.uid), idmap.host_gid(member.gid)
                applier.apply(tar, member)
        applier.finish()
        if hashing is not None:
            actual = hashing.drain()
            if actual != diff_id:
                raise InvalidParameter(f"layer DiffID mismatch: expected {diff_id}, got {actual}")
    finally:
        if isinstance(source, str):
            raw.close()


def _mtime_ns(member: tarfile.TarInfo, key: str = "mtime") -> int:
    """A PAX time record at full precision (tarfile turns it into a float), else the header's seconds."""
    text = member.pax_headers.get(key)
    if text:
        sign = -1 if text.startswith("-") else 1
        seconds, _, fraction = text.lstrip("-").partition(".")
        try:
            return sign * (int(seconds or "0") * 1_000_000_000 + int((fraction[:9] or "0").ljust(9, "0")))
        except ValueError:
            pass
    return int(member.mtime) * 1_000_000_000


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns; without an atime record the access time is the modification time."""
    mtime = _mtime_ns(member)
    return (_mtime_ns(member, "atime") if "atime" in member.pax_headers else mtime), mtime


class _Applier:
    def __init__(self, dest: str, overlay: bool) -> None:
        self.dest = dest
        self.overlay = overlay
        self.unpacked: set[str] = set()  # paths this layer wrote (an opaque marker keeps them)
        self.whited: set[str] = set()  # paths this layer whited out (a dir re-made there is opaque)
        self.safe_dirs: set[str] = {""}  # real directories (not links) already checked
        self.dir_times: list[tuple[str, int, int]] = []

    # -- paths -------------------------------------------------------------------------
    def _ensure_dir(self, rel: str) -> None:
        """Make sure ``rel`` is a directory inside dest, creating missing parents (0755 as Docker)."""
        if rel in self.safe_dirs:
            return
        parent = rel.rpartition("/")[0]
        self._ensure_dir(parent)
        path = os.path.join(self.dest, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path, 0o755)
            self.safe_dirs.add(rel)
            return
        if stat.S_ISDIR(st.st_mode):
            self.safe_dirs.add(rel)
        elif stat.S_ISLNK(st.st_mode) and _inside(self.dest, path) and os.path.isdir(path):
            pass  # a link to a directory inside the root: fine, but checked again each time
        elif stat.S_ISLNK(st.st_mode):
            raise InvalidParameter(f"invalid layer: {rel!r} is a link that leaves the root")
        else:
            raise InvalidParameter(f"invalid layer: {rel!r} is not a directory but the layer puts files in it")

    def _remove(self, rel: str) -> None:
        path = os.path.join(self.dest, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            prefix = rel + "/"
            self.safe_dirs = {d for d in self.safe_dirs if d != rel and not d.startswith(prefix)}
        elif os.path.lexists(path):
            os.unlink(path)

    # -- entries -----------------------------------------------------------------------
    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _safe_relpath(member.name)
        if not rel:
            return  # the root itself: the snapshot's root keeps its own attributes
        parent, _, base = rel.rpartition("/")
        self._ensure_dir(parent)
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, base)
            return
        path = os.path.join(self.dest, rel)
        existing = os.lstat(path) if os.path.lexists(path) else None
        if member.isdir():
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                self._remove(rel)
                existing = None
            if existing is None:
                os.mkdir(path, 0o700)
                if self.overlay and rel in self.whited:
                    # Deleted and made again in this layer: nothing from below may show through.
                    os.setxattr(path, OPAQUE_XATTR, b"y")
            else:
                _drop_stale_xattrs(path, member)
            self.safe_dirs.add(rel)
            self._attributes(path, member)
            self.dir_times.append((path, *_times(member)))
            self.unpacked.add(rel)
            return
        if existing is not None:
            self._remove(rel)
        if member.islnk():
            self._hardlink(rel, member)
        else:
            self._create(tar, member, path)
            self._attributes(path, member)
            os.utime(path, ns=_times(member), follow_symlinks=False)
        self.unpacked.add(rel)

    def _create(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        if member.issym():
            os.symlink(member.linkname, path)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        elif member.isreg() or member.type not in tarfile.SUPPORTED_TYPES:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                if member.sparse is not None:
                    _copy_sparse(tar, member, out)
                else:
                    data = tar.extractfile(member)
                    assert data is not None  # a regular member always has a reader
                    with data:
                        shutil.copyfileobj(data, out, CHUNK)
        else:
            raise InvalidParameter(f"invalid layer: {member.name!r} has an unsupported type {member.type!r}")

    def _hardlink(self, rel: str, member: tarfile.TarInfo) -> None:
        target_rel = _safe_relpath(member.linkname)
        target = os.path.join(self.dest, target_rel)
        if not _inside(self.dest, os.path.dirname(target)) or not os.path.lexists(target):
            raise InvalidParameter(f"invalid layer: hard link {member.name!r} points to {member.linkname!r}, "
                                   "which is not in the layer")
        os.link(target, os.path.join(self.dest, rel), follow_symlinks=False)

    @staticmethod
    def _attributes(path: str, member: tarfile.TarInfo) -> None:
        """Owner, then mode (chown clears set-id bits), then xattrs (chown also drops capabilities)."""
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if not key.startswith(XATTR_PAX_PREFIX):
                continue
            name = key[len(XATTR_PAX_PREFIX):]
            if is_overlay_xattr(name):
                continue
            try:
                os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError as exc:
                # As Docker: a filesystem that cannot hold the attribute does not fail the layer.
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def _whiteout(self, parent: str, base: str) -> None:
        parent_path = os.path.join(self.dest, parent)
        if base == OPAQUE_WHITEOUT:
            # Everything below from lower layers goes; what this layer put there stays.
            prefix = parent + "/" if parent else ""
            for entry in os.listdir(parent_path):
                if prefix + entry not in self.unpacked:
                    self._remove(prefix + entry)
            if self.overlay:
                os.setxattr(parent_path, OPAQUE_XATTR, b"y")
            return
        victim = os.path.join(parent, base[len(WHITEOUT_PREFIX):]) if parent else base[len(WHITEOUT_PREFIX):]
        if victim in self.unpacked:  # deleted and re-created in this layer: the new content wins
            victim_path = os.path.join(self.dest, victim)
            if self.overlay and os.path.isdir(victim_path) and not os.path.islink(victim_path):
                os.setxattr(victim_path, OPAQUE_XATTR, b"y")
            return
        self._remove(victim)
        if self.overlay:
            os.mknod(os.path.join(self.dest, victim), stat.S_IFCHR | 0o000, os.makedev(0, 0))
        self.whited.add(victim)

    def finish(self) -> None:
        # Deepest last-written first does not matter: a directory's time only moves when its
        # own entries change, and every entry is in place now.
        for path, atime, mtime in reversed(self.dir_times):
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)


def _drop_stale_xattrs(path: str, member: tarfile.TarInfo) -> None:
    """A directory entry states all of the directory's attributes: ones it does not list go."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if not is_overlay_xattr(name) and XATTR_PAX_PREFIX + name not in member.pax_headers:
            try:
                os.removexattr(path, name, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM, errno.ENODATA):
                    raise


def _copy_sparse(tar: tarfile.TarFile, member: tarfile.TarInfo, out: BinaryIO) -> None:
    """Write only the data regions of a sparse member, which the archive stores back to back; the
    holes stay holes. Reads the archive forward only, so it works on streams."""
    tar.fileobj.seek(member.offset_data)
    for offset, length in cast(list[tuple[int, int]], member.sparse):  # typeshed says bytes
        out.seek(offset)
        remaining = length
        while remaining:
            block = tar.fileobj.read(min(CHUNK, remaining))
            if not block:
                raise InvalidParameter(f"invalid layer: {member.name!r} ends early")
            out.write(block)
            remaining -= len(block)
    out.truncate(member.size)
