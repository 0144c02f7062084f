"""What dockyardd imports to start stays what a request needs: the registry client (pull, push,
login, search) and h11 (odd request heads, chunked bodies) come with their first request. Every
machine's create waits for its engine's start-up, which is mostly imports."""

import subprocess
import sys

# The daemon's start-up imports: its module, the composition root's services, the HTTP server and
# every API module the router registers.
STARTUP = """
import importlib, pkgutil, sys
import dockyard.daemon.main, dockyard.engine.daemon, dockyard.httpserver, dockyard.api
for module in pkgutil.iter_modules(dockyard.api.__path__):
    importlib.import_module("dockyard.api." + module.name)
print(" ".join(sorted(sys.modules)))
"""
LATER = ("h11", "dockyard.distribution.client", "dockyard.distribution.pull", "dockyard.distribution.push",
         "dockyard.distribution.login", "dockyard.distribution.search")


def test_the_registry_client_and_h11_are_not_start_up_imports():
    loaded = set(subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "dockyard.engine.daemon" in loaded  # the probe imported what the daemon imports
    assert sorted(m for m in LATER if m in loaded) == []

