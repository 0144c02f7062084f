"""Go text/template, the part Docker's --format uses: fields, pipelines, range/if/with/else/end,
variables, trim markers, and Docker's functions (json, join, split, index, lower, upper, title,
len, printf, println, pad, truncate, eq/ne/lt/le/gt/ge, and/or/not)."""

import json
import re
from collections.abc import Callable

from dockyard.cli.flags import UsageError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||:=|,|[^\s|(),]+')


class TemplateError(UsageError):
    pass


# -- parsing -------------------------------------------------------------------------------------
class Node:
    pass


class Text(Node):
    def __init__(self, text: str) -> None:
        self.text = text


class Action(Node):
    def __init__(self, pipeline: list[list[str]], variables: list[str]) -> None:
        self.pipeline = pipeline
        self.variables = variables


class Block(Node):
    def __init__(self, kind: str, action: Action) -> None:
        self.kind = kind  # range | if | with
        self.action = action
        self.body: list[Node] = []
        self.else_body: list[Node] = []


def _split_pipeline(expr: str) -> tuple[list[list[str]], list[str]]:
    tokens = _TOKEN.findall(expr)
    variables: list[str] = []
    if ":=" in tokens:
        at = tokens.index(":=")
        variables = [t for t in tokens[:at] if t != ","]
        tokens = tokens[at + 1:]
    commands: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        if token == "|" and depth == 0:
            commands.append([])
            continue
        depth += token == "("
        depth -= token == ")"
        commands[-1].append(token)
    if any(not c for c in commands):
        raise TemplateError("template: missing value for command")
    return commands, variables


def parse(template: str) -> list[Node]:
    root: list[Node] = []
    stack: list[tuple[list[Node], Block | None]] = [(root, None)]
    pos = 0
    pending_trim = False
    for match in _ACTION.finditer(template):
        text = template[pos:match.start()]
        if pending_trim:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        if text:
            stack[-1][0].append(Text(text))
        pending_trim = bool(match.group(3))
        pos = match.end()
        expr = match.group(2).strip()
        if expr.startswith("/*"):
            continue
        word = expr.split(None, 1)[0] if expr else ""
        rest = expr[len(word):].strip()
        if word in ("range", "if", "with"):
            commands, variables = _split_pipeline(rest)
            block = Block(word, Action(commands, variables))
            stack[-1][0].append(block)
            stack.append((block.body, block))
        elif word == "else":
            if stack[-1][1] is None:
                raise TemplateError("template: unexpected {{else}}")
            block = stack[-1][1]
            stack[-1] = (block.else_body, block)
            if rest.startswith("if "):  # {{else if X}} nests an if inside the else
                commands, variables = _split_pipeline(rest[3:])
                inner = Block("if", Action(commands, variables))
                block.else_body.append(inner)
                stack.append((inner.body, inner))
                inner.chained = True  # type: ignore[attr-defined]
        elif word == "end":
            if stack[-1][1] is None:
                raise TemplateError("template: unexpected {{end}}")
            _, ended = stack.pop()
            while getattr(ended, "chained", False):
                _, ended = stack.pop()
        else:
            commands, variables = _split_pipeline(expr)
            stack[-1][0].append(Action(commands, variables))
    text = template[pos:]
    if pending_trim:
        text = text.lstrip()
    if text:
        stack[-1][0].append(Text(text))
    if len(stack) > 1:
        raise TemplateError("template: unexpected EOF: missing {{end}}")
    return root


