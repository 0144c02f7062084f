"""logs, attach, wait and events deliver every line once, in order, and end when the container
ends, whatever the timing between the request and the container's writes (docker-py as client)."""

import json
import time
from contextlib import contextmanager

import pytest
from rawhttp import connect, read_all

from dockyard.util.frames import split_frames

docker = pytest.importorskip("docker")

SCRIPT = "for i in $(seq 1 40); do echo $i; done; sleep 0.05; for i in $(seq 41 80); do echo $i; done"
EXPECTED = b"".join(b"%d\n" % i for i in range(1, 81))


@pytest.fixture
def api(daemon):
    client = docker.APIClient(base_url=daemon.host, version="1.41", timeout=60)
    yield client
    client.close()


@contextmanager
def started(api, cmd: list[str], start: bool = True):
    """A container running ``cmd`` (created only, with start=False), removed afterwards."""
    cid = api.create_container("busybox", cmd)["Id"]
    try:
        if start:
            api.start(cid)
        yield cid
    finally:
        api.remove_container(cid, force=True)


@pytest.mark.parametrize("delay", [0, 0.001, 0.003, 0.01, 0.03, 0.06, 0.1, 0.3])
def test_follow_gets_every_line_once_whatever_the_timing(api, delay):
    for _ in range(3):
        with started(api, ["sh", "-c", SCRIPT]) as cid:
            time.sleep(delay)  # the follow lands before, during, between and after the writes
            assert b"".join(api.logs(cid, stream=True, follow=True)) == EXPECTED
            assert api.logs(cid) == EXPECTED


def test_follow_of_an_exited_container_ends(api):
    with started(api, ["sh", "-c", "echo one; echo two >&2"]) as cid:
        assert api.wait(cid)["StatusCode"] == 0
        assert b"".join(api.logs(cid, stream=True, follow=True)) == b"one\ntwo\n"
        assert b"".join(api.logs(cid, stream=True, follow=True, stderr=False)) == b"one\n"


def test_follow_with_tail_and_since(api):
    script = "echo a; echo b; echo c; while [ ! -e /tmp/go ]; do sleep 0.01; done; echo d"
    with started(api, ["sh", "-c", script]) as cid:
        while api.logs(cid) != b"a\nb\nc\n":
            time.sleep(0.01)
        since = time.time()
        tail = api.logs(cid, stream=True, follow=True, tail=1)
        recent = api.logs(cid, stream=True, follow=True, since=since)
        api.exec_start(api.exec_create(cid, ["touch", "/tmp/go"]))
        assert b"".join(tail) == b"c\nd\n"
        assert b"".join(recent) == b"d\n"


def test_follow_of_a_long_partial_line_and_stderr_keeps_order(api):
    with started(api, ["sh", "-c", "printf 'no newline'; echo ' then one'; echo err >&2; printf tail"]) as cid:
        assert b"".join(api.logs(cid, stream=True, follow=True)) == b"no newline then one\nerr\ntail"


def test_attach_before_start_ends_when_the_container_exits(api):
    for _ in range(5):
        with started(api, ["sh", "-c", "echo out; echo err >&2"], start=False) as cid:
            stream = api.attach(cid, stream=True, stdout=True, stderr=True)
            api.start(cid)
            assert b"".join(stream) in (b"out\nerr\n", b"err\nout\n")
            assert api.wait(cid)["StatusCode"] == 0


def test_attach_to_a_running_container_ends_at_its_exit(api):
    # (Attaching to a container that already exited waits for its next start, as with Docker.)
    with started(api, ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.01; done; echo out"]) as cid:
        stream = api.attach(cid, stream=True, stdout=True, stderr=True)
        api.exec_start(api.exec_create(cid, ["touch", "/tmp/go"]))
        assert b"".join(stream) == b"out\n"


def test_wait_before_and_after_the_exit(api):
    with started(api, ["sh", "-c", "sleep 0.2; exit 7"]) as cid:
        assert api.wait(cid)["StatusCode"] == 7
        assert api.wait(cid)["StatusCode"] == 7


def test_events_replay_and_live_join_without_gap_or_repeat(api, daemon):
    since = time.time()
    names = [f"exact-ev-{i}" for i in range(12)]
    for name in names[:6]:
        api.remove_container(api.create_container("busybox", ["true"], name=name)["Id"])
    events = api.events(since=since, decode=True, filters={"event": ["create", "destroy"]})
    for name in names[6:]:
        api.remove_container(api.create_container("busybox", ["true"], name=name)["Id"])
    seen = []
    for event in events:
        seen.append((event["Action"], event["Actor"]["Attributes"]["name"]))
        if seen[-1] == ("destroy", names[-1]):
            break
    events.close()
    mine = [s for s in seen if s[1] in names]
    assert mine == [(action, name) for name in names for action in ("create", "destroy")], json.dumps(mine)


def test_follow_right_after_the_start_of_a_short_container(api):
    """docker-py's run(): start, then follow at once, while the container prints and exits."""
    for _ in range(40):
        with started(api, ["echo", "hi"]) as cid:
            assert b"".join(api.logs(cid, stream=True, follow=True)) == b"hi\n"


def test_attach_with_logs_and_stream_repeats_nothing(api, daemon):
    # A raw socket: docker-py's HTTP layer may swallow bytes that arrive with the 101 head.
    script = "for i in $(seq 1 30); do echo $i; done; while [ ! -e /tmp/go ]; do sleep 0.01; done; " \
             "for i in $(seq 31 60); do echo $i; done"
    for _ in range(5):
        with started(api, ["sh", "-c", script]) as cid, connect(daemon.socket) as s:
            s.sendall(f"POST /v1.41/containers/{cid}/attach?logs=1&stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                      "Host: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
            api.exec_start(api.exec_create(cid, ["touch", "/tmp/go"]))
            head, _, frames = read_all(s).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 ")
            assert b"".join(payload for _, payload in split_frames(frames)[0]) == \
                b"".join(b"%d\n" % i for i in range(1, 61))
