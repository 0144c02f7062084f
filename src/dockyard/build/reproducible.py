"""Reproducible layers (SOURCE_DATE_EPOCH): a layer tar rewritten with every modification time
capped at the epoch, entries and their order otherwise unchanged. Layers are stored
uncompressed, so no gzip header (with its own time) is involved until a push or save."""

from __future__ import annotations

import shutil
import tarfile
from typing import BinaryIO

BLOCK = 512


def clamp_layer(source: BinaryIO, out: BinaryIO, epoch: int) -> None:
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            member.mtime = min(int(member.mtime), epoch)
            member.pax_headers = {k: v for k, v in member.pax_headers.items()
                                  if k not in ("mtime", "atime", "ctime") and not k.startswith("GNU.sparse")}
            member.uname = member.gname = ""
            out.write(member.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            if member.isreg() and member.size:
                data = tar.extractfile(member)
                shutil.copyfileobj(data, out, 1 << 20)
                if member.size % BLOCK:
                    out.write(b"\0" * (BLOCK - member.size % BLOCK))
    out.write(b"\0" * (2 * BLOCK))
