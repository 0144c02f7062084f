"""One client connection: the asyncio protocol that owns the socket, and its request loop.

The protocol object is the only reader of the socket. Bytes land in its buffer from
``data_received``; the request loop and, while a handler runs, that handler's request (body,
hijacked stream) take them from there one await at a time. The next request head is parsed only
after the handler has returned, so two coroutines never wait for the same bytes.
"""

import asyncio
import logging
import os
from email.utils import formatdate
from http import HTTPStatus

import h11

from dockyard.httpserver.errors import BadBody, HTTPError
from dockyard.httpserver.request import Request
from dockyard.httpserver.response import Response

log = logging.getLogger("dockyard.httpserver")

MAX_CONTENT_LENGTH = (1 << 63) - 1


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Status"


_date_cache: tuple[int, bytes] = (0, b"")


def http_date(loop: asyncio.AbstractEventLoop) -> bytes:
    global _date_cache
    second = int(loop.time())
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(usegmt=True).encode())
    return _date_cache[1]


def framing_error(head: bytes) -> str | None:
    """What h11 lets through but a server must refuse (request smuggling): several Content-Length
    fields (even equal ones), a list in one, and Content-Length beside Transfer-Encoding."""
    lengths: list[bytes] = []
    chunked = False
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            lengths.append(value.strip())
        elif name == b"transfer-encoding":
            chunked = True
    if len(lengths) > 1 or (lengths and b"," in lengths[0]):
        return "duplicate Content-Length header"
    if lengths and chunked:
        return "both Content-Length and Transfer-Encoding"
    if lengths and int(lengths[0]) > MAX_CONTENT_LENGTH:  # h11 has checked the digits
        return "Content-Length too large"
    return None


def _head_of(raw: bytearray) -> bytes:
    for end in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")):
        if end >= 0:
            return bytes(raw[:end])
    return bytes(raw)


