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


def port_filter(filters: Filters, key: str) -> set[str]:
    """The ports a `publish` or `expose` filter names, as "80/tcp": moby's portOp takes
    `80`, `80/udp` and ranges `8000-8080/tcp` (tcp when no protocol is given)."""
    ports: set[str] = set()
    for value in filters.get(key):
        if ":" in value:
            raise InvalidParameter(f"filter for '{key}' should not contain ':': {value}")
        port, _, proto = value.partition("/")
        first, dash, last = port.partition("-")
        try:
            start = int(first)
            end = int(last) if dash else start
        except ValueError:
            raise InvalidParameter(f"error while looking up for {key} {value}: invalid port range {port!r}") from None
        if not 0 <= start <= end <= 65535:
            raise InvalidParameter(f"error while looking up for {key} {value}: invalid port range {port!r}")
        ports.update(f"{number}/{proto or 'tcp'}" for number in range(start, end + 1))
    return ports


def match_ports(ports: list[dict], publish: set[str], expose: set[str]) -> bool:
    """moby's list: a container matches when one of its list-view Ports has its public port in
    ``publish`` or its private port in ``expose`` (nothing to match when both are empty)."""
    if not publish and not expose:
        return True
    for port in ports:
        proto = port.get("Type", "tcp")
        if f"{port.get('PublicPort', 0)}/{proto}" in publish or f"{port.get('PrivatePort', 0)}/{proto}" in expose:
            return True
    return False


def match_volumes(mounts: list[dict], wanted: list[str]) -> bool:
    """`volume=`: a mount's destination, or its volume name (its source for a bind mount)."""
    if not wanted:
        return True
    names = {m.get("Name") or m.get("Source", "") for m in mounts}
    destinations = {m.get("Destination") for m in mounts if m.get("Destination")}
    return any(value in destinations or value in names for value in wanted)


def match_networks(networks: dict[str, dict], wanted: list[str]) -> bool:
    """`network=`: a network the container is attached to, by name or by (a prefix of) its ID."""
    if not wanted:
        return True
    for value in wanted:
        if value in networks:
            return True
        if any((endpoint or {}).get("NetworkID", "").startswith(value) for endpoint in networks.values()):
            return True
    return False


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
