"""Templated secrets and configs (`--template-driver golang`): swarmkit's template package. The
payload is a Go template expanded for each task that receives it, against the task's context
(.Service.ID/.Name/.Labels, .Node.ID/.Hostname/.Platform.Architecture/.OS, .Task.ID/.Name/.Slot)
with swarmkit's functions: `env "VAR"` (the task's container environment), `secret "target"` and
`config "target"` (the data of another secret or config the same task references, by its file
target), and `join`. Any other templating driver is refused when a task would use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.util import gotemplate

GOLANG = "golang"


def context(task: Any, node: Any | None) -> dict[str, Any]:
    """swarmkit's template.Context for a task (NewContext) and the node it runs on."""
    description = node.description if node is not None else None
    return {
        "Service": {"ID": task.service_id, "Name": task.service_name, "Labels": dict(task.service_labels)},
        "Node": {"ID": task.node_id, "Hostname": description.hostname if description else "",
                 "Platform": {"Architecture": description.platform.architecture if description else "",
                              "OS": description.platform.os if description else ""}},
        "Task": {"ID": task.id, "Name": task.name(), "Slot": str(task.slot) if task.slot else task.node_id},
    }


def _env(container: Any) -> Callable[[str], str]:
    def env(variable: str) -> str:
        for entry in container.env or []:
            key, sep, value = entry.partition("=")
            if sep and key == variable:
                return value
        return ""

    return env


def _by_target(kind: str, refs: list[Any], open_payload: Callable[[str], bytes]) -> Callable[[str], str]:
    def lookup(target: str) -> str:
        for ref in refs:
            if ref.file is not None and ref.file.name == target:
                return open_payload(ref.secret_id if kind == "secret" else ref.config_id).decode(errors="replace")
        raise gotemplate.TemplateError(f"{kind} target {target} not found")

    return lookup


def expand(word: str, name: str, data: bytes, templating: Any, task: Any, node: Any | None,
           open_secret: Callable[[str], bytes], open_config: Callable[[str], bytes]) -> bytes:
    """The payload of secret or config `name` as the task receives it: unchanged without a
    templating driver, expanded with "golang"; an error names the object and the template's fault."""
    if templating is None:
        return data
    if templating.name != GOLANG:
        raise InvalidParameter(f"{word} {name}: unrecognized template type {templating.name!r} (only \"golang\")")
    container = task.spec.container_spec
    functions: gotemplate.Functions = {
        **gotemplate.BUILTINS,
        "join": lambda sep, *items: sep.join(items),  # swarmkit's: the separator first
        "env": _env(container),
        "secret": _by_target("secret", list(container.secrets or []), open_secret),
        "config": _by_target("config", list(container.configs or []), open_config),
    }
    try:
        text = gotemplate.render(data.decode(), context(task, node), functions, strict=True)
    except (gotemplate.TemplateError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{word} {name}: expanding its template failed: {exc}") from None
    return text.encode()
