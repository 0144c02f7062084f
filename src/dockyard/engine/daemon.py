"""The daemon's options and its services, as one typed object: the composition root
(dockyard/daemon/main.py) builds it once at start-up, the API handlers reach the engine through it."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.build.service import BuildService
from dockyard.distribution.endpoints import DEFAULT_CERTS_DIR
from dockyard.distribution.service import DistributionService
from dockyard.engine.commit import CommitService
from dockyard.engine.containers import ContainerService
from dockyard.engine.events import EventBus
from dockyard.engine.execs import ExecService
from dockyard.engine.health import HealthMonitor
from dockyard.engine.images import ImageService
from dockyard.engine.networks import NetworkOptions, NetworkService
from dockyard.engine.runtimes import Runtimes
from dockyard.images.content import ContentStore
from dockyard.images.layerstore import LayerStore
from dockyard.images.store import ImageStore
from dockyard.runtime.linux.userns import IdMap
from dockyard.storage.snapshotter import Snapshotter
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


@dataclass
class Daemon:
    options: DaemonOptions  # with data_root already moved under <uid>.<gid> on a remapped daemon
    id: str  # the engine ID `docker info` shows, kept in <data-root>/engine-id
    name: str  # the host's name
    labels: list[str]  # dockyardd --label
    started_at: int  # ns
    idmap: IdMap | None
    snapshotter: Snapshotter
    content: ContentStore
    layers: LayerStore
    image_store: ImageStore
    events: EventBus
    volumes: VolumeStore
    runtimes: Runtimes
    containers: ContainerService
    networks: NetworkService
    images: ImageService
    execs: ExecService
    distribution: DistributionService
    commits: CommitService
    builds: BuildService
    health: HealthMonitor
