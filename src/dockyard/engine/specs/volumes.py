"""What `POST /volumes/create` asks for (moby's volume.CreateOptions)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.specs import wire


@dataclass
class VolumeCreate:
    name: str | None = wire("Name")
    driver: str | None = wire("Driver")
    driver_opts: dict[str, str] | None = wire("DriverOpts")
    labels: dict[str, str] | None = wire("Labels")
