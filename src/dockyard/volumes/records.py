"""A volume as the engine holds it (typed), with its two conversions in one place: to and from
its record on disk (``volume.json``: the field names, as written since volumes existed) and to
Docker's JSON (the Engine API's Volume object)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dockyard.util.timefmt import rfc3339_ns

LOCAL_DRIVER = "local"


@dataclass
class Volume:
    name: str
    driver: str = LOCAL_DRIVER
    labels: dict[str, str] | None = None  # None when the request had none (Docker prints null)
    options: dict[str, str] = field(default_factory=dict)
    created: int = 0  # ns
    anonymous: bool = False

    @classmethod
    def from_record(cls, doc: dict[str, Any]) -> Volume:
        """A volume.json; keys a later version may add are left alone, missing ones get defaults."""
        known = {f.name for f in fields(cls)}
        volume = cls(**{k: v for k, v in doc.items() if k in known})
        if not isinstance(volume.name, str) or not volume.name:
            raise ValueError("a volume record without a name")
        return volume

    def to_record(self) -> dict[str, Any]:
        return {"name": self.name, "driver": self.driver, "labels": self.labels, "options": dict(self.options),
                "created": self.created, "anonymous": self.anonymous}

    def to_json(self, mountpoint: str) -> dict[str, Any]:
        """The Engine API's Volume object (without UsageData, which costs a walk of the tree)."""
        return {
            "CreatedAt": rfc3339_ns(self.created - self.created % 1_000_000_000),
            "Driver": self.driver,
            "Labels": self.labels,
            "Mountpoint": mountpoint,
            "Name": self.name,
            "Options": self.options or None,
            "Scope": "local",
        }
