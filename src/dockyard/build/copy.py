"""COPY and ADD as a layer tar made straight from the source, without a container.

Docker's classic builder copies into a container's root and commits it; the result is the same
layer, so Dockyard writes that layer directly: the copied entries under the destination, plus
the destination's parent directories (existing ones with the image's metadata, new ones 0755 and
owned by --chown or root). This is faster (no container, no diff walk) and lets the step's cache
key be a checksum of exactly what would be written (names, types, modes, owners, link targets and
content; not modification times, as Docker's tarsum leaves them out).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO

from dockyard.build.context import archive_head
from dockyard.build.fsview import FSView
from dockyard.errors import InvalidParameter
from dockyard.util.tarstream import TarWriter, read_chunks

_WILDCARDS = set("*?[")


@dataclass
class Entry:
    name: str  # path in the layer, no leading slash
    kind: str  # "dir" | "file" | "link" | "fifo"
    mode: int  # permission bits
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    source: str = ""  # host path of a file's content
    data: bytes | memoryview | None = None  # or the content itself (heredocs, the build context's files)
    linkname: str = ""
    digest: str = field(default="", repr=False)

    def size(self) -> int:
        if self.kind != "file":
            return 0
        return len(self.data) if self.data is not None else os.lstat(self.source).st_size

    def content_digest(self) -> str:
        if self.kind != "file":
            return ""
        if not self.digest:
            h = hashlib.sha256()
            if self.data is not None:
                h.update(self.data)
            else:
                with open(self.source, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            self.digest = h.hexdigest()
        return self.digest


@dataclass
class Source:
    """One source as written: a path (maybe with wildcards) in a view, or inline content."""

    path: str
    data: bytes | None = None  # a heredoc's content
    mode: int = 0o644


@dataclass
class CopyPlan:
    entries: list[Entry]
    label: str  # "file:<hex>", "dir:<hex>" or "multi:<hex>", for the history's CreatedBy
    checksum: str  # of every entry's metadata and content: the step's cache key part


def _has_wildcard(path: str) -> bool:
    return any(c in _WILDCARDS for c in path)


def _match(view: FSView, pattern: str) -> list[str]:
    """Go filepath.Match per path component against the view's tree."""
    parts = [p for p in pattern.split("/") if p]
    found = [""]
    for part in parts:
        nxt = []
        for base in found:
            if not _has_wildcard(part):
                candidate = f"{base}/{part}" if base else part
                if view.lstat(candidate) is not None:
                    nxt.append(candidate)
                continue
            st = view.lstat(base) if base else None
            if base and (st is None or not stat.S_ISDIR(st.st_mode)):
                continue
            for name in view.listdir(base):
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(f"{base}/{name}" if base else name)
        found = nxt
    return sorted(found)


def _kind(st: os.stat_result) -> str | None:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISFIFO(st.st_mode):
        return "fifo"
    return None  # devices and sockets are not copied


def set_content(entry: Entry, view: FSView, rel: str) -> None:
    """Point a file entry at its content: a host path, or bytes an archive view holds."""
    content = view.content(rel)
    if isinstance(content, str):
        entry.source = content
    else:
        entry.data = content


