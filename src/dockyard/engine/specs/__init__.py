"""Typed request specs: what a client asks the engine to make, as dataclasses.

These are the domain side of the Engine API's request bodies (container create and update,
networks, volumes, execs). Each field names the key it has in Docker's JSON (``wire``) and, where
the engine has a rule about its value, a check; the conversion from and to JSON, with Go's
type rules, lives in ``dockyard.engine.specs.codec``: the API edge decodes requests with it, the
container records on disk are read and written with it. Keeping the key next to the field means
one list per record, not a type here and a key table there that drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

Check = Callable[[Any], None]


def wire(name: str, *, check: Check | None = None, go: str | None = None) -> Any:
    """A field known in Docker's JSON as ``name``. ``go`` narrows an integer to Go's type
    (uint16, uint32, uint64, int32; int64 otherwise); ``check`` raises InvalidParameter."""
    return field(default=None, metadata={"json": name, "check": check, "go": go})
