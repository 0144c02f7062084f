"""The ``netns`` driver: a machine is a network and UTS namespace on the underlay, running its own
dockyardd.

What a running machine holds, and where:
- ``/run/dym/<key>/net`` and ``uts``: the namespaces, pinned by bind mounts; ``docker.sock`` (the
  engine's unix socket), ``dockyardd.pid``, and while the engine starts ``notify.sock``, where it
  says READY=1;
- ``dym<key>`` on the host, the veth whose peer is the machine's ``eth0`` on the underlay;
- the cgroup subtree ``dockyard-machines/<key>`` (``cgroup.MachineCgroup``) with every process;
- ``<store>/machines/<name>/``: the engine's data root (``data``) and exec root (``exec``), kept
  while the machine is stopped, so images, containers and their exit codes survive a stop;
  ``home`` (where ``ssh`` starts) and ``dockyardd.log``.

The engine is entered with ``nsenter`` (not ``ip netns exec``, which remounts /sys) and shares the
host's filesystem; its own data root, exec root, cgroup parent, bridge and address pools keep it
apart from the host's daemon and the other machines. ``<key>`` is a hash of the store and the
name, so two stores never share a namespace, a veth or a cgroup.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from socket import socket as Socket  # for annotations: in the class, `socket` is the engine's path

from dockyard.machine.cgroup import MachineCgroup
from dockyard.machine.driver import DriverFlag, EngineSpec, Shell
from dockyard.machine.errors import MachineError
from dockyard.machine.keeper import announce, withdraw
from dockyard.machine.model import ENGINE_PORT, ERROR, RUNNING, STOPPED, Host
from dockyard.machine.mounts import unmount_under
from dockyard.machine.store import Store
from dockyard.machine.underlay import DEFAULT_BRIDGE, DEFAULT_CIDR, Underlay
from dockyard.network import netns
from dockyard.network.netlink import Netlink
from dockyard.util import syscalls as sc

RUN_ROOT = "/run/dym"
READY_TIMEOUT = 60.0
# The engine's default bridge and address pools, the first pair clear of the underlay's subnet.
ENGINE_NETWORKS = (("172.17.0.1/16", "172.18.0.0/16"), ("10.200.0.1/16", "10.201.0.0/16"),
                   ("192.168.200.1/24", "192.168.201.0/24"))


@dataclass
class NetnsConfig:
    """The record's ``Driver`` object for a netns machine (docker-machine's base fields first)."""

    machine_name: str
    store_path: str
    ip_address: str = ""
    bridge: str = DEFAULT_BRIDGE
    cidr: str = DEFAULT_CIDR
    key: str = ""
    engine_bip: str = ""
    engine_pool: str = ""

    def to_json(self) -> dict:
        return {"IPAddress": self.ip_address, "MachineName": self.machine_name, "SSHUser": "root", "SSHPort": 0,
                "SSHKeyPath": "", "StorePath": self.store_path, "SwarmMaster": False, "SwarmHost": "",
                "SwarmDiscovery": "", "UnderlayBridge": self.bridge, "UnderlayCIDR": self.cidr, "Key": self.key,
                "EngineBridgeIP": self.engine_bip, "EngineAddressPool": self.engine_pool}

    @classmethod
    def from_json(cls, raw: dict) -> NetnsConfig:
        return cls(raw.get("MachineName", ""), raw.get("StorePath", ""), raw.get("IPAddress", ""),
                   raw.get("UnderlayBridge", DEFAULT_BRIDGE), raw.get("UnderlayCIDR", DEFAULT_CIDR),
                   raw.get("Key", ""), raw.get("EngineBridgeIP", ""), raw.get("EngineAddressPool", ""))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _dockyardd() -> str:
    """The dockyardd beside this Python (the same installation as this CLI), else the PATH's."""
    beside = os.path.join(os.path.dirname(sys.executable), "dockyardd")
    found = beside if os.access(beside, os.X_OK) else shutil.which("dockyardd")
    if not found:
        raise MachineError("dockyardd is not installed: `make install` puts it on the PATH")
    return found


