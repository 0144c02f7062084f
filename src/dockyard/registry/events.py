"""What the handlers report for notifications: one record per push, pull or delete."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    action: str  # "push", "pull", "delete", "mount"
    repository: str
    digest: str
    media_type: str = ""
    size: int = 0
    tag: str = ""
    url: str = ""
    user: str = ""
    method: str = ""
    remote: str = ""
    host: str = ""
    user_agent: str = ""
    request_id: str = ""
