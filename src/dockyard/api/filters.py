"""Docker's `filters` query parameter: JSON {"key": ["v1", ...]} (or the old {"key": {"v": true}})."""

import json
import re
import time

from dockyard.errors import InvalidParameter


class Filters:
    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    @classmethod
    def parse(cls, text: str, accepted: set[str]) -> "Filters":
        if not text:
            return cls({})
        try:
            raw = json.loads(text)
        except ValueError:
            raise InvalidParameter(f"invalid filter: {text!r} is not valid JSON") from None
        if not isinstance(raw, dict):
            raise InvalidParameter("invalid filter: expected a JSON object")
        values: dict[str, list[str]] = {}
        for key, value in raw.items():
            if key not in accepted:
                raise InvalidParameter(f"invalid filter '{key}'")
            # Go decodes map[string]map[string]bool, or the older map[string][]string: nothing else.
            if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
                values[key] = [k for k, v in value.items() if v]
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                values[key] = list(value)
            else:
                raise InvalidParameter(f"invalid filter '{key}': expected a list of strings or an object of booleans")
        return cls(values)

    def get(self, key: str) -> list[str]:
        return self.values.get(key, [])

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def match_regex(self, key: str, candidate: str) -> bool:
        """Docker's filters.Match: true when no values, else when any value matches as a regexp."""
        patterns = self.get(key)
        if not patterns:
            return True
        for pattern in patterns:
            try:
                if re.search(pattern, candidate):
                    return True
            except re.error:
                if pattern in candidate:
                    return True
        return False

    def match_labels(self, labels: dict[str, str]) -> bool:
        for want in self.get("label"):
            if "!=" in want:
                key, value = want.split("!=", 1)
                if labels.get(key) == value:
                    return False
            elif "=" in want:
                key, value = want.split("=", 1)
                if labels.get(key) != value:
                    return False
            elif want not in labels:
                return False
        for unwanted in self.get("label!"):  # prune filters: keep what carries the label (or label=value)
            key, has_value, value = unwanted.partition("=")
            if key in labels and (not has_value or labels[key] == value):
                return False
        return True


def until_ns(value: str) -> int:
    """`until` in prune filters: a unix timestamp, an RFC 3339 date, or a duration such as 10m."""
    from dockyard.util.timefmt import parse_rfc3339

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return int(float(value) * 1e9)
    match = re.fullmatch(r"(\d+)(s|m|h)", value)
    if match:
        seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]
        return time.time_ns() - seconds * 1_000_000_000
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InvalidParameter(f"invalid filter 'until={value}'") from None
