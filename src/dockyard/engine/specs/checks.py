"""Value rules of the request specs, in Docker's words where Docker has them."""

from __future__ import annotations

import ipaddress

from dockyard.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp", "sctp")


def _port_number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    number = int(text)
    return number if number <= 65535 else None


def port_range(text: str) -> tuple[int, int] | None:
    """nat.ParsePortRange: "80" or "8000-8010"; None when it is not one."""
    low, dash, high = text.partition("-")
    first = _port_number(low)
    last = _port_number(high) if dash else first
    if first is None or last is None or last < first:
        return None
    return first, last


def port_key(key: str) -> None:
    """A key of ExposedPorts or PortBindings: "80", "80/tcp", "53/udp"."""
    number, _, proto = key.partition("/")
    if _port_number(number) is None and port_range(number) is None:
        raise InvalidParameter(f'invalid port specification: "{number}"')
    if proto and proto.lower() not in PROTOCOLS:
        raise InvalidParameter(f'invalid proto: "{proto}"')


def host_port(value: str) -> None:
    if value and port_range(value.partition("/")[0]) is None:
        raise InvalidParameter(f'invalid port specification: "{value}"')


def ip_address(value: str) -> None:
    if value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidParameter(f"invalid IP address: {value!r}") from None


def cidr(value: str) -> None:
    if value:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid CIDR address: {value}") from None


def non_negative(value: int) -> None:
    if value < 0:
        raise InvalidParameter(f"invalid value {value}: must not be negative")


def one_of(*allowed: str):
    def check(value: str) -> None:
        if value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise InvalidParameter(f"invalid value {value!r}: use one of {shown}")
    return check


def port_keys(mapping: dict) -> None:
    for key in mapping:
        port_key(key)


def console_size(value: list[int]) -> None:
    if len(value) != 2:
        raise InvalidParameter("ConsoleSize must hold two numbers: height and width")
