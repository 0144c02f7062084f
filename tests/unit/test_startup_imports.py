"""What dockyardd imports to start stays what a request needs: the registry client (pull, push,
login, search) and h11 (odd request heads, chunked bodies) come with their first request, and swarm
mode (the cluster's modules, the routing mesh, the overlay driver, and with them http.client,
urllib.request and the email package) with the first request that needs a swarm, or at boot on a
node that is in one. Every machine's create waits for its engine's start-up, which is mostly imports."""

import subprocess
import sys

# The daemon's start-up imports outside a swarm: its module, the composition root's services, the
# HTTP server and the router as the daemon builds it (the swarm's wiring not made yet).
STARTUP = """
import sys
from unittest import mock
import dockyard.daemon.main, dockyard.daemon.swarmwiring, dockyard.engine.daemon, dockyard.httpserver
import dockyard.engine.networks
from dockyard.api.router import build_router

class NoSwarmYet:
    def built(self):
        return None

    async def ready(self):
        raise AssertionError("made at start-up")

build_router(mock.MagicMock(), NoSwarmYet())
print(" ".join(sorted(sys.modules)))
"""
LATER = ("h11", "dockyard.distribution.client", "dockyard.distribution.pull", "dockyard.distribution.push",
         "dockyard.distribution.login", "dockyard.distribution.search")
SWARM = ("dockyard.cluster", "dockyard.network.mesh", "dockyard.network.overlay", "dockyard.network.drivers.overlay",
         "dockyard.api.swarm", "dockyard.api.nodes", "dockyard.api.services", "http.client", "urllib.request", "email")


def test_the_registry_client_h11_and_swarm_mode_are_not_start_up_imports():
    loaded = set(subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "dockyard.engine.daemon" in loaded and "dockyard.api.containers" in loaded  # the probe imported them
    assert sorted(m for m in LATER if m in loaded) == []
    assert sorted(m for m in loaded if m.startswith(SWARM)) == []