class Copier:
    def __init__(self, src: FSView, dest: FSView, *, chown: tuple[int, int] | None, chmod: int | None,
                 now: int, keep_owner: bool = False) -> None:
        self.src = src
        self.dest = dest
        self.chown = chown
        self.chmod = chmod
        self.now = now
        self.keep_owner = keep_owner  # ADD's archives keep their owners unless --chown says otherwise
        self.entries: dict[str, Entry] = {}

    def owner(self, st: os.stat_result | None) -> tuple[int, int]:
        if self.chown is not None:
            return self.chown
        if self.keep_owner and st is not None:
            return st.st_uid, st.st_gid
        return 0, 0

    def _mode(self, st: os.stat_result) -> int:
        return self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)

    def add_path(self, rel: str, dest: str) -> None:
        """The entry at ``rel`` in the source view as ``dest``; a directory's contents go under it."""
        st = self.src.lstat_existing(rel)
        kind = _kind(st)
        if kind is None:
            return
        uid, gid = self.owner(st)
        entry = Entry(dest, kind, self._mode(st), uid, gid, int(st.st_mtime))
        if kind == "file":
            set_content(entry, self.src, rel)
        elif kind == "link":
            entry.linkname = self.src.readlink(rel)
            entry.mode = 0o777
        if kind == "dir":
            existing = self.dest.lstat(dest)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                entry = self._existing_dir(dest, existing)
            self.entries[dest] = entry
            for name in self.src.listdir(rel):
                self.add_path(f"{rel}/{name}" if rel else name, f"{dest}/{name}" if dest else name)
            return
        self.entries[dest] = entry

    def add_data(self, dest: str, data: bytes, mode: int) -> None:
        uid, gid = self.owner(None)
        self.entries[dest] = Entry(dest, "file", self.chmod if self.chmod is not None else mode, uid, gid,
                                   self.now, data=data)

    def _existing_dir(self, name: str, st: os.stat_result) -> Entry:
        return Entry(name, "dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime))

    def dest_is_dir(self, dest: str) -> bool:
        st = self.dest.lstat(dest)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def finish(self) -> list[Entry]:
        """The entries with their missing parent directories, parents first."""
        for name in list(self.entries):
            parent = posixpath.dirname(name)
            while parent and parent not in self.entries:
                existing = self.dest.lstat(parent)
                if existing is not None and stat.S_ISDIR(existing.st_mode):
                    self.entries[parent] = self._existing_dir(parent, existing)
                else:
                    uid, gid = self.chown or (0, 0)
                    self.entries[parent] = Entry(parent, "dir", 0o755, uid, gid, self.now)
                parent = posixpath.dirname(parent)
        return [self.entries[k] for k in sorted(self.entries, key=lambda n: n.split("/"))]


def plan(copier: Copier, sources: list[Source], dest: str, *, instruction: str, context_name: str,
         archives: list[str] | None = None) -> CopyPlan:
    """Docker's rules: several sources (or a wildcard) need a directory destination ending in "/";
    a directory source copies its contents; a file goes into an existing directory or a "/" dest.

    ``dest`` is absolute and clean, with the trailing slash as written; ``archives`` are
    directories ADD unpacked archives into (their contents are copied as a directory's).
    """
    dest_dir_syntax = dest.endswith("/") or dest.endswith("/.")
    target = copier.dest.resolve(dest.rstrip("/") or "/")
    expanded: list[tuple[Source, str]] = []
    for source in sources:
        if source.data is not None:
            expanded.append((source, ""))
            continue
        rel = posixpath.normpath("/" + source.path).lstrip("/")
        if _has_wildcard(rel):
            matches = _match(copier.src, rel)
            if not matches:
                raise InvalidParameter(f"{instruction} failed: no source files were specified")
            expanded += [(source, m) for m in matches]
            continue
        resolved = copier.src.resolve(rel) if rel else ""
        if rel and copier.src.lstat(resolved) is None:
            raise InvalidParameter(f"{instruction} failed: file not found in {context_name}: stat {source.path}: "
                                   "file does not exist")
        expanded.append((source, resolved))
    if len(expanded) > 1 and not dest_dir_syntax:
        raise InvalidParameter(f"When using {instruction} with more than one source file, the destination must be "
                               "a directory and end with a /")
    archive_set = set(archives or [])
    for source, rel in expanded:
        if source.data is not None:
            name = posixpath.join(target, source.path) if dest_dir_syntax or copier.dest_is_dir(target) else target
            copier.add_data(name.lstrip("/"), source.data, source.mode)
            continue
        st = copier.src.lstat_existing(rel)
        if rel in archive_set or stat.S_ISDIR(st.st_mode):
            copier.add_path(rel, target.strip("/"))
            continue
        if dest_dir_syntax or copier.dest_is_dir(target):
            name = posixpath.join(target, posixpath.basename(rel))
        else:
            name = target
        copier.add_path(rel, name.strip("/"))
    entries = copier.finish()
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.name}\0{e.kind}\0{e.mode:o}\0{e.uid}:{e.gid}\0{e.linkname}\0{e.content_digest()}\n".encode())
    checksum = h.hexdigest()
    label = "multi:" + checksum
    if len(expanded) == 1 and expanded[0][0].data is None and expanded[0][1] not in archive_set:
        rel = expanded[0][1]
        st = copier.src.lstat_existing(rel)
        if stat.S_ISDIR(st.st_mode):
            label = "dir:" + checksum
        elif stat.S_ISREG(st.st_mode):
            single = Entry("", "file", 0)
            set_content(single, copier.src, rel)
            label = "file:" + single.content_digest()
    return CopyPlan(entries, label, checksum)


def write_layer(entries: list[Entry], out: BinaryIO, clamp: int | None = None) -> None:
    """A PAX layer tar of ``entries`` ended as Go's tar ends (two zero blocks), like the layers
    commit writes; ``clamp`` caps modification times (reproducible builds)."""
    tar = TarWriter(out)
    for e in entries:
        info = tarfile.TarInfo(e.name)
        info.mode, info.uid, info.gid = e.mode, e.uid, e.gid
        info.mtime = min(e.mtime, clamp) if clamp is not None else e.mtime
        info.uname = info.gname = ""
        if e.kind == "dir":
            info.type = tarfile.DIRTYPE
        elif e.kind == "link":
            info.type, info.linkname = tarfile.SYMTYPE, e.linkname
        elif e.kind == "fifo":
            info.type = tarfile.FIFOTYPE
        else:
            info.size = e.size()
        tar.header(info)
        if e.kind != "file":
            continue
        if e.data is not None:
            tar.data([e.data], info.size)
        else:
            with open(e.source, "rb") as f:
                tar.data(read_chunks(f.read, info.size), info.size)  # a file that shrank meanwhile is zero-filled
    tar.close()


def is_archive(view: FSView, rel: str) -> bool:
    """ADD's test: a regular file holding a tar, maybe gzip/bzip2/xz compressed (by content, not name)."""
    st = view.lstat(rel)
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    try:
        return archive_head(view.head(rel, 512 + 265))
    except OSError:
        return False
