"""Layer diffs: a container's writable layer as a layer tar, the inverse of layers.apply_tar.

Overlay keeps the diff itself (the upper dir): whiteouts (0/0 character devices) become
``.wh.<name>`` entries and opaque directories a ``.wh..wh..opq`` entry, as Docker's overlay2
driver writes them. The copy snapshotter keeps a flattened tree, so its diff comes from
comparing that tree with the layers below (Docker's "naive" diff).

Entries are written in sorted depth-first order with seconds-precision times (as Docker), so
the same changes give the same tar.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import SystemError_
from dockyard.images.layers import (
    CHUNK,
    OPAQUE_WHITEOUT,
    OPAQUE_XATTR,
    WHITEOUT_PREFIX,
    XATTR_PAX_PREFIX,
    is_overlay_xattr,
)
from dockyard.storage.overlay import OverlaySnapshotter
from dockyard.storage.snapshotter import Snapshotter
from dockyard.util.tarstream import TarWriter, padding

# The DiffID of a tar with no entries (two zero blocks), which Docker leaves out of rootfs.diff_ids.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
_CAPS_XATTR = "security.capability"
# Overlay features that put a file's data or a directory's contents somewhere else than the upper
# dir; a tar of the upper dir would then be wrong, so refuse instead of writing a broken layer.
_INDIRECT_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")


@dataclass
class Change:
    kind: str  # "add" (the entry at path), "whiteout" or "opaque"
    name: str  # path in the layer, without a leading slash
    path: str = ""
    st: os.stat_result | None = None
    xattrs: dict[str, bytes] | None = None


def read_xattrs(path: str) -> dict[str, bytes]:
    """The attributes a layer carries: everything but overlayfs's own bookkeeping."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOENT):
            return {}
        raise
    out = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
                raise
    return out


def _layer_xattrs(xattrs: dict[str, bytes]) -> dict[str, bytes]:
    out = {k: v for k, v in xattrs.items() if not is_overlay_xattr(k)}
    caps = out.get(_CAPS_XATTR)
    if caps is not None and len(caps) >= 4 and caps[3] == 3:
        # As Docker: a v3 capability names a namespace root uid that means nothing in another
        # user namespace, so it travels as v2 (the first 20 bytes).
        out[_CAPS_XATTR] = caps[:3] + b"\x02" + caps[4:20]
    return out


def _sorted_names(directory: str) -> list[str]:
    return sorted(os.listdir(directory))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None  # gone since the directory was listed (a running container)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


# -- overlay: the upper dir is the diff --------------------------------------------------------
def overlay_changes(upper: str) -> Iterator[Change]:
    root_xattrs = read_xattrs(upper)
    if root_xattrs.get(OPAQUE_XATTR) == b"y":
        yield Change("opaque", OPAQUE_WHITEOUT, upper, os.lstat(upper))
    yield from _overlay_walk(upper, "")


def _overlay_walk(directory: str, rel: str) -> Iterator[Change]:
    for name in _sorted_names(directory):
        path = os.path.join(directory, name)
        child = f"{rel}/{name}" if rel else name
        st = _lstat(path)
        if st is None:
            continue
        if _is_whiteout(st):
            yield Change("whiteout", child, path, st)
            continue
        xattrs = read_xattrs(path)
        indirect = [k for k in _INDIRECT_XATTRS if k in xattrs]
        if indirect:
            raise SystemError_(f"cannot diff /{child}: overlayfs stored it with {indirect[0]} (the host's overlay "
                               "module has redirect_dir or metacopy on); turn those off to commit containers")
        yield Change("add", child, path, st, _layer_xattrs(xattrs))
        if stat.S_ISDIR(st.st_mode):
            if xattrs.get(OPAQUE_XATTR) == b"y":
                yield Change("opaque", f"{child}/{OPAQUE_WHITEOUT}", path, st)
            yield from _overlay_walk(path, child)


# -- copy snapshotter: compare the flattened tree with the layers below ------------------------
def naive_changes(root: str, lowers: list[str]) -> list[Change]:
    """Changes of the tree ``root`` against the overlay-format layer dirs ``lowers`` (top first)."""
    return _naive_walk(root, "", lowers)


