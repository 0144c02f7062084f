"""Network records: one JSON document per network, in the shape of Docker's `network inspect`
(without "Containers", which is computed from the containers' endpoints)."""

import os

from dockyard.util.atomic import read_json, sweep, write_json

BRIDGE_NAME = "com.docker.network.bridge.name"
ENABLE_ICC = "com.docker.network.bridge.enable_icc"
ENABLE_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
MTU = "com.docker.network.driver.mtu"
ENABLE_IPV6 = "com.docker.network.enable_ipv6"  # a driver option with the effect of EnableIPv6
DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
PREDEFINED = ("bridge", "host", "none")


class NetworkStore:
    def __init__(self, data_root: str) -> None:
        self.root = os.path.join(data_root, "network")
        os.makedirs(self.root, exist_ok=True)

    def load(self) -> list[dict]:
        records = []
        sweep(self.root)
        for name in sorted(os.listdir(self.root)):
            if name.endswith(".json"):
                try:
                    records.append(read_json(os.path.join(self.root, name)))
                except (OSError, ValueError):
                    continue
        return records

    def save(self, record: dict) -> None:
        write_json(os.path.join(self.root, record["Id"] + ".json"), record)

    def delete(self, network_id: str) -> None:
        try:
            os.unlink(os.path.join(self.root, network_id + ".json"))
        except FileNotFoundError:
            pass


def bridge_name(record: dict) -> str:
    return (record.get("Options") or {}).get(BRIDGE_NAME) or "br-" + record["Id"][:12]


def option_true(record: dict, key: str, default: bool = True) -> bool:
    value = (record.get("Options") or {}).get(key)
    return default if value is None else str(value).lower() in ("true", "1")


def is_bridge(record: dict) -> bool:
    return record.get("Driver") == "bridge"


def is_user_defined(record: dict) -> bool:
    return record["Name"] not in PREDEFINED
