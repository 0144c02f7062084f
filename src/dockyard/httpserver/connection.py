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
                self.h11.start_next_cycle()
        except ConnectionError:
            pass
        except Exception:  # noqa: BLE001 - one connection's failure never reaches the server
            log.exception("HTTP connection failed")
        finally:
            self.close()

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
            await self.send_response(request, response or Response(204))
        if not request.body_done and not await request.discard_body(self.limits.drain_limit):
            return False
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def head_fields(self, status: int, headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.server.default_headers]
        out += [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
        out.append((b"Date", http_date(self.loop)))
        return out

    def start_response(self, request: Request, status: int, headers: list[tuple[str, str]]) -> None:
        """Send the head of a response whose body follows (Content-Length in ``headers``, or none:
        then h11 chunks it to an HTTP/1.1 client and closes after it for HTTP/1.0)."""
        if not request.body_done and (self.h11.they_are_waiting_for_100_continue
                                      or not request.body_small(self.limits.drain_limit)):
            headers = [*headers, ("Connection", "close")]  # the body will not be read: don't reuse
        self.write(self.h11.send(h11.Response(status_code=status, headers=self.head_fields(status, headers),
                                              reason=reason(status))))

    async def send_response(self, request: Request, response: Response) -> None:
        status = response.status
        headers = list(response.headers.items())
        if response.file_path is not None:
            await self._send_file(request, response, headers)
            return
        body, content_type = response.encode()
        if content_type and "Content-Type" not in response.headers:
            headers.append(("Content-Type", content_type))
        no_body = status in (204, 304) or 100 <= status < 200
        if not no_body:
            headers.append(("Content-Length", str(len(body))))
        self.start_response(request, status, headers)
        if body and not no_body and request.method != "HEAD":
            self.write(self.h11.send(h11.Data(data=body)))
        self.write(self.h11.send(h11.EndOfMessage()))
        await self.drain()

    async def _send_file(self, request: Request, response: Response, headers: list[tuple[str, str]]) -> None:
        with open(response.file_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            headers.append(("Content-Length", str(size)))
            if "Content-Type" not in response.headers:
                headers.append(("Content-Type", "application/octet-stream"))
            self.start_response(request, response.status, headers)
            if request.method != "HEAD":
                while data := await asyncio.to_thread(f.read, 1 << 20):
                    self.write(self.h11.send(h11.Data(data=data)))
                    await self.drain()
        self.write(self.h11.send(h11.EndOfMessage()))
        await self.drain()

    def send_error(self, status: int, message: str) -> None:
        """A plain-text error and the end of the connection, written past h11 (whose state may be
        broken by the very error being answered)."""
        if self._lost or self.transport.is_closing():
            return
        body = (message + "\n").encode("utf-8", "replace")
        head = [b"HTTP/1.1 %d %s" % (status, reason(status))]
        head += [k + b": " + v for k, v in self.head_fields(status, [("Content-Type", "text/plain; charset=utf-8"),
                                                                   ("Content-Length", str(len(body))),
                                                                   ("Connection", "close")])]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
