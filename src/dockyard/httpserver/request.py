"""One HTTP request as a handler sees it: its head, its body (read on demand), and the ways to
answer at length (a stream, a hijacked connection)."""

import array
import asyncio
import fcntl
import socket
import termios
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from dockyard.httpserver.errors import BadBody
from dockyard.httpserver.head import Head
from dockyard.httpserver.response import RawStream, ResponseStream

if TYPE_CHECKING:
    import h11


class Headers:
    """Request headers, names case-insensitive, values as text (latin-1, as HTTP has it)."""

    def __init__(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        self._items = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in items]

    def get(self, name: str, default: str = "") -> str:
        """The value of ``name``; several fields are joined with ", " as RFC 9110 allows."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._items if k == name]

    def __contains__(self, name: str) -> bool:
        return bool(self.get_all(name))

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class Request:
    def __init__(self, connection, head: Head, raw_head: bytes) -> None:
        self._conn = connection
        self.method = head.method.decode("ascii")
        self.target = head.target.decode("latin-1")
        if self.target.startswith("/"):
            raw_path, _, self.query_string = self.target.partition("?")
        else:  # absolute-form (a proxy's request) or "*"
            parts = urlsplit(self.target)
            raw_path, self.query_string = parts.path or "/", parts.query
        self.raw_path = raw_path
        self.path = unquote(raw_path)
        self._query: dict[str, list[str]] | None = None
        self.headers = Headers(head.headers)
        self.http_version = head.http_version.decode("ascii")
        tokens = {t.strip().lower() for t in self.headers.get("connection").split(",")}
        # HTTP/1.0 keeps the connection only when asked (ab, old proxies), and only for a response
        # of known length (see Connection.start_response).
        self.keep_alive_1_0 = self.http_version == "1.0" and "keep-alive" in tokens
        self.wants_close = "close" in tokens or (self.http_version == "1.0" and not self.keep_alive_1_0)
        self.waiting_for_continue = self.http_version == "1.1" and \
            self.headers.get("expect").lower() == "100-continue"
        self._remaining = head.length  # None: chunked, read through h11 (see _next_chunk)
        self._raw_head = raw_head
        self._chunks: h11.Connection | None = None
        self._pending = b""
        self.body_done = head.length == 0
        self.stream: ResponseStream | None = None
        self.hijacked = False
        self._head_sent = False
        self.gone = connection.peer_gone  # an asyncio.Event: set when the client hangs up or half-closes
        self.peer = connection.transport.get_extra_info("peername")  # (host, port) on TCP, "" on unix
        self.tls = connection.transport.get_extra_info("sslcontext") is not None
        # The client's certificate as ssl's getpeercert() gives it: only one the server's CA verified
        # (the swarm port asks for one without requiring it), else None.
        self.peer_certificate = connection.transport.get_extra_info("peercert") if self.tls else None

    @property
    def query(self) -> dict[str, list[str]]:
        """The query parameters, each with its list of values (parsed on first use)."""
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        return self._query

    # -- the body ------------------------------------------------------------------------
    async def read_chunk(self, size: int = 1 << 16) -> bytes:
        """The next piece of the body (at most ``size`` bytes), or b"" at its end."""
        if not self._pending:
            self._pending = await self._next_data()
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    async def _next_data(self) -> bytes:
        if self.body_done:
            return b""
        conn = self._conn
        if self.waiting_for_continue:
            self.waiting_for_continue = False
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._remaining is None:
            return await self._next_chunk()
        data = await conn.receive(conn.limits.body_timeout)
        if data is None:
            raise BadBody("the request body did not arrive in time", 408)
        if not data:
            raise BadBody("the request body ended early")
        if len(data) > self._remaining:
            conn.unread(data[self._remaining:])  # the next request's
            data = data[:self._remaining]
        self._remaining -= len(data)
        self.body_done = not self._remaining
        return data

    async def _next_chunk(self) -> bytes:
        """A chunked body, decoded by h11 (given the head again, then the body's bytes)."""
        import h11  # imported by the first chunked body, not at the daemon's start

        conn = self._conn
        parser = self._chunks
        try:
            if parser is None:
                parser = self._chunks = h11.Connection(h11.SERVER, max_incomplete_event_size=conn.limits.max_head)
                parser.receive_data(self._raw_head)
                if not isinstance(parser.next_event(), h11.Request):
                    raise BadBody("malformed request head")
            while True:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    data = await conn.receive(conn.limits.body_timeout)
                    if data is None:
                        raise BadBody("the request body did not arrive in time", 408)
                    parser.receive_data(data)  # b"": the end of the stream, which h11 then refuses
                elif isinstance(event, h11.Data):
                    return bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self.body_done = True
                    leftover = parser.trailing_data[0]
                    if leftover:
                        conn.unread(leftover)  # the next request's
                    return b""
                else:
                    raise BadBody("the request body ended early")
        except h11.RemoteProtocolError as exc:
            raise BadBody(f"malformed request body: {exc}") from None

    async def stream_body(self, size: int = 1 << 16) -> AsyncIterator[bytes]:
        while chunk := await self.read_chunk(size):
            yield chunk

    async def body(self, limit: int = 64 << 20) -> bytes:
        """The whole body; over ``limit`` bytes: 413."""
        out = bytearray()
        while chunk := await self.read_chunk(1 << 20):
            out += chunk
            if len(out) > limit:
                raise BadBody(f"request body larger than {limit} bytes", 413)
        return bytes(out)

    async def save_to(self, file: BinaryIO) -> int:
        """Copy the body into ``file`` (writes run in a thread); the number of bytes written."""
        total = 0
        while chunk := await self.read_chunk(1 << 20):
            await asyncio.to_thread(file.write, chunk)
            total += len(chunk)
        return total

    def body_small(self, limit: int) -> bool:
        """Is what is left of the body known to be at most ``limit`` bytes?"""
        return self._remaining is not None and self._remaining <= limit

    async def discard_body(self, limit: int) -> bool:
        """Read and drop the rest of the body, up to ``limit`` bytes; False if it could not be."""
        dropped = 0
        try:
            while chunk := await self.read_chunk(1 << 20):
                dropped += len(chunk)
                if dropped > limit:
                    return False
        except BadBody:
            return False
        return True

    # -- the client ----------------------------------------------------------------------
    @property
    def disconnected(self) -> bool:
        """The client hung up or half-closed: nobody will read a long answer to the end."""
        return self._conn.peer_gone.is_set()

    async def wait_disconnected(self) -> None:
        await self._conn.peer_gone.wait()

    # -- answering at length -------------------------------------------------------------
    @property
    def response_started(self) -> bool:
        return self._head_sent

    async def start_stream(self, status: int = 200, headers: dict[str, str] | None = None) -> ResponseStream:
        """Send the head now; the body follows through the returned stream's ``write``."""
        headers = dict(headers or {})
        framing = self._conn.start_response(self, status, list(headers.items()))
        self._head_sent = True
        length = next((int(v) for k, v in headers.items() if k.lower() == "content-length"), None)
        self.stream = ResponseStream(self._conn, framing, length)
        await self._conn.drain()
        return self.stream

    async def hijack(self, headers: dict[str, str] | None = None) -> RawStream:
        """Take the raw connection: 101 and ``Upgrade`` when the client asked to upgrade, a bare 200
        head otherwise (older clients). The body, if any, is read and dropped first."""
        conn = self._conn
        await self.discard_body(1 << 20)
        self.hijacked = self._head_sent = True
        headers = dict(headers or {})
        upgrade = self.headers.get("upgrade")
        if upgrade and "upgrade" in self.headers.get("connection").lower():
            headers.update({"Connection": "Upgrade", "Upgrade": upgrade})
            conn.write(conn.head(101, list(headers.items()), b"UPGRADED"))  # moby's wording
        else:
            conn.write(conn.head(200, list(headers.items())))
        await conn.drain()
        await head_read(conn.transport)
        return RawStream(conn, b"")  # what the client sent after the head is in the connection's buffer


HEAD_READ_WAIT = 2.0  # seconds at most: a client that never reads the head still gets its stream


async def head_read(transport: asyncio.BaseTransport) -> None:
    """Wait until a unix-socket client has read everything sent so far (the hijack's head): the
    stream's first bytes then never share a read with the head. docker-py parses the head through
    a buffered reader, then reads the stream from the raw socket: bytes read into that buffer along
    with the head were lost (an exec's first line, on a loaded host; Docker's exec starts tens of
    milliseconds after its head, ours at once). On a unix socket the bytes sent and not yet read by
    the peer are SIOCOUTQ's (TIOCOUTQ) answer; TCP's counts only what is unacknowledged, so it is
    left as it is."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return
    queued = array.array("i", [0])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEAD_READ_WAIT
    delay = 0.0005
    while loop.time() < deadline:
        try:
            fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, queued)
        except OSError:
            return
        if queued[0] == 0:
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)
