"""Docker's --format: Go text/template (util/gotemplate.py) with Docker's functions (json, join,
split, lower, upper, title, pad, truncate) beside Go's, and \\n and \\t in the flag's text taken
literally as Docker's CLI takes them."""

import json

from dockyard.cli.flags import UsageError
from dockyard.util import gotemplate
from dockyard.util.gotemplate import to_text

DOCKER_FUNCTIONS: gotemplate.Functions = {
    **gotemplate.BUILTINS,
    "json": lambda v: json.dumps(v, separators=(",", ":")),
    "join": lambda items, sep: sep.join(to_text(i) for i in (items or [])),
    "split": lambda text, sep: text.split(sep),
    "lower": lambda v: to_text(v).lower(),
    "upper": lambda v: to_text(v).upper(),
    "title": lambda v: to_text(v).title(),
    "pad": lambda v, left, right: " " * int(left) + to_text(v) + " " * int(right),
    "truncate": lambda v, n: to_text(v)[: int(n)],
}


class TemplateError(UsageError):
    pass


def render(template: str, obj) -> str:
    """Render ``template`` against ``obj`` (Docker passes \\n and \\t through literally too)."""
    try:
        return gotemplate.render(template.replace("\\n", "\n").replace("\\t", "\t"), obj, DOCKER_FUNCTIONS)
    except gotemplate.TemplateError as exc:
        raise TemplateError(str(exc)) from None
