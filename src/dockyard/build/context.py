"""The build context: a directory sent as a tar (client side, .dockerignore applied) and unpacked
by the daemon into a private directory the build reads from."""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

from dockyard.build import ignore


def _walk(root: str, rel: str, matcher: ignore.Matcher, keep: set[str]):
    directory = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(directory)):
        child = f"{rel}/{name}" if rel else name
        path = os.path.join(root, child)
        st = os.lstat(path)
        if matcher.excluded(child) and child not in keep:
            # A left-out directory may still hold an exception (`!dir/keep`): look inside only then.
            if stat.S_ISDIR(st.st_mode) and matcher.has_exclusions:
                yield from _walk(root, child, matcher, keep)
            continue
        yield child, path
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, child, matcher, keep)


def write_context(root: str, out: BinaryIO, dockerfile: str | None = None,
                  extra: tuple[str, str] | None = None) -> int:
    """Tar ``root`` into ``out`` as the docker CLI does: .dockerignore applied, but the Dockerfile and
    .dockerignore always sent (the daemon reads them). ``extra`` is (name, host path) of a Dockerfile
    from outside the context. Returns the number of bytes written."""
    matcher = ignore.Matcher(ignore.read(root))
    keep = {".dockerignore"}
    if dockerfile:
        keep.add(dockerfile)
    counter = _Counter(out)
    with tarfile.open(fileobj=counter, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rel, path in _walk(root, "", matcher, keep):
            info = tar.gettarinfo(path, rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            elif info.type in (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE):
                tar.addfile(info)
        if extra is not None:
            info = tar.gettarinfo(extra[1], extra[0])
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(extra[1], "rb") as f:
                tar.addfile(info, f)
    return counter.count


class _Counter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.count = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.count += len(data)
        return len(data)


def extract(source: BinaryIO, target: str) -> None:
    """Unpack a (maybe compressed) context tar into ``target``; entries leaving it are refused."""
    from dockyard.images.layers import decompressed  # only the daemon unpacks: keep the CLI's imports short

    real = os.path.realpath(target)
    try:
        with tarfile.open(fileobj=decompressed(source), mode="r|") as tar:
            for member in tar:
                name = os.path.normpath(member.name.lstrip("/"))
                if name.startswith("..") or name == ".":
                    if name == ".":
                        continue
                    raise _invalid(f"build context entry {member.name!r} points outside the context")
                member.name = name
                if member.islnk():
                    link = os.path.normpath(member.linkname.lstrip("/"))
                    if link.startswith(".."):
                        raise _invalid(f"build context link {member.name!r} points outside the context")
                    member.linkname = link
                if member.isdev():
                    continue
                dest = os.path.join(real, name)
                if not os.path.realpath(os.path.dirname(dest)).startswith(real):
                    raise _invalid(f"build context entry {member.name!r} points outside the context")
                tar.extract(member, real, set_attrs=True, numeric_owner=True)
    except tarfile.TarError as exc:
        raise _invalid(f"the build context is not a valid tar archive: {exc}") from None


def _invalid(message: str) -> Exception:
    from dockyard.errors import InvalidParameter

    return InvalidParameter(message)


def remove_ignored(context_dir: str, dockerfile: str) -> None:
    """As Docker's daemon: the Dockerfile and .dockerignore were sent to be read; when .dockerignore
    lists them they are not part of the context that COPY sees."""
    matcher = ignore.Matcher(ignore.read(context_dir))
    for name in (dockerfile, ".dockerignore"):
        path = os.path.join(context_dir, name)
        if os.path.lexists(path) and matcher.excluded(os.path.normpath(name)):
            os.unlink(path)
