"""Clients that go away mid-request or mid-stream: whatever the handler was doing (following logs,
attached, streaming events or stats, waiting, reading a large body) ends, and the daemon is left
with the tasks and file descriptors it had before. Counted from the daemon's SIGUSR1 task dump
(as dockerd's goroutine dump) and /proc/<pid>/fd."""

import glob
import os
import signal
import socket
import subprocess

import docker
import pytest
from conftest import DOCKER_CLI
from waiting import until

CHATTY = ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]


def counts(daemon) -> tuple[int, int, str]:
    """(tasks, open descriptors, the dump) as the daemon itself reports them on SIGUSR1."""
    pattern = os.path.join(daemon.exec_root, "task-stacks-*.log")
    before = set(glob.glob(pattern))
    daemon.proc.send_signal(signal.SIGUSR1)
    assert until(lambda: set(glob.glob(pattern)) - before), "no task dump after SIGUSR1"
    path = max(set(glob.glob(pattern)) - before, key=os.path.getmtime)
    assert until(lambda: open(path).read().endswith("\n"))
    text = open(path).read()
    os.unlink(path)
    first = text.split("\n", 1)[0].split()
    return int(first[0]), int(first[2]), text


def fds(daemon) -> int:
    return len(os.listdir(f"/proc/{daemon.proc.pid}/fd"))


def settled(daemon, baseline: tuple[int, int]) -> bool:
    tasks, descriptors, _ = counts(daemon)
    return (tasks, descriptors) == baseline


def docker_env(daemon) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": os.path.join(daemon.dir, "docker-config")}


def spawn(daemon, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([DOCKER_CLI, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=docker_env(daemon))


def first_line(proc: subprocess.Popen) -> bytes:
    """The client's first line of output: its request reached a handler that streams."""
    return proc.stdout.readline()


@pytest.fixture
def quiet_daemon(fresh_daemon):
    """A daemon of the test's own with one chatty running container and one stopped container."""
    chatty = fresh_daemon.cli("run", "-d", "--network", "none", "--name", "chatty", "busybox", *CHATTY)
    assert chatty.returncode == 0, chatty.stderr
    stopped = fresh_daemon.cli("create", "--network", "none", "--name", "stopped", "busybox", "true")
    assert stopped.returncode == 0, stopped.stderr
    yield fresh_daemon


def baseline_of(daemon) -> tuple[int, int]:
    """Tasks and descriptors once a few requests have come and gone (lazily made things exist)."""
    for _ in range(3):
        assert daemon.cli("ps", "-a").returncode == 0
    last = None
    for _ in range(100):  # the same twice in a row: nothing is still winding down
        now = counts(daemon)[:2]
        if now == last:
            return now
        last = now
    raise AssertionError(f"the daemon never settled: {counts(daemon)[2]}")


def test_docker_cli_clients_killed_mid_stream_leave_nothing(quiet_daemon):
    d = quiet_daemon
    baseline = baseline_of(d)
    streaming = []
    for _ in range(3):
        streaming += [
            spawn(d, "logs", "-f", "chatty"),
            spawn(d, "attach", "--no-stdin", "chatty"),
            spawn(d, "events", "--since", "0"),
            spawn(d, "stats", "--no-trunc", "--format", "{{.Name}}", "chatty"),
        ]
    with_stdin = [spawn(d, "attach", "chatty", stdin=subprocess.PIPE) for _ in range(3)]
    waiting = [spawn(d, "wait", "chatty") for _ in range(3)]
    try:
        for proc in [*streaming, *with_stdin]:
            assert first_line(proc), f"{proc.args} printed nothing"
        # `wait` prints nothing until the exit: its connection open in the daemon is the sign.
        assert until(lambda: fds(d) >= baseline[1] + len(streaming) + len(with_stdin) + len(waiting), 30)
    finally:
        for proc in [*streaming, *with_stdin, *waiting]:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            if proc.stdin:
                proc.stdin.close()
    assert until(lambda: settled(d, baseline), 30), counts(d)[2]
    # The container went on running through all of it, and the daemon still answers.
    assert d.client.call("GET", "/containers/chatty/json")["State"]["Running"]


def test_docker_py_streams_closed_early_leave_nothing(quiet_daemon):
    d = quiet_daemon
    baseline = baseline_of(d)
    client = docker.DockerClient(base_url=d.host, version="1.41")
    try:
        for _ in range(5):
            logs = client.api.logs("chatty", stream=True, follow=True)
            assert next(logs)
            logs.close()
            events = client.api.events(since=0)
            assert next(events)
            events.close()
            stats = client.api.stats("chatty", stream=True, decode=True)
            assert next(stats)["name"]
            stats.close()
            sock = client.api.attach_socket("chatty", params={"stdout": 1, "stream": 1})
            assert sock._sock.recv(1024)
            sock._sock.close()
            sock.close()
    finally:
        client.close()
    assert until(lambda: settled(d, baseline), 30), counts(d)[2]


def raw(d, head: bytes, body: bytes = b"") -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.socket)
    s.sendall(head + body)
    return s


def test_clients_gone_mid_request_or_mid_body_leave_nothing(quiet_daemon):
    d = quiet_daemon
    baseline = baseline_of(d)
    big = 64 << 20
    sockets = []
    for _ in range(3):
        sockets += [
            raw(d, b"GET /_ping HTTP/1.1\r\nHost: d\r\n"),  # a head cut short
            raw(d, b"POST /images/create?fromSrc=-&repo=cut HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                   b"Content-Length: %d\r\n\r\n" % big, b"\0" * (1 << 20)),
            raw(d, b"POST /images/load HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n", b"100000\r\n" + b"\0" * (1 << 20)),
            raw(d, b"POST /build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                   b"Content-Length: %d\r\n\r\n" % big, b"\0" * (1 << 20)),
            raw(d, b"POST /containers/chatty/wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n"),
            raw(d, b"GET /containers/chatty/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n"),
        ]
    # Every request is in: the daemon holds a descriptor for each connection.
    assert until(lambda: fds(d) >= baseline[1] + len(sockets), 30)
    for s in sockets:
        s.close()
    assert until(lambda: settled(d, baseline), 30), counts(d)[2]
    assert not [i for i in d.client.call("GET", "/images/json") if any("cut" in t for t in i["RepoTags"] or [])]
