"""Write a tar archive as a stream of byte chunks, entry by entry, without holding a file in memory.

Every header is fixed (mode, owner, mtime 0), so the same entries always give the same bytes.
"""

import tarfile
from collections.abc import Iterator

BLOCK = 512
CHUNK = 1 << 20


def _header(name: str, size: int, kind: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size if kind == tarfile.REGTYPE else 0
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def directory(name: str) -> bytes:
    return _header(name.rstrip("/") + "/", 0, tarfile.DIRTYPE)


def file_from_bytes(name: str, data: bytes) -> bytes:
    return _header(name, len(data), tarfile.REGTYPE) + data + _padding(len(data))


def file_from_path(name: str, path: str, size: int) -> Iterator[bytes]:
    """The entry for the file at ``path``, which must hold ``size`` bytes (checked: a file that
    changed under us would corrupt every entry after it)."""
    yield _header(name, size, tarfile.REGTYPE)
    left = size
    with open(path, "rb") as f:
        while left:
            data = f.read(min(CHUNK, left))
            if not data:
                raise OSError(f"{path} is shorter than {size} bytes")
            left -= len(data)
            yield data
    yield _padding(size)


def end() -> bytes:
    return b"\0" * (2 * BLOCK)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def batched(chunks: Iterator[bytes], size: int = CHUNK) -> Iterator[bytes]:
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
