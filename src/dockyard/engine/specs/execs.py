"""What `POST /containers/{id}/exec` and `POST /exec/{id}/start` ask for (moby's ExecConfig)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.specs import checks, wire


@dataclass
class ExecCreate:
    attach_stdin: bool | None = wire("AttachStdin")
    attach_stdout: bool | None = wire("AttachStdout")
    attach_stderr: bool | None = wire("AttachStderr")
    console_size: list[int] | None = wire("ConsoleSize", go="uint", check=checks.console_size)
    detach_keys: str | None = wire("DetachKeys")
    tty: bool | None = wire("Tty")
    env: list[str] | None = wire("Env")
    cmd: list[str] | None = wire("Cmd")
    privileged: bool | None = wire("Privileged")
    user: str | None = wire("User")
    working_dir: str | None = wire("WorkingDir")


@dataclass
class ExecStart:
    detach: bool | None = wire("Detach")
    tty: bool | None = wire("Tty")
    console_size: list[int] | None = wire("ConsoleSize", go="uint", check=checks.console_size)
