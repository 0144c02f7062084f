"""The cluster's objects as swarmkit keeps them (api/objects.proto, api/specs.proto), typed.

Docker's JSON for them is written once, at the Engine API edge; in the store they are kept by
codec.py. Durations are nanoseconds, as the Engine API carries them. An object's Version.index is
the store's mod revision of its key: an update names the version it read, and the store's txn
refuses it when the object moved on (Docker's "update out of sequence").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SECOND_NS = 1_000_000_000
HOUR_NS = 3600 * SECOND_NS

DEFAULT_ADDR_POOL = ["10.0.0.0/8"]
DEFAULT_SUBNET_SIZE = 24
DEFAULT_DATA_PATH_PORT = 4789  # VXLAN's IANA port
DEFAULT_LISTEN_PORT = 2377  # swarm's cluster management port


@dataclass(frozen=True)
class Version:
    index: int = 0


# -- the cluster (swarmkit's Cluster object; Docker's "Swarm")


@dataclass
class OrchestrationConfig:
    task_history_retention_limit: int = 5


@dataclass
class RaftConfig:
    snapshot_interval: int = 10000
    keep_old_snapshots: int = 0
    log_entries_for_slow_followers: int = 500
    election_tick: int = 10
    heartbeat_tick: int = 1


@dataclass
class DispatcherConfig:
    heartbeat_period: int = 5 * SECOND_NS


@dataclass
class ExternalCA:
    protocol: str = "cfssl"
    url: str = ""
    options: dict[str, str] = field(default_factory=dict)
    ca_cert: str = ""


@dataclass
class CAConfig:
    node_cert_expiry: int = 90 * 24 * HOUR_NS  # swarmkit's DefaultNodeCertExpiration, 2160h
    external_cas: list[ExternalCA] = field(default_factory=list)
    signing_ca_cert: str = ""
    signing_ca_key: str = ""
    force_rotate: int = 0


@dataclass
class EncryptionConfig:
    auto_lock_managers: bool = False


@dataclass
class ClusterSpec:
    name: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    orchestration: OrchestrationConfig = field(default_factory=OrchestrationConfig)
    raft: RaftConfig = field(default_factory=RaftConfig)
    dispatcher: DispatcherConfig = field(default_factory=DispatcherConfig)
    ca_config: CAConfig = field(default_factory=CAConfig)
    encryption_config: EncryptionConfig = field(default_factory=EncryptionConfig)
    task_defaults: dict[str, object] = field(default_factory=dict)


@dataclass
class JoinTokens:
    worker: str
    manager: str


@dataclass
class TLSInfo:
    trust_root: str  # the root CA certificate, PEM
    cert_issuer_subject: bytes  # DER of the issuer's subject
    cert_issuer_public_key: bytes  # DER of the issuer's SubjectPublicKeyInfo


@dataclass
class Cluster:
    id: str
    created_at: datetime
    updated_at: datetime
    spec: ClusterSpec
    join_tokens: JoinTokens
    tls_info: TLSInfo
    version: Version = field(default_factory=Version)
    root_rotation_in_progress: bool = False
    default_addr_pool: list[str] = field(default_factory=lambda: list(DEFAULT_ADDR_POOL))
    subnet_size: int = DEFAULT_SUBNET_SIZE
    data_path_port: int = DEFAULT_DATA_PATH_PORT


# -- nodes


class NodeRole(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"


class Availability(StrEnum):
    ACTIVE = "active"
    PAUSE = "pause"
    DRAIN = "drain"


class NodeState(StrEnum):
    UNKNOWN = "unknown"
    DOWN = "down"
    READY = "ready"
    DISCONNECTED = "disconnected"


class Reachability(StrEnum):
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"
    REACHABLE = "reachable"


@dataclass
class NodeSpec:
    role: NodeRole = NodeRole.WORKER
    availability: Availability = Availability.ACTIVE
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Platform:
    architecture: str
    os: str


@dataclass
class Resources:
    nano_cpus: int
    memory_bytes: int


@dataclass
class NodeDescription:
    hostname: str
    platform: Platform
    resources: Resources
    engine_version: str
    engine_labels: dict[str, str] = field(default_factory=dict)
    tls_info: TLSInfo | None = None


@dataclass
class NodeStatus:
    state: NodeState = NodeState.UNKNOWN
    message: str = ""
    addr: str = ""


@dataclass
class ManagerStatus:
    addr: str  # the advertise address with the swarm port, host:2377
    leader: bool = False
    reachability: Reachability = Reachability.REACHABLE


@dataclass
class Node:
    id: str
    created_at: datetime
    updated_at: datetime
    spec: NodeSpec
    description: NodeDescription
    status: NodeStatus = field(default_factory=NodeStatus)
    manager_status: ManagerStatus | None = None
    version: Version = field(default_factory=Version)
