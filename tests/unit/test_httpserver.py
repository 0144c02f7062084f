"""The HTTP server on raw sockets: framing, keep-alive, pipelining, HTTP/1.0, 100-continue,
hijack, malformed input (400/431 and a closed connection), timeouts, many idle connections."""

import asyncio
import os
import resource
import socket
import tempfile
import threading
import time

import pytest
from rawhttp import connect, exchange, read_all, read_response

from dockyard.httpserver import Limits, Request, Response, Server
from dockyard.httpserver import head as heads

LIMITS = Limits(max_head=4096, head_timeout=0.5, idle_timeout=1.0, body_timeout=0.5, drain_limit=1024)


async def handler(req: Request) -> Response | None:
    if req.path == "/echo":
        body = await req.body()
        return Response(200, body, {"X-Method": req.method, "X-Version": req.http_version})
    if req.path == "/ignore":
        return Response(200, "ignored")
    if req.path == "/stream":
        stream = await req.start_stream(200, {"Content-Type": "text/plain"})
        for i in range(3):
            await stream.write(b"part%d\n" % i)
        await stream.finish()
        return None
    if req.path == "/until-gone":
        stream = await req.start_stream(200)
        await stream.write(b"waiting\n")
        await req.wait_disconnected()
        GONE.set()
        return None
    if req.path == "/hijack":
        raw = await req.hijack({"Content-Type": "application/vnd.docker.raw-stream"})
        while data := await raw.read():
            raw.write(data.upper())
        raw.write(b"BYE")  # after the client's half-close, output still flows
        await raw.drain()
        raw.close()
        return None
    if req.path == "/hijack-speaks":  # output at once, as an exec's first line
        raw = await req.hijack({"Content-Type": "application/vnd.docker.raw-stream"})
        raw.write(b"first line\n")
        await raw.drain()
        raw.close()
        return None
    if req.path == "/query":
        return Response(200, {"path": req.path, "query": req.query, "raw": req.query_string})
    if req.path == "/inject":
        return Response(200, "x", {"X-Evil": "a\r\nSet-Cookie: b"})
    if req.path == "/boom":
        raise RuntimeError("boom")
    return Response(404, "no such path")


GONE = threading.Event()


@pytest.fixture(scope="module", params=["llhttp", "h11"])
def server_path(request):
    """The server with each head parser: llhttp (httptools) and h11 (where httptools is missing)."""
    if request.param == "llhttp" and heads.httptools is None:
        pytest.skip("httptools is not installed")
    saved = heads.LLHTTP
    heads.LLHTTP = request.param == "llhttp"
    directory = tempfile.mkdtemp(prefix="httpserver-")
    path = os.path.join(directory, "s.sock")
    loop = asyncio.new_event_loop()
    server = Server(handler, LIMITS, {"Server": "test"})
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.listen_unix(path))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield path
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    os.unlink(path)
    os.rmdir(directory)
    heads.LLHTTP = saved


