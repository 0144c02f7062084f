"""Legacy links (`--link name:alias`): checked and put in Docker's form at create, and turned
into environment variables and /etc/hosts entries at start (on the default bridge; on a
user-defined network a link is a DNS alias only, see dnsview.py)."""

from __future__ import annotations

from dockyard.engine.container import Container
from dockyard.engine.networks.seams import ContainerRecords
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.network import links as linkenv


def normalize_links(containers: ContainerRecords, entries: list[str], owner: str) -> list[str]:
    """Docker's form, "/target:/container/alias"."""
    out = []
    for entry in entries:
        name, alias = linkenv.parse(entry)
        try:
            target = containers.get(name)
        except NotFound:
            raise InvalidParameter(f"Could not get container for {name}") from None
        out.append(f"{target.name}:{owner}/{alias}")
    return out


def link_environment(containers: ContainerRecords, c: Container) -> tuple[list[str], list[tuple[str, str]]]:
    """(environment variables, (ip, names) hosts entries) for the links of ``c``."""
    env, hosts = [], []
    for entry in c.host_config.links or []:
        target_name, _, alias_path = entry.partition(":")
        alias = alias_path.rsplit("/", 1)[-1]
        try:
            target = containers.get(target_name)
        except NotFound:
            raise InvalidParameter(f"Could not get container for {target_name.lstrip('/')}") from None
        if not target.state.running:
            raise Conflict(f"Cannot link to a non running container: {target.name} AS {c.name}/{alias}")
        endpoint = ((target.network_settings or {}).get("Networks") or {}).get("bridge") or {}
        ip = endpoint.get("IPAddress") or ""
        if not ip:
            continue  # on a user-defined network a link is a DNS alias only (see dnsview.py)
        env += linkenv.environment(c.name, alias, target.name, ip, target.config.exposed_ports or {},
                                   target.config.env or [])
        hosts.append((ip, linkenv.hosts_names(alias, target.name.lstrip("/"), target.config.hostname or "")))
    return env, hosts
