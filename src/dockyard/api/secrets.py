"""Engine API: /secrets (create, list, inspect, update labels, remove). A secret's data goes in on
create and never comes out of the API; only a task that uses the secret receives it."""

from __future__ import annotations

from typing import Any

from dockyard.api.payloads import field, parse_common, parse_driver, register_kind
from dockyard.cluster.payloads import for_swarm
from dockyard.cluster.secrets import SECRET, SecretSpec
from dockyard.cluster.swarm import SwarmService


def parse_spec(raw: dict[str, Any]) -> SecretSpec:
    name, labels, data, templating = parse_common(raw, "secret")
    return SecretSpec(name, labels, data, parse_driver(field(raw, "Driver"), "Driver"), templating)


def register(router, swarm: SwarmService) -> None:
    register_kind(router, for_swarm(swarm, SECRET), parse_spec, {"names", "name", "id", "label"})
