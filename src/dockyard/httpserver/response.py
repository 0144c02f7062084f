"""What a handler answers: a whole response, a streamed one, or the raw connection (hijack)."""

import json
from dataclasses import dataclass, field


@dataclass
class Response:
    """``body``: bytes (Content-Type from ``headers``, else application/octet-stream), str
    (text/plain), dict or list (JSON, one line), or None. ``file_path``: send that file instead."""

    status: int = 200
    body: bytes | dict | list | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    file_path: str | None = None

    @classmethod
    def file(cls, path: str, content_type: str = "application/octet-stream", status: int = 200,
             headers: dict[str, str] | None = None) -> "Response":
        return cls(status, None, {**(headers or {}), "Content-Type": content_type}, path)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", ""
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode() + b"\n", "application/json"


class ResponseStream:
    """A response body sent as it is produced, framed as the head said: chunks (HTTP/1.1 without
    Content-Length), the declared length, or until the close (HTTP/1.0)."""

    def __init__(self, connection, framing: str, length: int | None = None) -> None:
        self._conn = connection
        self._framing = framing
        self._left = length
        self.finished = False

    async def write(self, data: bytes) -> None:
        if not data or self._framing == "none":
            return
        if self._framing == "chunked":
            self._conn.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            if self._left is not None:
                if len(data) > self._left:
                    raise ValueError("response body longer than its Content-Length")
                self._left -= len(data)
            self._conn.write(data)
        await self._conn.drain()

    async def write_json(self, value) -> None:
        await self.write(json.dumps(value).encode() + b"\n")

    async def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self._framing == "chunked":
            self._conn.write(b"0\r\n\r\n")
        elif self._framing == "close" or self._left:
            self._conn.must_close = True  # the close ends the body (or a short body breaks framing)
        await self._conn.drain()


class RawStream:
    """A hijacked connection: raw bytes both ways, owned by the handler until it returns."""

    def __init__(self, connection, leftover: bytes) -> None:
        self._conn = connection
        self._leftover = leftover
        self.closed = connection.closed  # an asyncio.Event: the connection is gone both ways

    async def read(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes; b"" once the client closed (or half-closed) its side."""
        if not self._leftover:
            data = await self._conn.receive(None)
            if len(data) <= n:
                return data
            self._leftover = data
        data, self._leftover = self._leftover[:n], self._leftover[n:]
        return data

    def write(self, data: bytes) -> None:
        if not self.is_closing():
            self._conn.transport.write(data)

    async def drain(self) -> None:
        await self._conn.drain()

    def can_write_eof(self) -> bool:
        return self._conn.transport.can_write_eof()

    def write_eof(self) -> None:
        """Half-close: the client reads EOF and may still send (as docker's hijack expects)."""
        if not self.is_closing() and self.can_write_eof():
            self._conn.transport.write_eof()

    def is_closing(self) -> bool:
        return self._conn.lost or self._conn.transport.is_closing()

    def close(self) -> None:
        self._conn.close()
