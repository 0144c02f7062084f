"""HTTP over a raw unix socket, for tests that must see exactly what goes over the wire."""

import socket


def connect(path: str, timeout: float = 30) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_all(s: socket.socket) -> bytes:
    """Everything until the server closes; a timeout here fails the test (the server hung)."""
    out = b""
    while data := s.recv(65536):
        out += data
    return out


def exchange(path: str, raw: bytes) -> bytes:
    with connect(path) as s:
        s.sendall(raw)
        return read_all(s)


def _fill(s: socket.socket, buffered: bytearray, until) -> None:
    """Receive into ``buffered`` until ``until(buffered)`` holds."""
    while not until(buffered):
        data = s.recv(65536)
        assert data, f"connection closed mid-response: {bytes(buffered)!r}"
        buffered += data


def read_response(s: socket.socket, buffered: bytearray) -> tuple[bytes, dict[str, str], bytes]:
    """One response off a keep-alive connection (Content-Length or chunked body): its status
    line, headers (names lower-cased) and body. ``buffered`` keeps what came after it."""
    _fill(s, buffered, lambda b: b"\r\n\r\n" in b)
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    buffered[:] = rest
    lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            _fill(s, buffered, lambda b: b"\r\n" in b)
            size_line, _, rest = bytes(buffered).partition(b"\r\n")
            size = int(size_line, 16)
            buffered[:] = rest
            _fill(s, buffered, lambda b, n=size + 2: len(b) >= n)
            body += bytes(buffered[:size])
            del buffered[:size + 2]
            if size == 0:
                return lines[0], headers, body
    length = int(headers.get("content-length", "0"))
    _fill(s, buffered, lambda b: len(b) >= length)
    body = bytes(buffered[:length])
    del buffered[:length]
    return lines[0], headers, body
