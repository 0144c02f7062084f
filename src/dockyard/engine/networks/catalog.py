"""The daemon's networks by ID, kept in memory and on disk (network/store.py), and found the way
Docker resolves a network reference."""

from __future__ import annotations

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
    def __init__(self, store: NetworkStore) -> None:
        self.store = store
        self._networks: dict[str, Network] = {}

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
        if ref in self._networks:
            return self._networks[ref]
        for network in self._networks.values():
            if network.name == ref:
                return network
        matches = [n for n in self._networks.values() if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found on name)")
        raise NotFound(f"network {ref} not found")

    def find_name(self, name: str) -> Network | None:
        return next((n for n in self._networks.values() if n.name == name), None)

    def all(self) -> list[Network]:
        """In the order they were added (start-up: the order of their files)."""
        return list(self._networks.values())

    def sorted(self) -> list[Network]:
        return sorted(self._networks.values(), key=lambda n: n.name)
