"""A small HTTP/1.1 client for the Engine API over a unix socket (or TCP, optionally with TLS).

Built on `_socket` and `_json` directly: the CLI starts on every command, and `socket`, `json`,
`http.client` and `urllib.parse` with their imports (enum, re, selectors) would cost more than
the request itself.
"""

import _socket
import os

from dockyard import API_VERSION
from dockyard.util import fastjson as json

DEFAULT_HOST = "unix:///run/dockyard.sock"


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote(text: str, safe: str) -> str:
    """Percent-encode like urllib.parse.quote (UTF-8, unreserved characters kept)."""
    keep = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectionFailed(Exception):
    pass


class Response:
    def __init__(self, sock: _socket.socket, buffered: bytes) -> None:
        self.sock = sock
        self._buf = buffered
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunked = False
        self._remaining: int | None = None
        self._chunk_left = 0
        self._done = False

    # -- raw reading ---------------------------------------------------------------------------
    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if not self._fill():
                raise ConnectionFailed("the daemon closed the connection")
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ConnectionFailed("the daemon closed the connection mid-response")
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read_head(self) -> None:
        status_line = self._read_line().decode("latin-1")
        self.status = int(status_line.split(" ", 2)[1])
        while line := self._read_line():
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
        elif self.status in (204, 304):
            self._remaining = 0  # 101 (a hijacked stream) reads until the daemon closes it

    # -- body ------------------------------------------------------------------------------------
    def read_some(self) -> bytes:
        """The next piece of the body, b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                size = int(self._read_line().split(b";")[0] or b"0", 16)
                if size == 0:
                    while self._read_line():
                        pass
                    self._done = True
                    return b""
                self._chunk_left = size
            if not self._buf and not self._fill():
                raise ConnectionFailed("the daemon closed the connection mid-response")
            data = self._buf[: self._chunk_left]
            self._buf = self._buf[len(data):]
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._read_exact(2)
            return data
        if self._remaining is not None:
            if self._remaining == 0:
                self._done = True
                return b""
            if not self._buf and not self._fill():
                raise ConnectionFailed("the daemon closed the connection mid-response")
            data = self._buf[: self._remaining]
            self._buf = self._buf[len(data):]
            self._remaining -= len(data)
            return data
        if self._buf:
            data, self._buf = self._buf, b""
            return data
        data = self.sock.recv(65536)
        if not data:
            self._done = True
        return data

    def read(self) -> bytes:
        out = bytearray()
        while data := self.read_some():
            out += data
        return bytes(out)

    def json(self):
        return json.loads(self.read() or b"null")

    def json_lines(self):
        pending = b""
        while data := self.read_some():
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if pending.strip():
            yield json.loads(pending)

    def take_buffered(self) -> bytes:
        data, self._buf = self._buf, b""
        return data

    def close(self) -> None:
        self.sock.close()


class Client:
    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.prefix = f"/v{API_VERSION}"

    def _connect(self):
        host = self.host
        try:
            if host.startswith("unix://") or host.startswith("/"):
                path = host.removeprefix("unix://")
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                sock.connect(path)
                return sock
            if host.startswith("tcp://"):
                import socket

                address = host.removeprefix("tcp://").rstrip("/")
                hostname, _, port = address.rpartition(":")
                sock = socket.create_connection((hostname, int(port)))
                if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
                    import ssl

                    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
                    context = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
                    context.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
                    sock = context.wrap_socket(sock, server_hostname=hostname)
                return sock
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ConnectionFailed(f"Cannot connect to the Dockyard daemon at {host}. Is dockyardd running? "
                                   f"({exc.strerror})") from None
        except PermissionError:
            raise ConnectionFailed(f"permission denied while trying to connect to the Dockyard daemon socket at "
                                   f"{host}: run as root or as a member of the dockyard group") from None
        raise ConnectionFailed(f"unsupported DOCKER_HOST {host!r}: use unix:///path or tcp://host:port")

    def url(self, path: str, query: dict | None = None) -> str:
        url = self.prefix + _quote(path, "/:@")
        if query:
            pairs = []
            for key, value in query.items():
                if value is None or value is False:
                    continue
                if isinstance(value, list):
                    pairs += [(key, v) for v in value]
                elif value is True:
                    pairs.append((key, "1"))
                else:
                    pairs.append((key, str(value)))
            if pairs:
                url += "?" + "&".join(f"{_quote(k, '')}={_quote(v, '')}" for k, v in pairs)
        return url

    def send(self, method: str, path: str, *, query: dict | None = None, body=None,
             headers: dict[str, str] | None = None, upgrade: bool = False) -> Response:
        """Send a request and read the response head; the body is left to the caller."""
        sock = self._connect()
        head = [f"{method} {self.url(path, query)} HTTP/1.1", "Host: docker", "User-Agent: Dockyard-Client"]
        payload = b""
        chunked_source = writer = None
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()  # ASCII-escaped, so len() counts bytes
            head.append("Content-Type: application/json")
        elif isinstance(body, bytes):
            payload = body
        elif hasattr(body, "send_to"):
            writer = body  # a body of known size that writes itself (the build context, with sendfile)
        elif body is not None:
            chunked_source = body  # a file object: stream it
        for key, value in (headers or {}).items():
            head.append(f"{key}: {value}")
        if upgrade:
            head += ["Connection: Upgrade", "Upgrade: tcp"]
        if chunked_source is not None:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {writer.size if writer is not None else len(payload)}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        if writer is not None:
            writer.send_to(sock)
        if chunked_source is not None:
            while data := chunked_source.read(1 << 20):
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            sock.sendall(b"0\r\n\r\n")
        response = Response(sock, b"")
        response.read_head()
        if method == "HEAD":  # headers only, whatever Content-Length says
            response._remaining, response._chunked = 0, False
        if response.status >= 400:
            raw = response.read()
            response.close()
            try:
                message = json.loads(raw).get("message", raw.decode())
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace").strip()
            raise APIError(response.status, message)
        return response

    def call(self, method: str, path: str, **kwargs):
        """A whole request: returns the decoded JSON body (None when empty)."""
        response = self.send(method, path, **kwargs)
        try:
            raw = response.read()
        finally:
            response.close()
        if not raw:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return json.loads(raw)
        return raw
