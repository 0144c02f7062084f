"""Variable interpolation as the Compose Specification defines it.

`$VAR` and `${VAR}`, defaults `${VAR:-d}` (unset or empty) and `${VAR-d}` (unset), required values
`${VAR:?err}` and `${VAR?err}`, alternatives `${VAR:+x}` and `${VAR+x}`, `$$` for a literal `$`.
Defaults and alternatives may themselves hold interpolations (`${A:-${B}}`), as in Compose v2.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.compose.errors import ComposeError

_NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | set("0123456789")


class InterpolationError(ComposeError):
    pass


def interpolate(text: str, env: Mapping[str, str], where: str = "") -> str:
    out, pos = _expand(text, 0, env, where, stop=None)
    return out


def _invalid(text: str, where: str) -> InterpolationError:
    place = f" for {where}" if where else ""
    return InterpolationError(f'invalid interpolation format{place}: "{text}"; you may need to escape any $ with '
                              "another $", exit_code=15)


def _expand(text: str, pos: int, env: Mapping[str, str], where: str, stop: str | None) -> tuple[str, int]:
    """Expand from `pos` up to an unmatched `stop` character (a closing brace) or the end."""
    out: list[str] = []
    n = len(text)
    while pos < n:
        char = text[pos]
        if stop is not None and char == stop:
            return "".join(out), pos
        if char != "$":
            out.append(char)
            pos += 1
            continue
        if pos + 1 >= n:
            out.append("$")  # a lone trailing $ is kept, as compose-go does
            pos += 1
            continue
        nxt = text[pos + 1]
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, env, where)
            out.append(value)
        elif nxt in _NAME_START:
            end = pos + 1
            while end < n and text[end] in _NAME_CHARS:
                end += 1
            out.append(env.get(text[pos + 1:end], ""))
            pos = end
        else:
            raise _invalid(text, where)
    if stop is not None:
        raise _invalid(text, where)
    return "".join(out), pos


def _braced(text: str, pos: int, env: Mapping[str, str], where: str) -> tuple[str, int]:
    """`${...}` starting just after the brace; returns the value and the position after `}`."""
    n = len(text)
    start = pos
    while pos < n and text[pos] in _NAME_CHARS:
        pos += 1
    name = text[start:pos]
    if not name or name[0] not in _NAME_START or pos >= n:
        raise _invalid(text, where)
    if text[pos] == "}":
        return env.get(name, ""), pos + 1
    operator = text[pos]
    colon = operator == ":"
    if colon:
        pos += 1
        if pos >= n:
            raise _invalid(text, where)
        operator = text[pos]
    if operator not in "-?+":
        raise _invalid(text, where)
    argument, pos = _expand(text, pos + 1, env, where, stop="}")
    pos += 1  # the closing brace
    value = env.get(name)
    present = value is not None and (value != "" or not colon)
    if operator == "-":
        return (value if value is not None and present else argument), pos
    if operator == "+":
        return (argument if present else ""), pos
    if value is None or not present:
        place = f"{where}: " if where else ""
        raise InterpolationError(f"{place}required variable {name} is missing a value"
                                 + (f": {argument}" if argument else ""), exit_code=15)
    return value, pos


def interpolate_tree(node, env: Mapping[str, str], path: str = ""):
    """Every string value of a loaded document interpolated (keys are left alone, as the spec says)."""
    if isinstance(node, str):
        return interpolate(node, env, path)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, f"{path}.{key}" if path else str(key))
                for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env, f"{path}[{i}]") for i, value in enumerate(node)]
    return node
