"""`.env` files (the project's and `--env-file`, and services' `env_file`), parsed as Compose v2 does:
`KEY=value`, optional `export `, `#` comments, single quotes literal, double quotes with escapes,
unquoted values interpolated from what came before."""

from __future__ import annotations

import os
from collections.abc import Mapping

from dockyard.compose.errors import ComposeError


def parse_env_file(path: str, lookup: Mapping[str, str] | None = None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(f"env file {os.path.abspath(path)} not found: stat {path}: no such file or "
                           "directory") from None
    except OSError as exc:
        raise ComposeError(f"env file {path}: {exc.strerror}") from None
    return parse_env_text(text, path, lookup or {})


def parse_env_text(text: str, source: str, lookup: Mapping[str, str]) -> dict[str, str]:
    from dockyard.compose.config.interpolation import interpolate

    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ComposeError(f"failed to read {source}: line {number}: unexpected character in variable name "
                               f"{key!r}")
        if not sep:
            if key in lookup:  # `NAME` alone takes the value from the environment
                values[key] = lookup[key]
            continue
        value = value.strip()
        if value[:1] == "'" and value.rfind("'") > 0:
            values[key] = value[1:value.rfind("'")]
        elif value[:1] == '"' and value.rfind('"') > 0:
            inner = value[1:value.rfind('"')]
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            values[key] = interpolate(inner, {**lookup, **values}, key)
        else:
            if " #" in value:
                value = value[:value.index(" #")].rstrip()
            values[key] = interpolate(value, {**lookup, **values}, key)
    return values


def project_environment(project_dir: str, env_files: list[str] | None) -> dict[str, str]:
    """The variables interpolation sees: the process environment over the `.env` file(s)."""
    process = dict(os.environ)
    merged: dict[str, str] = {}
    if env_files:
        for path in env_files:
            merged.update(parse_env_file(path, {**merged, **process}))
    else:
        default = os.path.join(project_dir, ".env")
        if os.path.isfile(default):
            merged.update(parse_env_file(default, process))
    merged.update(process)
    return merged
