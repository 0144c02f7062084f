"""What the swarm tests share: a free loopback port for the swarm's listen address, and checks of
a CLI call's outcome that show its stderr when it went the other way."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ok(result: subprocess.CompletedProcess) -> str:
    """The command's stdout; it must have succeeded."""
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def refused(result: subprocess.CompletedProcess) -> str:
    """The command's stderr; it must have failed."""
    assert result.returncode != 0, result.stdout.decode()
    return result.stderr.decode()
