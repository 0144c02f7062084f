"""Listening sockets (unix, TCP with optional TLS) and the connections they accept."""

import asyncio
import os
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Mapping

from dockyard.httpserver.connection import Connection, header_line
from dockyard.httpserver.limits import Limits
from dockyard.httpserver.request import Request
from dockyard.httpserver.response import Response

Handler = Callable[[Request], Awaitable[Response | None]]


class Server:
    """Serves ``handler`` on any number of sockets. ``default_headers`` go on every response.

    When the process runs out of file descriptors, asyncio stops accepting for a second and
    retries (its EMFILE back-off); the listen backlog (``Limits.backlog``) holds new clients
    meanwhile, so they wait instead of being refused.
    """

    def __init__(self, handler: Handler, limits: Limits | None = None,
                 default_headers: Mapping[str, str] | None = None) -> None:
        self.handler = handler
        self.limits = limits or Limits()
        self.default_headers = list((default_headers or {}).items())
        # Encoded once: they open every response head.
        self.default_head = b"\r\n".join(header_line(k, v) for k, v in self.default_headers)
        self.connections: set[Connection] = set()
        self._servers: list[asyncio.AbstractServer] = []

    def _factory(self) -> Connection:
        return Connection(self)

    def _tls_factory(self, context: ssl_module.SSLContext | None):
        """Connections under TLS of our own (tls.py: the client may half-close), or plain ones."""
        if context is None:
            return self._factory
        from dockyard.httpserver.tls import TLSLayer

        return lambda: TLSLayer(context, Connection(self))

    async def listen_unix(self, path: str, mode: int | None = None) -> None:
        """Listen on a unix socket at ``path`` (an old socket file there is replaced)."""
        if os.path.exists(path):
            os.unlink(path)
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(self._factory, path=path, backlog=self.limits.backlog)
        if mode is not None:
            os.chmod(path, mode)
        self._servers.append(server)

    async def listen_tcp(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None) -> list[tuple]:
        """Listen on TCP (TLS when ``ssl`` is given); the bound addresses (port 0 picks one)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._tls_factory(ssl), host, port, backlog=self.limits.backlog)
        self._servers.append(server)
        return [s.getsockname() for s in server.sockets]

    async def listen_socket(self, sock, ssl: ssl_module.SSLContext | None = None) -> None:
        """Serve on a socket that is already bound and listening (socket activation, tests)."""
        loop = asyncio.get_running_loop()
        if sock.family == socket.AF_UNIX:
            server = await loop.create_unix_server(self._factory, sock=sock, backlog=self.limits.backlog)
        else:
            server = await loop.create_server(self._tls_factory(ssl), sock=sock, backlog=self.limits.backlog)
        self._servers.append(server)

    async def close(self) -> None:
        """Stop listening, close every connection and cancel the handlers still running."""
        for server in self._servers:
            server.close()
        self._servers.clear()
        await asyncio.gather(*(c.shutdown() for c in list(self.connections)), return_exceptions=True)
