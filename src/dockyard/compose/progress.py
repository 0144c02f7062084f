"""Live per-resource progress lines, as Compose v2 draws them.

On a terminal: a `[+] Running n/m` block redrawn in place, one line per network, volume or
container with a spinner (or ✔ / ✘) and its elapsed time. Elsewhere (`--progress plain`, pipes,
tests): one line per state change, ` Container web-1  Started`. Both on stderr, like Compose.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DONE_WORDS = {"Created", "Started", "Running", "Stopped", "Removed", "Recreated", "Healthy", "Exited", "Killed",
              "Paused", "Unpaused", "Restarted", "Pulled", "Built", "Skipped", "Error", "Warning",
              "Pushed", "Found"}


@dataclass
class _Line:
    kind: str
    name: str
    status: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    failed: bool = False


class Progress:
    def __init__(self, title: str = "Running", mode: str = "auto", out=None) -> None:
        self.out = out or sys.stderr
        if mode == "auto":
            mode = "tty" if self.out.isatty() and os.environ.get("TERM") != "dumb" else "plain"
        self.mode = mode
        self.title = title
        self.lines: dict[tuple[str, str], _Line] = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.mode == "tty":
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join()
            self._draw()

    def event(self, kind: str, name: str, status: str, *, done: bool | None = None, failed: bool = False) -> None:
        if self.mode == "quiet":
            return
        if done is None:
            done = status in DONE_WORDS
        with self.lock:
            line = self.lines.get((kind, name))
            if line is None:
                line = self.lines[(kind, name)] = _Line(kind, name, status)
            line.status = status
            line.failed = failed
            line.ended = time.monotonic() if done or failed else None
            if self.mode == "plain":
                self.out.write(f" {kind} {name}  {status}\n")
                self.out.flush()

    def _loop(self) -> None:
        while not self.stop_event.wait(0.1):
            self._draw()

    def _draw(self) -> None:
        with self.lock:
            lines = list(self.lines.values())
            if not lines:
                return
            now = time.monotonic()
            done = sum(1 for line in lines if line.ended is not None)
            try:
                width = os.get_terminal_size(self.out.fileno()).columns or 80
            except OSError:
                width = 80
            label_width = max(len(f"{line.kind} {line.name}") for line in lines)
            text = []
            if self.drawn:
                text.append(f"\x1b[{self.drawn}A")
            text.append(f"\x1b[2K[+] {self.title} {done}/{len(lines)}\n")
            for line in lines:
                if line.failed:
                    mark = "\x1b[31m✘\x1b[0m"
                elif line.ended is not None:
                    mark = "\x1b[32m✔\x1b[0m"
                else:
                    mark = SPINNER[int(now * 10) % len(SPINNER)]
                elapsed = (line.ended or now) - line.started
                left = f" {mark} {(line.kind + ' ' + line.name).ljust(label_width)}  {line.status}"
                right = f"{elapsed:.1f}s "
                pad = max(1, width - len(left) + 9 * (line.failed or line.ended is not None) - len(right))
                text.append("\x1b[2K" + left + " " * pad + right + "\n")
            self.out.write("".join(text))
            self.out.flush()
            self.drawn = len(lines) + 1
