"""docker_gwbridge: the way out for containers whose networks give them none.

An overlay endpoint never carries a container's default route (its gateway address lives in the
overlay's own namespace, on no node's host side). As libnetwork does (sandbox.needDefaultGW), a
container whose networks include a non-internal overlay and no network that routes out (a bridge)
gets one more interface, on the local bridge network docker_gwbridge (made the first time it is
needed: no inter-container traffic, masqueraded), and its default route through it. The endpoint
is not one of the container's Networks; its address is kept in NetworkSettings' private
"GatewayEndpoint", so it is released when the container stops and reserved again after a daemon
restart.
"""

from __future__ import annotations

from dockyard.engine.specs.networks import NetworkCreate
from dockyard.network.drivers.registry import DriverRegistry
from dockyard.network.records import BRIDGE_NAME, ENABLE_ICC, ENABLE_MASQUERADE, Network

NAME = "docker_gwbridge"
SETTINGS_KEY = "GatewayEndpoint"
DEFAULT_BRIDGES = ("dockyard0", "none")


def link_name(default_bridge: str) -> str:
    """The Linux bridge: docker_gwbridge, but for a daemon given a default bridge of its own
    (--bridge dy1a2b3c: test daemons side by side in one namespace), which gets <that>gw, so two
    daemons never share (and remove) one bridge."""
    return NAME if default_bridge in DEFAULT_BRIDGES else f"{default_bridge[:13]}gw"


def spec(default_bridge: str) -> NetworkCreate:
    options = {BRIDGE_NAME: link_name(default_bridge), ENABLE_ICC: "false", ENABLE_MASQUERADE: "true"}
    return NetworkCreate(name=NAME, driver="bridge", options=options)


def routes_out(network: Network, drivers: DriverRegistry) -> bool:
    """Does an endpoint on ``network`` carry a default route (a local, non-internal network)?"""
    driver = drivers.find(network.driver)
    return driver is not None and not network.internal and driver.capabilities().connectivity_scope == "local"


def needed(networks: list[Network], drivers: DriverRegistry) -> bool:
    spanning = [n for n in networks if not n.internal and (d := drivers.find(n.driver)) is not None
                and d.capabilities().connectivity_scope != "local"]
    return bool(spanning) and not any(routes_out(n, drivers) for n in networks)