class Connection(asyncio.Protocol):
    def __init__(self, server) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head)
        self.transport: asyncio.Transport | None = None
        self.peer_gone = asyncio.Event()  # EOF or connection lost
        self.closed = asyncio.Event()  # connection lost (both directions)
        self._buffer = bytearray()
        self._eof = False
        self._lost = False
        self._waiter: asyncio.Future | None = None
        self._read_paused = False
        self._write_paused = False
        self._drainers: list[asyncio.Future] = []
        self._task: asyncio.Task | None = None
        self._fresh = True  # no request read yet
        self.must_close = False  # a response said "Connection: close", or its framing broke

    # -- protocol callbacks --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self._task = self.loop.create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self.limits.read_buffer and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self.peer_gone.set()
        self._wake()
        return True  # keep the write side: a hijacked stream's client half-closes stdin and reads on

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = True
        self.peer_gone.set()
        self.closed.set()
        self._wake()
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()
        self.server.connections.discard(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- I/O for the request loop, requests and hijacked streams -------------------------
    async def receive(self, timeout: float | None) -> bytes | None:
        """What arrived since the last call (b"" at EOF), or None when ``timeout`` passed first."""
        if not self._buffer and not self._eof:
            if self._waiter is not None:
                raise RuntimeError("a second reader on one HTTP connection")
            self._waiter = self.loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                return None
            finally:
                self._waiter = None
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._read_paused and not self._lost:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    @property
    def lost(self) -> bool:
        return self._lost

    def write(self, data: bytes) -> None:
        if self._lost or self.transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._lost:
            raise ConnectionResetError("the client closed the connection")
        if self._write_paused:
            waiter = self.loop.create_future()
            self._drainers.append(waiter)
            await waiter
            if self._lost:
                raise ConnectionResetError("the client closed the connection")

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def shutdown(self) -> None:
        """Stop serving: close the socket and cancel whatever handler still runs."""
        self.close()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except BaseException:  # noqa: BLE001 - it is being torn down
                pass

    # -- the request loop ----------------------------------------------------------------
    async def _serve(self) -> None:
        try:
            while True:
                request = await self._next_request()
                if request is None:
                    return
                if not await self._respond(request):
                    return
                self._next_cycle()
        except ConnectionError:
            pass
        except Exception:  # noqa: BLE001 - one connection's failure never reaches the server
            log.exception("HTTP connection failed")
        finally:
            self.close()

    def _next_cycle(self) -> None:
        """h11 parses requests only (responses are framed here, see start_response): a fresh
        parser per request, given what the last one had received beyond its request."""
        data, closed = self.h11.trailing_data
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head)
        if data:
            self.h11.receive_data(data)  # (b"" would mean EOF to h11)
        if closed:
            self.h11.receive_data(b"")

    async def _next_request(self) -> Request | None:
        raw = bytearray(self.h11.trailing_data[0])
        first = self._fresh and self.transport.get_extra_info("sslcontext") is None
        self._fresh = False
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.send_error(exc.error_status_hint, str(exc) or "malformed request")
                return None
            if event is h11.NEED_DATA:
                started = bool(raw.strip())
                data = await self.receive(self.limits.head_timeout if started else self.limits.idle_timeout)
                if data is None:
                    if started:
                        self.send_error(408, "the request head did not arrive in time")
                    return None
                if first and not raw and data[:1] == b"\x16":
                    # A TLS ClientHello on a plain port (Docker tries HTTPS first): answer at once,
                    # as Go's server does, so the client falls back to HTTP instead of waiting.
                    self.transport.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an "
                                         b"HTTPS server.\n")
                    self.transport.close()
                    return None
                raw += data
                self.h11.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                if event.http_version not in (b"1.0", b"1.1"):
                    self.send_error(505, "HTTP version not supported")
                    return None
                head = _head_of(raw)
                if len(head) > self.limits.max_head:  # h11 only checks heads still incomplete
                    self.send_error(431, "request header fields too large")
                    return None
                problem = framing_error(head)
                if problem:
                    self.send_error(400, problem)
                    return None
                return Request(self, event)
            return None  # ConnectionClosed

    async def _respond(self, request: Request) -> bool:
        """Run the handler and answer; True when the connection can serve the next request."""
        try:
            response = await self.server.handler(request)
        except BadBody as exc:
            if not request.response_started:
                self.send_error(exc.status, exc.message)
            return False
        except HTTPError as exc:
            response = Response(exc.status, exc.message)
        except ConnectionError:
            return False
        except Exception:  # noqa: BLE001 - the server never dies from a handler
            log.exception("%s %s failed", request.method, request.path)
            if request.response_started:
                return False
            response = Response(500, "internal server error")
        if request.hijacked or self._lost:
            return False
        if request.stream is not None:
            if not request.stream.finished:
                return False  # cut short: closing tells the client the body is incomplete
        else:
            try:
                await self.send_response(request, response or Response(204))
            except ValueError as exc:  # a header the handler built is unsendable (line break)
                log.error("%s %s: %s", request.method, request.path, exc)
                self.send_error(500, "internal server error")
                return False
        if not request.body_done and not await request.discard_body(self.limits.drain_limit):
            return False
        return not self.must_close

    def head(self, status: int, headers: list[tuple[str, str]], phrase: bytes | None = None) -> bytes:
        """A response head: status line, the server's default headers, ``headers``, Date."""
        lines = [b"HTTP/1.1 %d %s" % (status, phrase or reason(status))]
        for name, value in (*self.server.default_headers, *headers):
            value = str(value)
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"line break in response header {name!r}")  # header injection
            lines.append(f"{name}: {value}".encode("latin-1"))
        lines.append(b"Date: " + http_date(self.loop))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def start_response(self, request: Request, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> str:
        """Send the head of a response (with ``body`` when it is all there is); the framing of
        what follows: "length" when ``headers`` has
        Content-Length, else "chunked" to HTTP/1.1 and "close" (close-delimited) to HTTP/1.0;
        "none" for HEAD, 1xx, 204 and 304."""
        headers = list(headers)
        close = request.wants_close or (not request.body_done and (
            request.waiting_for_continue or not request.body_small(self.limits.drain_limit)))
        sized = any(name.lower() == "content-length" for name, _ in headers)
        if 100 <= status < 200 or status in (204, 304):
            framing = "none"
        elif sized:
            framing = "length"
        elif request.http_version == "1.1":
            framing = "chunked"
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            framing, close = "close", True
        if request.method == "HEAD":
            framing = "none"
        if request.keep_alive_1_0 and not close:
            headers.append(("Connection", "keep-alive"))  # what an HTTP/1.0 client waits for to reuse it
        if close:
            headers.append(("Connection", "close"))
            self.must_close = True
        # A whole body goes out with its head: one write, one system call.
        self.write(self.head(status, headers) + (body if framing == "length" else b""))
        return framing

    async def send_response(self, request: Request, response: Response) -> None:
        status = response.status
        headers = list(response.headers.items())
        if response.file_path is not None:
            await self._send_file(request, response, headers)
            return
        body, content_type = response.encode()
        if content_type and "Content-Type" not in response.headers:
            headers.append(("Content-Type", content_type))
        if not (100 <= status < 200 or status in (204, 304)):
            headers.append(("Content-Length", str(len(body))))
        self.start_response(request, status, headers, body)
        await self.drain()

    async def _send_file(self, request: Request, response: Response, headers: list[tuple[str, str]]) -> None:
        with open(response.file_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            headers.append(("Content-Length", str(size)))
            if "Content-Type" not in response.headers:
                headers.append(("Content-Type", "application/octet-stream"))
            if self.start_response(request, response.status, headers) == "length":
                left = size
                while left > 0 and (data := await asyncio.to_thread(f.read, min(left, 1 << 20))):
                    self.write(data)
                    left -= len(data)
                    await self.drain()
                if left:
                    self.must_close = True  # the file shrank: the framing is broken
        await self.drain()

    def send_error(self, status: int, message: str) -> None:
        """A plain-text error, and the end of the connection."""
        if self._lost or self.transport.is_closing():
            return
        body = (message + "\n").encode("utf-8", "replace")
        self.transport.write(self.head(status, [("Content-Type", "text/plain; charset=utf-8"),
                                                ("Content-Length", str(len(body))), ("Connection", "close")]) + body)
        self.transport.close()
