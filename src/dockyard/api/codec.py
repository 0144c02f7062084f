"""Docker's JSON <-> the engine's typed specs: the API edge's name for the one codec, which the
container records on disk share (``dockyard.engine.specs.codec``)."""

from dockyard.engine.specs.codec import from_json, to_json

__all__ = ["from_json", "to_json"]
