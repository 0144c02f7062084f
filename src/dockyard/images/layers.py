"""Layer tarballs: decompression, and applying a layer (with whiteouts) onto a directory."""

import bz2
import gzip
import lzma
import os
import stat
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.errors import InvalidParameter

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
CHUNK = 1 << 20
# Paths are checked above; Python >= 3.11.4 also wants the extraction policy spelled out.
_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def decompressed(raw: BinaryIO) -> BinaryIO:
    """Wrap ``raw`` so it reads uncompressed bytes (gzip, bzip2, xz or plain tar)."""
    peekable = raw if hasattr(raw, "peek") else _Peekable(raw)
    head = peekable.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=peekable, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(peekable, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(peekable, "rb")
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise InvalidParameter("zstd-compressed archives are not supported yet; decompress the file first")
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


def apply_tar(tar_path: str, dest: str, *, overlay_whiteouts: bool = True) -> None:
    """Extract a layer tar into ``dest``.

    Whiteouts become overlay whiteouts (0/0 character devices, opaque xattrs) when
    ``dest`` is an overlay lower dir, or deletions when it is a flattened copy.
    """
    dest = os.path.realpath(dest)
    with tarfile.open(tar_path, mode="r:") as tar:
        for member in tar:
            rel = _safe_relpath(member.name)
            if not rel:
                continue
            parent_rel, _, base = rel.rpartition("/")
            parent = os.path.join(dest, parent_rel) if parent_rel else dest
            if parent_rel:
                os.makedirs(parent, exist_ok=True)
            if not _inside(dest, parent):
                raise InvalidParameter(f"invalid layer: {member.name!r} is below a link that leaves the root")
            if base.startswith(WHITEOUT_PREFIX):
                _apply_whiteout(parent, base, overlay_whiteouts)
                continue
            member.name = rel
            if member.islnk():
                member.linkname = _safe_relpath(member.linkname)
            target = os.path.join(dest, rel)
            if member.isdir() and os.path.isdir(target) and not os.path.islink(target):
                os.chown(target, member.uid, member.gid, follow_symlinks=False)
                os.chmod(target, member.mode)
                continue
            if os.path.lexists(target) and not member.isdir():
                _remove(target)
            tar.extract(member, dest, set_attrs=True, numeric_owner=True, **_TRUSTED)


def _apply_whiteout(parent: str, base: str, overlay: bool) -> None:
    if base == OPAQUE_WHITEOUT:
        if overlay:
            os.setxattr(parent, "trusted.overlay.opaque", b"y")
        else:
            for entry in os.listdir(parent):
                _remove(os.path.join(parent, entry))
        return
    victim = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
    if os.path.lexists(victim):
        _remove(victim)
    if overlay:
        os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    else:
        os.unlink(path)
