"""One etcd member run by the daemon: a manager's share of the cluster store.

The member is a child process in a session of its own, its data under `<data-root>/swarm/etcd`,
its PID in `etcd.pid` beside it, so a restarted daemon finds the member it left (or stops a stray
one) by PID, never by name.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dockyard.cluster.store.api import StoreUnavailable

ETCD_BINARY = "/usr/bin/etcd"


@dataclass(frozen=True)
class MemberTLS:
    """The node's certificate, key and the swarm's root: the member's peer and client TLS.

    Peers must present a manager's certificate (its DNS SAN "swarm-manager"): a worker's is signed
    by the same root but may not join the store. Clients only need the root's signature; the client
    URL is on loopback, so only this node's daemon reaches it (etcd 3.4's
    --client-cert-allowed-hostname would also refuse etcd's own JSON gateway)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class MemberConfig:
    name: str
    data_dir: Path  # <data-root>/swarm/etcd
    client_url: str  # e.g. https://127.0.0.1:2379
    peer_url: str  # e.g. https://10.0.0.1:2380
    tls: MemberTLS | None = None
    # Read only when the data dir is new: a manager joining an existing swarm names every member
    # (as MemberAdd answered) and "existing"; the swarm's first manager is alone and "new".
    initial_cluster: str = ""
    initial_state: str = "new"
    # etcd's --force-new-cluster: keep this member's data, drop every other member (swarm init
    # --force-new-cluster on a survivor). Given for one start only.
    force_new_cluster: bool = False
    # Raft timing, etcd's defaults; the swarm's members use longer ones (swarm.py: RAFT_TIMING).
    # A lease cannot be shorter than 1.5 election timeouts.
    heartbeat_ms: int = 100
    election_ms: int = 1000

    @property
    def pid_file(self) -> Path:
        return self.data_dir.parent / "etcd.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "etcd.log"


def _is_etcd(pid: int, data_dir: Path | None = None) -> bool:
    """The PID is a live etcd process, serving `data_dir` when given: a recycled PID, or the PID
    file of a restored backup naming another daemon's member, must not be signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not cmdline or os.path.basename(cmdline[0]) != b"etcd":
        return False
    return data_dir is None or str(data_dir).encode() in cmdline


class EtcdMember:
    def __init__(self, config: MemberConfig, binary: str = ETCD_BINARY) -> None:
        self.config = config
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        c = self.config
        # --initial-cluster* only matter for a new data dir; on restart etcd reads its membership from disk.
        command = [
            self._binary,
            "--name", c.name,
            "--data-dir", str(c.data_dir),
            "--listen-client-urls", c.client_url,
            "--advertise-client-urls", c.client_url,
            "--listen-peer-urls", c.peer_url,
            "--initial-advertise-peer-urls", c.peer_url,
            "--initial-cluster", c.initial_cluster or f"{c.name}={c.peer_url}",
            "--initial-cluster-state", c.initial_state,
            "--heartbeat-interval", str(c.heartbeat_ms),
            "--election-timeout", str(c.election_ms),
        ]
        if c.initial_state == "new":
            command += ["--initial-cluster-token", c.name]
        if c.tls is not None:
            t = c.tls
            command += ["--cert-file", str(t.cert_file), "--key-file", str(t.key_file),
                        "--trusted-ca-file", str(t.ca_file), "--client-cert-auth",
                        "--peer-cert-file", str(t.cert_file), "--peer-key-file", str(t.key_file),
                        "--peer-trusted-ca-file", str(t.ca_file), "--peer-client-cert-auth",
                        "--peer-cert-allowed-hostname", "swarm-manager"]
        if c.force_new_cluster:
            command.append("--force-new-cluster")
        return command

    def start(self, timeout: float = 30.0, leader_wait: float = 10.0) -> None:
        """Start the member (stopping one a previous daemon left running) and wait until it serves,
        then up to `leader_wait` seconds for a leader: a member whose swarm has no quorum (its
        managers down) still starts, and the swarm answers that it has no leader."""
        self.stop()
        c = self.config
        c.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(c.log_file, "ab") as log:
            self._process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        c.pid_file.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + timeout
        while (health := self.health()) is None:
            if self._process.poll() is not None:
                tail = c.log_file.read_text(errors="replace").splitlines()[-5:]
                code = self._process.returncode
                self._forget()
                raise StoreUnavailable(f"etcd exited with {code} on start: " + " | ".join(tail))
            if time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable(f"etcd did not answer on {c.client_url} within {timeout:.0f}s; see {c.log_file}")
            time.sleep(0.05)
        deadline = time.monotonic() + leader_wait
        while not health and time.monotonic() < deadline and self._process.poll() is None:
            time.sleep(0.1)
            health = bool(self.health())

    def client_context(self) -> ssl.SSLContext | None:
        """TLS for talking to this member as a client (the node's own certificate)."""
        if self.config.tls is None:
            return None
        t = self.config.tls
        context = ssl.create_default_context(cafile=str(t.ca_file))
        context.load_cert_chain(str(t.cert_file), str(t.key_file))
        return context

    def health(self) -> bool | None:
        """None: the member does not answer; False: it serves but has no leader (etcd's health
        "false", 503: the swarm has lost its quorum, or is electing); True: it has a leader."""
        try:
            with urllib.request.urlopen(self.config.client_url + "/health", timeout=2,
                                        context=self.client_context()) as resp:
                return resp.status == 200
        except urllib.error.HTTPError as exc:
            return False if exc.code == 503 else None
        except (OSError, urllib.error.URLError):
            return None

    def pid(self) -> int | None:
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.config.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_etcd(pid, self.config.data_dir) else None

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
        return not _is_etcd(pid, self.config.data_dir)

    def _forget(self) -> None:
        self._process = None
        self.config.pid_file.unlink(missing_ok=True)
