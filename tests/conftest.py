"""Shared fixtures: a private dockyardd on a temporary data root and socket, with busybox imported."""

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hardstop import EXIT_GRACE, GRACE, HardStop, item_timeout

from dockyard.cli.client import APIError, Client

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The whole-catalog suite takes minutes: `make test-catalog` runs it, `make test` does not.
collect_ignore = [] if os.environ.get("DOCKYARD_TEST_CATALOG") == "1" else ["catalog"]
# The tests on `dockyard machine` fleets (multi-node swarm, services, mesh, overlay, the machines
# themselves: about 7 minutes of machine creates, daemon kills and elections) would take make test
# past its 15-minute budget: `make test-machines` runs them, and CI runs it after make test.
MACHINE_MODULES = [f"integration/test_{name}.py" for name in
                   ("machines", "swarm_machines", "services_machines", "mesh_machines", "overlay_machines")]
if os.environ.get("DOCKYARD_TEST_MACHINES") != "1":
    collect_ignore += MACHINE_MODULES


# A run fails, it never hangs (hardstop.py): each test is watched for its timeout plus GRACE, the
# exit after the session for EXIT_GRACE.
_hardstop = pytest.StashKey[HardStop]()


def pytest_configure(config) -> None:
    config.stash[_hardstop] = HardStop(config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    stop = item.config.stash[_hardstop]
    timeout = item_timeout(item)
    if timeout > 0 and not item.config.getoption("usepdb"):
        stop.arm(item.nodeid, timeout + GRACE)
    try:
        yield
    finally:
        stop.disarm()


# `make test` runs the suite on two workers (pytest-xdist, --dist loadgroup): a module's tests stay
# together on one worker, in order, sharing its module fixtures. Modules that start a dockerd with
# iptables share a group (they skip while another such dockerd runs: it would flush their chains),
# and so do the modules on machines (three or more daemons and etcd members each: two such modules
# at once would crowd two cores).
SERIAL_GROUPS = {"test_netfilter": "dockerd-iptables", "test_mesh_beside_docker": "dockerd-iptables"}


def _group(module: str) -> str:
    name = module.rpartition(".")[2]
    if name == "test_machines" or name.endswith("_machines"):
        return "machines"
    return SERIAL_GROUPS.get(name, module)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None and item.module is not None:
            item.add_marker(pytest.mark.xdist_group(_group(item.module.__name__)))


def pytest_unconfigure(config) -> None:
    if _hardstop in config.stash:
        config.stash[_hardstop].arm("the exit after the session (atexit handlers, threads joined)", EXIT_GRACE)


def _busybox_available() -> bool:
    return os.path.exists("/bin/busybox")


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> Path:
    if not _busybox_available():
        pytest.fail("busybox-static is not installed: `make test` installs it (apt-get install busybox-static)")
    path = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    with open(path, "wb") as out:
        subprocess.run([str(ROOT / "tools" / "busybox-rootfs")], stdout=out, check=True)
    return path


def network_args() -> list[str]:
    """A bridge and subnets of the daemon's own (random, in 10.0.0.0/8), so test daemons, the
    `make up` daemon and Docker never share a bridge, a subnet or iptables chains; forwarded DNS
    queries go to loopback, never out of the host."""
    import random

    tag = os.urandom(3).hex()
    second, third = random.randint(100, 250), random.randint(0, 255)
    pool = random.choice([n for n in range(100, 251) if n != second])
    return ["--bridge", f"dy{tag}", "--bip", f"10.{second}.{third}.1/24",
            "--default-address-pool", f"base=10.{pool}.0.0/16,size=24", "--dns", "127.0.0.1"]


class PrivateDaemon:
    """A dockyardd of our own: temporary data root, exec root and socket; stopped by PID."""

    def __init__(self, busybox_tar: Path, extra_args: list[str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="dockyard-test-", dir="/tmp")
        self.socket = os.path.join(self.dir, "dockyard.sock")
        self.host = "unix://" + self.socket
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.extra_args = [*network_args(), *(extra_args or [])]
        self.busybox_tar = busybox_tar
        self.proc: subprocess.Popen | None = None
        self.client = Client(self.host)

    def start(self) -> "PrivateDaemon":
        """Start dockyardd and return once it says READY=1 on a notify socket of ours (sd_notify, as
        systemd and a machine's driver wait for it): no polling of the API socket."""
        notify_path = os.path.join(self.dir, "notify.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(notify_path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as notify:
            notify.bind(notify_path)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(BIN / "dockyardd"), "-H", self.host, "--data-root", self.data_root, "--exec-root",
                     self.exec_root, *self.extra_args], stdout=log, stderr=log, start_new_session=True,
                    env={**os.environ, "NOTIFY_SOCKET": notify_path})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                # A short wait, so a daemon that exits before saying anything is noticed at once.
                if select.select([notify], [], [], 0.1)[0]:
                    lines = notify.recv(4096).decode(errors="replace").split("\n")
                    if "READY=1" in lines and f"MAINPID={self.proc.pid}" in lines:
                        return self
                elif self.proc.poll() is not None:
                    self._give_up("dockyardd exited early")
        self._give_up("dockyardd did not say READY=1 within 30 s")
        raise AssertionError("not reached")

    def _give_up(self, why: str) -> None:
        """A daemon that never came up leaves nothing behind; its log goes into the error."""
        text = self.log()
        self.cleanup()
        raise RuntimeError(f"{why}:\n{text}")

    def import_busybox(self) -> None:
        with open(self.busybox_tar, "rb") as f:
            self.client.call("POST", "/images/create",
                             query={"fromSrc": "-", "repo": "busybox", "tag": "latest", "changes": ['CMD ["sh"]']},
                             body=f)

    def own_marks(self) -> tuple[str, ...]:
        """Names only this daemon's host objects carry: its bridge and chains, its directory."""
        args = self.extra_args
        bridge = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--bridge"), None)
        return tuple(m for m in (bridge, self.dir) if m)

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                for c in self.client.call("GET", "/containers/json", query={"all": True}) or []:
                    try:
                        self.client.call("DELETE", f"/containers/{c['Id']}", query={"force": True})
                    except APIError:
                        pass
            except Exception:  # noqa: BLE001 - the daemon may be the thing under test
                pass
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the dockyard CLI against this daemon."""
        return subprocess.run([str(BIN / "dockyard"), "-H", self.host, *args], input=input, capture_output=True,
                              timeout=timeout)

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the real docker CLI against this daemon."""
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": os.path.join(self.dir, "docker-config")}
        return subprocess.run([DOCKER_CLI, *args], input=input, capture_output=True, timeout=timeout, env=env)


DOCKER_CLI = os.environ.get("DOCKER_CLI", "/usr/local/bin/docker")


@pytest.fixture(scope="session")
def daemon(busybox_tar):
    d = PrivateDaemon(busybox_tar).start()
    d.import_busybox()
    yield d
    d.cleanup()


@pytest.fixture
def fresh_daemon(busybox_tar):
    """A daemon of the test's own, for tests that stop or restart it."""
    d = PrivateDaemon(busybox_tar).start()
    d.import_busybox()
    yield d
    d.cleanup()


def _bench_daemons():
    """bench/daemons.py, which knows how to run a private dockerd and undo everything it creates."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_daemons", ROOT / "bench" / "daemons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PrivateDocker:
    """A Debian docker.io dockerd of our own (socket, roots, containerd under a temp dir, a bridge of
    its own, no iptables), for interoperability tests. Its containers need `--network none`. With
    ``bridge_cidr`` (e.g. 10.1.2.1/24) it also gets its iptables rules, which cleanup() removes with
    the bridge. (Never --bridge=none: dockerd then deletes the host's docker0 as it starts.)"""

    def __init__(self, bridge_cidr: str | None = None) -> None:
        self.bench = _bench_daemons()
        self.bridge_cidr = bridge_cidr
        self.bridge = f"dk{os.urandom(3).hex()}"
        # With iptables: the tables before dockerd starts and what it made while starting, so that
        # cleanup() removes its rules and no neighbour's (bench/daemons.py: undo_iptables).
        self.rules_before: dict[str, list[str]] = {}
        self.rules_made: dict[str, list[str]] = {}
        self.dir = Path(tempfile.mkdtemp(prefix="dockyard-dockerd-", dir="/tmp"))
        self.host = f"unix://{self.dir}/docker.sock"
        self.cgroup_parent = f"dockyard-test-docker-{os.getpid()}"
        self.paths_before = self.bench.dockerd_paths_present()
        self.proc: subprocess.Popen | None = None

    def start(self) -> str | None:
        """None when running, else why dockerd could not start."""
        dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None)
        if not dockerd or not os.path.exists(DOCKER_CLI):
            return "dockerd or the docker CLI is not installed (apt-get install docker.io)"
        argv = self.bench.dockerd_command(dockerd, self.dir, self.host, self.cgroup_parent)
        if self.bridge_cidr:
            argv = self.bench.with_bridge_and_iptables(argv, self.bridge, self.bridge_cidr)
            self.rules_before = self.bench.iptables_rules()
        else:
            argv = self.bench.with_own_bridge(argv, self.bridge, f"{self.bench.free_subnet24()}.1/24")
        with open(self.dir / "dockerd.log", "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"dockerd exited with {self.proc.returncode}: {self.log()[-2000:]}"
            if self.docker("version", timeout=10).returncode == 0:
                if self.bridge_cidr:  # dockerd sets its tables up before it answers
                    self.rules_made = self.bench.rules_added(self.rules_before, self.bench.iptables_rules())
                return None
            time.sleep(0.2)
        return f"dockerd did not answer within 60 s: {self.log()[-2000:]}"

    def own_marks(self) -> tuple[str, ...]:
        """Names only this daemon's host objects carry: its bridge, its directory."""
        return tuple(m for m in (self.bridge, str(self.dir)) if m)

    def log(self) -> str:
        try:
            return (self.dir / "dockerd.log").read_text(errors="replace")
        except OSError:
            return ""

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.dir / "docker-config")}
        return subprocess.run([DOCKER_CLI, *args], input=input, capture_output=True, timeout=timeout, env=env)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq").stdout.decode().split()
            if ids:
                self.docker("rm", "-f", *ids)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.bench.unmount_under(str(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        if self.bridge_cidr:
            self.bench.undo_iptables(self.rules_before, self.rules_made, [self.bridge], [self.bridge_cidr])
        self.bench.remove_dockerd_paths(self.paths_before)
        for hierarchy in Path("/sys/fs/cgroup").glob("*"):
            if (hierarchy / self.cgroup_parent).is_dir():
                self.bench.rmdir_tree(str(hierarchy / self.cgroup_parent))
        if (Path("/sys/fs/cgroup") / self.cgroup_parent).is_dir():
            self.bench.rmdir_tree(str(Path("/sys/fs/cgroup") / self.cgroup_parent))


@pytest.fixture(scope="session")
def real_docker():
    """A private Docker daemon (docker.io 20.10); the test is skipped when it cannot start here."""
    docker = PrivateDocker()
    why = docker.start()
    if why is not None:
        docker.cleanup()
        pytest.skip(f"no Docker daemon to compare with: {why}")
    yield docker
    docker.cleanup()
