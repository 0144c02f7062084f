"""One client connection: the asyncio protocol that owns the socket, and its request loop.

The protocol object is the only reader of the socket. Bytes land in its buffer from
``data_received``; the request loop and, while a handler runs, that handler's request (body,
hijacked stream) take them from there one await at a time. The next request head is parsed only
after the handler has returned, so two coroutines never wait for the same bytes.
"""

import asyncio
import logging
import os
import time
from http import HTTPStatus
from typing import cast

from dockyard.httpserver import head as heads
from dockyard.httpserver.errors import BadBody, HTTPError
from dockyard.httpserver.request import Request
from dockyard.httpserver.response import Response

log = logging.getLogger("dockyard.httpserver")

def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Status"


_date_cache: tuple[int, bytes] = (0, b"")
# RFC 9110's IMF-fixdate in English whatever the locale (email.utils.formatdate's, without importing
# the email package at every daemon start).
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _imf_date(now: float) -> str:
    t = time.gmtime(now)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def http_date(loop: asyncio.AbstractEventLoop) -> bytes:
    global _date_cache
    second = int(loop.time())
    if _date_cache[0] != second:
        _date_cache = (second, _imf_date(time.time()).encode())
    return _date_cache[1]


def header_line(name: str, value) -> bytes:
    value = str(value)
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
        raise ValueError(f"line break in response header {name!r}")  # header injection
    return f"{name}: {value}".encode("latin-1")


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(False)


class Connection(asyncio.Protocol):
    def __init__(self, server) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        # Set by connection_made, which the event loop calls before anything else.
        self.transport: asyncio.Transport = cast(asyncio.Transport, None)
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
            self._waiter.set_result(True)

    # -- I/O for the request loop, requests and hijacked streams -------------------------
    async def _fill(self, have: int, timeout: float | None) -> bool:
        """Wait until more than ``have`` bytes are buffered (or EOF); False when ``timeout`` passed
        first."""
        if len(self._buffer) > have or self._eof:
            return True
        if self._waiter is not None:
            raise RuntimeError("a second reader on one HTTP connection")
        if self._read_paused and not self._lost:  # the reader wants more than the buffer's share
            self._read_paused = False
            self.transport.resume_reading()
        # A timer handle, not asyncio.timeout(): this wait happens several times per request.
        self._waiter = waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def receive(self, timeout: float | None) -> bytes | None:
        """What arrived since the last call (b"" at EOF), or None when ``timeout`` passed first."""
        if not await self._fill(0, timeout):
            return None
        return self.take(len(self._buffer))

    def take(self, n: int) -> bytes:
        """The first ``n`` buffered bytes, removed from the buffer."""
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        if self._read_paused and not self._lost and len(self._buffer) < self.limits.read_buffer:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def unread(self, data: bytes) -> None:
        """Put back what a body reader received beyond its body (the next request's bytes)."""
        self._buffer[:0] = data

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
        except ConnectionError:
            pass
        except Exception:  # noqa: BLE001 - one connection's failure never reaches the server
            log.exception("HTTP connection failed")
        finally:
            self.close()

    async def _next_request(self) -> Request | None:
        """Wait for a whole head (the next request's bytes stay in the buffer until the handler of
        this one has returned), parse it; None when the connection is done."""
        first = self._fresh and self.transport.get_extra_info("sslcontext") is None
        self._fresh = False
        buffer = self._buffer
        seen = 0
        while True:
            # Empty lines before a request line are ignored (RFC 9112, 2.2).
            while buffer.startswith(b"\r\n") or buffer.startswith(b"\n"):
                del buffer[:2 if buffer[0] == 13 else 1]
            if first and buffer[:1] == b"\x16":
                # A TLS ClientHello on a plain port (Docker tries HTTPS first): answer at once,
                # as Go's server does, so the client falls back to HTTP instead of waiting.
                self.transport.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an "
                                     b"HTTPS server.\n")
                self.transport.close()
                return None
            end = heads.find_end(buffer, max(seen - 2, 0))
            if end >= 0:
                break
            if len(buffer) > self.limits.max_head:
                self.send_error(431, "request header fields too large")
                return None
            if self._eof:
                if buffer:
                    self.send_error(400, "the request head ended early")
                return None
            seen = len(buffer)
            if not await self._fill(seen, self.limits.head_timeout if buffer else self.limits.idle_timeout):
                if buffer:
                    self.send_error(408, "the request head did not arrive in time")
                return None
        if end > self.limits.max_head:
            self.send_error(431, "request header fields too large")
            return None
        raw = self.take(end)
        try:
            head = heads.parse(raw)
        except heads.BadHead as exc:
            self.send_error(exc.status, exc.message)
            return None
        return Request(self, head, raw)

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
        if self.server.default_head:
            lines.append(self.server.default_head)
        lines += [header_line(name, value) for name, value in headers]
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
        assert response.file_path is not None  # a file response
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
