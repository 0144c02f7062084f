"""The build context as the client sends it: a directory as an uncompressed tar, .dockerignore applied.

This runs in the CLI on every `dockyard build`, so it writes tar headers itself (USTAR, with
`tarfile`'s PAX headers only for what USTAR cannot hold) and imports nothing heavy: `tarfile`
with its pwd/grp look-ups and fractional-mtime PAX records cost more than the whole transfer.
The size is known before any content is read, so the CLI can print it and send a Content-Length;
file contents then go from the page cache to the socket with sendfile, never through Python.
"""

from __future__ import annotations

import os
import stat

from dockyard.build import ignore

BLOCK = 512
_USTAR_MAX = 8**11  # sizes and times USTAR's 12-byte octal fields can hold
_KINDS = {"file": b"0", "link": b"1", "symlink": b"2", "dir": b"5", "fifo": b"6"}


def archive_head(head: bytes) -> bool:
    """Whether ``head`` starts a tar, maybe gzip/bzip2/xz compressed (ADD's test, by content not name)."""
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def tar_header(name: str, kind: str, mode: int, size: int = 0, mtime: int = 0, linkname: str = "") -> bytes:
    """One entry's header, owned by root as the docker CLI sends it (a directory's name ends in "/")."""
    if kind == "dir" and not name.endswith("/"):
        name += "/"
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    if len(raw_name) > 100 or len(raw_link) > 100 or not 0 <= size < _USTAR_MAX or not 0 <= mtime < _USTAR_MAX:
        return _pax_header(name, kind, mode, size, mtime, linkname)
    header = b"".join((raw_name.ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"0000000\0", b"0000000\0",
                       b"%011o\0" % size, b"%011o\0" % mtime, b"        ", _KINDS[kind], raw_link.ljust(100, b"\0"),
                       b"ustar\x0000", bytes(64), b"0000000\0" * 2, bytes(167)))
    return header[:148] + b"%06o\0 " % sum(header) + header[156:]


def _pax_header(name: str, kind: str, mode: int, size: int, mtime: int, linkname: str) -> bytes:
    import tarfile  # only for long names, huge files or odd times

    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime, info.linkname = _KINDS[kind], mode & 0o7777, size, mtime, linkname
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


class ContextTar:
    """The planned tar of a context directory: ``size`` is known up front; ``read()`` yields it.

    Entries are sorted; hard links within the context go as links to the first name; devices and
    sockets are left out (as before, and as the daemon would skip them). A file that changes size
    while it is sent is cut or padded to the size in its header, so the tar stays valid.
    """

    def __init__(self, root: str, dockerfile: str | None = None, extra: tuple[str, str] | None = None) -> None:
        self.entries: list[tuple[bytes, str | None, int]] = []  # (header, file to send, its size)
        matcher = ignore.Matcher(ignore.read(root))
        keep = {".dockerignore"}
        if dockerfile:
            keep.add(dockerfile)
        self._inodes: dict[tuple[int, int], str] = {}
        self._walk(root, "", matcher, keep)
        if extra is not None:  # a Dockerfile from outside the context, under a name of its own
            st = os.stat(extra[1])
            self.entries.append((tar_header(extra[0], "file", st.st_mode, st.st_size, int(st.st_mtime)),
                                 extra[1], st.st_size))
        self.size = sum(len(h) + size + (-size % BLOCK) for h, _, size in self.entries) + 2 * BLOCK

    def _walk(self, root: str, rel: str, matcher: ignore.Matcher, keep: set[str]) -> None:
        directory = os.path.join(root, rel) if rel else root
        with os.scandir(directory) as it:
            found = sorted(it, key=lambda e: e.name)
        for entry in found:
            child = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if matcher.patterns and matcher.excluded(child) and child not in keep:
                # A left-out directory may still hold an exception (`!dir/keep`): look inside only then.
                if is_dir and matcher.has_exclusions:
                    self._walk(root, child, matcher, keep)
                continue
            mtime = int(st.st_mtime)
            if is_dir:
                self.entries.append((tar_header(child, "dir", st.st_mode, 0, mtime), None, 0))
                self._walk(root, child, matcher, keep)
            elif stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1:
                    first = self._inodes.setdefault((st.st_dev, st.st_ino), child)
                    if first != child:
                        self.entries.append((tar_header(child, "link", st.st_mode, 0, mtime, first), None, 0))
                        continue
                self.entries.append((tar_header(child, "file", st.st_mode, st.st_size, mtime),
                                     entry.path, st.st_size))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(entry.path)
                self.entries.append((tar_header(child, "symlink", st.st_mode, 0, mtime, target), None, 0))
            elif stat.S_ISFIFO(st.st_mode):
                self.entries.append((tar_header(child, "fifo", st.st_mode, 0, mtime), None, 0))

    def pieces(self):
        """The tar as a sequence of byte strings."""
        for header, path, size in self.entries:
            yield header
            if path is None:
                continue
            yield from _file_pieces(path, size)
            if size % BLOCK:
                yield bytes(BLOCK - size % BLOCK)
        yield bytes(2 * BLOCK)

    def getvalue(self) -> bytes:
        return b"".join(self.pieces())

    def send_to(self, sock) -> None:
        """Write the tar to a connected socket: headers from memory, file contents with sendfile
        (no copy through Python). A TLS socket gets the plain pieces. If the daemon stops reading
        (it answered early, with an error), sending stops and the caller reads that answer."""
        try:
            if hasattr(sock, "do_handshake"):  # TLS: the kernel cannot encrypt for us
                for piece in self.pieces():
                    sock.sendall(piece)
                return
            pending = b""
            for header, path, size in self.entries:
                pending += header
                if path is None:
                    continue
                sock.sendall(pending)
                _sendfile(sock.fileno(), path, size)
                pending = padding(size)
            sock.sendall(pending + bytes(2 * BLOCK))
        except (BrokenPipeError, ConnectionResetError):
            return


def _file_pieces(path: str, size: int, piece: int = 1 << 20):
    """``size`` bytes of the file in pieces of at most ``piece``; zeros where it ended early."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = -1  # gone meanwhile
    try:
        left = size
        while left > 0:
            data = os.read(fd, min(left, piece)) if fd >= 0 else b""
            if not data:
                while left > 0:
                    yield bytes(min(left, piece))
                    left -= piece
                return
            left -= len(data)
            yield data
    finally:
        if fd >= 0:
            os.close(fd)


def _sendfile(out: int, path: str, size: int) -> None:
    """``size`` bytes of the file to ``out``; zeros for what it lost meanwhile."""
    sent = 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = -1
    try:
        while fd >= 0 and sent < size:
            n = os.sendfile(out, fd, sent, size - sent)
            if n == 0:
                break
            sent += n
    finally:
        if fd >= 0:
            os.close(fd)
    while sent < size:
        sent += os.write(out, bytes(min(size - sent, 1 << 20)))
