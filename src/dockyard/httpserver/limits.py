"""The server's limits and timeouts."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_head: int = 1 << 20  # request line + headers; beyond: 431 (Go's default, so dockerd's too)
    head_timeout: float = 30.0  # a head that started arriving must be complete within this
    idle_timeout: float = 120.0  # a keep-alive connection with no request in flight is closed after this
    body_timeout: float = 300.0  # no body bytes for this long while a handler waits for them: 408
    drain_limit: int = 1 << 20  # unread body left by a handler: read and dropped up to this, else close
    read_buffer: int = 1 << 18  # bytes buffered from the socket before reading is paused
    backlog: int = 4096  # listen(2) backlog (the kernel caps it at net.core.somaxconn)
