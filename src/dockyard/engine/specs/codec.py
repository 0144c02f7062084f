"""Docker's JSON <-> the engine's typed specs (``dockyard.engine.specs``), with Go's decoding rules.

The Engine API is Go's encoding/json on the other side, so a body decodes as it would there:
keys match fields whatever their case, unknown keys are ignored, ``null`` leaves a field unset,
and a known key with the wrong type is an error, worded as Go words it ("json: cannot unmarshal
string into Go struct field HostConfig.Memory of type int64"). A field's ``check`` then applies the
engine's value rules.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Collection
from functools import cache
from typing import Any, TypeVar

from dockyard.errors import InvalidParameter

T = TypeVar("T")
_INT_RANGES = {
    "int64": (-(1 << 63), (1 << 63) - 1), "int": (-(1 << 63), (1 << 63) - 1), "int32": (-(1 << 31), (1 << 31) - 1),
    "uint": (0, (1 << 64) - 1), "uint64": (0, (1 << 64) - 1), "uint32": (0, (1 << 32) - 1), "uint16": (0, 65535),
}
MAX_DEPTH = 64  # deeper than any Docker body; a guard against bodies built to exhaust the stack


@dataclasses.dataclass(frozen=True)
class _Field:
    attr: str
    key: str
    type: Any
    go: str | None
    check: Any


@cache
def _fields(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(_Field(f.name, f.metadata["json"], hints[f.name], f.metadata.get("go"), f.metadata.get("check"))
                 for f in dataclasses.fields(cls) if "json" in f.metadata)


@cache
def _by_key(cls: type) -> dict[str, _Field]:
    return {f.key: f for f in _fields(cls)}


@cache
def _by_folded_key(cls: type) -> dict[str, _Field]:
    """Go matches JSON keys to fields without regard to case (docker-py sends `detachKeys`)."""
    return {f.key.lower(): f for f in _fields(cls)}


def _json_kind(value: Any, literal: bool) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {json.dumps(value)}" if literal else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_name(tp: Any, go: str | None) -> str:
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        return "[]" + _go_name(typing.get_args(tp)[0], go)
    if origin is dict:
        return "map[string]" + _go_name(typing.get_args(tp)[1], go)
    if dataclasses.is_dataclass(tp):
        return tp.__name__
    return {str: "string", bool: "bool", int: go or "int64", dict: "struct {}"}.get(tp, "interface {}")


def _strip_optional(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


class _Decoder:
    def __init__(self, root: str, strict: bool = True) -> None:
        self.root = root
        self.strict = strict

    def fail(self, value: Any, path: str, tp: Any, go: str | None, literal: bool = False) -> typing.NoReturn:
        raise InvalidParameter(f"json: cannot unmarshal {_json_kind(value, literal)} into Go struct field "
                               f"{path or self.root} of type {_go_name(tp, go)}")

    def value(self, tp: Any, value: Any, path: str, go: str | None, depth: int) -> Any:
        if value is None:
            return None
        if depth > MAX_DEPTH:
            raise InvalidParameter(f"json: {path or self.root} is nested too deeply")
        tp = _strip_optional(tp)
        origin = typing.get_origin(tp)
        if origin is list:
            if not isinstance(value, list):
                self.fail(value, path, tp, go)
            item = typing.get_args(tp)[0]
            return [self.value(item, v, path, go, depth + 1) for v in value]
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(value, path, tp, go)
            item = typing.get_args(tp)[1]
            return {k: self.value(item, v, path, go, depth + 1) for k, v in value.items()}
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                self.fail(value, path, tp, go)
            return self.struct(tp, value, path, depth + 1)
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(value, path, tp, go)
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(value, path, tp, go)
            low, high = _INT_RANGES[go or "int64"]
            if isinstance(value, float) or not low <= value <= high:
                self.fail(value, path, tp, go, literal=True)  # Go names the number it could not fit
            return value
        if tp is str:
            if not isinstance(value, str):
                self.fail(value, path, tp, go)
            return value
        if tp is dict:  # Go's struct{} (ExposedPorts, Volumes): any object, contents ignored
            if not isinstance(value, dict):
                self.fail(value, path, tp, go)
            return {}
        return value

    def struct(self, cls: type[T], body: dict, path: str, depth: int) -> T:
        known = _by_key(cls)
        kwargs = {}
        for key, value in body.items():
            spec = known.get(key) or _by_folded_key(cls).get(key.lower())
            if spec is None:
                continue  # Go ignores unknown keys, so does Docker
            where = f"{path}.{key}" if path else f"{self.root}.{key}"
            try:
                converted = self.value(spec.type, value, where, spec.go, depth)
            except InvalidParameter:
                if self.strict:
                    raise
                continue  # a stored record: what no longer decodes is left out, the rest still loads
            if converted is not None and spec.check is not None and self.strict:
                spec.check(converted)
            kwargs[spec.attr] = converted
        return cls(**kwargs)


def from_json(cls: type[T], body: Any, root: str | None = None, *, strict: bool = True) -> T:
    """Decode ``body`` (parsed JSON) into ``cls``; InvalidParameter names the first wrong field.
    ``strict=False`` reads what the engine wrote itself (records on disk, an image's config): no
    value checks, and a field of the wrong type is left unset rather than refused."""
    decoder = _Decoder(root or cls.__name__, strict)
    if body is None:
        return cls()
    if not isinstance(body, dict):
        decoder.fail(body, "", cls, None)
    return decoder.struct(cls, body, "", 0)


def to_json(spec: Any, always: Collection[str] = ()) -> Any:
    """Docker's JSON for a spec: the keys that are set, under their Docker names; the keys named
    in ``always`` (top level only) also when unset, as null."""
    if dataclasses.is_dataclass(spec):
        out = {}
        for f in _fields(type(spec)):
            value = getattr(spec, f.attr)
            if value is not None:
                out[f.key] = to_json(value)
            elif f.key in always:
                out[f.key] = None
        return out
    if isinstance(spec, list):
        return [to_json(v) for v in spec]
    if isinstance(spec, dict):
        return {k: to_json(v) for k, v in spec.items()}
    return spec
