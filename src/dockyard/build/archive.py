"""The build context in the daemon: the tar as it was received, indexed by name and read in place.

Docker's classic builder unpacks the context into a directory first. Dockyard keeps the tar (in
memory, or for a large context in a temporary file mapped into memory) and indexes its members by
name and offset: a cached rebuild then costs one pass over the headers and a checksum of what
COPY reads, and no file is written or removed. `ArchiveView` gives COPY the same view interface as
an image's layers (fsview.FSView). Only ADD with a local tar archive among its sources unpacks
the context to disk (`directory()`), once per build.
"""

from __future__ import annotations

import io
import mmap
import os
import posixpath
import stat
import tarfile
import tempfile
import threading
from typing import BinaryIO, cast

from dockyard.build import ignore
from dockyard.build.context import archive_head
from dockyard.build.fsview import FSView
from dockyard.errors import InvalidParameter

BLOCK = 512
MEMORY_LIMIT = 64 << 20  # contexts up to this size stay in memory; larger ones go to a temporary file
_DIR = stat.S_IFDIR | 0o755


class Spool:
    """A context's bytes as they arrive: in memory up to ``limit``, then in a temporary file."""

    def __init__(self, tmp_dir: str, limit: int = MEMORY_LIMIT) -> None:
        self.tmp_dir = tmp_dir
        self.limit = limit
        self.pieces: list[bytes] = []
        self.size = 0
        self.file: BinaryIO | None = None

    def blocks(self, n: int) -> bool:
        """Whether writing ``n`` more bytes touches the disk (the event loop then writes from a thread)."""
        return self.file is not None or self.size + n > self.limit

    def write(self, data: bytes) -> None:
        if self.file is None and self.size + len(data) > self.limit:
            self.file = tempfile.TemporaryFile(dir=self.tmp_dir)
            self.file.writelines(self.pieces)
            self.pieces = []
        if self.file is not None:
            self.file.write(data)
        else:
            self.pieces.append(data)
        self.size += len(data)

    def copy_from(self, source: BinaryIO) -> None:
        while data := source.read(1 << 20):
            self.write(data)

    def buffer(self):
        """The bytes received: ``bytes``, or an mmap of the temporary file (closed with it)."""
        if self.file is None:
            data = b"".join(self.pieces)
            self.pieces = []
            return data
        self.file.flush()
        if self.size == 0:
            return b""
        return mmap.mmap(self.file.fileno(), self.size, prot=mmap.PROT_READ)

    def close(self) -> None:
        self.pieces = []
        if self.file is not None:
            self.file.close()


class Member:
    __slots__ = ("name", "mode", "uid", "gid", "mtime", "offset", "size", "linkname", "data")

    def __init__(self, name: str, mode: int, uid: int = 0, gid: int = 0, mtime: int = 0, offset: int = 0,
                 size: int = 0, linkname: str = "", data: bytes | None = None) -> None:
        self.name = name
        self.mode = mode  # with the file-type bits, as st_mode
        self.uid, self.gid, self.mtime = uid, gid, mtime
        self.offset, self.size = offset, size  # of a regular file's content in the buffer
        self.linkname = linkname  # a symlink's target
        self.data = data  # content kept aside (sparse members)

    def stat(self) -> os.stat_result:
        return os.stat_result((self.mode, 0, 0, 1, self.uid, self.gid, self.size, self.mtime, self.mtime,
                               self.mtime))


# A member's header: name, kind, mode, uid, gid, mtime, content offset, size, link target, sparse data.
_Header = tuple[str, int, int, int, int, int, int, int, str, bytes | None]


