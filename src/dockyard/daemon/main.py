"""`dockyardd`: parse flags, fork the launcher before any thread, build every store and service
(the composition root: each gets its collaborators in its constructor), then serve the Engine API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import logging
import os
import platform
import resource
import signal
import socket
import ssl
import subprocess
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from dockyard import __version__
from dockyard.engine.network_flags import add_network_flags, network_options

if TYPE_CHECKING:
    from dockyard.engine.daemon import Daemon, DaemonOptions
    from dockyard.network.rulekeeper import RuleKeeper
    from dockyard.runtime.launcher import Launcher
    from dockyard.storage.snapshotter import Snapshotter
from dockyard.util import stackdump

DEFAULT_SOCKET = "unix:///run/dockyard.sock"
SOCKET_GROUP = "dockyard"
log = logging.getLogger("dockyardd")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dockyardd", description="Dockyard daemon: serves the Docker Engine API")
    p.add_argument("-H", "--host", action="append", default=[],
                   help=f"daemon socket to listen on (default {DEFAULT_SOCKET}); unix:// or tcp://")
    p.add_argument("--data-root", default="/var/lib/dockyard", help="root of persistent state")
    p.add_argument("--exec-root", default="/run/dockyard", help="root of runtime state")
    p.add_argument("-G", "--group", default=SOCKET_GROUP, help="group owning the unix socket")
    p.add_argument("--storage-driver", default="", choices=["", "overlay2", "vfs"])
    p.add_argument("--tlsverify", action="store_true", help="require clients to present a certificate")
    p.add_argument("--tlscacert", default="")
    p.add_argument("--tlscert", default="")
    p.add_argument("--tlskey", default="")
    p.add_argument("--tls", default=None, choices=["true", "false"],
                   help="--tls=false explicitly allows an unauthenticated TCP socket (dangerous)")
    p.add_argument("--pidfile", default="")
    p.add_argument("--insecure-registry", action="append", default=[], dest="insecure_registries",
                   help="registry (host:port or CIDR) reached over plain HTTP when HTTPS fails")
    p.add_argument("--registry-mirror", action="append", default=[], dest="registry_mirrors",
                   help="preferred Docker registry mirror (URL), tried before Docker Hub for docker.io pulls")
    p.add_argument("--registry-certs-dir", default="/etc/docker/certs.d",
                   help="directory of per-registry CA and client certificates (<dir>/<host:port>/*.crt)")
    add_network_flags(p)
    p.add_argument("--add-runtime", action="append", default=[], dest="runtimes", metavar="NAME=PATH",
                   help="register an OCI runtime (runc and crun on the PATH are registered already)")
    p.add_argument("--default-runtime", default="", help='runtime for containers that name none (default "dockyard")')
    p.add_argument("--exec-opt", action="append", default=[], dest="exec_opts", metavar="native.cgroupdriver=cgroupfs",
                   help="runtime options; the cgroup driver is cgroupfs (systemd is not supported)")
    p.add_argument("--userns-remap", default="", metavar="default|USER[:GROUP]",
                   help="run containers in a user namespace mapped to the user's /etc/subuid and /etc/subgid ranges")
    p.add_argument("--cgroup-parent", default="dockyard",
                   help='parent cgroup of containers that name none (default "dockyard")')
    p.add_argument("--label", action="append", default=[], dest="labels", metavar="KEY=VALUE",
                   help="a label of this daemon, shown by `docker info` (repeatable)")
    p.add_argument("-D", "--debug", action="store_true")
    p.add_argument("-v", "--version", action="version", version=f"Dockyard version {__version__}")
    args = p.parse_args(argv)
    parent = args.cgroup_parent.strip("/")
    if not parent or ".." in parent.split("/") or parent.endswith(".slice"):
        p.error(f"--cgroup-parent {args.cgroup_parent!r}: use a cgroupfs path such as /mygroup")
    for label in args.labels:
        if not label.partition("=")[0].strip():
            p.error(f"--label {label!r}: a label is KEY=VALUE")
    for option in args.exec_opts:
        key, _, value = option.partition("=")
        if key.strip() != "native.cgroupdriver":
            p.error(f"--exec-opt {option}: unknown option (only native.cgroupdriver is known)")
        if value.strip() != "cgroupfs":
            p.error(f"--exec-opt {option}: the {value.strip()!r} cgroup driver is not supported; use cgroupfs")
    return args


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """Mutual TLS for TCP sockets; refuse an open TCP socket unless the user opts out loudly."""
    if args.tlsverify:
        missing = [flag for flag in ("tlscacert", "tlscert", "tlskey") if not getattr(args, flag)]
        if missing:
            raise SystemExit("dockyardd: --tlsverify needs " + ", ".join("--" + m for m in missing))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=args.tlscacert)
        context.load_cert_chain(args.tlscert, args.tlskey)
        context.verify_mode = ssl.CERT_REQUIRED
        return context
    if args.tls == "false":
        sys.stderr.write(
            "!" * 78 + "\n"
            "WARNING: the API is listening on TCP without TLS. Anyone who can reach this port is root\n"
            "on this machine. Use --tlsverify with --tlscacert, --tlscert and --tlskey instead.\n" + "!" * 78 + "\n")
        return None
    raise SystemExit("dockyardd: refusing to listen on TCP without mutual TLS: anyone reaching the port would "
                     "be root on this host. Pass --tlsverify --tlscacert=CA --tlscert=CERT --tlskey=KEY, or "
                     "--tls=false to accept the risk.")


def _ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=False, capture_output=True)
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            log.warning("could not create group %s; the socket stays root-only", name)
            return 0


def _raise_fd_limit() -> None:
    """Every client connection holds a descriptor: take the soft limit up to the hard one, as
    dockerd's unit does, so a thousand idle clients don't starve new ones. Called after the
    launcher fork, so containers keep the limit the daemon was started with."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)


