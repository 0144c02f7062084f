"""The registry's view of HTTP: a request with a streamed body and a response whose body is bytes
or a slice of a file. Handlers see only these two types; ``serve`` binds them to a server."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 1 << 20


class BodySource(Protocol):
    async def read_chunk(self, limit: int = ...) -> bytes: ...


class BodyError(Exception):
    """The request body could not be read to its end (the client hung up, or sent less or garbage)."""


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    source: BodySource
    remote: str = ""
    tls: bool = False
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    user: str = ""  # set by the access controller

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = unquote(parts.path)
        self.query = parse_qs(parts.query, keep_blank_values=True)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await self.source.read_chunk(CHUNK)
            except Exception as exc:  # noqa: BLE001 - the server's own "malformed/short body" error
                raise BodyError(str(exc)) from None
            if not chunk:
                return
            yield chunk

    async def body(self, limit: int = 4 << 20) -> bytes:
        out = bytearray()
        async for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise ValueError("request body too large")
        return bytes(out)


@dataclass(frozen=True)
class FileSlice:
    path: str
    offset: int
    length: int


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: FileSlice | None = None

    @classmethod
    def json(cls, value: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                   json.dumps(value).encode() + b"\n")

    @property
    def length(self) -> int:
        return self.file.length if self.file else len(self.body)

    async def body_chunks(self) -> AsyncIterator[bytes]:
        if self.file is None:
            if self.body:
                yield self.body
            return
        fd = os.open(self.file.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            position, left = self.file.offset, self.file.length
            while left > 0:
                data = os.pread(fd, min(CHUNK, left), position)
                if not data:
                    raise OSError(f"{self.file.path} ended early")
                position += len(data)
                left -= len(data)
                yield data
        finally:
            os.close(fd)


Handler = Callable[[Request], Awaitable[Response]]


def tls_context(certificate: str, key: str, client_cas: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    for ca in client_cas or []:
        context.load_verify_locations(ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def serve(handler: Handler, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                unix: str | None = None):
    """Listen on ``host:port`` (or a unix socket) and answer every request with ``handler``;
    returns the dockyard.httpserver.Server (``await server.close()`` stops it)."""
    from dockyard.httpserver import Server

    async def adapter(raw) -> None:
        peer = raw.peer
        headers = {name: raw.headers.get(name) for name, _ in raw.headers.items()}
        request = Request(raw.method, raw.target, headers, raw,
                          remote=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "", tls=raw.tls)
        response = await handler(request)
        # The server decides the connection's fate (it closes after a body it could not drain).
        out = {k: v for k, v in response.headers.items() if k.lower() != "connection"}
        if response.status not in (204, 304) and "Content-Length" not in out:
            out["Content-Length"] = str(response.length)
        stream = await raw.start_stream(response.status, out)  # sized by Content-Length; HEAD sends no body
        if request.method != "HEAD":
            async for chunk in response.body_chunks():
                await stream.write(chunk)
        await stream.finish()

    server = Server(adapter)
    if unix:
        await server.listen_unix(unix)
    else:
        await server.listen_tcp(host, port, ssl=tls)
    return server
