"""The daemon's networks by ID, kept in memory and on disk (network/store.py), and found the way
Docker resolves a network reference."""

from __future__ import annotations

from dockyard.engine.networks.seams import ClusterNetworks
from dockyard.errors import InvalidParameter, NotFound
from dockyard.network.records import IPAM, IPAMConfig, Network
from dockyard.network.store import NetworkStore
from dockyard.util.ids import new_id
from dockyard.util.timefmt import now_ns, rfc3339_ns


def new_network(name: str, driver: str, options: dict[str, str], configs: list[IPAMConfig], *, internal: bool,
                attachable: bool = False, labels: dict[str, str] | None = None) -> Network:
    return Network(name=name, id=new_id(), driver=driver, created=rfc3339_ns(now_ns()),
                   ipam=IPAM(options=None if not configs else {}, config=configs), internal=internal,
                   attachable=attachable, options=options, labels=labels or {})


class NetworkCatalog:
    """The daemon's own networks, and the swarm's (scope "swarm") as last read from the cluster:
    those are re-read when a reference is not found and when networks are listed, so a network
    made on another manager is found at once; they are never written to this daemon's disk."""

    def __init__(self, store: NetworkStore) -> None:
        self.store = store
        self._networks: dict[str, Network] = {}
        self._swarm: dict[str, Network] = {}
        self.cluster: ClusterNetworks | None = None

    def refresh_swarm(self) -> None:
        if self.cluster is not None:
            self._swarm = {n.id: n for n in self.cluster.list()}

    def remember_swarm(self, network: Network) -> None:
        self._swarm[network.id] = network

    def forget_swarm(self, network_id: str) -> None:
        self._swarm.pop(network_id, None)

    def forget_all_swarm(self) -> None:
        """The node left its swarm."""
        self._swarm = {}

    def load(self) -> None:
        for network in self.store.load():
            self._networks[network.id] = network

    def save(self, network: Network) -> None:
        self.store.save(network)
        self._networks[network.id] = network

    def delete(self, network_id: str) -> None:
        self.store.delete(network_id)
        self._networks.pop(network_id, None)

    def get(self, ref: str) -> Network:
        """Full ID, then name, then a unique ID prefix, as Docker resolves networks."""
        try:
            return self._find(ref)
        except NotFound:
            if self.cluster is None:
                raise
        self.refresh_swarm()
        return self._find(ref)

    def _find(self, ref: str) -> Network:
        known = {**self._swarm, **self._networks}
        if ref in known:
            return known[ref]
        for network in known.values():
            if network.name == ref:
                return network
        matches = [n for n in known.values() if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found on name)")
        raise NotFound(f"network {ref} not found")

    def find_name(self, name: str) -> Network | None:
        return next((n for n in self.all() if n.name == name), None)

    def all(self) -> list[Network]:
        """In the order they were added (start-up: the order of their files), the swarm's last."""
        return [*self._networks.values(), *(n for i, n in self._swarm.items() if i not in self._networks)]

    def sorted(self) -> list[Network]:
        self.refresh_swarm()
        return sorted(self.all(), key=lambda n: n.name)
