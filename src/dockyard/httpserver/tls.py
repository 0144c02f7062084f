"""TLS under a connection, with half-close: the server keeps writing after the client's close_notify.

asyncio's own TLS transport ends the whole connection when the peer closes its sending side
("returning true from eof_received() has no effect when using ssl"). The Docker CLI does exactly
that on a hijacked stream: after the request (or at the end of stdin) it calls CloseWrite, which
on TLS sends close_notify, and then reads the container's output until the daemon closes. Go's
TLS (dockerd) allows that; so does TLS 1.3. Here the TLS records go through ``ssl.MemoryBIO``s
on a plain TCP transport: close_notify is the connection's EOF, and writing goes on.

``TLSLayer`` is the TCP protocol; the connection above sees ``TLSTransport``, a transport with the
same methods it uses on a plain one (write, write_eof, close, flow control, extra info).
"""

from __future__ import annotations

import asyncio
import ssl


class TLSTransport(asyncio.Transport):
    def __init__(self, layer: TLSLayer) -> None:
        super().__init__()
        self._layer = layer

    def write(self, data) -> None:
        self._layer.write(bytes(data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._layer.write_eof()

    def close(self) -> None:
        self._layer.close()

    def abort(self) -> None:
        self._layer.transport.abort()

    def is_closing(self) -> bool:
        return self._layer.transport.is_closing()

    def pause_reading(self) -> None:
        self._layer.transport.pause_reading()

    def resume_reading(self) -> None:
        self._layer.transport.resume_reading()

    def is_reading(self) -> bool:
        return self._layer.transport.is_reading()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self._layer.transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._layer.transport.get_write_buffer_size()

    def get_extra_info(self, name, default=None):
        layer = self._layer
        if name == "sslcontext":
            return layer.context
        if name == "ssl_object":
            return layer.sslobj
        if name == "peercert":
            return layer.sslobj.getpeercert() if layer.handshaken else default
        if name == "cipher":
            return layer.sslobj.cipher() if layer.handshaken else default
        return layer.transport.get_extra_info(name, default)


class TLSLayer(asyncio.Protocol):
    """Decrypts what TCP brings for ``app`` and encrypts what ``app`` writes."""

    def __init__(self, context: ssl.SSLContext, app: asyncio.Protocol) -> None:
        self.context = context
        self.app = app
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.transport: asyncio.Transport  # set by connection_made, before any other call
        self.handshaken = False
        self._queued: list[bytes] = []  # what the app wrote before the handshake finished
        self._eof_to_app = False
        self._sent_close_notify = False

    # -- from TCP ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # The app starts now, so its idle and head timeouts also cover a client that never
        # completes the handshake.
        self.app.connection_made(TLSTransport(self))

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if not self.handshaken:
            try:
                self.sslobj.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return
            except (ssl.SSLError, OSError):
                self._flush()  # the alert, if any, tells the client why
                self.transport.close()
                return
            self.handshaken = True
            self._flush()
            queued, self._queued = self._queued, []
            for chunk in queued:
                self.write(chunk)
        chunks = []
        peer_closed = False
        while True:
            try:
                chunk = self.sslobj.read(1 << 16)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify: the client is done sending
                peer_closed = True
                break
            except (ssl.SSLError, OSError):
                self.transport.close()
                return
            if not chunk:
                peer_closed = True
                break
            chunks.append(chunk)
        self._flush()  # TLS 1.3 session tickets and key updates
        if chunks:
            self.app.data_received(b"".join(chunks))
        if peer_closed:
            self._app_eof()

    def eof_received(self) -> bool:
        self._app_eof()  # a TCP FIN without close_notify ends the input just the same
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        self.app.pause_writing()

    def resume_writing(self) -> None:
        self.app.resume_writing()

    # -- from the app ------------------------------------------------------------------------------
    def _app_eof(self) -> None:
        if not self._eof_to_app:
            self._eof_to_app = True
            self.app.eof_received()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def write(self, data: bytes) -> None:
        if not data or self._sent_close_notify:
            return
        if not self.handshaken:
            self._queued.append(data)
            return
        view = memoryview(data)
        while view:
            try:
                written = self.sslobj.write(view)
            except (ssl.SSLError, OSError):
                self.transport.close()
                return
            view = view[written:]
        self._flush()

    def _close_notify(self) -> None:
        if self.handshaken and not self._sent_close_notify:
            self._sent_close_notify = True
            try:
                self.sslobj.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError, OSError):
                pass  # sent; the client's own close_notify is not waited for
            self._flush()

    def write_eof(self) -> None:
        self._close_notify()
        if self.transport.can_write_eof() and not self.transport.is_closing():
            self.transport.write_eof()

    def close(self) -> None:
        if self.transport.is_closing():
            return
        self._close_notify()
        self.transport.close()
