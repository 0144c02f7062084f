"""The per-container supervisor. It owns the container's stdio, writes the json-file log, reaps
the container and records its exit status, whether or not the daemon is still alive.

Two sockets connect it to the daemon, both handed over at start:
- control: JSON lines. shim -> daemon: {"pid": N} | {"error": msg} | {"exit": code, "finished": ns};
  daemon -> shim: {"resize": [rows, cols]}.
- stdio: output towards the daemon (Docker's multiplexed frames, or raw bytes with a TTY);
  input from the daemon for the container's stdin (EOF closes stdin when StdinOnce is set).
"""

import fcntl
import json
import os
import select
import signal
import socket
import struct
import termios

from dockyard.engine.jsonlog import JsonLogWriter
from dockyard.runtime.linux import enter, init
from dockyard.runtime.linux import syscalls as sc
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.console import receive_master
from dockyard.runtime.linux.enter import join_pid_namespace
from dockyard.util.atomic import write_json
from dockyard.util.frames import STDERR, STDOUT, frame
from dockyard.util.timefmt import now_ns

_READ = 65536


def _send(fd: int | None, data: bytes) -> int | None:
    """Write everything to a daemon socket; forget the socket once the daemon has gone."""
    if fd is None:
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return fd
    except OSError:
        os.close(fd)
        return None


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run(request: dict, ctl: int, stdio: int) -> None:
    """Never returns. ``request`` carries spec, rootfs_mounts, log_path, state_dir, tty, open_stdin."""
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    tty = request.get("tty", False)
    open_stdin = request.get("open_stdin", False)
    console: socket.socket | None = None
    console_fd = -1
    if tty:
        # The container allocates its pty in its own devpts and sends us the master side.
        console, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        console_fd = theirs.detach()
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        child_stdio = (null, null, null)
        outputs: dict[int, int] = {}
        stdin_w: int | None = None
    else:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if open_stdin:
            in_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        else:
            in_r, stdin_w = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), None
        child_stdio = (in_r, out_w, err_w)
        outputs = {out_r: STDOUT, err_r: STDERR}
    err_r_pipe, err_w_pipe = os.pipe2(os.O_CLOEXEC)
    target = request.get("exec_in")  # the PID of a running container to exec into
    try:
        if target:
            join_pid_namespace(target)
        else:
            sc.unshare(sc.CLONE_NEWPID)
    except OSError as exc:
        _send(ctl, json.dumps({"error": f"entering the PID namespace: {exc}"}).encode() + b"\n")
        os._exit(1)
    pid = os.fork()
    if pid == 0:
        _child(request, child_stdio, err_w_pipe, console_fd)
    for fd in set(child_stdio):
        os.close(fd)
    os.close(err_w_pipe)
    if console_fd >= 0:
        os.close(console_fd)
    error = b""
    while chunk := os.read(err_r_pipe, 4096):
        error += chunk
    os.close(err_r_pipe)
    if error:
        os.waitpid(pid, 0)
        if not target and request["spec"]["linux"].get("cgroupsPath"):
            Cgroup(request["spec"]["linux"]["cgroupsPath"]).remove()
        _send(ctl, json.dumps({"error": error.decode(errors="replace")}).encode() + b"\n")
        os._exit(0)
    if console is not None:
        master = receive_master(console)
        console.close()
        outputs[master] = STDOUT
        stdin_w = master
    if request.get("state_dir"):  # lets a restarted daemon find us even if it never heard of this start
        write_json(os.path.join(request["state_dir"], "pid.json"),
                   {"pid": pid, "shim": os.getpid(), "started_at": now_ns()}, durable=False)
    ctl = _send(ctl, json.dumps({"pid": pid, "shim": os.getpid()}).encode() + b"\n")
    _supervise(request, pid, ctl, stdio, outputs, stdin_w, tty)


def _child(request: dict, stdio: tuple[int, int, int], error_fd: int, console_fd: int) -> None:
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target, inheritable=True)
        keep = sorted(fd for fd in (error_fd, console_fd) if fd >= 0)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
    except BaseException as exc:  # noqa: BLE001
        os.write(error_fd, f"setting up stdio: {exc}".encode())
        os._exit(127)
    if request.get("exec_in"):
        enter.run(request["process"], request["exec_in"], request.get("cgroups_path"), error_fd, console_fd)
    init.run(request["spec"], request.get("rootfs_mounts", []), error_fd, console_fd)


def _supervise(request: dict, pid: int, ctl: int | None, stdio: int | None, outputs: dict[int, int],
               stdin_w: int | None, tty: bool) -> None:
    log = None  # execs, and containers with the "none" driver, are not logged
    if request.get("log_path"):
        log = JsonLogWriter(request["log_path"], request.get("log_max_size", -1), request.get("log_max_file", 1),
                            request.get("log_attrs"))
    stdin_once = request.get("stdin_once", False)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in outputs:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    if ctl is not None:
        poller.register(ctl, select.POLLIN)
    if stdio is not None:
        poller.register(stdio, select.POLLIN)
    exit_code: int | None = None
    ctl_buffer = b""
    while outputs or exit_code is None:
        for fd, _events in poller.poll():
            if fd in outputs:
                try:
                    data = os.read(fd, _READ)
                except OSError:  # EIO: the pty's last slave closed
                    data = b""
                if not data:
                    poller.unregister(fd)
                    del outputs[fd]
                    if fd != stdin_w:
                        os.close(fd)
                    continue
                stream = outputs[fd]
                if log:
                    log.write("stdout" if stream == STDOUT else "stderr", data)
                still_open = _send(stdio, data if tty else frame(stream, data))
                if still_open is None and stdio is not None:
                    _forget(poller, stdio)
                stdio = still_open
            elif fd == pidfd:
                _, status = os.waitpid(pid, 0)
                exit_code = _exit_code(status)
                poller.unregister(pidfd)
                os.close(pidfd)
            elif fd == stdio:
                try:
                    data = os.read(stdio, _READ)
                except OSError:
                    data = b""
                if data:
                    if stdin_w is not None:
                        try:
                            os.write(stdin_w, data)
                        except OSError:
                            pass
                    continue
                _forget(poller, stdio)  # the client closed its stdin; keep sending output
                if stdin_once and stdin_w is not None and not tty:
                    os.close(stdin_w)
                    stdin_w = None
            elif fd == ctl:
                try:
                    data = os.read(ctl, 4096)
                except OSError:
                    data = b""
                if not data:
                    poller.unregister(ctl)
                    os.close(ctl)
                    ctl = None
                    continue
                ctl_buffer += data
                while b"\n" in ctl_buffer:
                    line, ctl_buffer = ctl_buffer.split(b"\n", 1)
                    _control(json.loads(line), stdin_w if tty else None)
    if log:
        log.close()
    finished = now_ns()
    if not request.get("exec_in") and request["spec"]["linux"].get("cgroupsPath"):
        Cgroup(request["spec"]["linux"]["cgroupsPath"]).remove()
    if request.get("state_dir"):  # a container's exit must be known after a daemon restart; an exec's not
        write_json(os.path.join(request["state_dir"], "exit.json"),
                   {"exit_code": exit_code, "finished_at": finished}, durable=False)
    _send(ctl, json.dumps({"exit": exit_code, "finished": finished}).encode() + b"\n")
    os._exit(0)


def _forget(poller: select.poll, fd: int) -> None:
    try:
        poller.unregister(fd)
    except KeyError:
        pass


def _control(message: dict, pty_master: int | None) -> None:
    if "resize" in message and pty_master is not None:
        rows, cols = message["resize"]
        fcntl.ioctl(pty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
