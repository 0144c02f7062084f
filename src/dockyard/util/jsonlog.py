"""Docker's json-file log format: one JSON object per line, {"log","stream","time"[,"attrs"]},
rotated to <log>.1, <log>.2, ... when max-size is set."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from dockyard.util.timefmt import now_ns, parse_rfc3339, rfc3339_ns

MAX_PARTIAL = 16 * 1024  # Docker splits lines longer than this


class JsonLogWriter:
    def __init__(self, path: str, max_size: int = -1, max_file: int = 1, attrs: dict | None = None) -> None:
        self._path = path
        self._max_size = max_size
        self._max_file = max(1, max_file)
        self._attrs = attrs or None
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _open(self) -> int:
        return os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes) -> None:
        buffer = self._partial[stream] + data
        lines = buffer.split(b"\n")
        rest = lines.pop()
        records = [line + b"\n" for line in lines]
        while len(rest) >= MAX_PARTIAL:
            records.append(rest[:MAX_PARTIAL])
            rest = rest[MAX_PARTIAL:]
        self._partial[stream] = rest
        self._emit(stream, records)

    def _emit(self, stream: str, records: list[bytes]) -> None:
        if not records:
            return
        stamp = rfc3339_ns(now_ns())
        for record in records:
            entry: dict[str, object] = {"log": record.decode("utf-8", "replace"), "stream": stream, "time": stamp}
            if self._attrs:
                entry["attrs"] = self._attrs
            line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
            if self._max_size > 0 and self._size and self._size + len(line) > self._max_size:
                self._rotate()
            os.write(self._fd, line)
            self._size += len(line)

    def _rotate(self) -> None:
        """<log> -> <log>.1 -> ... ; the oldest beyond max-file is dropped (max-file 1: truncate)."""
        os.close(self._fd)
        if self._max_file == 1:
            os.truncate(self._path, 0)
        else:
            for index in range(self._max_file - 1, 0, -1):
                older = f"{self._path}.{index}"
                newer = self._path if index == 1 else f"{self._path}.{index - 1}"
                if os.path.exists(newer):
                    os.replace(newer, older)
        self._fd = self._open()
        self._size = 0

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._emit(stream, [rest])
        self._partial = {"stdout": b"", "stderr": b""}
        os.close(self._fd)


@dataclass(frozen=True)
class LogRecord:
    stream: str
    data: bytes
    time: str
    attrs: dict = field(default_factory=dict)

    @property
    def time_ns(self) -> int:
        return parse_rfc3339(self.time)


def log_files(path: str) -> list[str]:
    """The current log and its rotations, oldest first."""
    rotated = []
    index = 1
    while os.path.exists(f"{path}.{index}"):
        rotated.append(f"{path}.{index}")
        index += 1
    return [*reversed(rotated), path]


def _parse(line: bytes) -> LogRecord | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None  # a line torn by a crash mid-write
    return LogRecord(entry.get("stream", "stdout"), entry.get("log", "").encode(), entry.get("time", ""),
                     entry.get("attrs") or {})


def _records_in(name: str) -> Iterator[LogRecord]:
    try:
        f = open(name, "rb")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            if (record := _parse(line)) is not None:
                yield record


def read_records(path: str) -> Iterator[LogRecord]:
    for name in log_files(path):
        yield from _records_in(name)


class LogCursor:
    """Reads a json-file log once from the start, then only what is appended: every record once
    and in order, across rotations. The current file stays open, so a rotation that renames it
    away is read to its end before the new file is opened; a truncation (max-file 1) starts over
    at its beginning. A line still being written waits for its newline."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._file = None
        self._partial = b""

    def read_all(self) -> list[LogRecord]:
        """Everything logged so far, oldest first; the cursor is then at the end."""
        self._file = self._open()
        records: list[LogRecord] = []
        for name in log_files(self._path)[:-1]:
            records += _records_in(name)
        return records + self._read_current()

    def read_new(self) -> list[LogRecord]:
        """What was appended since the last read."""
        if self._file is None:
            self._file = self._open()
        records = self._read_current()
        try:
            current = os.stat(self._path).st_ino
        except FileNotFoundError:
            return records
        if self._file is None or current != os.fstat(self._file.fileno()).st_ino:
            if self._file is not None:
                self._file.close()
            self._file, self._partial = self._open(), b""
            records += self._read_current()
        return records

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self):
        try:
            return open(self._path, "rb")
        except FileNotFoundError:
            return None

    def _read_current(self) -> list[LogRecord]:
        if self._file is None:
            return []
        if os.fstat(self._file.fileno()).st_size < self._file.tell():
            self._file.seek(0)
            self._partial = b""
        lines = (self._partial + self._file.read()).split(b"\n")
        self._partial = lines.pop()
        return [record for line in lines if line and (record := _parse(line)) is not None]

