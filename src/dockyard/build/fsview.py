"""A read-only view of an image's filesystem from its layer directories, without mounting: what
COPY --from reads and where COPY/WORKDIR find their destination's existing parents.

Layer directories are in overlayfs's format (whiteouts are 0/0 character devices, opaque
directories carry trusted.overlay.opaque=y), top layer first. A plain directory is a view with
one layer; the build context is an archive.ArchiveView with the same interface.
"""

from __future__ import annotations

import os
import posixpath
import stat

from dockyard.images.layers import OPAQUE_XATTR


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class FSView:
    def __init__(self, layers: list[str], *, plain: bool = False) -> None:
        self.layers = layers  # top first
        self.plain = plain  # a plain directory: no whiteouts to honour

    def find(self, rel: str) -> str | None:
        """The host path of the entry ``rel`` (no leading slash, symlinks not followed), or None."""
        rel = rel.strip("/")
        if not rel:
            return self.layers[0] if self.layers else None
        if self.plain:
            path = os.path.join(self.layers[0], rel)
            return path if os.path.lexists(path) else None
        parts = rel.split("/")
        for layer in self.layers:
            path = os.path.join(layer, rel)
            try:
                st = os.lstat(path)
                return None if is_whiteout(st) else path
            except (FileNotFoundError, NotADirectoryError):
                pass
            if self._hides(layer, parts):
                return None
        return None

    def _hides(self, layer: str, parts: list[str]) -> bool:
        """Whether ``layer`` hides the lower layers' entry at ``parts`` (a whiteout, a file or an
        opaque directory on the way)."""
        for depth in range(len(parts) - 1, 0, -1):
            prefix = os.path.join(layer, *parts[:depth])
            try:
                st = os.lstat(prefix)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISDIR(st.st_mode):
                return True
            return is_opaque(prefix)
        return False

    def lstat(self, rel: str) -> os.stat_result | None:
        path = self.find(rel)
        return os.lstat(path) if path else None

    def existing(self, rel: str) -> str:
        """The host path of the entry ``rel``, which must exist."""
        path = self.find(rel)
        if path is None:
            raise FileNotFoundError(rel)
        return path

    def lstat_existing(self, rel: str) -> os.stat_result:
        st = self.lstat(rel)
        if st is None:
            raise FileNotFoundError(rel)
        return st

    def readlink(self, rel: str) -> str:
        return os.readlink(self.existing(rel))

    def content(self, rel: str) -> str | bytes:
        """Where a regular file's content is: its host path (archive views give the bytes)."""
        return self.existing(rel)

    def head(self, rel: str, n: int) -> bytes:
        with open(self.existing(rel), "rb") as f:
            return f.read(n)

    def listdir(self, rel: str) -> list[str]:
        rel = rel.strip("/")
        if self.plain:
            return sorted(os.listdir(os.path.join(self.layers[0], rel)))
        names: set[str] = set()
        hidden: set[str] = set()
        parts = rel.split("/") if rel else []
        for layer in self.layers:
            directory = os.path.join(layer, rel)
            try:
                st = os.lstat(directory)
            except (FileNotFoundError, NotADirectoryError):
                if parts and self._hides(layer, parts):
                    break
                continue
            if is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                break
            for name in os.listdir(directory):
                if name in names or name in hidden:
                    continue
                if is_whiteout(os.lstat(os.path.join(directory, name))):
                    hidden.add(name)
                else:
                    names.add(name)
            if is_opaque(directory):
                break
        return sorted(names)

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """``path`` with symlinks followed inside the view's root (as chroot would), normalised,
        without a leading slash. Missing components are kept as they are."""
        todo = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            st = self.lstat(candidate)
            if st is not None and stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                hops += 1
                if hops > 40:
                    raise OSError(f"too many levels of symbolic links: /{path}")
                target = self.readlink(candidate)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            done.append(part)
        return "/".join(done)


def clean(path: str, workdir: str = "/") -> str:
    """An absolute, normalised destination path (relative ones are under the working directory)."""
    full = path if path.startswith("/") else posixpath.join(workdir or "/", path)
    out = posixpath.normpath(full)
    return "/" if out in ("/", "//") else out