class NetnsDriver:
    name = "netns"

    def __init__(self, store: Store, host: Host) -> None:
        self.store = store
        self.host = host
        self.config = NetnsConfig.from_json(host.driver) if host.driver else NetnsConfig(host.name, store.root)

    @staticmethod
    def create_flags() -> list[DriverFlag]:
        return [DriverFlag("netns-underlay-bridge", "Bridge on the host that machines' veths join",
                           DEFAULT_BRIDGE, "NETNS_UNDERLAY_BRIDGE"),
                DriverFlag("netns-underlay-cidr", "The host's address and prefix on the underlay (machines get the "
                           "other addresses)", DEFAULT_CIDR, "NETNS_UNDERLAY_CIDR")]

    # -- names -------------------------------------------------------------------------------------
    @property
    def machine_dir(self) -> str:
        return self.store.machine_dir(self.host.name)

    @property
    def run_dir(self) -> str:
        return os.path.join(RUN_ROOT, self._key())

    def _key(self) -> str:
        """The machine's key; a record without one was never configured and owns nothing (an empty
        key would name every machine's directories)."""
        if not self.config.key:
            raise MachineError(f"machine {self.host.name!r} has no driver key: its record is incomplete")
        return self.config.key

    @property
    def veth(self) -> str:
        return "dym" + self.config.key

    @property
    def mac(self) -> str:
        """Fixed for the machine's life (as a VM's NIC), so the neighbours' ARP caches stay right across
        a stop and start: locally administered, from the key."""
        key = self.config.key
        return "02:" + ":".join(key[i:i + 2] for i in range(0, 10, 2))

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "docker.sock")

    @property
    def log_path(self) -> str:
        return os.path.join(self.machine_dir, "dockyardd.log")

    def _ns(self, kind: str) -> str:
        return os.path.join(self.run_dir, kind)

    @property
    def underlay(self) -> Underlay:
        return Underlay.parse(self.config.bridge, self.config.cidr)

    @property
    def cgroup(self) -> MachineCgroup:
        return MachineCgroup(self._key())

    # -- create ------------------------------------------------------------------------------------
    def configure(self, flags: dict[str, str]) -> None:
        underlay = Underlay.parse(flags.get("netns-underlay-bridge") or DEFAULT_BRIDGE,
                                  flags.get("netns-underlay-cidr") or DEFAULT_CIDR)
        underlay.check()
        taken = set()
        for name in self.store.names():
            with contextlib.suppress(MachineError, KeyError):
                other = self.store.load(name)
                if other.driver_name == self.name and other.driver.get("UnderlayBridge") == underlay.bridge:
                    taken.add(other.driver.get("IPAddress", ""))
        key = hashlib.sha256(f"{self.store.root}\0{self.host.name}".encode()).hexdigest()[:12]
        bip, pool = next(((b, p) for b, p in ENGINE_NETWORKS
                          if not ipaddress.ip_network(b, strict=False).overlaps(underlay.network)
                          and not ipaddress.ip_network(p).overlaps(underlay.network)))
        self.config = NetnsConfig(self.host.name, self.store.root, underlay.allocate(taken), underlay.bridge,
                                  underlay.cidr, key, bip, f"base={pool},size=24")
        self.host.driver = self.config.to_json()

    def ip(self) -> str:
        return self.config.ip_address

    # -- state -------------------------------------------------------------------------------------
    def _engine_pid(self) -> int | None:
        try:
            with open(os.path.join(self.run_dir, "dockyardd.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _pinned(self) -> bool:
        path = self._ns("net")
        try:
            return os.stat(path).st_dev != os.stat(self.run_dir).st_dev
        except OSError:
            return False

    def state(self) -> tuple[str, str]:
        if self._engine_pid():
            return RUNNING, ""
        if self._pinned():
            return ERROR, (f"dockyardd of {self.host.name} is not running (its log: {self.log_path}); "
                           f"`dockyard machine start {self.host.name}` starts it again")
        return STOPPED, ""

    # -- start -------------------------------------------------------------------------------------
    def start(self, engine: EngineSpec) -> None:
        self.cgroup.kill()  # an engine that died may have left containers running
        with self.store.lock():
            self.underlay.ensure()
            announce(self.store.root)  # the host's dockyardd keeps the underlay's rules from now on
            try:
                self._release()  # whatever a crash or a kill -9 of everything left
                self._make_namespaces()
                self._plug()
                self.cgroup.prepare()
            except BaseException:
                self._release()
                self.underlay.release_if_unused()
                self._withdraw_if_unused()
                raise
        try:
            engine.files_ready()
            self._start_engine(engine)
        except BaseException:
            self.kill()
            raise

    def _make_namespaces(self) -> None:
        """The network and UTS namespaces, pinned at their files, the hostname set inside: made by a
        thread of this process (unshare, sethostname, bind mounts), not by unshare(1)."""
        uts = self._ns("uts")
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        os.close(os.open(uts, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))

        def name_it() -> None:  # in the new network namespace's thread, which ends afterwards
            sc.unshare(sc.CLONE_NEWUTS)
            sc.sethostname(self.host.name)
            sc.mount("/proc/thread-self/ns/uts", uts, None, sc.MS_BIND)

        try:
            netns.create(self._ns("net"), name_it)
        except OSError as exc:
            raise MachineError(f"making the namespaces of {self.host.name} failed: {exc}") from None

    def _plug(self) -> None:
        """The veth, made by rtnetlink requests (no ip(8) processes): ``dym<key>`` on the underlay
        bridge, its peer created directly in the machine as ``eth0`` with the machine's MAC, then
        inside the machine lo and eth0 up with the machine's address."""
        address = ipaddress.IPv4Interface(f"{self.config.ip_address}/{self.underlay.network.prefixlen}")
        try:
            bridge = socket.if_nametoindex(self.config.bridge)
            fd = os.open(self._ns("net"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                with Netlink() as nl:
                    nl.add_veth(self.veth, "eth0", peer_netns_fd=fd, peer_mac=self.mac, master=bridge)
            finally:
                os.close(fd)
        except OSError as exc:
            raise MachineError(f"plugging the veth {self.veth} into {self.config.bridge} failed: {exc}") from None

        def inside() -> None:
            with Netlink() as nl:
                nl.set_up(socket.if_nametoindex("lo"))
                eth0 = socket.if_nametoindex("eth0")
                nl.add_address(eth0, address)
                nl.set_up(eth0)

        try:
            netns.run_in(self._ns("net"), inside)
        except OSError as exc:
            raise MachineError(f"configuring eth0 of {self.host.name} failed: {exc}") from None

    def _engine_argv(self, engine: EngineSpec) -> list[str]:
        auth = self.host.auth
        return [_dockyardd(), "-H", f"unix://{self.socket}", "-H", f"tcp://{self.config.ip_address}:{ENGINE_PORT}",
                "--tlsverify", "--tlscacert", auth.ca_cert_path, "--tlscert", auth.server_cert_path,
                "--tlskey", auth.server_key_path,
                "--data-root", os.path.join(self.machine_dir, "data"),
                "--exec-root", os.path.join(self.machine_dir, "exec"),
                "--pidfile", os.path.join(self.run_dir, "dockyardd.pid"),
                "--cgroup-parent", self.cgroup.parent_for_containers,
                "--bridge", "dockyard0", "--bip", self.config.engine_bip,
                "--default-address-pool", self.config.engine_pool, *engine.flags]

    def _start_engine(self, engine: EngineSpec) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(engine.env)
        # dockyardd says READY=1 on this socket (sd_notify) once it answers requests, boot reconcile
        # done: create waits for that datagram, not for a poll of the API socket to succeed.
        notify_path = os.path.join(self.run_dir, "notify.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(notify_path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as notify:
            notify.bind(notify_path)
            env["NOTIFY_SOCKET"] = notify_path
            try:
                with open(self.log_path, "wb") as log:
                    # The shell moves itself into the machine's cgroup, then becomes nsenter, then
                    # dockyardd (one PID throughout), so the launcher, shims and containers all
                    # start inside it.
                    proc = subprocess.Popen(
                        ["sh", "-c", 'echo $$ > "$0" && exec "$@"', self.cgroup.engine_procs, "nsenter",
                         f"--net={self._ns('net')}", f"--uts={self._ns('uts')}", "--", *self._engine_argv(engine)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd="/", start_new_session=True)
                self._wait_ready(proc, notify)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(notify_path)

    def _wait_ready(self, proc: subprocess.Popen, notify: Socket) -> None:
        """Until the engine's READY=1, or its exit (its log's last words in the error)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            # A short wait, so an engine that dies before saying anything is noticed at once.
            if select.select([notify], [], [], 0.05)[0]:
                message = notify.recv(4096).decode(errors="replace").split("\n")
                if "READY=1" in message and f"MAINPID={proc.pid}" in message:
                    return
                continue
            if proc.poll() is not None:
                tail = self._log_tail()
                refused = [line for line in tail.splitlines() if line.startswith("dockyardd: error:")]
                if refused:  # its flags (--engine-opt, --engine-label, ...) were refused: argparse's words
                    raise MachineError(f"the engine of {self.host.name} refused its options: "
                                       f"{refused[-1].removeprefix('dockyardd: error: ')}")
                raise MachineError(f"the engine of {self.host.name} exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise MachineError(f"the engine of {self.host.name} did not answer within {READY_TIMEOUT:.0f} s:\n"
                                   f"{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def restart_engine(self, engine: EngineSpec) -> None:
        self._stop_engine()
        self._start_engine(engine)

    def provision(self, engine: EngineSpec) -> None:
        """The host's part made right again (the underlay's bridge and rules), then the engine
        restarted with ``engine``; the namespaces, the veth and the containers stay."""
        with self.store.lock():
            self.underlay.ensure()
            announce(self.store.root)
        engine.files_ready()
        self.restart_engine(engine)

    def mount(self, path: str, mountpoint: str, unmount: bool) -> None:
        """A netns machine has no filesystem of its own to mount (docker-machine's sshfs mount): it
        shares the host's, with no mount namespace, so its paths are the host's."""
        where = path if os.path.isabs(path) else os.path.join(self.home(), path)
        raise MachineError(f'Driver "{self.name}" does not support mount: a netns machine shares the host\'s '
                           f"filesystem (it has no mount namespace), so {self.host.name}:{path} is {where} on this "
                           f"host; use that path, or `mount --bind {where} {mountpoint}`")

    # -- stop --------------------------------------------------------------------------------------
    def _stop_engine(self, timeout: float = 30) -> None:
        pid = self._engine_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """As a host shuts down: the engine first (so no restart policy fires), then the containers,
        SIGTERM and 10 seconds as `docker stop` gives them (their shims, still running, record how
        they exited), then whatever is left (shims, proxies) at once."""
        cgroup = self.cgroup
        self._stop_engine()
        containers = cgroup.container_pids()
        if containers:
            cgroup.signal_all(signal.SIGTERM, containers)
            if cgroup.wait_empty(10, containers_only=True):
                cgroup.wait_empty(2)  # the shims record the exits, then end
        self.kill()

    def kill(self) -> None:
        self.cgroup.kill()
        with self.store.lock():
            self._release()
            self.underlay.release_if_unused()
            self._withdraw_if_unused()

    def _withdraw_if_unused(self) -> None:
        if not self.underlay.in_use():
            withdraw(self.store.root)  # no machine on its underlay: nothing for the host to keep
            with contextlib.suppress(OSError):
                os.rmdir(RUN_ROOT)

    def _release(self) -> None:
        """Undo start, when nothing of the machine runs any more."""
        left = unmount_under(self.run_dir, self.machine_dir)  # the namespace pins, the engine's mounts
        if left:
            raise MachineError(f"mounts of {self.host.name} could not be detached: {', '.join(left)}")
        with contextlib.suppress(OSError), Netlink() as nl:
            nl.delete_link_named(self.veth)  # and its peer with it, if the namespace is still there
        shutil.rmtree(self.run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(RUN_ROOT)  # the last machine's release takes the common directory too
        self.cgroup.remove()

    def remove(self) -> None:
        if self.config.key:  # else configure never ran: nothing was made
            self.kill()

    # -- ssh, scp ----------------------------------------------------------------------------------
    def home(self) -> str:
        return os.path.join(self.machine_dir, "home")

    def shell(self) -> Shell:
        os.makedirs(self.home(), mode=0o755, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update({"HOME": self.home(), "DOCKER_HOST": f"unix://{self.socket}", "HOSTNAME": self.host.name})
        return Shell(["nsenter", f"--net={self._ns('net')}", f"--uts={self._ns('uts')}", "--"], env, self.home())
