"""The real docker CLI in interactive mode, driven through a pseudo-terminal: run -it, exec -it,
detach with ctrl-p ctrl-q and attach again."""

import os
import pty
import select
import subprocess
import time

from conftest import DOCKER_CLI


class Terminal:
    """A docker CLI process on a pty of its own."""

    def __init__(self, daemon, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "DOCKER_HOST": daemon.host, "TERM": "xterm",
               "DOCKER_CONFIG": os.path.join(daemon.dir, "docker-config")}
        self.proc = subprocess.Popen([DOCKER_CLI, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.seen = b""

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, marker: bytes, timeout: float = 10) -> bytes:
        deadline = time.time() + timeout
        while marker not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.time()))
            if not ready:
                raise AssertionError(f"{marker!r} not seen; got {self.seen[-300:]!r}")
            try:
                self.seen += os.read(self.master, 65536)
            except OSError:
                raise AssertionError(f"terminal closed before {marker!r}; got {self.seen[-300:]!r}") from None
        return self.seen

    def wait(self, timeout: float = 10) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            os.close(self.master)


def test_run_it_is_a_real_terminal_and_passes_the_exit_code(daemon):
    term = Terminal(daemon, "run", "-it", "--rm", "busybox", "sh")
    term.expect(b"# ")
    term.send(b"tty; echo done-$((5+5))\r")
    term.expect(b"done-10")
    assert b"/dev/pts/0\r\n" in term.seen
    term.send(b"exit 7\r")
    assert term.wait() == 7


def test_detach_and_attach_again(daemon):
    term = Terminal(daemon, "run", "-it", "--name", "compat-detach", "busybox", "sh")
    try:
        term.expect(b"# ")
        term.send(b"echo first-$((1+1))\r")
        term.expect(b"first-2")
        term.send(b"\x10\x11")
        assert term.wait() == 0
        running = daemon.docker("inspect", "-f", "{{.State.Running}}", "compat-detach")
        assert running.stdout == b"true\n"
        again = Terminal(daemon, "attach", "compat-detach")
        again.send(b"echo second-$((2+1))\r")
        again.expect(b"second-3")
        again.send(b"exit 3\r")
        assert again.wait() == 3
    finally:
        daemon.docker("rm", "-f", "compat-detach")


def test_exec_it(daemon):
    daemon.docker("run", "-d", "--name", "compat-exec-it", "busybox", "sleep", "300")
    try:
        term = Terminal(daemon, "exec", "-it", "compat-exec-it", "sh")
        term.expect(b"# ")
        term.send(b"echo inside-$((3+4)); tty\r")
        term.expect(b"inside-7")
        term.send(b"exit 5\r")
        assert term.wait() == 5
    finally:
        daemon.docker("rm", "-f", "compat-exec-it")
