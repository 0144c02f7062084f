"""The cluster objects as the store keeps them: JSON of the dataclasses' own fields.

This is the store's format, not Docker's (that one is written at the API edge). An object's
version is not stored: it is the key's mod revision, set when the object is read.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from dockyard.cluster.objects import Version

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not isinstance(getattr(value, f.name), Version)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def encode(obj: object) -> bytes:
    return json.dumps(_plain(obj), sort_keys=True).encode()


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A dataclass's field types, resolved once: get_type_hints evaluates every annotation anew,
    and the managers decode every task on every pass."""
    return typing.get_type_hints(kind)


def _build(kind: Any, raw: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        if raw is None:
            return None
        (inner,) = [a for a in typing.get_args(kind) if a is not type(None)]
        return _build(inner, raw)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_build(item, v) for v in raw]
    if origin is dict:
        _, item = typing.get_args(kind)
        return {k: _build(item, v) for k, v in raw.items()}
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = _hints(kind)
        return kind(**{f.name: _build(hints[f.name], raw[f.name]) for f in dataclasses.fields(kind)
                       if f.name in raw})
    if kind is datetime:
        return datetime.fromisoformat(raw)
    if kind is bytes:
        return base64.b64decode(raw)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    return raw


def decode(kind: type[T], data: bytes, mod_revision: int = 0) -> T:
    """The object of type `kind` stored as `data`, at version `mod_revision`."""
    obj = _build(kind, json.loads(data))
    if any(f.name == "version" for f in dataclasses.fields(obj)):
        obj.version = Version(mod_revision)
    return typing.cast(T, obj)
