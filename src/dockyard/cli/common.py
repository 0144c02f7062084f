"""What several commands share: filter, label, option and env-file flags turned into request
fields, sizes and times as Docker's CLI reads them, and daemon errors reported as it does."""

import os

from dockyard.cli.flags import UsageError
from dockyard.util import fastjson as json


def filters_json(entries: list[str]) -> str | None:
    """`--filter key=value` flags as the API's `filters` JSON (None when there are none)."""
    if not entries:
        return None
    filters: dict[str, list[str]] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {entry}")
        filters.setdefault(key.strip().lower(), []).append(value)
    return json.dumps(filters)


def labels(entries: list[str]) -> dict[str, str]:
    """`--label key[=value]` flags as a Labels object."""
    out = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def driver_options(entries: list[str]) -> dict[str, str]:
    """`-o/--opt key=value` of `network create` and `volume create`."""
    options = {}
    for option in entries:
        key, eq, value = option.partition("=")
        if not eq:
            raise UsageError(f'invalid argument "{option}" for "-o, --opt" flag: {option} is not a key=value pair')
        options[key] = value
    return options


def env_list(entries: list[str]) -> list[str]:
    """`-e KEY=VALUE` kept as given, `-e KEY` taken from this environment (dropped when unset)."""
    out = []
    for entry in entries:
        if "=" in entry:
            out.append(entry)
        elif entry in os.environ:
            out.append(f"{entry}={os.environ[entry]}")
    return out


def read_lines_file(path: str, what: str) -> list[str]:
    """Docker's env/label file format: one KEY=VALUE (or KEY) per line, # comments, blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key = text.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"{what} file {path}, line {number}: variable '{key}' contains whitespaces")
        out.append(text)
    return out


def size_flag(text: str, flag: str) -> int:
    """A size flag (64m, 1g, ...); -1 means unlimited (swap)."""
    from dockyard.util.units import parse_bytes  # `re`: only when a size is given

    if text.strip() == "-1":
        return -1
    try:
        return parse_bytes(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: invalid size: \'{text}\'') from None


def time_flag(value: str, now: float) -> str:
    """Docker's --since/--until: a relative duration (10m, 1h30m), a unix time or an RFC 3339 date."""
    import re

    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value):
        units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", value))
        return f"{now - seconds:.9f}"
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    from dockyard.util.timefmt import parse_rfc3339

    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return f"{parse_rfc3339(text) / 1e9:.9f}"
    except ValueError:
        raise UsageError(f'invalid value for "since"/"until": {value!r} is not a timestamp or a duration') from None
