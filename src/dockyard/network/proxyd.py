"""The userland proxy's process: one per daemon, serving every published TCP port with the relay
(network/relay.py) in a single thread of its own, so its connections never wait for the daemon's
GIL and the daemon's work never waits for them.

The daemon starts it (fork + exec of this module, which is safe from a threaded process) on
the first published port and talks to it over a SEQPACKET socket pair: "add" hands over a
listening socket (SCM_RIGHTS) and the container's address; "remove" closes a port and its
connections and is answered once done, so the port is free when the daemon goes on. When the
daemon goes away, however it ends, the socket pair hangs up and the process closes every port
and exits, so a restarted daemon can bind them again and adopt its containers.

Run as ``python -m dockyard.network.proxyd FD``.
"""

import array
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback

log = logging.getLogger("dockyard.proxy")
MAX_MESSAGE = 1 << 16
REPLY_TIMEOUT = 5.0
RESPAWN_DELAY = 0.2


class Userland:
    """The daemon's handle on its proxy process: started on first use, started again with every
    port handed over again when it dies (noticed through a pidfd on the daemon's event loop, or
    when a request fails), stopped with the daemon."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.watch: tuple[asyncio.AbstractEventLoop, int] | None = None
        self.served: dict[str, tuple[socket.socket, tuple[str, int]]] = {}
        self.lock = threading.Lock()  # requests and their answers do not interleave

    def add(self, key: str, sock: socket.socket, target: tuple[str, int]) -> None:
        with self.lock:
            self.served[key] = (sock, target)
            self._request({"op": "add", "key": key, "target": list(target)}, sock)

    def remove(self, key: str) -> None:
        with self.lock:
            if self.served.pop(key, None) is not None:
                self._request({"op": "remove", "key": key}, None, answer=True)

    def stop(self) -> None:
        with self.lock:
            self.served.clear()
            self._stop()

    def _request(self, request: dict, sock: socket.socket | None, answer: bool = False) -> None:
        if self.sock is not None:
            try:
                self._send(request, sock)
                if answer and self.sock.recv(16) != b"ok":
                    raise ConnectionResetError("it hung up")
                return
            except OSError as exc:  # dead, or stuck past the timeout: a new one takes over
                log.warning("userland proxy (pid %s): %s; starting it again", self.proc and self.proc.pid, exc)
                self._stop(kill=True)
        self._spawn()  # a new process learns every port still served, which is all it needs

    def _send(self, request: dict, sock: socket.socket | None) -> None:
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))] if sock else []
        assert self.sock is not None, "sent to a spawned proxy process only"
        self.sock.sendmsg([json.dumps(request).encode()], fds)

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(REPLY_TIMEOUT)
        self.sock = ours
        with contextlib.suppress(RuntimeError):  # no event loop in this thread: found dead by a request
            loop = asyncio.get_running_loop()
            pidfd = os.pidfd_open(self.proc.pid)
            loop.add_reader(pidfd, self._died, self.proc)
            self.watch = (loop, pidfd)
        for key, (listener, target) in self.served.items():
            self._send({"op": "add", "key": key, "target": list(target)}, listener)

    def _died(self, proc: subprocess.Popen) -> None:
        with self.lock:
            if proc is not self.proc:
                return
            log.warning("userland proxy (pid %d) ended (status %s); starting it again", proc.pid, proc.poll())
            assert self.watch is not None, "set with the reader that calls this"
            loop = self.watch[0]
            self._stop(kill=True)
        loop.call_later(RESPAWN_DELAY, self._respawn)  # later: a process that cannot start must not spin

    def _respawn(self) -> None:
        with self.lock:
            if self.sock is None and self.served:
                self._spawn()

    def _stop(self, kill: bool = False) -> None:
        if self.watch is not None:
            loop, pidfd = self.watch
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self.watch = None
        if self.sock is not None:
            self.sock.close()  # the process sees the hang-up, closes its ports and exits
            self.sock = None
        if self.proc is not None:
            if kill:
                self.proc.kill()
            try:
                self.proc.wait(REPLY_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


# -- the process --------------------------------------------------------------------------------
def serve(fd: int) -> None:
    from dockyard.network.relay import IN, Relay

    control = socket.socket(fileno=fd)
    relay = Relay()
    fd_space = socket.CMSG_SPACE(array.array("i").itemsize)
    running = True

    def on_control(_events: int) -> None:
        nonlocal running
        payload, ancdata, _flags, _addr = control.recvmsg(MAX_MESSAGE, fd_space)
        fds = array.array("i")
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not payload:
            running = False
            return
        request = json.loads(payload)
        for extra in fds[1:]:
            os.close(extra)
        if request["op"] == "add" and fds:
            relay.add_listener(request["key"], socket.socket(fileno=fds[0]), tuple(request["target"]))
        elif request["op"] == "remove":
            relay.remove_listener(request["key"])
            control.send(b"ok")

    relay.watch(control.fileno(), IN, on_control)
    while running:
        try:
            relay.run_once()
        except InterruptedError:
            continue
        except Exception:  # noqa: BLE001 - one connection's bug must not end every port's proxy
            traceback.print_exc()
    relay.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on a foreground daemon is for the daemon
    serve(int(sys.argv[1]))


if __name__ == "__main__":
    main()
