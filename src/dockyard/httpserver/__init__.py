"""The project's one HTTP/1.1 server, built on h11. It knows nothing of Docker or registries.

Public surface (everything else in this package is private):

- ``Server(handler, limits=Limits(), default_headers={...})``: ``await server.listen_unix(path)``,
  ``await server.listen_tcp(host, port, ssl=context)``, ``await server.close()``.
- ``handler(request) -> Response | None``: an ``async`` function called once per request, one at a
  time per connection. ``None`` means "204 No Content", or that the handler answered itself with
  ``request.start_stream()`` or ``request.hijack()``.
- ``Request``: ``method``, ``target``, ``path`` (percent-decoded), ``raw_path``, ``query_string``
  (raw bytes after ``?``, as text), ``query`` (parsed, lists of values), ``headers`` (case-insensitive,
  ``get``/``get_all``), ``http_version`` (``"1.0"`` or ``"1.1"``). The body: ``await body(limit)``,
  ``await read_chunk(size)`` (``b""`` at the end), ``async for chunk in request.stream()``,
  ``await save_to(fileobj)``. ``Expect: 100-continue`` is answered when the body is first read.
- ``Response(status, body, headers)``: body ``bytes``, ``str``, JSON (``dict``/``list``) or ``None``;
  ``Response.file(path, content_type)`` sends a file.
- ``await request.start_stream(status, headers) -> ResponseStream``: ``write(data)``, ``finish()``;
  chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0 ones.
- ``await request.hijack(headers) -> RawStream``: ``101 Switching Protocols`` when the client asked
  for ``Upgrade``, else a bare 200 head; then raw bytes both ways: ``read(n)`` (``b""`` once the
  client half-closed), ``write``, ``drain``, ``write_eof``, ``close``, ``closed`` (an
  ``asyncio.Event``: the connection is gone both ways). The handler owns the connection until it
  returns; the connection is closed then.
- ``await request.wait_disconnected()``, ``request.disconnected``, ``request.gone`` (an
  ``asyncio.Event``): the client hung up (or half-closed) - what a long-running streamed response
  watches to stop early.
- ``HTTPError(status, message)``: raise from a handler for a plain-text error answer.

Guarantees: exactly one reader per connection (the connection's protocol object owns the socket;
handlers read through it, and the next request head is parsed only when the handler has returned);
keep-alive, pipelining, chunked request bodies, HTTP/1.0 semantics; malformed requests get 400 (431
for an oversized head) and a closed connection; incomplete heads and idle connections time out.
"""

from dockyard.httpserver.errors import HTTPError
from dockyard.httpserver.limits import Limits
from dockyard.httpserver.request import Request
from dockyard.httpserver.response import RawStream, Response, ResponseStream
from dockyard.httpserver.server import Server

__all__ = ["HTTPError", "Limits", "RawStream", "Request", "Response", "ResponseStream", "Server"]
