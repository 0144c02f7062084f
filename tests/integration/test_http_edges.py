"""The Engine API's HTTP edges on a real daemon, over raw sockets: keep-alive after streams,
HTTP/1.0 clients, malformed framing, and the stream endpoints ending when they should."""

import json
import resource
import time

import pytest
from rawhttp import connect, read_all, read_response


def test_ten_event_streams_then_a_request_on_one_connection(daemon):
    with connect(daemon.socket) as s:
        buffered = bytearray()
        for _ in range(10):
            now = time.time()
            s.sendall(f"GET /v1.41/events?since={now - 5:.3f}&until={now + 0.05:.3f} HTTP/1.1\r\nHost: d\r\n\r\n"
                      .encode())
            status, _, _ = read_response(s, buffered)
            assert status.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        status, _, body = read_response(s, buffered)
        assert status.startswith(b"HTTP/1.1 200") and body == b"OK"


def test_http_1_0_client_gets_no_chunks_and_a_close(daemon):
    with connect(daemon.socket) as s:
        now = time.time()
        s.sendall(f"GET /events?since={now - 1:.3f}&until={now + 0.05:.3f} HTTP/1.0\r\n\r\n".encode())
        out = read_all(s)
    head = out.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"chunked" not in head and b"connection: close" in head


def test_negative_content_length_is_refused_not_smuggled(daemon):
    with connect(daemon.socket) as s:
        s.sendall(b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: -1\r\n\r\n"
                  b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        out = read_all(s)
    assert out.startswith(b"HTTP/1.1 400 ") and out.count(b"HTTP/1.1 ") == 1


def test_docker_headers_on_every_answer(daemon):
    with connect(daemon.socket) as s:
        s.sendall(b"GET /nonexistent HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        out = read_all(s)
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Api-Version: 1.41" in head and b"Server: Docker/" in head
    assert "message" in json.loads(body)


@pytest.fixture
def low_fd_limit():
    """A daemon started under it inherits a soft open-files limit of 1,024, a common default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_idle_connections_leave_room_for_new_ones(low_fd_limit, fresh_daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds the client ends too
    idle = [connect(fresh_daemon.socket) for _ in range(1200)]
    try:
        for _ in range(3):
            with connect(fresh_daemon.socket) as s:
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
                assert read_response(s, bytearray())[2] == b"OK"
    finally:
        for s in idle:
            s.close()
