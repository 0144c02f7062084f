"""Go text/template over JSON-like values (dicts, lists, strings, numbers): fields, pipelines,
range/if/with/else/end, variables, trim markers, and Go's builtin functions (and, or, not, len,
index, print, printf, println, eq, ne, lt, le, gt, ge). Callers add their own functions: the CLI's
--format adds Docker's (cli/template.py), a swarm's templated secrets and configs add swarmkit's
(cluster/templating.py)."""

import json
import re
from collections.abc import Callable

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||:=|,|[^\s|(),]+')


class TemplateError(Exception):
    """The template does not parse or does not execute; the message is Go's, more or less."""


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


def _field(value, path: str, original: str, strict: bool = False):
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            if part not in value:
                if strict:  # Go on a struct: a field that does not exist is an error, not <no value>
                    raise TemplateError(f'template: executing "" at <{original}>: can\'t evaluate field {part}')
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


Functions = dict[str, Callable[..., object]]

BUILTINS: Functions = {
    "len": lambda v: len(v or []),
    "println": lambda *args: " ".join(to_text(a) for a in args) + "\n",
    "print": lambda *args: "".join(to_text(a) for a in args),
    "printf": _printf,
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


BUILTINS["index"] = _index


class _Scope:
    def __init__(self, dot, variables: dict, functions: Functions, strict: bool) -> None:
        self.dot = dot
        self.variables = variables
        self.functions = functions
        self.strict = strict

    def inner(self, dot, variables: dict | None = None) -> "_Scope":
        return _Scope(dot, self.variables if variables is None else variables, self.functions, self.strict)


def _argument(token: str, scope: _Scope):
    if token.startswith('"'):
        return json.loads(token)
    if token.startswith("`"):
        return token[1:-1]
    if token == ".":
        return scope.dot
    if token.startswith("."):
        return _field(scope.dot, token, token, scope.strict)
    if token.startswith("$"):
        name, _, path = token.partition(".")
        if name not in scope.variables:
            raise TemplateError(f"template: undefined variable: {name}")
        return _field(scope.variables[name], path, token, scope.strict) if path else scope.variables[name]
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
    if head_kind == "token" and head in scope.functions:
        values = [_argument(t, scope) if k == "token" else t for k, t in args[1:]]
        if has_piped:
            values.append(piped)
        try:
            return scope.functions[head](*values)
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
                    _execute(node.body, scope.inner(value), out)
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
                    _execute(node.body, scope.inner(item, variables), out)
        elif isinstance(node, Action):
            value = _pipeline(node.pipeline, scope)
            if node.variables:
                scope.variables[node.variables[0]] = value
            else:
                out.append(to_text(value))


def render(template: str, obj, functions: Functions | None = None, strict: bool = False) -> str:
    """``template`` executed against ``obj`` with Go's builtins, or ``functions`` (which should
    include them); ``strict``: a missing field is an error, as on a Go struct."""
    nodes = parse(template)
    out: list[str] = []
    _execute(nodes, _Scope(obj, {"$": obj}, BUILTINS if functions is None else functions, strict), out)
    return "".join(out)
