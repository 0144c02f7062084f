"""Where `dockyardd` started before the daemon's program moved to dockyard/daemon/main.py: the
console script of a virtualenv installed before that move still calls this. Goes once no such
install is left (`make venv` writes the new one)."""

import importlib


def main(argv: list[str] | None = None) -> None:
    # Looked up by name: the engine layer imports nothing of the daemon's program.
    importlib.import_module("dockyard.daemon.main").main(argv)
