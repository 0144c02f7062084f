"""The container record and its state, as Docker reports them."""

import asyncio
import time
from dataclasses import asdict, dataclass, field, fields

from dockyard.engine.specs.containers import (
    ContainerConfig,
    HostConfig,
    config_from_json,
    config_json,
    host_config_from_json,
    host_config_json,
)
from dockyard.runtime.process import ControlSender
from dockyard.util.timefmt import human_duration, rfc3339_ns


@dataclass
class State:
    status: str = "created"  # created | running | paused | restarting | removing | exited | dead
    pid: int = 0
    shim_pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: int = 0  # ns since the epoch; 0 = never
    finished_at: int = 0
    oom_killed: bool = False
    health: dict | None = None  # {"Status", "FailingStreak", "Log"} when the container has a health check

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    def to_api(self) -> dict:
        return {
            "Status": self.status,
            "Running": self.running,
            "Paused": self.status == "paused",
            "Restarting": self.status == "restarting",
            "OOMKilled": self.oom_killed,
            "Dead": self.status == "dead",
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": rfc3339_ns(self.started_at),
            "FinishedAt": rfc3339_ns(self.finished_at),
            **({"Health": self.health} if self.health is not None else {}),
        }

    def describe(self, now: float | None = None) -> str:
        """The STATUS column of `docker ps`."""
        now = time.time() if now is None else now
        if self.status in ("running", "paused"):
            up = "Up " + human_duration(now - self.started_at / 1e9)
            if self.status == "paused":
                return up + " (Paused)"
            health = (self.health or {}).get("Status")
            if health == "starting":
                return up + " (health: starting)"
            return f"{up} ({health})" if health else up
        if self.status == "restarting":
            return f"Restarting ({self.exit_code}) {human_duration(now - self.finished_at / 1e9)} ago"
        if self.status == "removing":
            return "Removal In Progress"
        if self.status == "dead":
            return "Dead"
        if self.status == "created" or not self.started_at:
            return "Created"
        if not self.finished_at:
            return ""
        return f"Exited ({self.exit_code}) {human_duration(now - self.finished_at / 1e9)} ago"


@dataclass
class Container:
    id: str
    name: str  # with Docker's leading slash: "/web"
    created: int  # ns
    path: str
    args: list[str]
    config: ContainerConfig  # the request's Config, merged with the image's
    host_config: HostConfig
    image_id: str
    state: State = field(default_factory=State)
    driver: str = "overlay2"
    restart_count: int = 0
    manually_stopped: bool = False  # by stop or kill: restart policies stand down
    mount_points: list[dict] = field(default_factory=list)  # see engine/mounts.py
    network_settings: dict = field(default_factory=dict)  # endpoints, ports, sandbox: see engine/networks.py
    # Secrets and configs a cluster agent gave the container (engine/backend.py): {"Kind", "Source",
    # "Target"}, bind-mounted read-only at start; their bytes live under the exec root, never on disk.
    task_files: list[dict] = field(default_factory=list)

    def to_record(self) -> dict:
        """The record on disk (config.v2.json): Config and HostConfig in Docker's JSON, as inspect
        shows them, so that records of every version read alike."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["state"] = asdict(self.state)
        record["config"] = config_json(self.config)
        record["host_config"] = host_config_json(self.host_config)
        return record

    @classmethod
    def from_record(cls, record: dict) -> "Container":
        record = dict(record)
        record["state"] = State(**record.get("state", {}))
        record["config"] = config_from_json(record.get("config"))
        record["host_config"] = host_config_from_json(record.get("host_config"))
        return cls(**record)


@dataclass
class Run:
    """One start of a container, from the launch to the recorded exit. ``ended`` is set in the same
    step that records the exit, after the shim has written the last of the log and the output
    pump has delivered the last byte: whoever saw the run alive is told when it ends."""

    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Runtime:
    """What the daemon holds in memory for a container while it lives: never persisted."""

    ctl_writer: asyncio.StreamWriter | None = None
    control: ControlSender | None = None  # resize and close_stdin for the shim
    attachers: list = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    run: Run | None = None  # the current start while a process runs (paused included)
    exit_waiters: list = field(default_factory=list)
    removed_waiters: list = field(default_factory=list)
    stdin_writer: asyncio.StreamWriter | None = None
    restart_delay: float = 0.0  # the last backoff delay, in seconds
    pending_restart: asyncio.TimerHandle | None = None
    # Set while a start (a user's or the policy's) is under way, done when it ends: until then the
    # process has no PID, so stop, kill, pause and rm wait for it (ContainerService.settled).
    starting: asyncio.Future | None = None
    spec: dict | None = None  # the OCI spec of the running process (execs share its seccomp and privileges)
