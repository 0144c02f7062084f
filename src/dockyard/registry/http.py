"""The registry's view of HTTP: a request with a streamed body and a response whose body is bytes
or a slice of a file. Handlers see only these two types; ``serve`` binds them to a server."""

from __future__ import annotations

import asyncio
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
                unix: str | None = None) -> asyncio.AbstractServer:
    """Listen on ``host:port`` (or a unix socket) and answer every request with ``handler``."""
    from dockyard.api import http as engine_http  # the project's HTTP/1.1 connection loop

    async def adapter(raw: engine_http.Request) -> None:
        peer = raw.writer.get_extra_info("peername")
        request = Request(raw.method, _target(raw), raw.headers, raw,
                          remote=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "",
                          tls=raw.writer.get_extra_info("sslcontext") is not None)
        response = await handler(request)
        raw.taken_over = True
        try:
            await raw.drain()
        except engine_http.BadRequest:
            response.headers["Connection"] = "close"
        await _write(raw.writer, request, response)
        if response.headers.get("Connection") == "close":
            raw.writer.close()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if tls is None and not unix:
            # A TLS ClientHello on the plain port (Docker tries HTTPS first for 127.0.0.1): answer
            # at once, as Go's server does, so the client falls back to HTTP instead of hanging.
            try:
                first = await reader.readexactly(1)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            if first == b"\x16":
                writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                writer.close()
                return
            reader._buffer[0:0] = first  # put the byte back for the request parser
        await engine_http.serve_connection(reader, writer, adapter)

    if unix:
        return await asyncio.start_unix_server(on_connection, unix, limit=1 << 16)
    return await asyncio.start_server(on_connection, host, port, ssl=tls, limit=1 << 16, backlog=512)


def _target(raw) -> str:
    # The engine's request keeps the decoded path; the registry wants the raw target's query.
    from urllib.parse import quote, urlencode

    query = urlencode([(k, v) for k, vs in raw.query.items() for v in vs])
    return quote(raw.path) + (f"?{query}" if query else "")


REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
           307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 416: "Range Not Satisfiable",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


async def _write(writer: asyncio.StreamWriter, request: Request, response: Response) -> None:
    from email.utils import formatdate

    headers = dict(response.headers)
    if request.header("connection").lower() == "keep-alive":
        headers.setdefault("Connection", "keep-alive")  # what HTTP/1.0 clients (ab) wait for
    if response.status not in (204, 304) and "Content-Length" not in headers:
        headers["Content-Length"] = str(response.length)
    headers["Date"] = formatdate(usegmt=True)
    head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    if request.method != "HEAD":
        async for chunk in response.body_chunks():
            writer.write(chunk)
            await writer.drain()
    await writer.drain()
