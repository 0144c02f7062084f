"""Engine API: /secrets (create, list, inspect, update labels, remove). A secret's data goes in on
create and never comes out of the API; only a task that uses the secret receives it."""

from __future__ import annotations

from typing import Any

from dockyard.api.payloads import field, parse_common, parse_driver, register_kind
from dockyard.cluster.payloads import for_swarm
from dockyard.cluster.rpc import InvalidArgument, RpcError
from dockyard.cluster.secrets import SECRET, SecretSpec
from dockyard.cluster.swarm import SwarmService


def parse_spec(raw: dict[str, Any]) -> SecretSpec:
    name, labels, data, templating = parse_common(raw, "secret")
    driver = parse_driver(field(raw, "Driver"), "Driver")
    if driver is not None:
        if not driver.name:
            raise InvalidArgument("secret driver must have a name")
        # swarmkit asks the plugin store for a secrets provider; Dockyard runs no plugins. Docker's
        # text and status (500, gRPC's Unknown), with the way out.
        raise RpcError(f'plugin "{driver.name}" not found (Dockyard has no plugins: create the secret without '
                       "--driver to keep it in the swarm's encrypted store)")
    return SecretSpec(name, labels, data, None, templating)


def register(router, swarm: SwarmService) -> None:
    register_kind(router, for_swarm(swarm, SECRET), parse_spec, {"names", "name", "id", "label"})
