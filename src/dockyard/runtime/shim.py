"""The per-container supervisor. It owns the container's stdio, writes the json-file log, reaps
the container and records its exit status, whether or not the daemon is still alive.

Two sockets connect it to the daemon, both handed over at start:
- control: JSON lines. shim -> daemon: {"pid": N} | {"error": msg} | {"exit": code, "finished": ns};
  daemon -> shim: {"resize": [rows, cols]}.
- stdio: output towards the daemon (Docker's multiplexed frames, or raw bytes with a TTY);
  input from the daemon for the container's stdin. {"close_stdin": true} on the control socket
  closes the container's stdin; the daemon going away does not.
"""

import fcntl
import json
import os
import select
import signal
import socket
import struct
import termios

from dockyard.runtime import oci
from dockyard.runtime.linux import enter, init, userns
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.console import receive_master
from dockyard.runtime.linux.enter import join_pid_namespace
from dockyard.util import syscalls as sc
from dockyard.util.atomic import write_json
from dockyard.util.frames import STDERR, STDOUT, frame
from dockyard.util.jsonlog import JsonLogWriter
from dockyard.util.timefmt import now_ns

_READ = 65536


def _discard_unread(fd: int | None) -> None:
    """Read what the daemon sent and nobody read (a late close_stdin): closing a unix socket with
    unread input resets the daemon's end instead of ending it, and the reset can overtake our exit."""
    if fd is None:
        return
    try:
        while select.select([fd], [], [], 0)[0] and os.read(fd, 4096):
            pass
    except OSError:
        pass


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


def run(request: dict, ctl: int | None, stdio: int) -> None:
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
    spec_namespaces = ((request.get("spec") or {}).get("linux") or {}).get("namespaces", [])
    pid_ns = next((ns for ns in spec_namespaces if ns["type"] == "pid"), None)
    if request.get("oci_runtime"):
        _run_with_oci_runtime(request, ctl, stdio, child_stdio, outputs, stdin_w, tty)
    user_ns = not target and any(ns["type"] == "user" and not ns.get("path") for ns in spec_namespaces)
    sync = None
    try:
        if user_ns:
            # The container's init makes its PID namespace after its user namespace (runtime/linux/userinit.py)
            # and forks PID 1, which the shim inherits as a child subreaper.
            sc.prctl(oci.PR_SET_CHILD_SUBREAPER, 1)
            to_child, from_shim = os.pipe2(os.O_CLOEXEC)
            from_child, to_shim = os.pipe2(os.O_CLOEXEC)
            sync = (to_child, from_shim, from_child, to_shim)
            request["userns_sync"] = (to_child, to_shim)
        elif target:
            join_pid_namespace(target)
        elif pid_ns is not None and pid_ns.get("path"):
            init.join_namespace(pid_ns["path"], sc.CLONE_NEWPID)  # --pid container:<name>
        elif pid_ns is not None:
            sc.unshare(sc.CLONE_NEWPID)
        # no pid namespace in the spec (--pid host): the process stays in the host's
    except OSError as exc:
        _send(ctl, json.dumps({"error": f"entering the PID namespace: {exc}"}).encode() + b"\n")
        os._exit(1)
    pid = os.fork()
    if pid == 0:
        _child(request, child_stdio, err_w_pipe, console_fd)
    if sync is not None:
        pid = _map_user_namespace(request, pid, sync)
    for fd in set(child_stdio):
        os.close(fd)
    os.close(err_w_pipe)
    if console_fd >= 0:
        os.close(console_fd)
    error = b""
    while chunk := os.read(err_r_pipe, 4096):
        error += chunk
    os.close(err_r_pipe)
    if error or pid < 0:
        if pid > 0:
            os.waitpid(pid, 0)
        error = error or b"the container's init ended before it started"
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


def _map_user_namespace(request: dict, child: int, sync: tuple[int, int, int, int]) -> int:
    """Write the uid/gid maps of the child's new user namespace when it asks, then learn the PID of
    the container's PID 1 (the child's child). Returns -1 if the child failed first (its error
    follows on the error pipe)."""
    to_child, from_shim, from_child, to_shim = sync
    os.close(to_child)
    os.close(to_shim)
    linux = request["spec"]["linux"]
    pid_1 = -1
    try:
        if os.read(from_child, 1) == b"U":
            userns.write_maps(child, linux["uidMappings"], linux["gidMappings"])
            os.write(from_shim, b"M")
            line = b""
            while chunk := os.read(from_child, 32):
                line += chunk
            if line.strip():
                pid_1 = int(line)
    except OSError:
        pass
    finally:
        os.close(from_shim)
        os.close(from_child)
    os.waitpid(child, 0)  # it exits once PID 1 runs; PID 1 is now the shim's
    return pid_1