class ContextArchive:
    """An indexed context tar. Build it with ``open_context``; ``close()`` when the build is done."""

    def __init__(self, buffer, spool: Spool | None = None) -> None:
        self._buffer = buffer
        self._view = memoryview(buffer)
        self._spool = spool  # owns the temporary file behind an mmap
        self.members: dict[str, Member] = {"": Member("", _DIR)}
        self.children: dict[str, set[str]] = {"": set()}
        self._directory: str | None = None
        self._lock = threading.Lock()

    # -- building the index ------------------------------------------------------------------
    def index(self) -> None:
        headers = _ustar_headers(self._view)
        if headers is None:  # PAX or GNU extensions, sparse files: tarfile reads those
            headers = self._tarfile_headers()
        links: list[tuple[str, Member, str]] = []
        for header in headers:
            self._add(*header, links)
        for name, member, target in links:
            found = self.members.get(target)
            if found is None or not stat.S_ISREG(found.mode):
                raise InvalidParameter(f"build context link {name!r} points to {target!r}, which is not a file "
                                       "before it in the context")
            member.offset, member.size, member.data = found.offset, found.size, found.data
            member.mode = stat.S_IFREG | stat.S_IMODE(member.mode)

    def _tarfile_headers(self) -> list[_Header]:
        out: list[_Header] = []
        try:
            with tarfile.open(fileobj=io.BytesIO(self._buffer) if isinstance(self._buffer, bytes)
                              else self._buffer, mode="r:") as tar:
                for info in tar:
                    reader = tar.extractfile(info) if info.isreg() and info.issparse() else None
                    data = reader.read() if reader is not None else None
                    out.append((info.name, _TYPES.get(info.type, 0), info.mode, info.uid, info.gid,
                                int(info.mtime), info.offset_data, info.size, info.linkname, data))
        except tarfile.ReadError as exc:
            if not self._buffer or str(exc) == "empty file":
                return []  # an empty body: an empty context (the Dockerfile will be missing)
            raise InvalidParameter(f"the build context is not a valid tar archive: {exc}") from None
        except tarfile.TarError as exc:
            raise InvalidParameter(f"the build context is not a valid tar archive: {exc}") from None
        return out

    def _add(self, raw_name: str, kind: int, mode: int, uid: int, gid: int, mtime: int, offset: int, size: int,
             linkname: str, data: bytes | None, links: list) -> None:
        name = _clean(raw_name, raw_name)
        if name is None or not kind:
            return  # the root, or a device (not part of a context)
        hardlink = kind == _HARDLINK
        if hardlink:
            kind = stat.S_IFREG
        regular = kind == stat.S_IFREG and not hardlink
        if regular and data is None and offset + size > len(self._view):
            raise InvalidParameter(f"the build context is not a valid tar archive: {raw_name!r} is cut short")
        member = Member(name, kind | (mode & 0o7777), uid, gid, mtime, offset, size if regular else 0,
                        linkname if kind == stat.S_IFLNK else "", data)
        if hardlink:
            target = _clean(linkname, raw_name)
            if not target:
                raise InvalidParameter(f"build context link {raw_name!r} points outside the context")
            links.append((name, member, target))
        self._parents(name)
        old = self.members.get(name)
        if old is not None and stat.S_ISDIR(old.mode) and kind != stat.S_IFDIR:
            self._drop(name)
        self.members[name] = member
        if kind == stat.S_IFDIR:
            self.children.setdefault(name, set())

    def _parents(self, name: str) -> None:
        parent, _, base = name.rpartition("/")
        while True:
            found = self.members.get(parent)
            if found is None or not stat.S_ISDIR(found.mode):
                # A missing directory (or a file a later entry puts things under, as unpacking would
                # replace it) becomes a plain directory.
                self.members[parent] = Member(parent, _DIR)
                self.children[parent] = set()
            self.children[parent].add(base)
            if found is not None:
                return
            parent, _, base = parent.rpartition("/")

    # -- reading -------------------------------------------------------------------------------
    def get(self, name: str) -> Member | None:
        return self.members.get(name)

    def content(self, member: Member):
        """A regular file's bytes, without copying them (a memoryview into the buffer)."""
        if member.data is not None:
            return member.data
        return self._view[member.offset:member.offset + member.size]

    def read_text(self, name: str) -> str | None:
        member = self.members.get(name)
        if member is None or not stat.S_ISREG(member.mode):
            return None
        return bytes(self.content(member)).decode("utf-8", "replace")

    def listdir(self, name: str) -> list[str]:
        return sorted(self.children.get(name, ()))

    def remove(self, name: str) -> None:
        """Leave an entry out of the context (what .dockerignore lists among the files sent to be read)."""
        if name not in self.members or not name:
            return
        self._drop(name)
        parent, _, base = name.rpartition("/")
        self.children.get(parent, set()).discard(base)

    def _drop(self, name: str) -> None:
        for child in self.children.pop(name, set()):
            self._drop(f"{name}/{child}")
        self.members.pop(name, None)

    def directory(self, parent: str) -> str:
        """The context unpacked under ``parent`` (once per build), for the few steps that need files."""
        with self._lock:
            if self._directory is None:
                target = tempfile.mkdtemp(prefix="context-", dir=parent)
                self._unpack(target)
                self._directory = target
            return self._directory

    def _unpack(self, target: str) -> None:
        for name in sorted(self.members, key=lambda n: n.split("/")):
            if not name:
                continue
            member = self.members[name]
            path = os.path.join(target, name)
            kind = stat.S_IFMT(member.mode)
            if kind == stat.S_IFDIR:
                os.makedirs(path, exist_ok=True)
            elif kind == stat.S_IFLNK:
                os.symlink(member.linkname, path)
            elif kind == stat.S_IFIFO:
                os.mkfifo(path)
            else:
                with open(path, "wb") as f:
                    f.write(self.content(member))
            os.lchown(path, member.uid, member.gid)
            if kind != stat.S_IFLNK:
                os.chmod(path, stat.S_IMODE(member.mode))
        for name in sorted(self.members, key=lambda n: n.split("/"), reverse=True):
            member = self.members[name]
            if name and not stat.S_ISLNK(member.mode):
                os.utime(os.path.join(target, name), (member.mtime, member.mtime))

    def close(self) -> None:
        """Release the buffer (again is harmless); an unpacked copy goes with the build's work directory."""
        self._view.release()
        if isinstance(self._buffer, mmap.mmap):
            try:
                self._buffer.close()
            except BufferError:
                pass  # a step still holds a view: the mapping goes with the last one
        if self._spool is not None:
            self._spool.close()


