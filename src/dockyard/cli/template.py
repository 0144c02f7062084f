"""A small subset of Go's text/template for --format: {{.Field.Sub}}, {{json .X}}, {{index .M "k"}}."""

import json
import re

from dockyard.cli.flags import UsageError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def _lookup(obj, path: str):
    value = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise UsageError(f'template: :1: executing "" at <{path}>: map has no entry for key "{part}"')
    return value


def _text(value) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _evaluate(expr: str, obj):
    words = re.findall(r'"[^"]*"|\S+', expr)
    if not words:
        return ""
    if words[0] == "json" and len(words) == 2:
        return json.dumps(_lookup(obj, words[1]), separators=(",", ":"))
    if words[0] == "index" and len(words) == 3:
        container = _lookup(obj, words[1])
        key = words[2].strip('"')
        return _text(container[int(key)] if isinstance(container, list) else container.get(key))
    if words[0] in ("upper", "lower") and len(words) == 2:
        text = _text(_lookup(obj, words[1]))
        return text.upper() if words[0] == "upper" else text.lower()
    if len(words) == 1 and words[0].startswith("."):
        return _text(_lookup(obj, words[0]))
    raise UsageError(f"template: unsupported action {{{{{expr}}}}} in --format")


def render(template: str, obj) -> str:
    return _ACTION.sub(lambda m: _evaluate(m.group(1), obj), template.replace("\\n", "\n").replace("\\t", "\t"))
