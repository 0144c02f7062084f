"""Network records on disk: one JSON document per network, in the shape of Docker's `network
inspect` without "Containers" (computed from the containers' endpoints); records.py converts."""

import logging
import os

from dockyard.network.records import Network
from dockyard.util.atomic import read_json, sweep, write_json

log = logging.getLogger("dockyard.networks")


class NetworkStore:
    def __init__(self, data_root: str) -> None:
        self.root = os.path.join(data_root, "network")
        os.makedirs(self.root, exist_ok=True)

    def load(self) -> list[Network]:
        records = []
        sweep(self.root)
        for name in sorted(os.listdir(self.root)):
            if name.endswith(".json"):
                try:
                    records.append(Network.from_json(read_json(os.path.join(self.root, name))))
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    log.warning("skipping unreadable network record %s", name)
                    continue
        return records

    def save(self, network: Network) -> None:
        write_json(os.path.join(self.root, network.id + ".json"), network.to_json())

    def delete(self, network_id: str) -> None:
        try:
            os.unlink(os.path.join(self.root, network_id + ".json"))
        except FileNotFoundError:
            pass
