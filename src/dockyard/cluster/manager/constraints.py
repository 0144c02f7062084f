"""Placement constraints (`node.role==manager`, `node.labels.zone!=b`, ...) parsed and matched
against nodes, as swarmkit's manager/constraint: keys node.id, node.hostname, node.role,
node.platform.os, node.platform.arch, node.labels.<k>, engine.labels.<k>; operators == and !=;
values compared without regard to case except for labels' values... swarmkit compares all of
them case-insensitively, and so do we."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.cluster.objects import Node
from dockyard.errors import InvalidParameter

_EXPR = re.compile(r"^\s*([\w.\-]+)\s*(==|!=)\s*(.*?)\s*$")
_VALUE = re.compile(r"^[\w.\-*/ ]*$")


@dataclass(frozen=True)
class Constraint:
    key: str
    equal: bool
    value: str

    def matches(self, node: Node) -> bool:
        actual = node_value(node, self.key)
        if actual is None:
            return not self.equal  # a label the node lacks equals nothing
        return (actual.lower() == self.value.lower()) == self.equal


def parse(expressions: list[str]) -> list[Constraint]:
    out = []
    for text in expressions:
        match = _EXPR.match(text)
        if not match or not _VALUE.match(match.group(3)):
            raise InvalidParameter(f"constraint expected one operator from ==, !=: {text!r}")
        key = match.group(1).lower() if not match.group(1).startswith(("node.labels.", "engine.labels.")) \
            else match.group(1)
        out.append(Constraint(key, match.group(2) == "==", match.group(3)))
    return out


def node_value(node: Node, key: str) -> str | None:
    d = node.description
    lowered = key.lower()
    if lowered == "node.id":
        return node.id
    if lowered == "node.hostname":
        return d.hostname
    if lowered == "node.role":
        return node.spec.role.value
    if lowered == "node.platform.os":
        return d.platform.os
    if lowered == "node.platform.arch":
        return d.platform.architecture
    if key.startswith("node.labels."):
        return node.spec.labels.get(key.removeprefix("node.labels."))
    if key.startswith("engine.labels."):
        return d.engine_labels.get(key.removeprefix("engine.labels."))
    if lowered == "node.ip":
        return node.status.addr
    return None
