"""Legacy links (`--link name[:alias]`): the environment variables and /etc/hosts lines a
container gets for each container it links to (Docker's daemon/links)."""

from dockyard.errors import InvalidParameter


def parse(entry: str) -> tuple[str, str]:
    """"db" or "db:alias" (or the API's "/db:/web/alias") -> (target name, alias)."""
    name, _, alias = entry.partition(":")
    name = name.lstrip("/")
    alias = alias.rsplit("/", 1)[-1] if alias else name
    if not name:
        raise InvalidParameter(f"invalid link format: {entry!r}")
    return name, alias


def _sorted_ports(exposed: dict) -> list[tuple[int, str]]:
    ports = []
    for key in exposed or {}:
        number, _, proto = key.partition("/")
        try:
            ports.append((int(number), proto or "tcp"))
        except ValueError:
            continue
    return sorted(ports)


def environment(parent_name: str, alias: str, child_name: str, ip: str, exposed: dict,
                child_env: list[str]) -> list[str]:
    prefix = alias.upper().replace("-", "_")
    env = [f"{prefix}_NAME={parent_name}/{alias}"]
    ports = _sorted_ports(exposed)
    if ports:
        env.append(f"{prefix}_PORT={ports[0][1]}://{ip}:{ports[0][0]}")
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{key}={proto}://{ip}:{port}", f"{key}_ADDR={ip}", f"{key}_PORT={port}", f"{key}_PROTO={proto}"]
    for entry in child_env:
        name, sep, value = entry.partition("=")
        if sep and name not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{name}={value}")
    return env


def hosts_names(alias: str, child_name: str, child_hostname: str) -> str:
    """"alias hostname [name]": the names a link makes resolvable through /etc/hosts."""
    names = f"{alias} {child_hostname}"
    if alias != child_name:
        names += f" {child_name}"
    return names
