"""/_ping, /version and /info."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.api.http import Request, Response
from dockyard.images.importer import host_architecture
from dockyard.network.bridge import read_sysctl
from dockyard.util.timefmt import now_ns, rfc3339_ns

if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.api.router import Router
    from dockyard.cluster.swarm import SwarmService
    from dockyard.engine.daemon import Daemon

PING_HEADERS = {
    "Builder-Version": "1",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Swarm": "inactive",
}


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _warnings(daemon: Daemon) -> list[str] | None:
    """Docker's `Warnings`: lines the CLI prints under `info` (None when all is well)."""
    keeper = daemon.networks.keeper
    found = [w for w in (keeper.warning() if keeper is not None else None,) if w]
    return found or None


def register(router: Router, daemon: Daemon, swarm: Callable[[], SwarmService | None] | None = None) -> None:
    """``swarm`` gives the swarm service once it is made (None before: this node is in no swarm)."""
    async def ping(req: Request) -> Response:
        return Response(200, "OK" if req.method != "HEAD" else None, dict(PING_HEADERS))

    async def version(req: Request) -> Response:
        kernel = platform.release()
        details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Arch": host_architecture(),
                   "Os": "linux", "KernelVersion": kernel, "GitCommit": "dockyard",
                   "GoVersion": "python" + platform.python_version(), "BuildTime": "", "Experimental": "false"}
        return Response(200, {
            "Platform": {"Name": "Dockyard"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "dockyard", "GoVersion": "python" + platform.python_version(), "Os": "linux",
            "Arch": host_architecture(), "KernelVersion": kernel, "BuildTime": rfc3339_ns(daemon.started_at),
        })

    async def info(req: Request) -> Response:
        containers = daemon.containers.list()
        running = sum(1 for c in containers if c.state.status == "running")
        paused = sum(1 for c in containers if c.state.status == "paused")
        images = daemon.image_store.list()
        swarm_block: dict = {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                             "Error": "", "RemoteManagers": None}
        made = swarm() if swarm is not None else None
        if made is not None:
            import asyncio

            from dockyard.api.swarm import info_json

            swarm_block = info_json(await asyncio.to_thread(made.info))
        return Response(200, {
            "ID": daemon.id,
            "Containers": len(containers),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": len(containers) - running - paused,
            "Images": len(images),
            "Driver": daemon.snapshotter.name,
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["null"], "Authorization": None,
                        "Log": ["json-file"]},
            "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False, "KernelMemoryTCP": False,
            "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True,
            "IPv4Forwarding": read_sysctl("net/ipv4/ip_forward") == "1",
            "BridgeNfIptables": read_sysctl("net/bridge/bridge-nf-call-iptables") == "1",
            "BridgeNfIp6tables": read_sysctl("net/bridge/bridge-nf-call-ip6tables") == "1",
            "Debug": False, "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": True,
            "NGoroutines": 1, "SystemTime": rfc3339_ns(now_ns()), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": _cgroup_version(), "NEventsListener": 0,
            "KernelVersion": platform.release(), "OperatingSystem": _os_name(), "OSVersion": "",
            "OSType": "linux", "Architecture": platform.machine(), "IndexServerAddress":
                "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames":
                               [], "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {},
                               "Mirrors": []},
            "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "GenericResources": None,
            "DockerRootDir": daemon.options.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": daemon.name, "Labels": daemon.labels, "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": daemon.runtimes.info(), "DefaultRuntime": daemon.runtimes.default,
            "Swarm": swarm_block,
            "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": ["name=seccomp,profile=default", "name=cgroupns"],
            "Warnings": _warnings(daemon),
        })

    async def disk_usage(req: Request) -> Response:
        import asyncio

        return Response(200, await asyncio.to_thread(_disk_usage, daemon))

    router.add("GET", "/system/df", disk_usage)
    router.add("GET", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)


def _disk_usage(daemon: Daemon) -> dict:
    """GET /system/df: images with their shared and unique sizes and container counts, containers
    with their writable-layer sizes, volumes with their sizes and reference counts. The build cache is
    empty until Dockyard builds images."""
    from dockyard.api.containers import list_view as container_view
    from dockyard.api.filters import Filters
    from dockyard.api.images import list_images
    from dockyard.api.volumes import usage_view
    from dockyard.images.layerstore import chain_ids

    store, layers = daemon.image_store, daemon.layers
    containers = daemon.containers.list()
    users: dict[str, int] = {}
    for c in containers:
        users[c.image_id] = users.get(c.image_id, 0) + 1
    chains_of = {image.id: chain_ids(image.diff_ids) for image in store.list()}
    refcount: dict[str, int] = {}
    for chains in chains_of.values():
        for chain in chains:
            refcount[chain] = refcount.get(chain, 0) + 1
    sizes = {chain: layers.size(chain) for chain in refcount if layers.exists(chain)}
    images = list_images(store, Filters({}), all_images=True)
    for view in images:
        view["Containers"] = users.get(view["Id"], 0)
        view["SharedSize"] = sum(sizes.get(c, 0) for c in chains_of.get(view["Id"], []) if refcount[c] > 1)
    return {
        "LayersSize": sum(sizes.values()),
        "Images": images,
        "Containers": [container_view(daemon.containers, c, True) for c in containers],
        "Volumes": [usage_view(daemon, v) for v in daemon.volumes.list()],
        "BuildCache": daemon.builds.records(),
    }
