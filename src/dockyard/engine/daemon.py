"""Daemon wiring: paths, stores and services, built once at start-up."""

import os
import platform
from dataclasses import dataclass, field, replace

from dockyard.build.service import BuildService
from dockyard.distribution.endpoints import DEFAULT_CERTS_DIR, RegistryOptions
from dockyard.distribution.service import DistributionService
from dockyard.engine.commit import CommitService
from dockyard.engine.containers import ContainerService
from dockyard.engine.events import EventBus
from dockyard.engine.execrecords import ExecRecords
from dockyard.engine.execs import ExecService
from dockyard.engine.health import HealthMonitor
from dockyard.engine.images import ImageService
from dockyard.engine.networks import NetworkOptions, NetworkService
from dockyard.engine.runtimes import Runtimes
from dockyard.images.content import ContentStore
from dockyard.images.layerstore import LayerStore
from dockyard.images.store import ImageStore
from dockyard.runtime.launcher import Launcher
from dockyard.runtime.linux import userns
from dockyard.storage.copy import CopySnapshotter
from dockyard.storage.overlay import OverlaySnapshotter, overlay_works
from dockyard.storage.snapshotter import Snapshotter
from dockyard.util.atomic import write_bytes
from dockyard.util.ids import new_id
from dockyard.util.timefmt import now_ns
from dockyard.volumes.store import VolumeStore


@dataclass
class DaemonOptions:
    data_root: str = "/var/lib/dockyard"
    exec_root: str = "/run/dockyard"
    storage_driver: str = ""  # "", "overlay2" or "vfs"
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    registry_certs_dir: str = DEFAULT_CERTS_DIR
    network: NetworkOptions = field(default_factory=NetworkOptions)
    runtimes: list[str] = field(default_factory=list)  # --add-runtime name=path
    default_runtime: str = ""
    userns_remap: str = ""  # "", "default", "user[:group]"
    cgroup_parent: str = "dockyard"  # where containers that name no --cgroup-parent go
    labels: list[str] = field(default_factory=list)  # --label key=value, shown by `docker info`


class Daemon:
    def __init__(self, options: DaemonOptions, launcher: Launcher) -> None:
        self.idmap = None
        if options.userns_remap:
            # Like Docker: a remapped daemon keeps its own tree, <data-root>/<uid>.<gid>, whose layers are
            # unpacked in the remapped range.
            self.idmap = userns.remap(options.userns_remap)
            os.makedirs(options.data_root, mode=0o701, exist_ok=True)
            options = replace(options, data_root=os.path.join(options.data_root,
                                                                f"{self.idmap.uid_base}.{self.idmap.gid_base}"))
        self.options = options
        self.started_at = now_ns()
        os.makedirs(options.data_root, mode=0o710, exist_ok=True)
        os.makedirs(options.exec_root, mode=0o700, exist_ok=True)
        self.id = self._engine_id()
        self.snapshotter = self._snapshotter()
        self.content = ContentStore(os.path.join(options.data_root, "content"))
        self.layers = LayerStore(os.path.join(options.data_root, "image"), self.content, self.snapshotter)
        self.image_store = ImageStore(options.data_root, self.content, self.layers)
        self.events = EventBus()
        self.volumes = VolumeStore(options.data_root)
        if self.idmap is not None:
            self.layers.idmap = self.volumes.idmap = self.idmap
        self.runtimes = Runtimes(options.exec_root, options.runtimes, options.default_runtime)
        exec_records = ExecRecords()
        self.containers = ContainerService(options.data_root, os.path.join(options.exec_root, "containers"),
                                           self.image_store, self.snapshotter, launcher, self.events, self.volumes,
                                           self.runtimes, exec_records)
        self.containers.idmap = self.idmap
        self.containers.cgroup_parent = options.cgroup_parent
        self.networks = NetworkService(options.data_root, options.exec_root, options.network, self.containers,
                                       self.events)
        self.containers.network = self.networks
        self.images = ImageService(self.image_store, self.containers, self.events)
        self.execs = ExecService(self.containers, exec_records)
        self.distribution = DistributionService(self.image_store, RegistryOptions(
            list(options.insecure_registries), options.registry_certs_dir, list(options.registry_mirrors)),
            options.data_root)
        self.commits = CommitService(self.containers, self.image_store, self.events)
        self.builds = BuildService(options.data_root, self.image_store, self.containers, self.commits, self.images,
                                   self.events)
        self.health = HealthMonitor(self.containers, self.execs)
        self.name = platform.node()
        self.labels = list(options.labels)

    def _engine_id(self) -> str:
        path = os.path.join(self.options.data_root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            engine_id = new_id()
            write_bytes(path, engine_id.encode())
            return engine_id

    def _snapshotter(self) -> Snapshotter:
        root = os.path.join(self.options.data_root, "overlay2")
        driver = self.options.storage_driver
        if driver == "vfs" or (not driver and not overlay_works(root)):
            return CopySnapshotter(os.path.join(self.options.data_root, "vfs"))
        return OverlaySnapshotter(root)