def _lower_entries(sources: list[str]) -> dict[str, tuple[str, os.stat_result] | None]:
    """A directory's children as the layers ``sources`` (top first) show it; None marks a whiteout."""
    entries: dict[str, tuple[str, os.stat_result] | None] = {}
    for source in sources:
        for name in os.listdir(source):
            if name in entries:
                continue
            path = os.path.join(source, name)
            st = os.lstat(path)
            entries[name] = None if _is_whiteout(st) else (path, st)
    return entries


def _lower_dirs(sources: list[str], name: str) -> list[str]:
    """The directories making up ``name`` in the layers below, down to the first opaque one."""
    out = []
    for source in sources:
        path = os.path.join(source, name)
        st = _lstat(path)
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            break  # a whiteout or a file hides everything further down
        out.append(path)
        if read_xattrs(path).get(OPAQUE_XATTR) == b"y":
            break
    return out


def _differs(new: os.stat_result, old: os.stat_result) -> bool:
    """Docker's test, except that a directory whose time moved counts too (a file made and removed
    in it): the overlay upper dir would hold that directory, and a commit keeps its time."""
    if (new.st_mode, new.st_uid, new.st_gid, new.st_rdev) != (old.st_mode, old.st_uid, old.st_gid, old.st_rdev):
        return True
    if stat.S_ISDIR(new.st_mode):
        return new.st_mtime_ns // 1_000_000_000 != old.st_mtime_ns // 1_000_000_000
    return (new.st_size, new.st_mtime_ns) != (old.st_size, old.st_mtime_ns)


def _naive_walk(directory: str, rel: str, sources: list[str]) -> list[Change]:
    out: list[Change] = []
    new_names = set(os.listdir(directory))
    below = _lower_entries(sources)
    for name in sorted(new_names | {n for n, v in below.items() if v is not None}):
        child = f"{rel}/{name}" if rel else name
        old = below.get(name)
        if name not in new_names:
            out.append(Change("whiteout", child))
            continue
        path = os.path.join(directory, name)
        st = _lstat(path)
        if st is None:
            continue
        xattrs = _layer_xattrs(read_xattrs(path))
        entry = Change("add", child, path, st, xattrs)
        if old is None:
            out.append(entry)
            if stat.S_ISDIR(st.st_mode):
                out.extend(_naive_walk(path, child, []))
            continue
        old_path, old_st = old
        changed = _differs(st, old_st) or xattrs != _layer_xattrs(read_xattrs(old_path))
        if stat.S_ISDIR(st.st_mode):
            inner = _naive_walk(path, child, _lower_dirs(sources, name) if stat.S_ISDIR(old_st.st_mode) else [])
            if changed or inner:  # a changed child brings its directory along, as Docker does
                out.append(entry)
                out.extend(inner)
        elif changed or (stat.S_ISLNK(st.st_mode) and os.readlink(path) != os.readlink(old_path)):
            out.append(entry)
    return out


def snapshot_changes(snapshotter: Snapshotter, key: str) -> Iterator[Change] | list[Change]:
    """What the active snapshot ``key`` changed, ready for LayerTarWriter."""
    if isinstance(snapshotter, OverlaySnapshotter):
        return overlay_changes(snapshotter.fs_path(key))
    lowers = [snapshotter.fs_path(k) for k in snapshotter.parent_chain(snapshotter.parent(key))]
    return naive_changes(snapshotter.fs_path(key), lowers)


def write_diff(snapshotter: Snapshotter, key: str, out: BinaryIO, idmap=None) -> None:
    """Write the layer tar of the active snapshot ``key`` (a container's writable layer) to ``out``.
    ``idmap`` (a userns-remapped daemon): owners go back from host IDs to the container's."""
    writer = LayerTarWriter(out)
    writer.idmap = idmap
    for change in snapshot_changes(snapshotter, key):
        writer.add(change)
    writer.close()


