"""The launcher: a single-threaded process forked from the daemon before any thread starts.

The daemon is asyncio with executor threads, and forking a threaded process is unsafe. So the
daemon hands each start request (JSON plus the shim's two sockets, via SCM_RIGHTS) to this
process, which forks the shim. Shims are not the daemon's children: they outlive it.
"""

import array
import json
import os
import signal
import socket

MAX_MESSAGE = 1 << 20
MAX_FDS = 8


class Launcher:
    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._sock = sock
        self.pid = pid

    @classmethod
    def fork(cls) -> "Launcher":
        """Call before the daemon starts any thread."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            parent.close()
            try:
                _serve(child)
            finally:
                os._exit(0)
        child.close()
        return cls(parent, pid)

    def launch(self, request: dict, fds: list[int]) -> None:
        payload = json.dumps(request).encode()
        self._sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])

    def close(self) -> None:
        self._sock.close()


def _serve(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # shims are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on a foreground daemon must not reach us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from dockyard.runtime import shim
    from dockyard.runtime.linux import seccomp

    fd_size = array.array("i").itemsize * MAX_FDS
    while True:
        try:
            payload, ancdata, _flags, _addr = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(fd_size))
        except InterruptedError:
            continue
        if not payload:
            return  # the daemon has gone
        fds = array.array("i")
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        request = json.loads(payload)
        # Compiled here, once per distinct profile, rather than in every forked process: ~12 ms each.
        # An exec's request carries its container's profile as "seccomp"; a container's is in its spec.
        spec_linux = (request.get("spec") or {}).get("linux") or {}
        request["seccomp_filter"] = seccomp.prepare(request.get("seccomp") or spec_linux.get("seccomp"))
        pid = os.fork()
        if pid == 0:
            sock.close()
            try:
                shim.run(request, *fds)
            finally:
                os._exit(1)
        for fd in fds:
            os.close(fd)
