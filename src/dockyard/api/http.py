"""A small HTTP/1.1 server on asyncio streams, with the two things Docker's API needs beyond
plain request/response: chunked streaming responses and connection hijacking (attach, exec)."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from dockyard import API_VERSION, __version__

log = logging.getLogger("dockyard.api")

REASONS = {
    101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
}
MAX_HEADER_BYTES = 1 << 16

COMMON_HEADERS = {
    "Api-Version": API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": f"Docker/{__version__} (linux)",
}


class BadRequest(Exception):
    pass


@dataclass
class Response:
    status: int = 200
    body: bytes | dict | list | str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", ""
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode() + b"\n", "application/json"


def error_response(status: int, message: str) -> Response:
    return Response(status, {"message": message})


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.method = method
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.reader = reader
        self.writer = writer
        self.params: dict[str, str] = {}
        self.api_version = API_VERSION
        self._body_consumed = False
        self.taken_over = False  # a streaming or hijacked response owns the connection
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._remaining = int(headers.get("content-length", "0") or 0) if not self._chunked else 0
        self._chunk_left = 0
        self._chunks_done = False

    # -- query helpers -------------------------------------------------------------------
    def arg(self, name: str, default: str = "") -> str:
        """The first value, as Go's FormValue gives Docker (docker-py sends an out-of-context
        Dockerfile as `dockerfile=<name in the tar>&dockerfile=<its text>`)."""
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """Docker's boolean query values: "", "0", "false" and "no" are false."""
        values = self.query.get(name)
        if not values:
            return default
        return values[0].strip().lower() not in ("", "0", "false", "no")

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name, "")
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"invalid value for {name}: {value!r} is not an integer") from None

    def timestamp_arg(self, name: str) -> float | None:
        """A unix timestamp parameter (`since`, `until`), fractional seconds allowed."""
        value = self.arg(name)
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise BadRequest(f"invalid value for {name}: {value!r} is not a unix timestamp") from None

    def terminal_size(self) -> tuple[int, int]:
        """`h` and `w` of a resize request."""
        height, width = self.int_arg("h", 0), self.int_arg("w", 0)
        if not (0 <= height < 65536 and 0 <= width < 65536):
            raise BadRequest("invalid terminal size: h and w must be between 0 and 65535")
        return height, width

    # -- body ----------------------------------------------------------------------------
    async def read_chunk(self, limit: int = 1 << 16) -> bytes:
        """The next piece of the request body, or b"" at its end."""
        if self._chunked:
            if self._chunks_done:
                return b""
            if self._chunk_left == 0:
                line = await self.reader.readline()
                try:
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise BadRequest("malformed chunked request body") from None
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    self._chunks_done = True
                    return b""
                self._chunk_left = size
            data = await self.reader.read(min(limit, self._chunk_left))
            if not data:
                raise BadRequest("request body ended early")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                await self.reader.readline()
            return data
        if self._remaining <= 0:
            return b""
        data = await self.reader.read(min(limit, self._remaining))
        if not data:
            raise BadRequest("request body ended early")
        self._remaining -= len(data)
        return data

    async def body(self, limit: int = 64 << 20) -> bytes:
        out = bytearray()
        while chunk := await self.read_chunk():
            out += chunk
            if len(out) > limit:
                raise BadRequest("request body too large")
        return bytes(out)

    async def json(self) -> dict:
        raw = await self.body()
        if not raw.strip() or raw.strip() == b"null":  # docker-py sends null for "no body"
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"invalid JSON in request body: {exc}") from None
        except RecursionError:  # a body nested thousands deep: no Docker request looks like that
            raise BadRequest("invalid JSON in request body: nested too deeply") from None
        if not isinstance(value, dict):
            raise BadRequest("invalid JSON in request body: expected an object")
        return value

    async def drain(self) -> None:
        while await self.read_chunk():
            pass

    # -- taking over the connection ------------------------------------------------------
    async def start_stream(self, status: int = 200, content_type: str = "application/json",
                           headers: dict[str, str] | None = None) -> "ChunkedWriter":
        self.taken_over = True
        head = _status_line(status, {**COMMON_HEADERS, **(headers or {}), "Content-Type": content_type,
                                     "Transfer-Encoding": "chunked"})
        self.writer.write(head)
        await self.writer.drain()
        return ChunkedWriter(self.writer)

    async def hijack(self, content_type: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Switch to a raw bidirectional stream, as `docker attach` and `docker exec` expect."""
        self.taken_over = True
        upgrade = "upgrade" in self.headers.get("connection", "").lower()
        headers = {**COMMON_HEADERS, "Content-Type": content_type}
        if upgrade:
            headers.update({"Connection": "Upgrade", "Upgrade": self.headers.get("upgrade", "tcp")})
        self.writer.write(_status_line(101 if upgrade else 200, headers))
        await self.writer.drain()
        return self.reader, self.writer


async def end_hijack(writer: asyncio.StreamWriter, stdin_pump: asyncio.Future | None) -> None:
    """Finish a hijacked stream: stop forwarding input, flush what is queued, close."""
    if stdin_pump is not None:
        stdin_pump.cancel()
    try:
        await writer.drain()
    finally:
        writer.close()


class ChunkedWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, data: bytes) -> None:
        if data:
            self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self._writer.drain()

    async def write_json(self, value: dict) -> None:
        await self.write(json.dumps(value).encode() + b"\n")

    async def finish(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()


def _status_line(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Date: " + formatdate(usegmt=True))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


Handler = Callable[[Request], Awaitable[Response | None]]


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request headers too large") from None
    lines = raw.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest("malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        # Repeated fields (Go clients send one Accept line per media type) combine, as RFC 9110 says.
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return method, target, headers


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    try:
        while True:
            try:
                head = await _read_head(reader)
            except BadRequest as exc:
                await _write_response(writer, error_response(400, str(exc)), keep_alive=False)
                return
            if head is None:
                return
            method, target, headers = head
            request = Request(method, target, headers, reader, writer)
            response = await handler(request)
            if request.taken_over:
                if request.writer.is_closing():
                    return
                continue
            if response is None:
                response = Response(204)
            try:
                await request.drain()
            except BadRequest:
                await _write_response(writer, response, keep_alive=False, head_only=method == "HEAD")
                return
            keep_alive = headers.get("connection", "").lower() != "close"
            await _write_response(writer, response, keep_alive=keep_alive, head_only=method == "HEAD")
            if not keep_alive:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the peer may already be gone
            pass


async def _write_response(writer: asyncio.StreamWriter, response: Response, *, keep_alive: bool,
                          head_only: bool = False) -> None:
    body, content_type = response.encode()
    headers = {**COMMON_HEADERS, **response.headers}
    if content_type:
        headers["Content-Type"] = content_type
    if response.status not in (204, 304):
        headers["Content-Length"] = str(len(body))
    if not keep_alive:
        headers["Connection"] = "close"
    writer.write(_status_line(response.status, headers) + (b"" if head_only else body))
    await writer.drain()