def _run_with_oci_runtime(request: dict, ctl: int | None, stdio: int, child_stdio: tuple[int, int, int],
                          outputs: dict[int, int], stdin_w: int | None, tty: bool) -> None:
    """Start the container with runc/crun (runtime/oci.py), then supervise it (never returns)."""
    try:
        pid, master, error = oci.start(request, child_stdio)
    except Exception as exc:  # noqa: BLE001 - every failure must reach the daemon as text
        pid, master, error = -1, -1, f"{type(exc).__name__}: {exc}"
    for fd in set(child_stdio):
        os.close(fd)
    if error:
        Cgroup(request["spec"]["linux"]["cgroupsPath"]).remove()
        _send(ctl, json.dumps({"error": error}).encode() + b"\n")
        os._exit(0)
    if master >= 0:
        outputs[master] = STDOUT
        stdin_w = master
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
        keep = sorted(fd for fd in (error_fd, console_fd, *(request.get("userns_sync") or ())) if fd >= 0)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
    except BaseException as exc:  # noqa: BLE001
        os.write(error_fd, f"setting up stdio: {exc}".encode())
        os._exit(127)
    if request.get("exec_in"):
        enter.run(request["process"], request["exec_in"], request.get("cgroups_path"), error_fd, console_fd,
                  request.get("seccomp_filter"))
    sync = request.get("userns_sync")
    init.run(request["spec"], request.get("rootfs_mounts", []), error_fd, console_fd, request.get("seccomp_filter"),
             tuple(sync) if sync else None)


class _Stdin:
    """Input for the container's stdin, written without blocking: a container that is not reading
    its stdin must never stop the shim from reading its stdout (that would deadlock both)."""

    LIMIT = 1 << 20  # stop reading from the daemon while this much is still waiting

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.pending = bytearray()
        self.close_requested = False
        if fd is not None:
            os.set_blocking(fd, False)

    def feed(self, data: bytes) -> None:
        if self.fd is not None:
            self.pending += data
            self.flush()

    def flush(self) -> None:
        while self.pending and self.fd is not None:
            try:
                written = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # the container closed its stdin
                self.pending.clear()
                return
            del self.pending[:written]
        if not self.pending and self.close_requested:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.LIMIT


