"""Atomic file writes: a crash leaves either the old document or the new one, never a torn one."""

import json
import logging
import os
from typing import Any


def write_bytes(path: str, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    ``durable`` adds an fsync of the file before the rename, so the new content
    is on disk before the name points at it.
    """
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_json(path: str, document: Any, *, durable: bool = True) -> None:
    write_bytes(path, json.dumps(document, separators=(",", ":")).encode(), durable=durable)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def sweep(directory: str) -> list[str]:
    """Remove the temporary files a killed process left in ``directory`` (``NAME.tmp.PID``, never
    renamed into place), saying so in the log; returns their names. Call it at start-up, before
    anything writes there."""
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in names:
        stem, dot, pid = name.rpartition(".")
        if dot and pid.isdigit() and stem.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, name))
            except (FileNotFoundError, IsADirectoryError):
                continue
            removed.append(name)
    if removed:
        logging.getLogger("dockyard.recovery").info("removed %d half-written file(s) left by a crash in %s: %s",
                                                    len(removed), directory, ", ".join(sorted(removed)))
    return removed
