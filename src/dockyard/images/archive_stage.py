"""Unpack an image archive (a tar stream, maybe compressed) into a private staging directory.

Every regular file is hashed while it is written, so a layer whose bytes are its DiffID needs no
second read, and can be moved into the content store by rename (the staging directory lives on
the content store's file system). Links are not created on disk: they are remembered and
resolved inside the archive (Docker 20.10 saves a layer shared by two images once, and links
the second `layer.tar` to the first).
"""

import hashlib
import json
import os
import posixpath
import shutil
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.errors import InvalidParameter
from dockyard.images.layers import CHUNK, decompressed

MAX_METADATA = 64 << 20  # manifest.json, index.json, configs: read into memory, so bounded
MAX_LINK_DEPTH = 16


@dataclass
class StagedFile:
    path: str  # where it is on disk
    digest: str  # "sha256:<hex>" of its bytes
    size: int


class StagedArchive:
    def __init__(self, root: str) -> None:
        self.root = root
        self.files: dict[str, StagedFile] = {}  # archive path -> file
        self._links: dict[str, str] = {}  # archive path -> archive path it points to

    def find(self, name: str) -> StagedFile | None:
        """The regular file at ``name`` in the archive, following links that stay inside it."""
        current = _normal(name)
        for _ in range(MAX_LINK_DEPTH):
            if current is None:
                return None
            if current in self.files:
                return self.files[current]
            if current not in self._links:
                return None
            current = self._links[current]
        return None

    def read(self, name: str, what: str) -> bytes:
        found = self.find(name)
        if found is None:
            raise InvalidParameter(f"invalid archive: {what} {name!r} is missing")
        if found.size > MAX_METADATA:
            raise InvalidParameter(f"invalid archive: {what} {name!r} is too large ({found.size} bytes)")
        with open(found.path, "rb") as f:
            return f.read()

    def read_json(self, name: str, what: str) -> Any:
        try:
            return json.loads(self.read(name, what))
        except ValueError as exc:
            raise InvalidParameter(f"invalid archive: {what} {name!r} is not valid JSON: {exc}") from None

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _normal(name: str) -> str | None:
    """An archive path in canonical form ("a/b"), or None when it leaves the archive."""
    path = posixpath.normpath("/" + name.lstrip("/"))  # absolute link targets stay inside, as Docker's do
    parts = [p for p in path.split("/") if p]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def stage(stream: BinaryIO, root: str) -> StagedArchive:
    """Read the whole archive from ``stream`` into ``root`` (created here; the caller removes it)."""
    os.makedirs(root)
    staged = StagedArchive(root)
    try:
        raw = decompressed(stream)
        if not raw.peek(1):  # type: ignore[attr-defined]  # every reader decompressed() gives can peek
            raise InvalidParameter("invalid archive: the input is empty; give an archive made by `docker save`")
        with tarfile.open(fileobj=raw, mode="r|", bufsize=CHUNK) as tar:
            for member in tar:
                _stage_member(staged, tar, member)
    except InvalidParameter:
        raise
    except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # our disk, not the archive
            raise
        raise InvalidParameter(f"invalid archive: the input is not a readable tar archive ({exc})") from None
    if not staged.files:
        raise InvalidParameter("invalid archive: the input is empty or holds no files; "
                               "give an archive made by `docker save`")
    return staged


def _stage_member(staged: StagedArchive, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    name = _normal(member.name)
    if name is None:
        raise InvalidParameter(f"invalid archive: path {member.name!r} leaves the archive")
    if member.issym():
        target = member.linkname if member.linkname.startswith("/") else \
            posixpath.join(posixpath.dirname(name), member.linkname)
        resolved = _normal(target)
        if resolved is not None:
            staged._links[name] = resolved
        return
    if member.islnk():
        resolved = _normal(member.linkname)
        if resolved is not None:
            staged._links[name] = resolved
        return
    if not member.isfile():
        return  # directories are implied by the files' paths; devices and fifos mean nothing here
    path = os.path.join(staged.root, name)
    if os.path.isdir(path):
        raise InvalidParameter(f"invalid archive: {name!r} is both a file and a directory")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidParameter(f"invalid archive: a parent of {name!r} is a file") from None
    source = tar.extractfile(member)
    assert source is not None  # a regular member always has a reader
    hasher = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        while data := source.read(CHUNK):
            hasher.update(data)
            out.write(data)
            size += len(data)
        out.flush()
        os.fsync(out.fileno())  # a layer may be moved into the content store as it is
    if size != member.size:
        raise InvalidParameter(f"invalid archive: {name!r} is truncated")
    staged.files[name] = StagedFile(path, "sha256:" + hasher.hexdigest(), size)
