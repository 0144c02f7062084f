"""The backstop that makes a hang of the suite impossible: a run fails, it never hangs.

pytest-timeout (pyproject: 300 s a test, or the test's own mark) ends a test by raising pytest's
`Failed` from SIGALRM in the main thread, once. Whatever catches that exception defeats it:
hypothesis takes `Failed` for a failing example and goes on shrinking with more requests (tests/fuzz
hung for over 20 minutes so), and so does a broad `except BaseException`. Nor does it cover what
runs after the last test: atexit handlers and the joins of non-daemon threads at interpreter exit.

A thread of its own watches each test for its timeout plus GRACE, and the exit for EXIT_GRACE.
When one is overrun it prints every thread's stack, stops the processes the run started (its
children: test daemons, dockerds, etcd members; SIGTERM, then SIGKILL) and ends the process with
status 1.
"""

import os
import signal
import sys
import threading
import time
import traceback

GRACE = 60.0  # beyond a test's own timeout: the time pytest-timeout has to end it first
EXIT_GRACE = 120.0  # from the end of the session to the end of the process
STATUS = 1


class HardStop:
    def __init__(self, config) -> None:
        self.config = config
        self._cond = threading.Condition()
        self._what: str | None = None
        self._deadline = 0.0
        self._thread = threading.Thread(target=self._watch, name="hardstop", daemon=True)
        self._thread.start()

    def arm(self, what: str, seconds: float) -> None:
        with self._cond:
            self._what, self._deadline = what, time.monotonic() + seconds
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._what = None
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._what is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._stop(self._what)

    def _stop(self, what: str) -> None:
        try:
            capman = self.config.pluginmanager.getplugin("capturemanager")
            if capman is not None:
                capman.suspend_global_capture()
            # An xdist worker has no terminal: its stderr is the run's.
            has_terminal = self.config.pluginmanager.get_plugin("terminalreporter") is not None
            out = self.config.get_terminal_writer() if has_terminal else _Plain(sys.stderr)
            out.sep("!", title=f"hard stop: {what} still runs past its timeout")
            out.write("Something swallowed pytest-timeout's exception or waits where it cannot reach; "
                      "the stacks:\n")
            me = threading.get_ident()
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    out.sep("~", title=f"thread {names.get(ident, ident)}")
                    out.write("".join(traceback.format_stack(frame)))
            for line in stop_children():
                out.write(line + "\n")
            out.sep("!", title="hard stop: the run ends here")
            out.flush()
        except BaseException:  # noqa: BLE001 - nothing may keep the process alive now
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(STATUS)


class _Plain:
    """The terminal writer's calls used here, on a plain stream."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def sep(self, char: str, title: str) -> None:
        self._stream.write(f"{char * 20} {title} {char * 20}\n")

    def write(self, text: str) -> None:
        self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (in parentheses) may hold spaces: the parent PID follows the state.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def stop_children(wait: float = 10.0) -> list[str]:
    """SIGTERM to this process's children (each ends its own: a dockyardd its shims' watch, a dockerd
    its containerd), SIGKILL to those still there after ``wait`` seconds."""
    said = []
    live = children(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in live:
            try:
                os.kill(pid, sig)
                said.append(f"sent {sig.name} to {pid} ({_cmdline(pid)})")
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while live and time.monotonic() < deadline:
            for pid in list(live):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        live.remove(pid)
                except ChildProcessError:
                    live.remove(pid)
            time.sleep(0.1)
        if not live:
            break
    return said


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"


def item_timeout(item) -> float:
    """The test's pytest-timeout timeout (its mark, --timeout, the ini option); 0 when none."""
    try:
        from pytest_timeout import _get_item_settings

        return float(_get_item_settings(item).timeout or 0)
    except (ImportError, AttributeError, TypeError, ValueError):
        return 0.0  # pytest-timeout is not loaded (-p no:timeout): no timeouts wanted
