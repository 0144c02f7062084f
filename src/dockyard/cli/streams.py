"""Client side of attached streams: demultiplexing output, forwarding stdin, raw terminals."""

import _socket
import os
import sys

from dockyard.cli.client import Response
from dockyard.util.frames import HEADER, STDERR


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def copy_output(response: Response, *, multiplexed: bool) -> None:
    """Copy a (maybe multiplexed) body to our stdout/stderr until it ends."""
    out, err = sys.stdout.fileno(), sys.stderr.fileno()
    buffer = b""
    while data := response.read_some():
        if not multiplexed:
            _write(out, data)
            continue
        buffer += data
        while len(buffer) >= HEADER.size:
            stream, size = HEADER.unpack_from(buffer)
            if len(buffer) < HEADER.size + size:
                break
            payload = buffer[HEADER.size:HEADER.size + size]
            buffer = buffer[HEADER.size + size:]
            _write(err if stream == STDERR else out, payload)


def _pump_stdin(sock, scanner, detached: list) -> None:
    try:
        while data := os.read(sys.stdin.fileno(), 65536):
            # The daemon acts on the detach keys; we only note that they went by, before sending
            # them: the daemon's close may otherwise end the output copy before the note is made,
            # and the CLI would wait for an exit that is not coming.
            keys = scanner is not None and scanner.feed(data)[1]
            if keys:
                detached.append(True)
            sock.sendall(data)
            if keys:
                return
        sock.shutdown(_socket.SHUT_WR)
    except OSError:
        pass


def stream_attached(response: Response, *, tty: bool, stdin: bool, detach_keys: str | None = None) -> bool:
    """A hijacked attach connection: output to our stdio, our stdin to the container.
    Returns True when the user detached with the detach keys."""
    from dockyard.util.detachkeys import DetachScanner, parse

    detached: list = []
    saved = None  # the terminal's settings, while it is in raw mode
    if tty and stdin and sys.stdin.isatty():
        import termios
        import tty as tty_module

        saved = termios.tcgetattr(sys.stdin.fileno())
        tty_module.setraw(sys.stdin.fileno())

    try:
        if stdin:
            import threading

            scanner = DetachScanner(parse(detach_keys or "")) if tty else None
            threading.Thread(target=_pump_stdin, args=(response.sock, scanner, detached), daemon=True).start()
        copy_output(response, multiplexed=not tty)
    finally:
        if saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        response.close()
    return bool(detached)


def send_terminal_size(client, cid: str) -> None:
    """Tell the container our terminal's size, as `docker run -t` does after start."""
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return
    from dockyard.cli.client import APIError

    try:
        client.call("POST", f"/containers/{cid}/resize", query={"h": size.lines, "w": size.columns})
    except APIError:
        pass  # the container may already have exited


def proxy_signals(client, cid: str):
    """Forward the signals a user sends to this CLI on to the container (`--sig-proxy`, the default
    without a TTY). Returns a function that puts the previous handlers back."""
    import signal

    from dockyard.cli.client import APIError, ConnectionFailed

    def forward(number: int, _frame) -> None:
        try:
            client.call("POST", f"/containers/{cid}/kill", query={"signal": str(number)})
        except (APIError, ConnectionFailed):
            pass  # the container may be gone already

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        previous[sig] = signal.signal(sig, forward)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
