"""The daemon's side of a process run by a shim: launching it, and fanning its output out."""

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dockyard.util.frames import STDOUT, split_frames


class Attacher:
    """One client reading a process's output (and maybe writing its stdin)."""

    def __init__(self, send: Callable[[int, bytes], None], streams: set[int]) -> None:
        self.send = send
        self.streams = streams
        self.done = asyncio.Event()
        self.detached = False  # the client typed the detach keys


class ControlSender:
    """Sends the daemon's control messages (resize, close_stdin) to a shim on its own duplicate of
    the control socket, outside the stream transport. A shim that has just exited makes that write
    fail (EPIPE); through the transport, the failure closed the socket for reading too and dropped
    the exit line still queued in the kernel (an exec then showed exit code 126)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock.dup()
        self._sock.setblocking(False)

    def send(self, message: dict) -> None:
        if self._sock.fileno() < 0:
            return
        try:  # a few dozen bytes: the socket's queue takes them whole or the shim is gone
            self._sock.send(json.dumps(message).encode() + b"\n", socket.MSG_NOSIGNAL)
        except OSError:
            pass

    def close(self) -> None:
        self._sock.close()


@dataclass
class Launched:
    first: dict  # {"pid", "shim"} or {"error"}
    ctl_reader: asyncio.StreamReader
    ctl_writer: asyncio.StreamWriter  # only closed: messages go through ``control``
    io_reader: asyncio.StreamReader
    io_writer: asyncio.StreamWriter
    control: ControlSender

    def close(self) -> None:
        self.io_writer.close()
        self.ctl_writer.close()
        self.control.close()


class Launches(Protocol):
    """The launcher (runtime/launcher.py), or a test's stand-in for it."""

    def launch(self, request: dict, fds: list[int]) -> None: ...


async def launch(launcher: Launches, request: dict) -> Launched:
    """Hand ``request`` to the launcher with fresh control and stdio sockets; wait for the shim's
    first word: the PID once the process has exec'd, or why it could not."""
    ctl_ours, ctl_theirs = socket.socketpair()
    io_ours, io_theirs = socket.socketpair()
    try:
        launcher.launch(request, [ctl_theirs.fileno(), io_theirs.fileno()])
    finally:
        ctl_theirs.close()
        io_theirs.close()
    control = ControlSender(ctl_ours)
    ctl_reader, ctl_writer = await asyncio.open_unix_connection(sock=ctl_ours)
    io_reader, io_writer = await asyncio.open_unix_connection(sock=io_ours)
    line = await ctl_reader.readline()
    first = json.loads(line) if line else {"error": "the process supervisor exited during start"}
    return Launched(first, ctl_reader, ctl_writer, io_reader, io_writer, control)


async def pump_output(reader: asyncio.StreamReader, tty: bool, attachers: list[Attacher]) -> None:
    """Shim output -> every attacher that wants that stream; attachers are told when it ends."""
    buffer = b""
    try:
        while data := await reader.read(65536):
            if tty:
                for attacher in list(attachers):
                    attacher.send(STDOUT, data)
                continue
            frames, buffer = split_frames(buffer + data)
            for stream, payload in frames:
                for attacher in list(attachers):
                    if stream in attacher.streams:
                        attacher.send(stream, payload)
    except ConnectionError:
        pass
    finally:
        for attacher in list(attachers):
            attacher.done.set()


async def read_exit(ctl: asyncio.StreamReader) -> dict:
    """The shim's last word: {"exit": code, "finished": ns}, or {} if it died without one."""
    try:
        while line := await ctl.readline():
            message = json.loads(line)
            if "exit" in message:
                return message
    except ConnectionError:
        # A shim that exits with our last message (close_stdin) unread resets the socket, and a
        # StreamReader raises that reset before handing out the lines it already holds: the exit
        # line can be among them (an exec then showed exit code 126 after printing all its output).
        return _exit_in(bytes(getattr(ctl, "_buffer", b"")))
    except ValueError:
        pass
    return {}


def _exit_in(data: bytes) -> dict:
    for line in data.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "exit" in message:
            return message
    return {}
