"""The TCP relay behind published ports: one thread, one epoll set, non-blocking sockets and
splice(2) through reused pipes, so payload never enters Python and a new connection costs no
thread hand-off. (With a pooled thread per direction, each connection cost about fifty futex
calls of GIL hand-offs, which made the connection rate the proxy's weak point.)

A connection is accept4 on the published port, a non-blocking connect to the container, then two
directions (client -> container, container -> client), each moving bytes socket -> pipe -> socket.
A direction that reaches EOF shuts the other socket's write side, so half-closes pass through as
they do with docker-proxy; when both are done the sockets are closed and the pipes are reused.
A reset or failed write on either side closes both.
"""

import contextlib
import errno
import fcntl
import os
import select
import socket
from collections.abc import Callable

F_SETPIPE_SZ = 1031
SPLICE_F_MOVE = 1
SPLICE_F_NONBLOCK = 2
FLAGS = SPLICE_F_MOVE | SPLICE_F_NONBLOCK  # no SPLICE_F_MORE: it corks the socket (stalls on small replies)
CHUNK = 1 << 20
ROUNDS = 16  # chunks one direction moves per wake-up before other connections get a turn
POOLED_PIPES = 64
IN, OUT, ERR, HUP = select.EPOLLIN, select.EPOLLOUT, select.EPOLLERR, select.EPOLLHUP
TCP_ESTABLISHED = 1  # tcp_info's first byte, the connection's state
STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC


class Pipes:
    """Pipes for splice, reused: making, sizing and closing a pair costs five syscalls."""

    def __init__(self) -> None:
        self.free: list[tuple[int, int]] = []

    def take(self) -> tuple[int, int]:
        if self.free:
            return self.free.pop()
        r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK)
        return r, w

    def give(self, pipe: tuple[int, int], empty: bool) -> None:
        if empty and len(self.free) < POOLED_PIPES:
            self.free.append(pipe)
        else:
            os.close(pipe[0])
            os.close(pipe[1])

    def close(self) -> None:
        for r, w in self.free:
            os.close(r)
            os.close(w)
        self.free = []


class Direction:
    """Bytes from one socket to the other through a pipe."""

    __slots__ = ("src", "dst", "pipe", "pending", "eof", "done", "blocked")

    def __init__(self, src: socket.socket, dst: socket.socket, pipe: tuple[int, int]) -> None:
        self.src, self.dst, self.pipe = src.fileno(), dst, pipe
        self.pending = 0  # bytes in the pipe not yet written to dst
        self.eof = False
        self.done = False
        self.blocked = False  # dst is full: wait until it is writable

    def pump(self) -> None:
        """Move what can be moved now; raises OSError when a socket failed (reset, broken pipe).
        A busy stream stops after ROUNDS chunks with the next one waiting for room (the loop is
        level-triggered, so it is woken again after other connections had their turn)."""
        r, w = self.pipe
        dst = self.dst.fileno()
        for _ in range(ROUNDS):
            if not self.pending:
                if self.eof:
                    break
                try:
                    n = os.splice(self.src, w, CHUNK, flags=FLAGS)
                except BlockingIOError:
                    return
                if not n:
                    self.eof = True
                    break
                self.pending = n
            try:
                self.pending -= os.splice(r, dst, self.pending, flags=FLAGS)
            except BlockingIOError:
                self.blocked = True
                return
            self.blocked = False
        else:
            self.blocked = bool(self.pending)
            return
        if not self.pending and not self.done:
            self.done = True
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)

    def wants_read(self) -> bool:
        return not self.pending and not self.eof


