"""A request head (request line and header fields, up to the blank line) parsed into a ``Head``.

Two parsers, one result: httptools (llhttp, C) when it is installed, for speed on every request
(bench/http_parsers: about a quarter of h11's cost), and h11 for what llhttp refuses but clients
send (bare-LF line endings, which Go's server accepts) and where httptools is missing (the
registry image, built from Debian's python3-h11). Chunked request bodies are h11's in both cases
(see body.py). Both refuse what smuggles a second request into a body: several Content-Length
fields, Content-Length beside Transfer-Encoding, lengths that are not plain digits or above 2^63-1.
"""

from dataclasses import dataclass

try:
    import httptools

    if not hasattr(httptools.HttpRequestParser, "set_dangerous_leniencies"):  # before llhttp (0.1)
        raise ImportError("httptools too old")
except ImportError:
    httptools = None  # type: ignore[assignment]  # h11 reads heads instead

LLHTTP = httptools is not None  # which parser reads heads (tests switch it to run both)

MAX_CONTENT_LENGTH = (1 << 63) - 1


class BadHead(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Head:
    method: bytes
    target: bytes
    http_version: bytes  # b"1.0" or b"1.1"
    headers: list[tuple[bytes, bytes]]
    length: int | None  # Content-Length; None with a chunked body
    chunked: bool


def find_end(buffer: bytearray, start: int = 0) -> int:
    """The index just past the blank line that ends the head in ``buffer`` (CRLF or bare-LF line
    endings), or -1 when it has not arrived; ``start``: where to look from (bytes already seen)."""
    crlf = buffer.find(b"\n\r\n", start)
    lf = buffer.find(b"\n\n", start)
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf + 2
    return crlf + 3 if crlf >= 0 else -1


def parse(raw: bytes) -> Head:
    """``raw``: a whole head, blank line included. Raises BadHead (400, or 505 for a version other
    than 1.0 and 1.1)."""
    if LLHTTP and raw.endswith(b"\r\n\r\n"):
        head = _parse_llhttp(raw)
    else:
        head = _parse_h11(raw)
    if head.http_version not in (b"1.0", b"1.1"):
        raise BadHead(505, "HTTP version not supported")
    return head


class _Fields:
    """httptools' callbacks, kept."""

    __slots__ = ("url", "headers", "complete")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.complete = True


def _parse_llhttp(raw: bytes) -> Head:
    fields = _Fields()
    parser = httptools.HttpRequestParser(fields)
    try:
        parser.feed_data(raw)
    except httptools.HttpParserUpgrade:
        pass  # Upgrade or CONNECT: the head is complete, what follows is the client's raw stream
    except httptools.HttpParserError as exc:
        raise BadHead(400, str(exc) or "malformed request") from None
    if not fields.complete:
        raise BadHead(400, "malformed request head")
    length, chunked, host = None, False, False
    for name, value in fields.headers:
        lowered = name.lower()
        if lowered == b"host":
            host = True
        elif lowered == b"content-length":  # llhttp has refused a second one and anything but digits
            length = int(value)
        elif lowered == b"transfer-encoding":  # llhttp has refused it beside Content-Length
            chunked = True
    if length is not None and length > MAX_CONTENT_LENGTH:
        raise BadHead(400, "Content-Length too large")
    version = parser.get_http_version().encode("ascii")
    if version == b"1.1" and not host:  # as h11 and Go's server (RFC 9112, 3.2)
        raise BadHead(400, "Missing mandatory Host: header")
    return Head(parser.get_method(), fields.url, version, fields.headers,
                None if chunked else (length or 0), chunked)


def _parse_h11(raw: bytes) -> Head:
    import h11  # here, not with the server: with httptools installed only odd heads need it

    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=len(raw) + 1)
    parser.receive_data(raw)
    try:
        event = parser.next_event()
    except h11.RemoteProtocolError as exc:
        raise BadHead(exc.error_status_hint, str(exc) or "malformed request") from None
    if not isinstance(event, h11.Request):
        raise BadHead(400, "malformed request head")
    problem = _framing_error(raw)
    if problem:
        raise BadHead(400, problem)
    length = next((int(v) for k, v in event.headers if k == b"content-length"), None)
    chunked = any(k == b"transfer-encoding" for k, _ in event.headers)
    return Head(event.method, event.target, event.http_version, list(event.headers.raw_items()),
                None if chunked else (length or 0), chunked)


def _framing_error(raw: bytes) -> str | None:
    """What h11 lets through but a server must refuse (request smuggling): several Content-Length
    fields (even equal ones, which h11 merges), a list in one, and Content-Length beside
    Transfer-Encoding. Read from the head as sent, since h11's headers are merged already."""
    lengths: list[bytes] = []
    chunked = False
    for line in raw.split(b"\n")[1:]:
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
