"""The userland proxy's process and relay (network/proxyd.py, network/relay.py) on loopback:
bytes both ways through splice, half-closes passed through, many connections at once, a target
that refuses, ports freed by remove, a dead process replaced with every port handed over again."""

import asyncio
import contextlib
import hashlib
import os
import socket
import threading
import time

import pytest

from dockyard.network.proxyd import Userland

PAYLOAD = os.urandom(3 << 20)  # larger than a pipe's chunk, so the relay loops and blocks on writes


class Target:
    """A server standing in for the container: reads a connection to its EOF, then answers with
    the digest of what it got followed by PAYLOAD (so the answer flows after a half-close)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = self.sock.getsockname()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # OSError: the proxy closed the connection
            digest = hashlib.sha256()
            while chunk := conn.recv(1 << 16):
                digest.update(chunk)
            conn.sendall(digest.digest() + PAYLOAD)

    def close(self) -> None:
        self.sock.close()


def listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        answer = bytearray()
        while chunk := s.recv(1 << 16):
            answer += chunk
    return bytes(answer)


@pytest.fixture
def userland():
    u = Userland()
    yield u
    u.stop()


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


def test_bytes_flow_both_ways_with_half_close(userland, target):
    sock = listener()
    userland.add("tcp/a", sock, target.address)
    data = os.urandom(2 << 20) + b"end"
    answer = exchange(sock.getsockname()[1], data)
    assert answer[:32] == hashlib.sha256(data).digest()
    assert answer[32:] == PAYLOAD
    sock.close()


def test_many_connections_at_once(userland, target):
    sock = listener()
    userland.add("tcp/a", sock, target.address)
    port = sock.getsockname()[1]
    results: list[bool] = []

    def one(i: int) -> None:
        data = f"client {i}".encode() * 1000
        answer = exchange(port, data)
        results.append(answer[:32] == hashlib.sha256(data).digest() and answer[32:] == PAYLOAD)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 16
    sock.close()


def test_a_refusing_target_closes_the_client(userland):
    gone = socket.create_server(("127.0.0.1", 0))
    address = gone.getsockname()
    gone.close()
    sock = listener()
    userland.add("tcp/a", sock, address)
    with socket.create_connection(sock.getsockname(), timeout=5) as s:
        s.settimeout(5)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
    sock.close()


def test_remove_frees_the_port_and_ends_its_connections(userland, target):
    sock = listener()
    port = sock.getsockname()[1]
    userland.add("tcp/a", sock, target.address)
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"half a request")
    time.sleep(0.1)  # the relay has accepted it and connected to the target
    userland.remove("tcp/a")
    sock.close()
    try:
        assert client.recv(10) == b""  # closed by the proxy, not left hanging
    except ConnectionResetError:
        pass
    client.close()
    again = socket.socket()
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemon binds
    again.bind(("127.0.0.1", port))  # nothing listens on the port any more
    again.listen(1)
    again.close()


def test_a_dead_process_is_replaced_and_gets_every_port_again(userland, target):
    first = listener()
    userland.add("tcp/first", first, target.address)
    assert exchange(first.getsockname()[1], b"x")[32:] == PAYLOAD
    old = userland.proc
    old.kill()
    old.wait()
    second = listener()
    userland.add("tcp/second", second, target.address)
    assert userland.proc is not None and userland.proc.pid != old.pid
    for sock in (first, second):
        assert exchange(sock.getsockname()[1], b"y")[32:] == PAYLOAD
        sock.close()


def test_stop_ends_the_process(userland, target):
    sock = listener()
    userland.add("tcp/a", sock, target.address)
    proc = userland.proc
    userland.stop()
    assert proc.poll() is not None and userland.proc is None
    sock.close()


def test_a_process_that_dies_is_noticed_and_replaced_without_a_request(target):
    async def scenario() -> None:
        userland = Userland()
        sock = listener()
        try:
            userland.add("tcp/a", sock, target.address)
            old = userland.proc
            old.kill()
            for _ in range(100):  # the pidfd wakes the loop; the new process gets the port
                await asyncio.sleep(0.05)
                if userland.proc is not None and userland.proc is not old:
                    break
            assert userland.proc is not None and userland.proc is not old
            answer = await asyncio.to_thread(exchange, sock.getsockname()[1], b"z")
            assert answer[32:] == PAYLOAD
        finally:
            userland.stop()
            sock.close()

    asyncio.run(scenario())