# -- the tar ---------------------------------------------------------------------------------
class LayerTarWriter:
    """PAX tar entries with hard links, devices, xattrs and sparse files, ended as Go's tar ends
    (two zero blocks, no record padding), so an empty diff has Docker's empty-layer DiffID."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = TarWriter(out)
        self._links: dict[tuple[int, int], str] = {}

    def add(self, change: Change) -> None:
        if change.kind == "whiteout":
            self._whiteout(change)
        elif change.kind == "opaque":
            assert change.st is not None  # an opaque directory is stat'ed
            info = self._info(change.name, change.st, {})
            info.mode = change.st.st_mode & 0o777
            self._header(info, {})
        else:
            self._entry(change)

    def close(self) -> None:
        self._tar.close()

    @staticmethod
    def _info(name: str, st: os.stat_result | None, pax: dict[str, str]) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        if st is not None:
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
            info.mtime = st.st_mtime_ns // 1_000_000_000
        info.uname = info.gname = ""
        info.pax_headers = pax
        return info

    idmap = None

    def _header(self, info: tarfile.TarInfo, pax: dict[str, str]) -> None:
        info.pax_headers = pax
        if self.idmap is not None:
            info.uid, info.gid = self.idmap.container_uid(info.uid), self.idmap.container_gid(info.gid)
        self._tar.header(info)

    def _whiteout(self, change: Change) -> None:
        parent, _, base = change.name.rpartition("/")
        name = f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
        info = self._info(name, change.st, {})
        info.type, info.mode, info.size = tarfile.REGTYPE, 0o600, 0
        self._header(info, {})

    def _entry(self, change: Change) -> None:
        st = change.st
        assert st is not None  # an added entry is stat'ed
        pax = {XATTR_PAX_PREFIX + k: v.decode("utf-8", "surrogateescape")
               for k, v in sorted((change.xattrs or {}).items())}
        info = self._info(change.name, st, pax)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._links:
                info.type, info.linkname = tarfile.LNKTYPE, self._links[key]
                self._header(info, {})  # the attributes belong to the first name
                return
            if st.st_nlink > 1:
                self._links[key] = change.name
            self._regular(info, change.path, st, pax)
            return
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(change.path)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets: Docker skips them too
        self._header(info, pax)

    def _regular(self, info: tarfile.TarInfo, path: str, st: os.stat_result, pax: dict[str, str]) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # deleted since it was listed (a running container)
        try:
            regions = _data_regions(fd, st.st_size) if st.st_blocks * 512 < st.st_size else None
            if regions is None:
                info.size = st.st_size
                self._header(info, pax)
                self._tar.data(_region(fd, 0, st.st_size), st.st_size)
                return
            # GNU sparse 1.0 in PAX (what GNU tar writes; Go's and Python's readers know it): the
            # data holds a text map of (offset, length) pairs, then only the data regions.
            if not regions or regions[-1][0] + regions[-1][1] < st.st_size:
                regions.append((st.st_size, 0))
            sparse_map = f"{len(regions)}\n" + "".join(f"{o}\n{n}\n" for o, n in regions)
            map_bytes = sparse_map.encode()
            map_bytes += padding(len(map_bytes))
            parent, _, base = info.name.rpartition("/")
            real_name = info.name
            info.name = f"{parent}/GNUSparseFile.0/{base}" if parent else f"GNUSparseFile.0/{base}"
            info.size = len(map_bytes) + sum(n for _, n in regions)
            self._header(info, {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": real_name,
                                "GNU.sparse.realsize": str(st.st_size), **pax})
            self._tar.data(itertools.chain([map_bytes], *(_region(fd, o, n) for o, n in regions)), info.size)
        finally:
            os.close(fd)


def _region(fd: int, offset: int, length: int) -> Iterator[bytes]:
    """Exactly ``length`` bytes of the file from ``offset``: zeros for what a file that shrank
    meanwhile no longer has (per region, so the later regions keep their place)."""
    while length > 0:
        data = os.pread(fd, min(CHUNK, length), offset)
        if not data:
            yield bytes(length)
            return
        yield data
        offset += len(data)
        length -= len(data)


def _data_regions(fd: int, size: int) -> list[tuple[int, int]] | None:
    """(offset, length) of the data in a file with holes; None where the filesystem cannot say."""
    regions = []
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break  # only a hole is left
            return None
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        if start >= size:
            break
        regions.append((start, end - start))
        position = end
    return regions