def _notify_ready(path: str) -> None:
    """sd_notify's READY=1, as dockerd sends it under systemd (Type=notify): a supervisor (systemd, a
    machine's driver) waits for one datagram instead of polling the socket. Sent once every listener
    accepts and the boot's reconcile is done, so "ready" means a request is answered at once."""
    if not path:
        return
    address = "\0" + path[1:] if path.startswith("@") else path  # "@name": an abstract socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(f"READY=1\nMAINPID={os.getpid()}\n".encode(), address)
        except OSError as exc:
            log.warning("could not tell %s that the daemon is ready: %s", path, exc)


def _engine_id(data_root: str) -> str:
    from dockyard.util.atomic import write_bytes
    from dockyard.util.ids import new_id

    path = os.path.join(data_root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        engine_id = new_id()
        write_bytes(path, engine_id.encode())
        return engine_id


def _snapshotter(data_root: str, driver: str) -> Snapshotter:
    from dockyard.storage.copy import CopySnapshotter
    from dockyard.storage.overlay import OverlaySnapshotter, overlay_works

    root = os.path.join(data_root, "overlay2")
    if driver == "vfs" or (not driver and not overlay_works(root)):
        return CopySnapshotter(os.path.join(data_root, "vfs"))
    return OverlaySnapshotter(root)


def build_daemon(options: DaemonOptions, launcher: Launcher) -> Daemon:
    """Every store and service, each given its collaborators in its constructor."""
    # Imported here, after the launcher's fork (see main): the launcher forks every shim, and a
    # small process forks fast.
    from dockyard.build.service import BuildService
    from dockyard.distribution.endpoints import RegistryOptions
    from dockyard.distribution.service import DistributionService
    from dockyard.engine.commit import CommitService
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.containerstore import ContainerStore
    from dockyard.engine.daemon import Daemon
    from dockyard.engine.events import EventBus
    from dockyard.engine.execrecords import ExecRecords
    from dockyard.engine.execs import ExecService
    from dockyard.engine.health import HealthMonitor
    from dockyard.engine.images import ImageService
    from dockyard.engine.networks import NetworkService
    from dockyard.engine.runtimes import Runtimes
    from dockyard.images.content import ContentStore
    from dockyard.images.layerstore import LayerStore
    from dockyard.images.store import ImageStore
    from dockyard.runtime.linux import userns
    from dockyard.util.timefmt import now_ns
    from dockyard.volumes.store import VolumeStore

    idmap = None
    if options.userns_remap:
        # Like Docker: a remapped daemon keeps its own tree, <data-root>/<uid>.<gid>, whose layers are
        # unpacked in the remapped range.
        idmap = userns.remap(options.userns_remap)
        os.makedirs(options.data_root, mode=0o701, exist_ok=True)
        options = replace(options, data_root=os.path.join(options.data_root, f"{idmap.uid_base}.{idmap.gid_base}"))
    started_at = now_ns()
    data_root = options.data_root
    os.makedirs(data_root, mode=0o710, exist_ok=True)
    os.makedirs(options.exec_root, mode=0o700, exist_ok=True)
    snapshotter = _snapshotter(data_root, options.storage_driver)
    content = ContentStore(os.path.join(data_root, "content"))
    layers = LayerStore(os.path.join(data_root, "image"), content, snapshotter, idmap)
    image_store = ImageStore(data_root, content, layers)
    events = EventBus()
    volumes = VolumeStore(data_root, idmap)
    runtimes = Runtimes(options.exec_root, options.runtimes, options.default_runtime)
    # The container records stand apart from the container service: the network service reads
    # and saves them too, and the container service uses the network service.
    records = ContainerStore(data_root, os.path.join(options.exec_root, "containers"))
    networks = NetworkService(data_root, options.exec_root, options.network, records, events)
    exec_records = ExecRecords()
    containers = ContainerService(records, image_store, snapshotter, launcher, events, volumes, runtimes,
                                  exec_records, networks, idmap, options.cgroup_parent)
    images = ImageService(image_store, containers, events)
    execs = ExecService(containers, exec_records)
    distribution = DistributionService(image_store, RegistryOptions(
        list(options.insecure_registries), options.registry_certs_dir, list(options.registry_mirrors)), data_root)
    commits = CommitService(containers, image_store, events)
    builds = BuildService(data_root, image_store, containers, commits, images, events)
    health = HealthMonitor(containers, execs)
    containers.on_start.append(health.watch)  # every start, and every running container at boot
    return Daemon(options, _engine_id(data_root), platform.node(), list(options.labels), started_at, idmap,
                  snapshotter, content, layers, image_store, events, volumes, runtimes, containers, networks, images,
                  execs, distribution, commits, builds, health)


def _underlay_keeper(data_root: str) -> RuleKeeper:
    """The keeper of the netfilter rules of the machines' underlays in the default machine store,
    <data-root>/machine, and in the stores the machine CLI announced (`dockyard machine` writes
    them and exits)."""
    from dockyard.machine.keeper import STORES_DIR, UnderlayRules
    from dockyard.network.rulekeeper import RuleKeeper

    return RuleKeeper(UnderlayRules(os.path.join(data_root, "machine"), STORES_DIR))


async def _serve(args: argparse.Namespace, launcher: Launcher, notify_socket: str = "") -> None:
    from dockyard.api.http import COMMON_HEADERS
    from dockyard.api.router import build_router
    from dockyard.engine.daemon import DaemonOptions
    from dockyard.httpserver import Server

    daemon = build_daemon(DaemonOptions(args.data_root, args.exec_root, args.storage_driver, args.insecure_registries,
                                  args.registry_mirrors, args.registry_certs_dir, network_options(args),
                                  args.runtimes, args.default_runtime, args.userns_remap, args.cgroup_parent,
                                  args.labels), launcher)
    daemon.containers.load()
    daemon.networks.load()
    await daemon.containers.apply_policies_at_boot()
    from dockyard.daemon.swarmwiring import SwarmWiring, in_swarm

    swarm = SwarmWiring(daemon, args.exec_root, asyncio.get_running_loop())
    if in_swarm(daemon.options.data_root):
        await asyncio.to_thread(swarm.make)  # a manager's etcd member comes back with its daemon
    else:  # made with the first request that needs it: a daemon outside a swarm starts without it
        daemon.networks.drivers.register_later("overlay", swarm.make)
    router = build_router(daemon, swarm)

    _raise_fd_limit()
    server = Server(router, default_headers=COMMON_HEADERS)
    for host in args.host or [DEFAULT_SOCKET]:
        if host.startswith("unix://") or host.startswith("/"):
            path = host.removeprefix("unix://")
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            await server.listen_unix(path)
            os.chown(path, 0, _ensure_group(args.group))
            os.chmod(path, 0o660)
        elif host.startswith("tcp://"):
            address = host.removeprefix("tcp://")
            hostname, _, port = address.rpartition(":")
            await server.listen_tcp(hostname or "127.0.0.1", int(port or 2376), ssl=_tls_context(args))
        else:
            raise SystemExit(f"dockyardd: unsupported host {host!r}: use unix:///path or tcp://addr:port")
        log.info("API listening on %s", host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stackdump.install(args.exec_root, loop, signal.SIGUSR1)  # as dockerd's goroutine dump
    print(f"dockyardd {__version__} serving the Engine API on {', '.join(args.host or [DEFAULT_SOCKET])}",
          file=sys.stderr, flush=True)
    _notify_ready(notify_socket)
    keeper = daemon.networks.keeper
    keeping = asyncio.create_task(keeper.run()) if keeper is not None else None
    underlays = asyncio.create_task(_underlay_keeper(args.data_root).run())
    await stop.wait()
    await server.close()
    underlays.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await underlays
    if keeping is not None:
        keeping.cancel()  # before shutdown removes the jumps, which the keeper would put back
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
    daemon.networks.shutdown()
    await asyncio.to_thread(swarm.shutdown)
    for host in args.host or [DEFAULT_SOCKET]:
        if host.startswith("unix://"):
            try:
                os.unlink(host.removeprefix("unix://"))
            except FileNotFoundError:
                pass


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        raise SystemExit("dockyardd: must run as root (it creates namespaces, mounts and cgroups)")
    for host in args.host:
        if host.startswith("tcp://"):
            _tls_context(args)  # refuse before doing anything else
    from dockyard.runtime.launcher import Launcher

    notify_socket = os.environ.pop("NOTIFY_SOCKET", "")  # the daemon's own: not the launcher's or a shim's
    launcher = Launcher.fork()  # before asyncio creates any thread
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(str(os.getpid()))
    try:
        asyncio.run(_serve(args, launcher, notify_socket))
    finally:
        launcher.close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass
