"""Shared set-up and tear-down for the scripts in bench/: a private dockyardd and a private dockerd.

`Daemons` creates one temporary directory, builds the busybox root filesystem with
tools/busybox-rootfs, starts a private dockyardd and a private Debian docker.io dockerd (with the
containerd it supervises; or uses a Docker daemon that already answers on the default socket),
imports busybox:latest into both, and undoes all of it in `cleanup()`: processes by PID (the
script is a child subreaper, so the daemons' orphans become its children), mounts under the
temporary directory, what dockerd creates outside its roots (/etc/docker/key.json, /run/docker,
/run/containerd, /opt/containerd, its cgroup parent), and it reports new network interfaces,
iptables chains and cgroups. `main()` wraps a benchmark's body with all of that.

Python's standard library only; needs root.
"""

import argparse
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTFS_TOOL = REPO / "tools" / "busybox-rootfs"
DOCKER_DEFAULT_SOCKET = "/var/run/docker.sock"

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
libc = ctypes.CDLL(None, use_errno=True)

# Paths a private dockerd (and the containerd it supervises) creates outside its own roots
# whatever --data-root/--exec-root say. Removed at the end if they did not exist before.
DOCKERD_SYSTEM_PATHS = ("/etc/docker/key.json", "/run/docker", "/run/containerd", "/opt/containerd")


class BenchError(Exception):
    pass


def find_exe(name: str, *candidates: Path) -> str | None:
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def check(cmd: list[str], *, stdin=None, timeout: float = 120, env=None) -> str:
    """Run a set-up command; raise with its output when it fails."""
    out = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {out.returncode}: {(out.stderr or out.stdout).strip()}")
    return out.stdout


def mounts_under(root: str) -> list[str]:
    found = []
    with open("/proc/self/mounts") as f:
        for line in f:
            target = line.split()[1]
            for esc, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                target = target.replace(esc, char)
            if target == root or target.startswith(root + "/"):
                found.append(target)
    return found


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            pass
    return kids


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid``, parents before children."""
    found, queue = [], [pid]
    while queue:
        for kid in children_of(queue.pop(0)):
            if kid not in found:
                found.append(kid)
                queue.append(kid)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def cgroup_dirs() -> set[str]:
    """Top-level directories of every mounted cgroup hierarchy under /sys/fs/cgroup."""
    found = set()
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return found
    for hier in [base, *[p for p in base.iterdir() if p.is_dir()]]:
        try:
            found.update(str(p) for p in hier.iterdir() if p.is_dir())
        except OSError:
            pass
    return found


def dockyard_cgroups(container_id: str) -> list[str]:
    """The cgroup directories of one Dockyard container (/sys/fs/cgroup/<hierarchy>/dockyard/<id>) that exist."""
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return []
    return [str(p / "dockyard" / container_id) for p in [base, *base.iterdir()]
            if (p / "dockyard" / container_id).is_dir()]


def net_interfaces() -> set[str]:
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return set()


def iptables_chains() -> set[str] | None:
    exe = shutil.which("iptables-save")
    if not exe:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {line.split()[0][1:] for line in out.stdout.splitlines() if line.startswith(":")}


def summarize(samples: list[float]) -> dict:
    p90 = statistics.quantiles(samples, n=10, method="inclusive")[8] if len(samples) > 1 else samples[0]
    return {"median_ms": round(statistics.median(samples), 2), "p90_ms": round(p90, 2),
            "min_ms": round(min(samples), 2), "max_ms": round(max(samples), 2),
            "samples_ms": [round(s, 2) for s in samples]}


def rmdir_tree(path: str) -> None:
    """rmdir ``path`` and every directory below it, deepest first (cgroups, dockerd's empty dirs)."""
    for root, _dirs, _files in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
        try:
            os.rmdir(root)
        except OSError:
            pass


def dockerd_command(dockerd: str, tmp: Path, host: str, cgroup_parent: str) -> list[str]:
    """A private dockerd under ``tmp``: its own socket, roots, pidfile and containerd, no
    /etc/docker/daemon.json, no iptables rules or sysctl changes, its containers' cgroups under
    ``cgroup_parent``. Writes ``tmp``/docker-daemon.json. Give it a bridge with with_own_bridge()
    or with_bridge_and_iptables() before starting it: with --bridge=none, dockerd deletes the host's
    docker0 as it starts (moby's removeDefaultBridgeInterface), which breaks a Docker daemon
    running beside."""
    config = tmp / "docker-daemon.json"
    config.write_text("{}\n")
    return [dockerd, "-H", host, "--data-root", str(tmp / "docker-data"), "--exec-root", str(tmp / "docker-exec"),
            "--pidfile", str(tmp / "docker.pid"), "--config-file", str(config), "--bridge=none", "--iptables=false",
            "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", f"--cgroup-parent=/{cgroup_parent}"]


def make_bridge(bridge: str, gateway_cidr: str) -> None:
    """A bridge for a private dockerd, up, with ``gateway_cidr``; delete it after the dockerd stopped."""
    check(["ip", "link", "add", bridge, "type", "bridge"])
    check(["ip", "addr", "add", gateway_cidr, "dev", bridge])
    check(["ip", "link", "set", bridge, "up"])


def with_own_bridge(argv: list[str], bridge: str, gateway_cidr: str) -> list[str]:
    """``argv`` of dockerd_command on a bridge of its own (made here; delete it afterwards), still
    without iptables rules: its containers run with --network none or talk only on that bridge."""
    make_bridge(bridge, gateway_cidr)
    return [a for a in argv if a != "--bridge=none"] + [f"--bridge={bridge}"]


def with_bridge_and_iptables(argv: list[str], bridge: str, gateway_cidr: str) -> list[str]:
    """``argv`` of dockerd_command turned into a dockerd with a bridge of its own (made here, up, with
    ``gateway_cidr``; delete it afterwards) and its iptables rules (remove them with undo_iptables)."""
    make_bridge(bridge, gateway_cidr)
    drop = {"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false"}
    return [a for a in argv if a not in drop] + [f"--bridge={bridge}", "--iptables=true"]


def free_subnet24(avoid: set[str] = frozenset()) -> str:
    """A /24 in 10.0.0.0/8 that no host route covers, as "10.a.b" (for a private bridge)."""
    import random

    routes = []
    with open("/proc/net/route") as f:
        for line in f.read().splitlines()[1:]:
            words = line.split()
            if len(words) >= 8 and words[1] != "00000000":
                dest = ipaddress.IPv4Address(int(words[1], 16).to_bytes(4, "little"))
                mask = ipaddress.IPv4Address(int(words[7], 16).to_bytes(4, "little"))
                routes.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    while True:
        prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        if prefix not in avoid and not any(ipaddress.IPv4Network(prefix + ".0/24").overlaps(r) for r in routes):
            return prefix


def iptables_rules() -> dict[str, list[str]]:
    """iptables-save's chain declarations and rules, by table (counters dropped)."""
    tables: dict[str, list[str]] = {}
    table = ""
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = []
        elif line.startswith((":", "-A")):
            tables[table].append(line.split(" [")[0] if line.startswith(":") else line)
    return tables


def running_dockerds() -> list[tuple[int, list[str]]]:
    """PIDs and command lines of the dockerds running now."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) == "dockerd":
            found.append((int(pid), argv))
    return found


def iptables_dockerds() -> list[str]:
    """Command lines of the running dockerds that manage iptables rules (no --iptables=false) in this
    network namespace (a dockerd in a machine's namespace has tables of its own)."""
    try:
        ours = os.readlink("/proc/self/ns/net")
    except OSError:
        ours = None
    found = []
    for pid, argv in running_dockerds():
        try:
            same = os.readlink(f"/proc/{pid}/ns/net") == ours
        except OSError:
            continue  # gone meanwhile
        if same and "--iptables=false" not in argv:
            found.append(" ".join(argv).strip())
    return found


def rules_added(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """Docker's chain declarations and rules (DOCKER*) of ``after`` that ``before`` lacks, by table:
    what a dockerd makes as it starts. Whatever else appeared meanwhile is a neighbour's (a test
    daemon's or a machine's rules made at the same moment) and never counts as the dockerd's."""
    added = {}
    for table, lines in after.items():
        old = set(before.get(table, []))
        if new := [line for line in lines if line not in old and "DOCKER" in line]:
            added[table] = new
    return added


def _names_ours(line: str, bridges: list[str], subnets: list[str]) -> bool:
    """Whether a rule names one of our bridges or an address inside one of our subnets."""
    words = line.split()
    if any(b in words for b in bridges):
        return True
    nets = [ipaddress.ip_network(s, strict=False) for s in subnets]
    for word in words:
        address = word.split(":")[0]  # --to-destination 10.1.2.3:80
        try:
            net = ipaddress.ip_network(address, strict=False)
        except ValueError:
            continue
        if any(net.version == n.version and net.subnet_of(n) for n in nets):
            return True
    return False


def rules_to_undo(now: dict[str, list[str]], before: dict[str, list[str]], made: dict[str, list[str]],
                  bridges: list[str], subnets: list[str], shared_in_use: bool) -> dict[str, list[str]]:
    """What of ``now`` (iptables_rules()) the dockerd we started left behind, by table: the rules
    new since ``before`` that name its bridges or addresses in its subnets, and what it made as it
    started (``made``: the DOCKER* chains and the jumps to them every dockerd shares) unless another
    dockerd with iptables still runs here (``shared_in_use``). A new rule neither names nor made is
    a neighbour's (another dockerd started meanwhile) and stays. Rules first, chain declarations last."""
    undo = {}
    for table, lines in now.items():
        old = set(before.get(table, []))
        ours = set() if shared_in_use else set(made.get(table, []))
        picked = [line for line in lines if line not in old and line.startswith("-A")
                  and (line in ours or _names_ours(line, bridges, subnets))]
        picked += [line for line in lines if line.startswith(":") and line in ours]
        if picked:
            undo[table] = picked
    return undo


def undo_iptables(before: dict[str, list[str]], made: dict[str, list[str]], bridges: list[str],
                  subnets: Sequence[str] = ()) -> list[str]:
    """Delete what the dockerd we started left behind in iptables (dockerd leaves its rules when it
    stops): see rules_to_undo. ``before``: iptables_rules() before it started; ``made``: rules_added()
    between then and its first answer. A chain still holding someone else's rules, or still jumped
    to, stays (-X refuses it)."""
    undone = []
    for table, lines in rules_to_undo(iptables_rules(), before, made, bridges, list(subnets),
                                      bool(iptables_dockerds())).items():
        for line in lines:
            if line.startswith("-A"):
                subprocess.run(["iptables", "-w", "-t", table, "-D", *line.split()[1:]], capture_output=True)
                undone.append(f"{table}: {line}")
        chains = [line[1:].split()[0] for line in lines if line.startswith(":")]
        for _ in range(len(chains)):  # a chain jumped to by another of ours goes once that one has gone
            for chain in list(chains):
                if subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True).returncode == 0:
                    chains.remove(chain)
                    undone.append(f"{table}: chain {chain}")
    return undone


def dockerd_paths_present() -> dict[str, bool]:
    """Which of the paths dockerd creates outside its roots exist now (pass to remove_dockerd_paths)."""
    return {p: os.path.lexists(p) for p in DOCKERD_SYSTEM_PATHS}


def remove_dockerd_paths(before: dict[str, bool]) -> tuple[list[str], list[str]]:
    """Remove what dockerd created outside its roots and did not exist ``before``: (cleaned, leftovers).
    Call it once our dockerd has stopped. While another dockerd runs (a neighbour's, started
    meanwhile), the paths may be its own (/run/docker/netns, its key): they are left alone."""
    cleaned, leftovers = [], []
    if running_dockerds():
        return cleaned, [f"{p} left in place: another Docker daemon runs" for p in DOCKERD_SYSTEM_PATHS
                         if not before.get(p) and os.path.lexists(p)]
    for path in DOCKERD_SYSTEM_PATHS:
        if before.get(path) or not os.path.lexists(path):
            continue
        p = Path(path)
        if p.is_dir() and not p.is_symlink():
            rmdir_tree(path)
        else:
            p.unlink()
        if os.path.lexists(path):
            leftovers.append(f"{path} was created during the run and is not empty: left in place")
        else:
            cleaned.append(f"removed {path} (created by dockerd)")
    return cleaned, leftovers


def unmount_under(root: str) -> tuple[list[str], list[str]]:
    """Unmount everything under ``root``, top mounts first (recursively, lazily if busy): (cleaned, leftovers)."""
    cleaned, leftovers = [], []
    for _ in range(5):
        targets = mounts_under(root)
        if not targets:
            return cleaned, leftovers
        tops = [t for t in targets if not any(t != o and t.startswith(o + "/") for o in targets)]
        for target in sorted(set(tops), key=len, reverse=True):
            cleaned.append(f"unmounted {target}")
            if subprocess.run(["umount", "-R", target], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-R", "-l", target], capture_output=True)
    if mounts_under(root):
        leftovers.append(f"mounts left under {root}: {mounts_under(root)}")
    return cleaned, leftovers


class Daemons:
    """One temporary directory, a private dockyardd and dockerd, and everything to undo them."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        # What exists before we start, to tell afterwards what the daemons left behind.
        self.system_paths_before = dockerd_paths_present()
        self.cgroups_before = cgroup_dirs()
        self.ifaces_before = net_interfaces()
        self.chains_before = iptables_chains()
        self.bridges: list[str] = []  # bridges made for the daemons, deleted at the end
        # The private dockerd's iptables rules (when it has them): the tables before it started and
        # what it made while starting, to undo only its own rules (undo_iptables). A script adds
        # the bridges and subnets of the networks it had that dockerd create.
        self.docker_rules: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self.docker_bridges: list[str] = []
        self.docker_subnets: list[str] = []
        # Each dockyardd of a benchmark gets a bridge and subnet of its own, so it never meets the
        # `make up` daemon's dockyard0 or a test daemon.
        self.dockyard_subnet = free_subnet24()
        self.docker_subnet = free_subnet24({self.dockyard_subnet})
        self.tmp = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
        self.env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG")}
        self.env["DOCKER_CONFIG"] = str(self.tmp / "docker-config")  # keep the docker CLI off ~/.docker
        self.daemons: dict[str, subprocess.Popen] = {}
        self.notes: list[str] = []
        self.versions: dict[str, str] = {}
        self.leftovers: list[str] = []
        self.cleaned: list[str] = []
        self.dockyard: list[str] | None = None  # dockyard CLI + -H <private socket>
        self.docker: list[str] | None = None  # docker CLI + -H <socket>
        self.docker_skipped: str | None = None  # why there is no Docker to compare with
        self.docker_cli: str | None = None
        self.docker_host: str | None = None
        self.docker_image = "busybox:latest"
        self.docker_shared = False
        self.docker_cgroup_parent = f"dockyard-bench-{os.getpid()}"  # cgroups of Docker's containers
        self.rootfs_tar = self.tmp / "busybox.tar"
        # Containers a script created and has not removed yet, by tool ("dockyard", "docker"):
        # force-removed before the daemons stop.
        self.containers: dict[str, set[str]] = {"dockyard": set(), "docker": set()}
        # Every Dockyard container a script created: checked for cgroup directories left behind.
        self.dockyard_ids: set[str] = set()

    def log(self, msg: str) -> None:
        print(f"{self.prog}: {msg}", file=sys.stderr, flush=True)

    # -- helpers ------------------------------------------------------------------------------
    def start_daemon(self, name: str, cmd: list[str], ready: list[str], timeout: float = 60) -> None:
        logfile = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                                start_new_session=True, env=self.env)
        logfile.close()
        self.daemons[name] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode} while starting:\n{self.log_tail(name)}")
            if subprocess.run(ready, stdin=subprocess.DEVNULL, capture_output=True, env=self.env).returncode == 0:
                return
            time.sleep(0.1)
        raise BenchError(f"{name} did not answer within {timeout:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join((self.tmp / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop_daemon(self, name: str, timeout: float) -> None:
        proc = self.daemons.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        self.log(f"stopping {name} (pid {proc.pid})")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.leftovers.append(f"{name} (pid {proc.pid}) ignored SIGTERM for {timeout:.0f} s: killed")
            proc.kill()
            proc.wait()

    def reap_orphans(self) -> None:
        """Reap children inherited as subreaper (e.g. exited containerd shims); daemons via Popen."""
        tracked = {p.pid: p for p in self.daemons.values()}
        for _ in range(1000):
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            if info.si_pid in tracked:
                tracked.pop(info.si_pid).poll()
            else:
                try:
                    os.waitpid(info.si_pid, 0)
                except ChildProcessError:
                    pass

    # -- set-up -------------------------------------------------------------------------------
    def build_rootfs(self) -> None:
        self.log(f"working directory {self.tmp}")
        with open(self.rootfs_tar, "wb") as out:
            subprocess.run([str(ROOTFS_TOOL)], stdout=out, check=True)

    def start_dockyard(self) -> list[str]:
        """Start a private dockyardd, import busybox:latest; return the CLI command prefix."""
        bindir = Path(sys.executable).parent
        dockyardd = find_exe("dockyardd", bindir / "dockyardd")
        dockyard = find_exe("dockyard", bindir / "dockyard")
        if not dockyardd or not dockyard:
            raise BenchError("dockyard/dockyardd not found next to the Python interpreter or on PATH (make install)")
        host = f"unix://{self.tmp}/dockyard.sock"
        self.versions["dockyard"] = first_line([dockyardd, "--version"])
        commit = first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
        if "unknown" not in commit and "fatal" not in commit:
            self.versions["dockyard"] += f" (git {commit})"
        self.log("starting dockyardd")
        self.start_daemon("dockyardd", [dockyardd, "-H", host, "--data-root", str(self.tmp / "data"),
                                        "--exec-root", str(self.tmp / "exec"), "--bridge", f"dyb{os.getpid():x}"[:15],
                                        "--bip", f"{self.dockyard_subnet}.1/24", *self.dockyard_args],
                          [dockyard, "-H", host, "version"])
        with open(self.rootfs_tar, "rb") as tar:
            check([dockyard, "-H", host, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest"], stdin=tar, env=self.env)
        self.dockyard = [dockyard, "-H", host]
        return self.dockyard

    dockyard_args: list[str] = []  # extra dockyardd flags a benchmark wants

    def start_docker(self, networking: bool = False, private: bool = False) -> list[str] | None:
        """Start a private dockerd (or use the one on the default socket), import the busybox image as
        ``self.docker_image``; return the CLI command prefix, or None with the reason in ``docker_skipped``.
        ``networking``: the private dockerd gets a bridge of its own and iptables (for published
        ports); its rules are removed at the end, as dockerd leaves them behind. ``private``: never the
        daemon on the default socket (a run that changes the daemon's state)."""
        docker = find_exe("docker", Path("/usr/local/bin/docker"), Path("/usr/bin/docker"))
        if not docker:
            self.docker_skipped = "the docker CLI is not installed: Docker column skipped"
            return None
        self.docker_cli = docker
        self.versions["docker CLI"] = first_line([docker, "--version"])
        default = f"unix://{DOCKER_DEFAULT_SOCKET}"
        if not private and os.path.exists(DOCKER_DEFAULT_SOCKET) and subprocess.run(
                [docker, "-H", default, "version"], capture_output=True, env=self.env, timeout=30).returncode == 0:
            self.log(f"using the Docker daemon already running on {DOCKER_DEFAULT_SOCKET}")
            self.docker_host, self.docker_shared = default, True
            self.docker_image = "dockyard-bench-busybox:latest"  # do not replace the daemon's busybox
            self.notes.append(f"docker: the daemon already running on {DOCKER_DEFAULT_SOCKET}")
        else:
            dockerd = find_exe("dockerd", Path("/usr/sbin/dockerd"))
            if not dockerd:
                self.docker_skipped = ("no Docker daemon on the default socket and /usr/sbin/dockerd is "
                                       "missing (apt-get install docker.io): Docker column skipped")
                return None
            self.versions["dockerd"] = first_line([dockerd, "--version"])
            self.docker_host = f"unix://{self.tmp}/docker.sock"
            self.log("starting a private dockerd")
            argv = dockerd_command(dockerd, self.tmp, self.docker_host, self.docker_cgroup_parent)
            bridge = f"dkb{os.getpid():x}"[:15]
            self.bridges.append(bridge)
            rules_before = None
            if networking:
                argv = with_bridge_and_iptables(argv, bridge, f"{self.docker_subnet}.1/24") + ["--ip-forward=false"]
                self.notes.append(f"docker: a private dockerd with its own containerd, bridge {bridge}, iptables")
                rules_before = iptables_rules()
                self.docker_subnets.append(f"{self.docker_subnet}.0/24")
            else:
                argv = with_own_bridge(argv, bridge, f"{self.docker_subnet}.1/24")
                self.notes.append(f"docker: a private dockerd with its own containerd, bridge {bridge}, no iptables")
            self.start_daemon("dockerd", argv, [docker, "-H", self.docker_host, "version"])
            if rules_before is not None:
                # dockerd sets its tables up before it answers: what appeared meanwhile is its own.
                self.docker_rules = (rules_before, rules_added(rules_before, iptables_rules()))
        self.versions["docker server"] = first_line(
            [docker, "-H", self.docker_host, "version", "--format", "{{.Server.Version}} (containerd "
             "{{range .Server.Components}}{{if eq .Name \"containerd\"}}{{.Version}}{{end}}{{end}}, runc "
             "{{range .Server.Components}}{{if eq .Name \"runc\"}}{{.Version}}{{end}}{{end}})"])
        with open(self.rootfs_tar, "rb") as tar:
            check([docker, "-H", self.docker_host, "import", "-c", 'CMD ["sh"]', "-", self.docker_image],
                  stdin=tar, env=self.env)
        self.docker = [docker, "-H", self.docker_host]
        return self.docker

    # -- tear-down ----------------------------------------------------------------------------
    def remove_containers(self) -> None:
        """Force-remove the containers a script recorded in ``self.containers`` and still exist."""
        for tool, cli in (("dockyard", self.dockyard), ("docker", self.docker)):
            ids = sorted(self.containers[tool])
            if not ids or cli is None:
                continue
            try:
                out = subprocess.run([*cli, "rm", "-f", *ids], capture_output=True, text=True, env=self.env,
                                     timeout=300)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.leftovers.append(f"{tool} rm -f of {len(ids)} containers failed: {e}")
                continue
            removed = [line.strip() for line in out.stdout.splitlines() if line.strip() in ids]
            if removed:
                self.cleaned.append(f"removed {len(removed)} {tool} container(s) left by the benchmark")

    def cleanup(self) -> None:
        self.remove_containers()
        if self.docker_shared and self.docker_cli and self.docker is not None:
            subprocess.run([self.docker_cli, "-H", self.docker_host, "rmi", self.docker_image], capture_output=True,
                           env=self.env, timeout=60)
        for name in list(self.daemons):
            self.stop_daemon(name, 20 if name == "dockerd" else 10)
        self.reap_orphans()
        # Anything still alive below us was started by us (directly, or as a daemon's descendant
        # re-parented to us as subreaper): containerd, containerd-shim, ...
        for sig in (signal.SIGTERM, signal.SIGKILL):
            live = [pid for pid in descendants(os.getpid()) if not is_zombie(pid)]
            if not live:
                break
            for pid in live:
                self.leftovers.append(f"process {pid} ({cmdline(pid)}) still running: sent {sig.name}")
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(not is_zombie(p) for p in live if os.path.exists(f"/proc/{p}")):
                time.sleep(0.1)
            self.reap_orphans()
        self.reap_orphans()
        self.unmount_all()
        for bridge in self.bridges:
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
            self.cleaned.append(f"deleted bridge {bridge}")
        if self.docker_rules is not None:
            before, made = self.docker_rules
            self.cleaned += [f"removed iptables {item}" for item in
                             undo_iptables(before, made, self.bridges + self.docker_bridges, self.docker_subnets)]
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.tmp.exists():
            self.leftovers.append(f"could not remove {self.tmp}")
        self.remove_system_leftovers()

    def unmount_all(self) -> None:
        cleaned, leftovers = unmount_under(str(self.tmp))
        self.cleaned += cleaned
        self.leftovers += leftovers

    def is_own_cgroup(self, name: str) -> bool:
        """A new top-level cgroup this script's tools create: Docker's cgroup parent."""
        return name == self.docker_cgroup_parent

    def remove_system_leftovers(self) -> None:
        cleaned, leftovers = remove_dockerd_paths(self.system_paths_before)
        self.cleaned += cleaned
        self.leftovers += leftovers
        for path in sorted(cgroup_dirs() - self.cgroups_before, key=len, reverse=True):
            if self.is_own_cgroup(os.path.basename(path)):
                rmdir_tree(path)
                if os.path.exists(path):
                    self.leftovers.append(f"cgroup {path} could not be removed")
                else:
                    self.cleaned.append(f"removed cgroup {path}")
            else:
                self.leftovers.append(f"new cgroup {path} (not created by this script's tools): left in place")
        # Dockyard's container cgroups live under a "dockyard" parent that other dockyardd
        # instances share; check only the containers this script created.
        for cid in sorted(self.dockyard_ids):
            for path in dockyard_cgroups(cid):
                rmdir_tree(path)
                if os.path.exists(path):
                    self.leftovers.append(f"cgroup {path} of a Dockyard container could not be removed")
                else:
                    self.leftovers.append(f"cgroup {path} of a removed Dockyard container was left: removed it")
        # Our dockerds run on a bridge made (and deleted) here: a docker0 that appeared meanwhile
        # is a neighbouring Docker daemon's, in use.
        for iface in sorted(net_interfaces() - self.ifaces_before - {"docker0"}):
            self.leftovers.append(f"new network interface {iface}")
        after = iptables_chains()
        if self.chains_before is not None and after is not None and after - self.chains_before:
            self.leftovers.append(f"new iptables chains: {sorted(after - self.chains_before)}")


def main(prog: str, args: argparse.Namespace, bench: Daemons, body: Callable[[], dict]) -> int:
    """Run ``body`` (set-up, measurement, report; returns the JSON result) with the clean-up
    guaranteed, also on an error, SIGTERM, SIGHUP or Ctrl-C; write ``args.json`` if asked."""
    result = None
    status = 0
    try:
        result = body()
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        bench.cleanup()
        for item in bench.cleaned:
            bench.log(f"cleaned: {item}")
        for item in bench.leftovers:
            bench.log(f"WARNING: {item}")
    if result is not None:
        result["cleanup"] = {"cleaned": bench.cleaned, "warnings": bench.leftovers}
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
            bench.log(f"results written to {args.json}")
    return status


def preflight(prog: str, why_root: str = "dockyardd and dockerd create namespaces and mounts") -> int:
    """Checks before anything is created; 0 to go on, else the exit status. Makes this process a child
    subreaper: the daemons' orphans (containerd shims) become our children, so we can reap them and
    know for sure which processes are ours when cleaning up."""
    if os.geteuid() != 0:
        print(f"{prog}: must run as root ({why_root})", file=sys.stderr)
        return 2
    if not ROOTFS_TOOL.exists():
        print(f"{prog}: {ROOTFS_TOOL} is missing", file=sys.stderr)
        return 2
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    return 0