class Relay:
    """The epoll loop: listeners (one per published port) and their connections."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.handlers: dict[int, Callable[[int], None]] = {}
        self.masks: dict[int, int] = {}
        self.listeners: dict[str, Listener] = {}
        self.pipes = Pipes()

    # -- registrations --------------------------------------------------------------------------
    def watch(self, fd: int, mask: int, handler: Callable[[int], None]) -> None:
        """Set fd's interest; a mask of 0 takes fd out of the set (so a socket that hung up,
        and whose hang-up cannot be acted on yet, does not wake the loop again and again)."""
        old = self.masks.get(fd, 0)
        self.handlers[fd] = handler
        if mask == old:
            return
        if not mask:
            self.epoll.unregister(fd)
            del self.masks[fd]
        elif old:
            self.epoll.modify(fd, mask)
            self.masks[fd] = mask
        else:
            self.epoll.register(fd, mask)
            self.masks[fd] = mask

    def forget(self, fd: int) -> None:
        """Before fd is closed (closing it removes it from the epoll set)."""
        self.handlers.pop(fd, None)
        self.masks.pop(fd, None)

    def add_listener(self, key: str, sock: socket.socket, target: tuple[str, int]) -> None:
        self.remove_listener(key)
        self.listeners[key] = Listener(self, sock, target)

    def remove_listener(self, key: str) -> None:
        """Stop serving the port: the listening socket is closed and its connections with it
        (the container behind them is going away)."""
        listener = self.listeners.pop(key, None)
        if listener is not None:
            listener.close()

    # -- the loop -------------------------------------------------------------------------------
    def run_once(self, timeout: float = -1) -> None:
        for fd, mask in self.epoll.poll(timeout):
            handler = self.handlers.get(fd)
            if handler is not None:  # None: closed by an earlier handler of this round
                handler(mask)

    def close(self) -> None:
        for key in list(self.listeners):
            self.remove_listener(key)
        self.pipes.close()
        self.epoll.close()


class Listener:
    def __init__(self, relay: Relay, sock: socket.socket, target: tuple[str, int]) -> None:
        self.relay, self.sock, self.target = relay, sock, target
        self.family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        self.connections: set[Connection] = set()
        sock.setblocking(False)
        relay.watch(sock.fileno(), IN, self.accept)

    def accept(self, _events: int) -> None:
        """One connection per wake-up: the set is level-triggered, so a backlog wakes it again
        at once, and a lone connection costs no accept4 that fails with EAGAIN."""
        try:
            client, _peer = self.sock.accept()
        except OSError:  # EAGAIN (another accept took it), ECONNABORTED, EMFILE: wait for the next one
            return
        Connection(self, client)

    def close(self) -> None:
        for conn in list(self.connections):
            conn.close()
        self.relay.forget(self.sock.fileno())
        self.sock.close()


class Connection:
    __slots__ = ("listener", "relay", "client", "upstream", "up", "down")

    def __init__(self, listener: Listener, client: socket.socket) -> None:
        self.listener, self.relay, self.client = listener, listener.relay, client
        self.up: Direction | None = None
        self.down: Direction | None = None
        self.upstream = socket.socket(listener.family, STREAM)
        try:
            client.setblocking(False)
            for s in (client, self.upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = self.upstream.connect_ex(listener.target)
        except OSError:
            code = errno.EIO
        if code not in (0, errno.EINPROGRESS):
            self.upstream.close()
            client.close()
            return
        listener.connections.add(self)
        # Over loopback and a veth the handshake has mostly completed inside connect(): then
        # relaying starts at once instead of after a trip through epoll for "writable".
        if code == 0 or self.upstream.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_ESTABLISHED:
            self.start()
        else:
            self.relay.watch(self.upstream.fileno(), OUT, self.connected)

    def connected(self, _events: int) -> None:
        if self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.close()  # the container does not answer: the client sees its connection closed
            return
        self.start()

    def start(self) -> None:
        pipes = self.relay.pipes
        self.up = Direction(self.client, self.upstream, pipes.take())
        self.down = Direction(self.upstream, self.client, pipes.take())
        self.relay.handlers[self.upstream.fileno()] = self.on_upstream
        self.relay.handlers[self.client.fileno()] = self.on_client
        self.move(self.up)  # the client's first bytes are usually waiting already

    # The handlers below run only once start() has made both directions.
    def on_client(self, events: int) -> None:
        if events & ERR:  # a reset
            self.close()
            return
        up, down = self.up, self.down
        assert up is not None and down is not None
        if events & (IN | HUP):
            self.move(up)
        if events & OUT:
            self.move(down)

    def on_upstream(self, events: int) -> None:
        if events & ERR:
            self.close()
            return
        up, down = self.up, self.down
        assert up is not None and down is not None
        if events & (IN | HUP):
            self.move(down)
        if events & OUT:
            self.move(up)

    def move(self, direction: Direction) -> None:
        if self.client.fileno() < 0:
            return
        try:
            direction.pump()
        except OSError:
            self.close()
            return
        self.settle()

    def settle(self) -> None:
        """Interest follows state: read where a direction waits for bytes, write where one
        waits for room; both directions done ends the connection."""
        up, down = self.up, self.down
        assert up is not None and down is not None
        if up.done and down.done:
            self.close()
            return
        self.relay.watch(self.client.fileno(), (IN if up.wants_read() else 0) | (OUT if down.blocked else 0),
                         self.on_client)
        self.relay.watch(self.upstream.fileno(), (IN if down.wants_read() else 0) | (OUT if up.blocked else 0),
                         self.on_upstream)

    def close(self) -> None:
        if self.client.fileno() < 0:
            return
        self.listener.connections.discard(self)
        for s in (self.upstream, self.client):
            self.relay.forget(s.fileno())
            s.close()
        for d in (self.up, self.down):
            if d is not None:
                self.relay.pipes.give(d.pipe, empty=not d.pending)