_HARDLINK = -1
_TYPES = {tarfile.REGTYPE: stat.S_IFREG, tarfile.AREGTYPE: stat.S_IFREG, tarfile.CONTTYPE: stat.S_IFREG,
          tarfile.DIRTYPE: stat.S_IFDIR, tarfile.SYMTYPE: stat.S_IFLNK, tarfile.LNKTYPE: _HARDLINK,
          tarfile.FIFOTYPE: stat.S_IFIFO, tarfile.GNUTYPE_SPARSE: stat.S_IFREG}
_ZERO_BLOCK = bytes(BLOCK)


def _ustar_headers(view: memoryview) -> list[_Header] | None:
    """The headers of a plain USTAR (or old GNU) tar, read directly: a few microseconds each where
    tarfile takes tens. None when the tar uses anything else (PAX, GNU long names, base-256
    numbers, a bad checksum), for tarfile to read or to reject."""
    out: list[_Header] = []
    offset = 0
    end = len(view)
    try:
        while offset + BLOCK <= end:
            raw = bytes(view[offset:offset + BLOCK])
            if raw == _ZERO_BLOCK:
                return out
            if raw[156:157] not in _FAST_TYPES or raw[124] & 0x80 or raw[136] & 0x80:
                return None
            if _octal(raw[148:156]) != sum(raw[:148]) + 256 + sum(raw[156:]):
                return None
            name = raw[:100].split(b"\0", 1)[0]
            if raw[257:263] == b"ustar\0" and raw[345] != 0:
                name = raw[345:500].split(b"\0", 1)[0] + b"/" + name
            kind = _TYPES.get(raw[156:157], 0)
            if raw[156] == 0 and name.endswith(b"/"):
                kind = stat.S_IFDIR  # old tars mark directories by the name alone
            size = _octal(raw[124:136])
            out.append((name.decode("utf-8", "surrogateescape"), kind, _octal(raw[100:108]), _octal(raw[108:116]),
                        _octal(raw[116:124]), _octal(raw[136:148]), offset + BLOCK, size,
                        raw[157:257].split(b"\0", 1)[0].decode("utf-8", "surrogateescape"), None))
            offset += BLOCK
            if kind == stat.S_IFREG:
                offset += size + (-size % BLOCK)
    except ValueError:
        return None
    return out if out or end == 0 else None


_FAST_TYPES = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
               tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE}


