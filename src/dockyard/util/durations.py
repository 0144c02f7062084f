"""Go duration strings (`30s`, `1m30s`, `500ms`), as Docker's --health-* and --stop-timeout flags take."""

import re

from dockyard.errors import InvalidParameter

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_ns(text: str) -> int:
    text = text.strip()
    if text == "0":
        return 0
    if not text or _PART.sub("", text):
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return int(sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))
