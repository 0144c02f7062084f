"""Reproducible layers (SOURCE_DATE_EPOCH): a layer tar rewritten with every modification time
capped at the epoch, entries and their order otherwise unchanged. Layers are stored
uncompressed, so no gzip header (with its own time) is involved until a push or save."""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from dockyard.util.tarstream import TarWriter, read_chunks


def clamp_layer(source: BinaryIO, out: BinaryIO, epoch: int) -> None:
    writer = TarWriter(out)
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            member.mtime = min(int(member.mtime), epoch)
            member.pax_headers = {k: v for k, v in member.pax_headers.items()
                                  if k not in ("mtime", "atime", "ctime") and not k.startswith("GNU.sparse")}
            member.uname = member.gname = ""
            writer.header(member)
            if member.isreg() and member.size:
                data = tar.extractfile(member)
                assert data is not None  # a regular member always has a reader
                writer.data(read_chunks(data.read, member.size), member.size)
    writer.close()