def _octal(field: bytes) -> int:
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _clean(name: str, original: str) -> str | None:
    """A member name as a path inside the context (no leading slash), None for the root; names
    that leave the context are refused."""
    clean = posixpath.normpath("/" + name).lstrip("/")
    relative = posixpath.normpath(name.lstrip("/"))
    if relative == ".." or relative.startswith("../"):
        raise InvalidParameter(f"build context entry {original!r} points outside the context")
    return clean or None


def open_context(spool: Spool) -> ContextArchive:
    """Index what ``spool`` received, decompressing it first when it is gzip, bzip2 or xz."""
    buffer = spool.buffer()
    head = bytes(buffer[:6])
    if archive_head(head) and not head.startswith(b"ustar"):
        from dockyard.images.layers import decompressed

        plain = Spool(spool.tmp_dir, spool.limit)
        try:
            source = io.BytesIO(buffer) if isinstance(buffer, bytes) else cast(BinaryIO, _MmapReader(buffer))
            plain.copy_from(decompressed(source))
        except (OSError, EOFError, ValueError) as exc:
            plain.close()
            raise InvalidParameter(f"the build context is not a valid compressed tar archive: {exc}") from None
        finally:
            if isinstance(buffer, mmap.mmap):
                buffer.close()
            spool.close()
        spool, buffer = plain, plain.buffer()
    archive = ContextArchive(buffer, spool)
    try:
        archive.index()
    except BaseException:
        archive.close()
        raise
    return archive


class _MmapReader(io.RawIOBase):
    def __init__(self, buffer: mmap.mmap) -> None:
        super().__init__()
        self._buffer = buffer

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        data = self._buffer.read(len(target))
        target[:len(data)] = data
        return len(data)


class ArchiveView(FSView):
    """The context as COPY and ADD see it: the same interface as an image's layers."""

    def __init__(self, archive: ContextArchive) -> None:
        super().__init__([], plain=True)
        self.archive = archive

    def find(self, rel: str) -> str | None:
        rel = rel.strip("/")
        return rel if rel in self.archive.members else None

    def lstat(self, rel: str) -> os.stat_result | None:
        member = self.archive.get(rel.strip("/"))
        return member.stat() if member is not None else None

    def listdir(self, rel: str) -> list[str]:
        return self.archive.listdir(rel.strip("/"))

    def readlink(self, rel: str) -> str:
        return self.archive.members[rel.strip("/")].linkname

    def content(self, rel: str):
        return self.archive.content(self.archive.members[rel.strip("/")])

    def head(self, rel: str, n: int) -> bytes:
        return bytes(self.content(rel)[:n])


def remove_ignored(archive: ContextArchive, dockerfile: str) -> None:
    """As Docker's daemon: the Dockerfile and .dockerignore were sent to be read; when .dockerignore
    lists them they are not part of the context that COPY sees."""
    text = archive.read_text(".dockerignore")
    if not text:
        return
    matcher = ignore.Matcher(ignore.parse(text))
    for name in (dockerfile, ".dockerignore"):
        name = posixpath.normpath(name)
        if name in archive.members and matcher.excluded(name):
            archive.remove(name)


def extract(source: BinaryIO, target: str) -> None:
    """Unpack a (maybe compressed) tar into ``target`` (ADD's local archives); entries leaving it are refused."""
    from dockyard.images.layers import decompressed

    real = os.path.realpath(target)
    try:
        with tarfile.open(fileobj=decompressed(source), mode="r|") as tar:
            for member in tar:
                name = _clean(member.name, member.name)
                if name is None:
                    continue
                member.name = name
                if member.islnk():
                    link = _clean(member.linkname, member.name)
                    if not link:
                        raise InvalidParameter(f"archive link {member.name!r} points outside the archive")
                    member.linkname = link
                if member.isdev():
                    continue
                dest = os.path.join(real, name)
                if not os.path.realpath(os.path.dirname(dest)).startswith(real):
                    raise InvalidParameter(f"archive entry {member.name!r} points outside the archive")
                tar.extract(member, real, set_attrs=True, numeric_owner=True)
    except tarfile.TarError as exc:
        raise InvalidParameter(f"not a valid tar archive: {exc}") from None