def _supervise(request: dict, pid: int, ctl: int | None, stdio: int | None, outputs: dict[int, int],
               stdin_w: int | None, tty: bool) -> None:
    log = None  # execs, and containers with the "none" driver, are not logged
    if request.get("log_path"):
        log = JsonLogWriter(request["log_path"], request.get("log_max_size", -1), request.get("log_max_file", 1),
                            request.get("log_attrs"))
    pidfd = os.pidfd_open(pid)
    listener = _listen(request.get("state_dir"))
    stdin = _Stdin(stdin_w)
    poller = select.poll()

    def register() -> None:
        """(Re)compute what to wait for on every descriptor."""
        wanted: dict[int, int] = {fd: select.POLLIN for fd in outputs}
        if pidfd >= 0:
            wanted[pidfd] = select.POLLIN
        for fd in (listener.fileno() if listener else None, ctl):
            if fd is not None:
                wanted[fd] = select.POLLIN
        if stdio is not None and stdio_open and not stdin.full:
            wanted[stdio] = select.POLLIN
        if stdin.fd is not None and stdin.pending:
            wanted[stdin.fd] = wanted.get(stdin.fd, 0) | select.POLLOUT
        for fd in list(registered):
            if fd not in wanted:
                poller.unregister(fd)
                del registered[fd]
        for fd, events in wanted.items():
            if registered.get(fd) != events:
                poller.register(fd, events)
                registered[fd] = events

    registered: dict[int, int] = {}
    exit_code: int | None = None
    ctl_buffer = b""
    stdio_open = stdio is not None
    while outputs or exit_code is None:
        register()
        for fd, events in poller.poll():
            if events & select.POLLOUT and fd == stdin.fd:
                stdin.flush()
            if not events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                continue
            if listener is not None and fd == listener.fileno():
                # A restarted daemon takes over the output stream and stdin from here on.
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                if stdio is not None:
                    os.close(stdio)
                stdio, stdio_open = conn.detach(), True
            elif fd in outputs:
                try:
                    data = os.read(fd, _READ)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the pty's last slave closed
                    data = b""
                if not data:
                    del outputs[fd]
                    if fd != stdin.fd:
                        os.close(fd)
                    continue
                stream = outputs[fd]
                if log:
                    log.write("stdout" if stream == STDOUT else "stderr", data)
                stdio = _send(stdio, data if tty else frame(stream, data))
            elif fd == pidfd:
                _, status = os.waitpid(pid, 0)
                exit_code = _exit_code(status)
                os.close(pidfd)
                pidfd = -1
            elif fd == stdio and stdio_open:
                if not select.select([stdio], [], [], 0)[0]:
                    continue  # already drained by a close_stdin handled earlier in this round
                try:
                    data = os.read(stdio, _READ)
                except OSError:
                    data = b""
                if data:
                    stdin.feed(data)
                else:
                    # The daemon went away (or half-closed): the container's stdin stays open; closing
                    # it is an explicit "close_stdin" on the control socket. Output still goes out.
                    stdio_open = False
            elif fd == ctl:
                try:
                    data = os.read(ctl, 4096)
                except OSError:
                    data = b""
                if not data:
                    os.close(ctl)
                    ctl = None
                    continue
                ctl_buffer += data
                while b"\n" in ctl_buffer:
                    line, ctl_buffer = ctl_buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if message.get("close_stdin") and not tty:
                        _drain_into(stdio, stdin)  # input sent before the close goes in first
                        stdin.close_requested = True
                        stdin.flush()
                    _control(message, stdin.fd if tty else None)
    if log:
        log.close()
    finished = now_ns()
    oom_killed = False
    if not request.get("exec_in") and request["spec"]["linux"].get("cgroupsPath"):
        cgroup = Cgroup(request["spec"]["linux"]["cgroupsPath"])
        oom_killed = exit_code == 128 + signal.SIGKILL and cgroup.oom_kills() > 0
        if request.get("oci_runtime"):
            oci.delete(request)  # the runtime's own state (and its view of the cgroup)
        cgroup.remove()
    if request.get("state_dir"):  # a container's exit must be known after a daemon restart; an exec's not
        write_json(os.path.join(request["state_dir"], "exit.json"),
                   {"exit_code": exit_code, "finished_at": finished, "oom_killed": oom_killed}, durable=False)
    _send(ctl, json.dumps({"exit": exit_code, "finished": finished, "oom_killed": oom_killed}).encode() + b"\n")
    _discard_unread(ctl)
    os._exit(0)


def _drain_into(stdio: int | None, stdin: "_Stdin") -> None:
    """Move whatever input already sits in the daemon's socket into the stdin queue."""
    if stdio is None:
        return
    os.set_blocking(stdio, False)
    try:
        while data := os.read(stdio, _READ):
            stdin.pending += data
    except OSError:
        pass
    finally:
        try:
            os.set_blocking(stdio, True)
        except OSError:
            pass


SOCKET_NAME = "shim.sock"


def short_path(directory_fd: int, name: str) -> str:
    """A unix socket path under a directory whose own path may exceed sun_path's 108 bytes."""
    return f"/proc/self/fd/{directory_fd}/{name}"


def _listen(state_dir: str | None) -> socket.socket | None:
    """The socket a restarted daemon connects to, to get this container's stdio back."""
    if not state_dir:
        return None
    dir_fd = os.open(state_dir, os.O_PATH | os.O_CLOEXEC)
    try:
        path = short_path(dir_fd, SOCKET_NAME)
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        return listener
    except OSError:
        return None
    finally:
        os.close(dir_fd)


def _forget(poller: select.poll, fd: int) -> None:
    try:
        poller.unregister(fd)
    except KeyError:
        pass


def _control(message: dict, pty_master: int | None) -> None:
    if "resize" in message and pty_master is not None:
        rows, cols = message["resize"]
        fcntl.ioctl(pty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
