"""What the embedded DNS server of a container on a user-defined network answers: the names
(container names, short IDs, network aliases, links) of the running containers it shares a
network with, the swarm services attached to those networks (network/mesh/records.py: a service's
name and aliases, tasks.<service>), reverse names, and the upstream servers for everything else."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from dockyard.engine.container import Container
from dockyard.engine.networks.seams import ContainerRecords
from dockyard.network import namefiles
from dockyard.network.records import Network

if TYPE_CHECKING:
    from dockyard.network.mesh.records import RecordSource


class DNSView:
    def __init__(self, containers: ContainerRecords, networks: Callable[[], Iterable[Network]],
                 dns: list[str], services: RecordSource | None = None) -> None:
        self.containers = containers
        # Swarm services' records: filled by the swarm side (empty outside a swarm).
        self.services = services  # None outside a swarm: no service names to answer
        self._networks = networks
        self.dns = dns  # dockyardd --dns: upstreams for containers without their own --dns

    def lookup(self, asking: Container, name: str) -> list[str] | None:
        wanted = name.lower()
        user_defined = {n.name: n.id for n in self._networks() if n.user_defined}
        own = (asking.network_settings or {}).get("Networks") or {}
        networks = [n for n in own if n in user_defined]
        link_aliases = {}
        for entry in asking.host_config.links or []:
            target, _, alias = entry.partition(":")
            link_aliases[alias.rsplit("/", 1)[-1].lower()] = target.lstrip("/").lower()
        found = []
        for network in networks:
            # A link made for this network's endpoint (EndpointSettings.Links) names a container here.
            scoped = dict(link_aliases)
            for entry in own[network].get("Links") or []:
                target, _, alias = entry.partition(":")
                scoped[(alias or target).lower()] = target.lstrip("/").lower()
            name_wanted = scoped.get(wanted, wanted)
            short = name_wanted[: -len(network) - 1] if name_wanted.endswith("." + network.lower()) else name_wanted
            for c in self.containers.list():
                endpoint = ((c.network_settings or {}).get("Networks") or {}).get(network)
                if not endpoint or not endpoint.get("IPAddress") or not c.state.running:
                    continue
                names = {c.name.lstrip("/").lower(), c.id[:12], *(a.lower() for a in endpoint.get("Aliases") or [])}
                if short in names or wanted == c.id:
                    found.append(endpoint["IPAddress"])
        if found:
            return found
        if self.services is None:
            return None
        from dockyard.network.mesh.records import resolve  # with a swarm only: kept out of the start-up

        return resolve(self.services, [key for n in networks for key in (user_defined[n], n)], name)

    def reverse(self, asking: Container, ip: str) -> str | None:
        for network in (asking.network_settings or {}).get("Networks") or {}:
            for c in self.containers.list():
                endpoint = ((c.network_settings or {}).get("Networks") or {}).get(network)
                if endpoint and endpoint.get("IPAddress") == ip and c.state.running:
                    return f"{c.name.lstrip('/')}.{network}"
        return None

    def upstreams(self, c: Container) -> list[str]:
        return list(c.host_config.dns or self.dns or
                    namefiles.host_resolvers(namefiles.read_host_resolv()) or namefiles.FALLBACK_NAMESERVERS)
