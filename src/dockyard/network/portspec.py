"""`-p/--publish` and `--expose` texts -> the API's ExposedPorts and PortBindings (Docker's
nat.ParsePortSpecs). Pure functions: the CLI imports this on its start path."""

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    pass


def _range(text: str, what: str, spec: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    try:
        low = int(start)
        high = int(end) if end else low
    except ValueError:
        raise PortSpecError(f"invalid {what} port: {text}" if what == "containerPort" else
                            f"invalid hostPort: {text}") from None
    if not (0 < low <= 65535 and 0 < high <= 65535) or high < low:
        raise PortSpecError(f"invalid port range: {text}" if high < low else f"invalid port: {spec}")
    return low, high


def _split_proto(text: str) -> tuple[str, str]:
    port, _, proto = text.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    return port, proto


def parse_publish(spec: str) -> list[tuple[str, dict]]:
    """One `-p` value -> [("80/tcp", {"HostIp": ..., "HostPort": ...}), ...]."""
    body, proto = _split_proto(spec)
    host_ip = ""
    if body.startswith("["):  # [::1]:8080:80
        close = body.find("]")
        host_ip, body = body[1:close], body[close + 2:]
        parts = body.split(":")
        host_port, container = (parts + [""])[:2] if len(parts) == 2 else ("", parts[0])
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host_port, container = "", parts[0]
        elif len(parts) == 2:
            host_port, container = parts
        elif len(parts) == 3:
            host_ip, host_port, container = parts
        else:
            raise PortSpecError(f"invalid port format for publish: {spec}")
    if host_ip:
        import ipaddress

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise PortSpecError(f"invalid IP address: {host_ip}") from None
    if not container:
        raise PortSpecError(f"no port specified: {spec}<empty>")
    low, high = _range(container, "containerPort", spec)
    bindings = []
    if host_port:
        hlow, hhigh = _range(host_port, "hostPort", spec)
        if hhigh - hlow != high - low:
            if high != low:
                raise PortSpecError(f"invalid ranges specified for container and host Ports: {container} and "
                                    f"{host_port}")
            # one container port, a host range: the daemon picks a free port in the range
            return [(f"{low}/{proto}", {"HostIp": host_ip, "HostPort": host_port})]
        for offset in range(high - low + 1):
            bindings.append((f"{low + offset}/{proto}", {"HostIp": host_ip, "HostPort": str(hlow + offset)}))
        return bindings
    return [(f"{p}/{proto}", {"HostIp": host_ip, "HostPort": ""}) for p in range(low, high + 1)]


def parse_expose(spec: str) -> list[str]:
    body, proto = _split_proto(spec)
    low, high = _range(body, "containerPort", spec)
    return [f"{p}/{proto}" for p in range(low, high + 1)]


def publish_fields(publish: list[str], expose: list[str]) -> tuple[dict, dict]:
    """(ExposedPorts, PortBindings) for a create request."""
    exposed: dict = {}
    bindings: dict = {}
    for spec in expose:
        for port in parse_expose(spec):
            exposed[port] = {}
    for spec in publish:
        for port, binding in parse_publish(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    return exposed, bindings
