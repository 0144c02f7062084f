"""Engine API: /configs (create, list, inspect with the data, update labels, remove)."""

from __future__ import annotations

from typing import Any

from dockyard.api.payloads import parse_common, register_kind
from dockyard.cluster.payloads import for_swarm
from dockyard.cluster.secrets import CONFIG, ConfigSpec
from dockyard.cluster.swarm import SwarmService


def parse_spec(raw: dict[str, Any]) -> ConfigSpec:
    name, labels, data, templating = parse_common(raw, "config")
    return ConfigSpec(name, labels, data, templating)


def register(router, swarm: SwarmService) -> None:
    register_kind(router, for_swarm(swarm, CONFIG), parse_spec, {"name", "id", "label"})
