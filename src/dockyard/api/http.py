"""The Docker-specific edge of HTTP: the headers every answer carries, `{"message": ...}` error
bodies, Docker's query conventions (booleans, integers, timestamps) and the streams its clients
expect. The HTTP protocol itself lives in dockyard.httpserver."""

import asyncio
import json

from dockyard import API_VERSION, __version__
from dockyard.httpserver import RawStream, Response, ResponseStream
from dockyard.httpserver import Request as HTTPRequest

__all__ = ["COMMON_HEADERS", "BadRequest", "Request", "Response", "end_hijack", "error_response"]

COMMON_HEADERS = {
    "Api-Version": API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": f"Docker/{__version__} (linux)",
}


class BadRequest(Exception):
    pass


def error_response(status: int, message: str) -> Response:
    return Response(status, {"message": message})


class Request:
    """An Engine API request: the HTTP request plus the route's parameters and the negotiated
    API version."""

    def __init__(self, http: HTTPRequest) -> None:
        self.http = http
        self.method = http.method
        self.path = http.path
        self.headers = http.headers
        self.gone = http.gone  # set when the client hangs up
        self.params: dict[str, str] = {}
        self.api_version = API_VERSION

    @property
    def query(self) -> dict[str, list[str]]:
        return self.http.query

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
        return await self.http.read_chunk(limit)

    async def body(self, limit: int = 64 << 20) -> bytes:
        return await self.http.body(limit)

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
        while await self.read_chunk(1 << 20):
            pass

    # -- the client and the connection ---------------------------------------------------
    @property
    def taken_over(self) -> bool:
        """A streamed or hijacked answer has started: errors can no longer be answered."""
        return self.http.response_started

    async def wait_disconnected(self) -> None:
        await self.http.wait_disconnected()

    async def start_stream(self, status: int = 200, content_type: str = "application/json",
                           headers: dict[str, str] | None = None) -> ResponseStream:
        return await self.http.start_stream(status, {**(headers or {}), "Content-Type": content_type})

    async def hijack(self, content_type: str) -> tuple[RawStream, RawStream]:
        """Switch to a raw bidirectional stream, as `docker attach` and `docker exec` expect; the
        same stream is returned as reader and writer."""
        stream = await self.http.hijack({"Content-Type": content_type})
        return stream, stream


async def end_hijack(stream: RawStream, stdin_pump: asyncio.Future | None) -> None:
    """Finish a hijacked stream: stop forwarding input, flush what is queued, close."""
    if stdin_pump is not None:
        stdin_pump.cancel()
        try:
            await stdin_pump
        except (asyncio.CancelledError, ConnectionError):
            pass
    try:
        await stream.drain()
    except ConnectionError:
        pass
    finally:
        stream.close()
