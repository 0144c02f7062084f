"""The routing mesh's typed model: what a swarm manager knows about a service's reachability,
reduced to what netfilter needs (swarmkit's Endpoint, PortConfig and a task's network
attachment, without the rest of the service).

Who fills it: the swarm side turns a service's EndpointSpec into ``PublishedPort``s, the
allocator's virtual IPs into ``VirtualIP``s and its running tasks into ``Backend``s (see
docs/design/mesh.md, "The seam"). Everything here is data; rendering and programming live in
their own modules.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp", "sctp")
MODES = ("ingress", "host")


def _ipv4(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise InvalidParameter(f"{what} {value!r} is not an IPv4 address") from None


def _port(value: int, what: str) -> int:
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidParameter(f"{what} {value!r} is not a port number (1-65535)")
    return value


@dataclass(frozen=True)
class Backend:
    """One task of a service as the balancing sees it: its address on the network in question
    (the ingress network, a service's network, or docker_gwbridge for mode=host) and whether it
    may get new connections. A task that stops or fails its health check turns ``healthy``
    False (or leaves the list): the next program drops it from the balancing."""

    address: str
    healthy: bool = True
    task: str = ""  # the task's ID, for logs and the record source; not used by the rules

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _ipv4(self.address, f"backend {self.task or ''}".strip() + " address"))


@dataclass(frozen=True)
class PublishedPort:
    """swarmkit's PortConfig: ``published`` answers on every node (mode ingress) or on the
    nodes running a task (mode host) and reaches ``target`` in a task."""

    published: int
    target: int
    protocol: str = "tcp"
    mode: str = "ingress"

    def __post_init__(self) -> None:
        _port(self.published, "published port")
        _port(self.target, "target port")
        if self.protocol not in PROTOCOLS:
            raise InvalidParameter(f"invalid protocol {self.protocol!r} for port {self.published}: "
                                   f"use one of {', '.join(PROTOCOLS)}")
        if self.mode not in MODES:
            raise InvalidParameter(f"invalid publish mode {self.mode!r} for port {self.published}: "
                                   "use ingress or host")


@dataclass(frozen=True)
class VirtualIP:
    """A service's virtual IP on one network (endpoint mode vip): every port of ``address`` is
    balanced over the backends' same port, as IPVS's firewall-mark services do in Docker."""

    service: str  # the service's name (chain and comment text; the DNS name lives in the record source)
    address: str
    backends: tuple[Backend, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _ipv4(self.address, f"virtual IP of service {self.service}"))
        object.__setattr__(self, "backends", tuple(self.backends))

    @property
    def live(self) -> tuple[Backend, ...]:
        return tuple(b for b in self.backends if b.healthy)


@dataclass(frozen=True)
class IngressService:
    """A service's ingress-mode ports and its tasks' addresses on the ingress network."""

    service: str
    ports: tuple[PublishedPort, ...]
    backends: tuple[Backend, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "backends", tuple(self.backends))
        for p in self.ports:
            if p.mode != "ingress":
                raise InvalidParameter(f"port {p.published} of service {self.service} is published in mode "
                                       f"{p.mode}, not ingress")

    @property
    def live(self) -> tuple[Backend, ...]:
        return tuple(b for b in self.backends if b.healthy)


@dataclass(frozen=True)
class HostPort:
    """A mode=host port of a task running on this node: ``published`` on this node's addresses
    reaches ``address`` (the task's docker_gwbridge address) at ``target``."""

    service: str
    port: PublishedPort
    address: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _ipv4(self.address, f"task address of service {self.service}"))
        if self.port.mode != "host":
            raise InvalidParameter(f"port {self.port.published} of service {self.service} is published in mode "
                                   f"{self.port.mode}, not host")


@dataclass(frozen=True)
class IngressPeer:
    """A node's ingress sandbox as the tasks see it on the ingress network. Replies of a
    connection that came from a peer go back to that peer (policy routing in the task's
    namespace, keyed on the peer's MAC), which is what lets tasks see the client's address."""

    node: str
    address: str  # the sandbox's address on the ingress network
    mac: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _ipv4(self.address, f"ingress address of node {self.node}"))
        parts = self.mac.lower().split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
            raise InvalidParameter(f"ingress MAC {self.mac!r} of node {self.node} is not a MAC address")
        object.__setattr__(self, "mac", ":".join(parts))


@dataclass(frozen=True)
class IngressSandbox:
    """Where this node's ingress traffic is balanced (Docker's ingress_sbox): the node DNATs a
    published port to ``gateway_address`` (the sandbox's leg on the node's gateway bridge,
    docker_gwbridge), and the sandbox DNATs on to a backend on the ingress network."""

    path: str  # the pinned network namespace
    gateway_address: str  # the sandbox's address toward the node
    gateway_interface: str  # the node's side: the bridge (or veth) the sandbox hangs off

    def __post_init__(self) -> None:
        object.__setattr__(self, "gateway_address", _ipv4(self.gateway_address, "ingress sandbox address"))


@dataclass(frozen=True)
class LocalBridge:
    """A bridge of this node with backends on it: its Linux name and subnet (calls of a port
    from a container on it are masqueraded)."""

    name: str
    subnet: str = ""


@dataclass
class NodeMesh:
    """Everything one node programs: the ingress services (answering on every node) and the
    mode=host ports of its own tasks.

    ``local_bridges``: with no ingress sandbox (a swarm whose tasks are containers on this node's
    own bridges, the default one or docker_gwbridge, before they join an ingress overlay), the
    node balances ingress ports itself, straight to the backends on those bridges; replies pass
    the node anyway, so nothing more is needed to keep the client's address. A container on
    such a bridge calling the port (a task reaching its own service through the node's address)
    is masqueraded, as its backend would otherwise answer it straight across the bridge, from an
    address it did not call."""

    ingress: list[IngressService] = field(default_factory=list)
    host_ports: list[HostPort] = field(default_factory=list)
    local_bridges: tuple[LocalBridge, ...] = ()

    def validate(self) -> None:
        """Two services cannot publish the same port and protocol on a node (Docker: 'port
        already in use'); refused before anything is programmed."""
        seen: dict[tuple[int, str], str] = {}
        for name, port in [*((s.service, p) for s in self.ingress for p in s.ports),
                           *((h.service, h.port) for h in self.host_ports)]:
            key = (port.published, port.protocol)
            if key in seen and seen[key] != name:
                raise InvalidParameter(f"port '{port.published}/{port.protocol}' is already in use by service "
                                       f"'{seen[key]}' as an ingress or host port; choose another published port "
                                       f"for service '{name}'")
            seen[key] = name
