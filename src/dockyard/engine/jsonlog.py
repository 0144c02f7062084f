"""Docker's json-file log format: one JSON object per line, {"log","stream","time"}."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from dockyard.util.timefmt import now_ns, parse_rfc3339, rfc3339_ns

MAX_PARTIAL = 16 * 1024  # Docker splits lines longer than this


class JsonLogWriter:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

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
        out = "".join(
            json.dumps({"log": r.decode("utf-8", "replace"), "stream": stream, "time": stamp},
                       ensure_ascii=False) + "\n"
            for r in records
        )
        os.write(self._fd, out.encode())

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

    @property
    def time_ns(self) -> int:
        return parse_rfc3339(self.time)


def read_records(path: str) -> Iterator[LogRecord]:
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write
            yield LogRecord(entry.get("stream", "stdout"), entry.get("log", "").encode(), entry.get("time", ""))
