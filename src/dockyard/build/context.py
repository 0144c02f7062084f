"""The build context as the client sends it: a directory as an uncompressed tar, .dockerignore applied.

This runs in the CLI on every `dockyard build`, so its headers are util.tarstream's USTAR ones
(`tarfile`'s PAX headers only for what USTAR cannot hold) and it imports nothing heavy: `tarfile`
with its pwd/grp look-ups and fractional-mtime PAX records cost more than the whole transfer.
The size is known before any content is read, so the CLI can print it and send a Content-Length;
file contents then go from the page cache to the socket with sendfile, never through Python.
"""

from __future__ import annotations

import os
import stat

from dockyard.build import ignore
from dockyard.util.tarstream import BLOCK, END, padding, ustar_header


def archive_head(head: bytes) -> bool:
    """Whether ``head`` starts a tar, maybe gzip/bzip2/xz compressed (ADD's test, by content not name)."""
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


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
            self.entries.append((ustar_header(extra[0], "file", st.st_mode, st.st_size, int(st.st_mtime)),
                                 extra[1], st.st_size))
        self.size = sum(len(h) + size + len(padding(size)) for h, _, size in self.entries) + len(END)

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
                self.entries.append((ustar_header(child, "dir", st.st_mode, 0, mtime), None, 0))
                self._walk(root, child, matcher, keep)
            elif stat.S_ISREG(st.st_mode):
                if st.st_nlink > 1:
                    first = self._inodes.setdefault((st.st_dev, st.st_ino), child)
                    if first != child:
                        self.entries.append((ustar_header(child, "link", st.st_mode, 0, mtime, first), None, 0))
                        continue
                self.entries.append((ustar_header(child, "file", st.st_mode, st.st_size, mtime),
                                     entry.path, st.st_size))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(entry.path)
                self.entries.append((ustar_header(child, "symlink", st.st_mode, 0, mtime, target), None, 0))
            elif stat.S_ISFIFO(st.st_mode):
                self.entries.append((ustar_header(child, "fifo", st.st_mode, 0, mtime), None, 0))

    def pieces(self):
        """The tar as a sequence of byte strings."""
        for header, path, size in self.entries:
            yield header
            if path is None:
                continue
            yield from _file_pieces(path, size)
            if size % BLOCK:
                yield padding(size)
        yield END

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
            sock.sendall(pending + END)
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