def test_keep_alive_and_pipelining(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                  b"GET /query?a=1&a=2&b= HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        buffered = bytearray()
        status, headers, body = read_response(s, buffered)
        assert status == b"HTTP/1.1 200 OK" and body == b"hello" and headers["server"] == "test"
        assert "date" in headers and headers["x-version"] == "1.1"
        status, _, body = read_response(s, buffered)
        assert b'"a": ["1", "2"]' in body and b'"b": [""]' in body
        status, _, body = read_response(s, buffered)
        assert body == b"abcde"
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /ignore HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rest = bytes(buffered) + read_all(s)
    assert b"Transfer-Encoding: chunked" in rest
    assert b"6\r\npart0\n\r\n6\r\npart1\n\r\n6\r\npart2\n\r\n0\r\n\r\n" in rest
    assert rest.endswith(b"ignored") and rest.count(b"HTTP/1.1 200") == 2


def test_http_1_0_gets_1_0_semantics(server_path):
    out = exchange(server_path, b"GET /stream HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower() and b"connection: close" in head.lower()
    assert body == b"part0\npart1\npart2\n"
    out = exchange(server_path, b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
    assert out.endswith(b"\r\n\r\nhi") and b"X-Version: 1.0" in out  # and the server closed (read_all ended)


def test_expect_100_continue(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100 ")
        s.sendall(b"body")
        buffered = bytearray()
        assert read_response(s, buffered)[2] == b"body"


def test_unread_large_body_closes_unread_small_body_drained(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                  b"GET /ignore HTTP/1.1\r\nHost: x\r\n\r\n")
        buffered = bytearray()
        assert read_response(s, buffered)[2] == b"ignored"
        assert read_response(s, buffered)[2] == b"ignored"
    out = exchange(server_path, b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out


@pytest.mark.parametrize("head", [
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nhi",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET /echo HTTP/9.9\r\nHost: x\r\n\r\n",
])
def test_malformed_requests_get_400_and_a_closed_connection(server_path, head):
    out = exchange(server_path, head + b"GET /ignore HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 501 ", b"HTTP/1.1 505 ")), out
    assert out.count(b"HTTP/1.1") == 1  # nothing after it was taken for a second request


def test_oversized_head_gets_431(server_path):
    out = exchange(server_path, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ")


def test_lf_only_line_endings_are_answered(server_path):
    out = exchange(server_path, b"GET /ignore HTTP/1.1\nHost: x\nConnection: close\n\n")
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"ignored")


def test_incomplete_head_and_body_time_out(server_path):
    assert exchange(server_path, b"GET /ignore HTTP/1.1\r\nHost: x\r\n").startswith(b"HTTP/1.1 408 ")
    out = exchange(server_path, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert out.startswith(b"HTTP/1.1 408 ")


def test_idle_keep_alive_connection_is_closed(server_path):
    with connect(server_path) as s:
        s.sendall(b"GET /ignore HTTP/1.1\r\nHost: x\r\n\r\n")
        buffered = bytearray()
        read_response(s, buffered)
        assert s.recv(10) == b""  # closed by the idle timeout, before the socket's own 10 s


def test_handler_errors_are_500_and_the_connection_lives_on(server_path):
    with connect(server_path) as s:
        s.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /ignore HTTP/1.1\r\nHost: x\r\n\r\n")
        buffered = bytearray()
        assert read_response(s, buffered)[0].startswith(b"HTTP/1.1 500")
        assert read_response(s, buffered)[2] == b"ignored"


def test_hijack_with_upgrade_and_half_close(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly ")
        s.sendall(b"input")
        s.shutdown(socket.SHUT_WR)
        out = read_all(s)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ") and b"Upgrade: tcp" in head
    assert body == b"EARLY INPUTBYE"


def test_a_hijacked_streams_first_bytes_never_share_a_read_with_the_head(server_path):
    """docker-py reads the head through a buffer, then the stream from the raw socket: what the
    buffer took along with the head would be lost. A slow client reads the head alone."""
    with connect(server_path) as s:
        s.sendall(b"POST /hijack-speaks HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        time.sleep(0.3)  # the client is slow to read: the server has long written what it had
        head = s.recv(65536)
        assert head.startswith(b"HTTP/1.1 101 ") and head.endswith(b"\r\n\r\n"), head
        assert read_all(s) == b"first line\n"


def test_hijack_without_upgrade(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /hijack HTTP/1.1\r\nHost: x\r\n\r\nraw")
        s.shutdown(socket.SHUT_WR)
        out = read_all(s)
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"\r\n\r\nRAWBYE")


def test_a_client_leaving_mid_stream_is_noticed(server_path):
    GONE.clear()
    with connect(server_path) as s:
        s.sendall(b"GET /until-gone HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"waiting" not in received:
            data = s.recv(4096)
            assert data
            received += data
    assert GONE.wait(10)


def test_many_idle_connections_do_not_stop_new_ones(server_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds the client ends too
    idle = [connect(server_path) for _ in range(1000)]
    try:
        for s in idle[::100]:
            s.sendall(b"GET /ignore HTTP/1.1\r\nHost: x\r\n")  # some with half a head
        out = exchange(server_path, b"GET /ignore HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.endswith(b"ignored")
    finally:
        for s in idle:
            s.close()


def test_ten_streams_on_one_connection_then_a_request(server_path):
    with connect(server_path) as s:
        buffered = bytearray()
        for _ in range(10):
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            while not buffered.endswith(b"0\r\n\r\n"):
                buffered += s.recv(65536)
            buffered.clear()
        s.sendall(b"GET /ignore HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s, buffered)[2] == b"ignored"


def test_http_1_0_keep_alive_when_asked(server_path):
    with connect(server_path) as s:
        s.sendall(b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
                  b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        buffered = bytearray()
        _, headers, body = read_response(s, buffered)
        assert body == b"hi" and headers["connection"] == "keep-alive"
        rest = bytes(buffered) + read_all(s)  # a body of unknown length: close-delimited, then closed
    assert b"chunked" not in rest and rest.endswith(b"\r\n\r\npart0\npart1\npart2\n")


def test_a_tls_hello_on_a_plain_socket_is_answered_at_once(server_path):
    out = exchange(server_path, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert out == b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def test_a_header_with_a_line_break_is_never_sent(server_path):
    out = exchange(server_path, b"GET /inject HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ") and b"Set-Cookie" not in out


PARSERS = [heads._parse_h11, *([heads._parse_llhttp] if heads.httptools else [])]


@pytest.mark.parametrize("parse", PARSERS)
def test_both_head_parsers_read_the_same_head(parse):
    head = parse(b"POST /v1.41/x?a=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert (head.method, head.target, head.http_version, head.length, head.chunked) == \
        (b"POST", b"/v1.41/x?a=1", b"1.1", 5, False)
    assert [(k.lower(), v) for k, v in head.headers] == \
        [(b"host", b"d"), (b"content-length", b"5"), (b"x-a", b"1"), (b"x-a", b"2")]
    head = parse(b"PUT /y HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert (head.http_version, head.length, head.chunked) == (b"1.0", None, True)
    head = parse(b"POST /a HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    assert (head.method, head.length) == (b"POST", 0)


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("raw", [
    b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET /echo HTTP/9.9\r\n\r\n",
    b"GET /a b HTTP/1.1\r\n\r\n",
    b"GET /a HTTP/1.1\r\nAccept: */*\r\n\r\n",
])
def test_both_head_parsers_refuse_the_same_heads(parse, raw):
    with pytest.raises(heads.BadHead):
        head = parse(raw)
        if head.http_version not in (b"1.0", b"1.1"):
            raise heads.BadHead(505, "version")


def test_tls_hijack_goes_on_after_the_clients_close_notify(tmp_path):
    """Docker's CLI ends its input with CloseWrite, on TLS a close_notify, and reads on: the output
    written after it still arrives (asyncio's own TLS transport would close the connection)."""
    import ssl

    from dockyard.machine import certs

    ca = certs.Pair(str(tmp_path / "ca.pem"), str(tmp_path / "ca-key.pem"))
    certs.make_ca(ca)
    pair = certs.Pair(str(tmp_path / "server.pem"), str(tmp_path / "server-key.pem"))
    certs.make_leaf(ca, pair, "test", server=True, ips=["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    loop = asyncio.new_event_loop()
    server = Server(handler, LIMITS)
    addresses = loop.run_until_complete(server.listen_tcp("127.0.0.1", 0, ssl=context))
    port = addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = ssl.create_default_context(cafile=ca.cert).wrap_bio(incoming, outgoing,
                                                                     server_hostname="127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            while True:
                try:
                    client.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    s.sendall(outgoing.read())
                    incoming.write(s.recv(65536))
            client.write(b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly input")
            s.sendall(outgoing.read())
            try:
                client.unwrap()  # close_notify: our half-close
            except ssl.SSLWantReadError:
                pass
            s.sendall(outgoing.read())
            received = b""
            while data := s.recv(65536):
                incoming.write(data)
                while True:
                    try:
                        chunk = client.read(65536)
                    except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                        break
                    if not chunk:
                        break
                    received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        assert body == b"EARLY INPUTBYE"
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
