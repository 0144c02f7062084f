"""Streaming layer decompression chosen by the blob's magic bytes: gzip, zstd or a plain tar."""

from __future__ import annotations

import zlib
from typing import Any

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Decompressor:
    """Feed compressed chunks, get uncompressed bytes; concatenated gzip members and zstd frames work."""

    def __init__(self) -> None:
        self._kind: str | None = None
        self._head = b""
        self._obj: Any = None  # zlib's or zstandard's decompressobj, once the kind is known

    def _new(self):
        if self._kind == "gzip":
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self._kind is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            data, self._head = self._head, b""
            self._kind = ("gzip" if data.startswith(GZIP_MAGIC) else "zstd" if data.startswith(ZSTD_MAGIC)
                          else "plain")
            if self._kind != "plain":
                self._obj = self._new()
        if self._kind == "plain":
            return data
        out = []
        while data:
            out.append(self._obj.decompress(data))
            if not self._obj.eof:
                break
            data = self._obj.unused_data
            if data:
                self._obj = self._new()
        return b"".join(out)

    def finish(self) -> bytes:
        if self._kind is None:  # fewer than four bytes in all: not compressed
            data, self._head = self._head, b""
            return data
        if self._kind == "gzip" and not self._obj.eof:
            raise ValueError("unexpected end of gzip stream")
        if self._kind == "gzip":
            return self._obj.flush()
        return b""
