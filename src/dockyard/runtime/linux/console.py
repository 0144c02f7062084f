"""The container's terminal, allocated from the container's own devpts instance (as runc does with
its console socket): a pty opened from the host's /dev/ptmx would not exist inside the container,
so `tty` there would answer "not a tty"."""

import array
import fcntl
import os
import socket
import termios

from dockyard.util import syscalls as sc

_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430
_TIOCGPTPEER = 0x5441


def setup_console(console_fd: int, *, bind_console: bool = True) -> None:
    """Open a pty in the container's /dev/pts, make it our controlling terminal and stdio, bind it
    onto /dev/console, and hand the master side to the shim over ``console_fd``."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, array.array("i", [0]))
    number = array.array("I", [0])
    fcntl.ioctl(master, _TIOCGPTN, number)
    slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    if bind_console:  # the container's first process owns /dev/console; an exec does not
        if not os.path.exists("/dev/console"):
            os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        sc.mount(f"/dev/pts/{number[0]}", "/dev/console", None, sc.MS_BIND)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)
    with socket.socket(fileno=console_fd) as channel:
        channel.sendmsg([b"m"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    os.close(master)


def receive_master(channel: socket.socket) -> int:
    """The shim's side: the pty master the container sent, or -1 if it sent none."""
    fds = array.array("i")
    _msg, ancdata, _flags, _addr = channel.recvmsg(1, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return fds[0] if fds else -1
