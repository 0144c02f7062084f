"""Tar archives as Dockyard writes them: the one place where headers, data padding and the end of
an archive are made, for image saves, build contexts, COPY layers, reproducible layers and
commit diffs alike.

Two header encodings, each the bytes its users have always written (layer DiffIDs and image
IDs depend on them):
- ``pax_header``: `tarfile`'s PAX format, USTAR fields with a PAX record only for what USTAR
  cannot hold (long or non-ASCII names, big sizes, fractional times, xattrs, sparse maps);
  names as UTF-8 with undecodable bytes kept. Layers, saves and diffs use it.
- ``ustar_header``: the same USTAR fields written here, falling back to ``pax_header`` for
  what USTAR cannot hold, and raw UTF-8 names. The CLI's build context uses it: importing
  `tarfile` (with its pwd/grp look-ups) would cost more than sending a small context.

An archive ends as Go's tar.Writer ends it, two zero blocks and no record padding, so an empty
layer has Docker's empty-layer DiffID. `tarfile` is imported only by the functions that need it,
and nothing else is (not `typing` either): `dockyard build` loads this module in the CLI.
"""

BLOCK = 512
CHUNK = 1 << 20
END = bytes(2 * BLOCK)
_USTAR_MAX = 8**11  # sizes and times USTAR's 12-byte octal fields can hold
_KINDS = {"file": b"0", "link": b"1", "symlink": b"2", "dir": b"5", "fifo": b"6"}


def padding(size: int) -> bytes:
    """The zeros that fill an entry's last block after ``size`` bytes of data."""
    return bytes(-size % BLOCK)


def end() -> bytes:
    return END


def pax_header(info) -> bytes:
    """The header of a `tarfile.TarInfo`."""
    import tarfile  # loaded already: the caller made ``info``

    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def ustar_header(name: str, kind: str, mode: int, size: int = 0, mtime: int = 0, linkname: str = "") -> bytes:
    """One entry's header owned by root, as the docker CLI sends a context (a directory's name
    ends in "/"); ``kind`` is file, link (hard), symlink, dir or fifo."""
    if kind == "dir" and not name.endswith("/"):
        name += "/"
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    if len(raw_name) > 100 or len(raw_link) > 100 or not 0 <= size < _USTAR_MAX or not 0 <= mtime < _USTAR_MAX:
        import tarfile  # only for long names, huge files or odd times

        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size, info.mtime, info.linkname = _KINDS[kind], mode & 0o7777, size, mtime, linkname
        return pax_header(info)
    header = b"".join((raw_name.ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"0000000\0", b"0000000\0",
                       b"%011o\0" % size, b"%011o\0" % mtime, b"        ", _KINDS[kind], raw_link.ljust(100, b"\0"),
                       b"ustar\x0000", bytes(64), b"0000000\0" * 2, bytes(167)))
    return header[:148] + b"%06o\0 " % sum(header) + header[156:]


class TarWriter:
    """Entries written to a binary file one after the other: ``header``, then ``data`` for a
    regular file's content; ``close`` ends the archive (it does not close ``out``)."""

    def __init__(self, out) -> None:  # a binary file
        self.out = out

    def header(self, info) -> None:
        self.out.write(pax_header(info))

    def data(self, chunks, size: int) -> None:
        """Exactly ``size`` bytes from ``chunks``, then the padding: a source that ran short
        (a file that shrank while it was archived) is zero-filled and one that gave more is
        cut, so the size in the header holds and every later entry stays readable."""
        left = size
        for chunk in chunks:
            if len(chunk) > left:
                chunk = chunk[:left]
            self.out.write(chunk)
            left -= len(chunk)
            if not left:
                break
        if left:
            self.out.write(bytes(left))
        self.out.write(padding(size))

    def close(self) -> None:
        self.out.write(END)


def read_chunks(read, size: int):
    """Up to ``size`` bytes from ``read(n)`` (a file's read, or os.read on a descriptor) in pieces
    of at most CHUNK, until it returns nothing."""
    left = size
    while left > 0:
        data = read(min(CHUNK, left))
        if not data:
            return
        left -= len(data)
        yield data


# -- archives as a stream of byte chunks (docker save), entry by entry, never a file in memory --
def _header(name: str, size: int, kind: bytes) -> bytes:
    """Every header fixed (mode, owner, mtime 0): the same entries always give the same bytes."""
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size if kind == tarfile.REGTYPE else 0
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0
    return pax_header(info)


def directory(name: str) -> bytes:
    return _header(name.rstrip("/") + "/", 0, b"5")


def file_from_bytes(name: str, data: bytes) -> bytes:
    return _header(name, len(data), b"0") + data + padding(len(data))


def file_from_path(name: str, path: str, size: int):
    """The entry for the file at ``path``, which must hold ``size`` bytes (checked: a file that
    changed under us would corrupt every entry after it)."""
    yield _header(name, size, b"0")
    with open(path, "rb") as f:
        sent = 0
        for data in read_chunks(f.read, size):
            sent += len(data)
            yield data
    if sent < size:
        raise OSError(f"{path} is shorter than {size} bytes")
    yield padding(size)


def batched(chunks, size: int = CHUNK):
    """Join small chunks (headers, padding) into pieces of about ``size`` bytes: each piece costs
    one hand-over between threads when the archive goes out over the API."""
    pending: list[bytes] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)
