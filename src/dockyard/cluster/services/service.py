"""A service object as the cluster keeps it: its spec, the spec before the last update (for
rollback), and the progress of its update or job. Version.index is the store key's mod revision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dockyard.cluster.objects import Version
from dockyard.cluster.services.spec import ServiceSpec


@dataclass
class UpdateStatus:
    state: str = ""  # updating, paused, completed, rollback_started, rollback_paused, rollback_completed
    started_at: datetime | None = None
    completed_at: datetime | None = None
    message: str = ""


@dataclass
class Service:
    id: str
    created_at: datetime
    updated_at: datetime
    spec: ServiceSpec
    spec_version: int = 0  # the version of the object when its spec last changed
    previous_spec: ServiceSpec | None = None
    previous_spec_version: int = 0
    update_status: UpdateStatus | None = None
    job_iteration: int | None = None  # a job's run: raised by every update
    last_execution: datetime | None = None
    version: Version = field(default_factory=Version)

    def name(self) -> str:
        return self.spec.name or ""