# -- evaluation ----------------------------------------------------------------------------------
def to_text(value) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{to_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _truthy(value) -> bool:
    return bool(value)


def _field(value, path: str, original: str):
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            if part not in value:
                return None
            value = value[part]
        else:
            raise TemplateError(f'template: executing "" at <{original}>: can\'t evaluate field {part}')
    return value


def _printf(fmt: str, *args) -> str:
    converted = re.sub(r"%v|%s|%d|%q", lambda m: {"%q": "%s"}.get(m.group(0), "%s"), fmt)
    values = []
    for spec, arg in zip(re.findall(r"%[vsdq]", fmt), args, strict=False):
        values.append(json.dumps(to_text(arg)) if spec == "%q" else to_text(arg))
    return converted % tuple(values)


FUNCTIONS: dict[str, Callable[..., object]] = {
    "json": lambda v: json.dumps(v, separators=(",", ":")),
    "join": lambda items, sep: sep.join(to_text(i) for i in (items or [])),
    "split": lambda text, sep: text.split(sep),
    "lower": lambda v: to_text(v).lower(),
    "upper": lambda v: to_text(v).upper(),
    "title": lambda v: to_text(v).title(),
    "len": lambda v: len(v or []),
    "println": lambda *args: " ".join(to_text(a) for a in args) + "\n",
    "print": lambda *args: "".join(to_text(a) for a in args),
    "printf": _printf,
    "pad": lambda v, left, right: " " * int(left) + to_text(v) + " " * int(right),
    "truncate": lambda v, n: to_text(v)[: int(n)],
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "not": lambda v: not _truthy(v),
    "and": lambda *args: next((a for a in args if not _truthy(a)), args[-1]),
    "or": lambda *args: next((a for a in args if _truthy(a)), args[-1]),
}


def _index(container, *keys):
    for key in keys:
        if isinstance(container, dict):
            container = container.get(key)
        elif isinstance(container, (list, tuple)):
            container = container[int(key)]
        else:
            return None
    return container


FUNCTIONS["index"] = _index


class _Scope:
    def __init__(self, dot, variables: dict) -> None:
        self.dot = dot
        self.variables = variables


def _argument(token: str, scope: _Scope):
    if token.startswith('"'):
        return json.loads(token)
    if token.startswith("`"):
        return token[1:-1]
    if token == ".":
        return scope.dot
    if token.startswith("."):
        return _field(scope.dot, token, token)
    if token.startswith("$"):
        name, _, path = token.partition(".")
        if name not in scope.variables:
            raise TemplateError(f"template: undefined variable: {name}")
        return _field(scope.variables[name], path, token) if path else scope.variables[name]
    if token in ("true", "false"):
        return token == "true"
    if token == "nil":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        raise TemplateError(f'template: function "{token}" not defined') from None


def _command(words: list[str], scope: _Scope, piped=None, has_piped: bool = False):
    # Parenthesised sub-expressions become single values first.
    args: list = []
    i = 0
    while i < len(words):
        if words[i] == "(":
            depth, j = 1, i + 1
            while depth:
                depth += words[j] == "("
                depth -= words[j] == ")"
                j += 1
            args.append(("value", _pipeline([words[i + 1:j - 1]], scope)))
            i = j
            continue
        args.append(("token", words[i]))
        i += 1
    head_kind, head = args[0]
    if head_kind == "token" and head in FUNCTIONS:
        values = [_argument(t, scope) if k == "token" else t for k, t in args[1:]]
        if has_piped:
            values.append(piped)
        try:
            return FUNCTIONS[head](*values)
        except TemplateError:
            raise
        except Exception as exc:  # noqa: BLE001 - Go reports template errors as text too
            raise TemplateError(f"template: error calling {head}: {exc}") from None
    if len(args) > 1 or has_piped:
        raise TemplateError(f"template: can't give argument to non-function {head}")
    return _argument(head, scope) if head_kind == "token" else head


def _pipeline(commands: list[list[str]], scope: _Scope):
    value = _command(commands[0], scope)
    for command in commands[1:]:
        value = _command(command, scope, value, True)
    return value


def _execute(nodes: list[Node], scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Block):
            value = _pipeline(node.action.pipeline, scope)
            if node.kind == "if":
                _execute(node.body if _truthy(value) else node.else_body, scope, out)
            elif node.kind == "with":
                if _truthy(value):
                    _execute(node.body, _Scope(value, scope.variables), out)
                else:
                    _execute(node.else_body, scope, out)
            else:  # range
                items = sorted(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
                if not items:
                    _execute(node.else_body, scope, out)
                for key, item in items:
                    variables = dict(scope.variables)
                    names = node.action.variables
                    if len(names) == 1:
                        variables[names[0]] = item
                    elif len(names) == 2:
                        variables[names[0]], variables[names[1]] = key, item
                    _execute(node.body, _Scope(item, variables), out)
        elif isinstance(node, Action):
            value = _pipeline(node.pipeline, scope)
            if node.variables:
                scope.variables[node.variables[0]] = value
            else:
                out.append(to_text(value))


def render(template: str, obj) -> str:
    """Render ``template`` against ``obj`` (Docker passes \\n and \\t through literally too)."""
    nodes = parse(template.replace("\\n", "\n").replace("\\t", "\t"))
    out: list[str] = []
    _execute(nodes, _Scope(obj, {"$": obj}), out)
    return "".join(out)
