"""One etcd member run by the daemon: a manager's share of the cluster store.

The member is a child process in a session of its own, its data under `<data-root>/swarm/etcd`,
its PID in `etcd.pid` beside it, so a restarted daemon finds the member it left (or stops a stray
one) by PID, never by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dockyard.cluster.store.api import StoreUnavailable

ETCD_BINARY = "/usr/bin/etcd"


@dataclass(frozen=True)
class MemberConfig:
    name: str
    data_dir: Path  # <data-root>/swarm/etcd
    client_url: str  # e.g. http://127.0.0.1:2379
    peer_url: str  # e.g. http://127.0.0.1:2380

    @property
    def pid_file(self) -> Path:
        return self.data_dir.parent / "etcd.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "etcd.log"


def _is_etcd(pid: int) -> bool:
    """The PID is a live etcd process (a recycled PID of something else must not be signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and os.path.basename(cmdline[0]) == b"etcd"


class EtcdMember:
    def __init__(self, config: MemberConfig, binary: str = ETCD_BINARY) -> None:
        self.config = config
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        c = self.config
        # --initial-cluster* only matter for a new data dir; on restart etcd reads its membership from disk.
        return [
            self._binary,
            "--name", c.name,
            "--data-dir", str(c.data_dir),
            "--listen-client-urls", c.client_url,
            "--advertise-client-urls", c.client_url,
            "--listen-peer-urls", c.peer_url,
            "--initial-advertise-peer-urls", c.peer_url,
            "--initial-cluster", f"{c.name}={c.peer_url}",
            "--initial-cluster-state", "new",
            "--initial-cluster-token", c.name,
        ]

    def start(self, timeout: float = 30.0) -> None:
        """Start the member (stopping one a previous daemon left running) and wait until it serves."""
        self.stop()
        c = self.config
        c.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(c.log_file, "ab") as log:
            self._process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        c.pid_file.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self._process.poll() is not None:
                tail = c.log_file.read_text(errors="replace").splitlines()[-5:]
                self._forget()
                raise StoreUnavailable(f"etcd exited with {self._process.returncode} on start: " + " | ".join(tail))
            if time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable(f"etcd did not answer on {c.client_url} within {timeout:.0f}s; see {c.log_file}")
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.config.client_url + "/health", timeout=1) as resp:
                return resp.status == 200 and b'"true"' in resp.read()
        except (OSError, urllib.error.URLError):
            return False

    def pid(self) -> int | None:
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.config.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_etcd(pid) else None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the member by its PID: TERM, then KILL after `timeout`."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while not self._gone(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    deadline = float("inf")
                time.sleep(0.02)
        self._forget()

    def _gone(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is not None  # our child: reap it
        return not _is_etcd(pid)

    def _forget(self) -> None:
        self._process = None
        self.config.pid_file.unlink(missing_ok=True)
