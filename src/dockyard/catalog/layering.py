"""A catalog image on top of another: the layer that turns its base's root into the image's root.

mmdebstrap always makes a whole root, so an image on a base (nginx on debian:bookworm-slim) is
bootstrapped whole, with the base's packages, files and commands and its own, and then compared
with the base's layers: what is new or changed goes into the image's layer, what is gone becomes a
whiteout. The builds are reproducible, so the base's part of the whole root is byte for byte the
base image and the image's layer holds only what its own packages and commands changed (plus the
files those rewrite: dpkg's status, ld.so.cache, passwd, ...). Like containerd's differ, every
entry comes with its parent directories, and a hard link comes with its target (each layer is
unpacked on its own, so a link may only point into its own layer).
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import BinaryIO, cast

from dockyard.catalog.bootstrap import Layer, normalise

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
# What decides that an entry is unchanged: everything a layer records but the name.
Key = tuple


def _key(member: tarfile.TarInfo, content: str) -> Key:
    xattrs = tuple(sorted((k, v) for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")))
    mtime = member.pax_headers.get("mtime", str(int(member.mtime)))
    return (member.type, member.mode, member.uid, member.gid, mtime, member.linkname if member.issym() or
            member.islnk() else "", member.devmajor, member.devminor, xattrs, content)


def _content(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    if not member.isreg():
        return ""
    sha = hashlib.sha256()
    data = tar.extractfile(member)
    assert data is not None  # a regular file has contents
    while chunk := data.read(1 << 20):
        sha.update(chunk)
    return sha.hexdigest()


def _name(member: tarfile.TarInfo) -> str:
    return member.name.removeprefix("./").rstrip("/")


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _drop_below(view: dict[str, Key], path: str) -> None:
    prefix = path + "/" if path else ""
    for name in [n for n in view if n.startswith(prefix)]:
        del view[name]


def merged_view(layers: list[Path]) -> dict[str, Key]:
    """Path -> Key of the root that ``layers`` (lowest first) make together, whiteouts applied."""
    view: dict[str, Key] = {}
    for path in layers:
        with tarfile.open(path, "r|") as tar:
            for member in tar:
                name = _name(member)
                if not name:
                    continue
                parent, _, base = name.rpartition("/")
                if base == OPAQUE:
                    _drop_below(view, parent)
                    continue
                if base.startswith(WHITEOUT_PREFIX):
                    victim = (parent + "/" if parent else "") + base[len(WHITEOUT_PREFIX):]
                    view.pop(victim, None)
                    _drop_below(view, victim)
                    continue
                if not member.isdir():
                    _drop_below(view, name)  # a directory replaced by a file takes its contents along
                view[name] = _key(member, _content(tar, member))
    return view


def changes(whole: Path, below: dict[str, Key]) -> tuple[set[str], dict[str, list[str]]]:
    """The paths of ``whole`` (a root's tar) the layer must carry, and the whiteouts it needs by
    the directory they go in ("" for the root)."""
    keys: dict[str, Key] = {}
    links: list[tuple[str, str]] = []
    with tarfile.open(whole, "r|") as tar:
        for member in tar:
            name = _name(member)
            if not name:
                continue
            keys[name] = _key(member, _content(tar, member))
            if member.islnk():
                links.append((name, member.linkname.removeprefix("./").rstrip("/")))
    carried = {name for name, key in keys.items() if below.get(name) != key}
    # A link and its target share an inode: each carries the other (a changed target changes the
    # link's content; a new link needs its target in the same layer).
    changed = True
    while changed:
        changed = False
        for link, target in links:
            if (link in carried) != (target in carried):
                carried.update((link, target))
                changed = True
    whiteouts: dict[str, list[str]] = {}
    for name in below:
        parent = _parent(name)
        if name in keys or parent in below and parent not in keys:
            continue  # still there, or its parent went (the parent's whiteout covers it)
        if parent and keys.get(parent, ("",))[0] != tarfile.DIRTYPE:
            continue  # the parent became a file or link: that entry hides everything below it
        whiteouts.setdefault(parent, []).append(WHITEOUT_PREFIX + name.rpartition("/")[2])
        carried.add(parent)
    for name in list(carried):
        while name := _parent(name):
            if name in carried:
                break
            carried.add(name)
    carried.discard("")
    return carried, {parent: sorted(names) for parent, names in whiteouts.items()}


def diff_layer(whole: Path, below: list[Path], out: Path, source_date_epoch: int) -> Layer:
    """Write to ``out`` the layer that, on ``below`` (lowest first), gives the root in ``whole``."""
    carried, whiteouts = changes(whole, merged_view(below))
    sha = hashlib.sha256()
    with open(out, "wb") as raw:
        writer = _Hashing(raw, sha)
        with tarfile.open(whole, "r|") as tar_in, \
                tarfile.open(fileobj=cast(BinaryIO, writer), mode="w|", format=tarfile.PAX_FORMAT) as tar_out:
            _whiteouts(tar_out, "", whiteouts, source_date_epoch)
            for member in tar_in:
                name = _name(member)
                if name not in carried:
                    continue
                normalise(member)
                tar_out.addfile(member, tar_in.extractfile(member) if member.isreg() else None)
                if member.isdir():
                    _whiteouts(tar_out, name, whiteouts, source_date_epoch)
    return Layer(out, "sha256:" + sha.hexdigest(), writer.size)


def _whiteouts(tar: tarfile.TarFile, directory: str, whiteouts: dict[str, list[str]], epoch: int) -> None:
    for base in whiteouts.get(directory, ()):
        info = tarfile.TarInfo((directory + "/" if directory else "") + base)
        info.mode, info.mtime = 0o600, epoch
        tar.addfile(info)


class _Hashing:
    """A write-only stream that hashes and counts what passes (tarfile's stream mode only writes)."""

    def __init__(self, out, sha) -> None:
        self.out, self.sha, self.size = out, sha, 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.out.write(data)
