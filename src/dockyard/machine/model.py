"""A machine's record, the document docker-machine keeps as ``machines/<name>/config.json``.

Typed here; docker-machine's JSON shape (Go field names) only in ``to_json``/``from_json``, so
``inspect`` prints what docker-machine prints and ``inspect -f '{{.Driver.IPAddress}}'`` works.
The driver's own part stays a JSON object that the driver parses (``Driver`` in the document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CONFIG_VERSION = 3
ENGINE_PORT = 2376
VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-.]*$")

# What `ls`, `status` and the driver report, docker-machine's state names.
RUNNING, STOPPED, ERROR, TIMEOUT = "Running", "Stopped", "Error", "Timeout"


@dataclass
class EngineOptions:
    """What the machine's dockyardd runs with (create's --engine-* flags)."""

    arbitrary_flags: list[str] = field(default_factory=list)  # --engine-opt flag=value
    env: list[str] = field(default_factory=list)  # --engine-env KEY=VALUE
    insecure_registry: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    registry_mirror: list[str] = field(default_factory=list)
    storage_driver: str = ""

    def to_json(self) -> dict:
        return {"ArbitraryFlags": self.arbitrary_flags, "Dns": None, "GraphDir": "", "Env": self.env, "Ipv6": False,
                "InsecureRegistry": self.insecure_registry, "Labels": self.labels, "LogLevel": "",
                "StorageDriver": self.storage_driver, "SelinuxEnabled": False, "TlsVerify": True,
                "RegistryMirror": self.registry_mirror, "InstallURL": ""}

    @classmethod
    def from_json(cls, raw: dict) -> EngineOptions:
        return cls(list(raw.get("ArbitraryFlags") or []), list(raw.get("Env") or []),
                   list(raw.get("InsecureRegistry") or []), list(raw.get("Labels") or []),
                   list(raw.get("RegistryMirror") or []), raw.get("StorageDriver") or "")


@dataclass
class AuthOptions:
    """Where the certificates are: the store's CA and client pair, the machine's copies and server pair."""

    cert_dir: str
    ca_cert_path: str
    ca_private_key_path: str
    client_cert_path: str
    client_key_path: str
    server_cert_path: str
    server_key_path: str
    store_path: str
    server_cert_sans: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"CertDir": self.cert_dir, "CaCertPath": self.ca_cert_path,
                "CaPrivateKeyPath": self.ca_private_key_path, "CaCertRemotePath": "",
                "ServerCertPath": self.server_cert_path, "ServerKeyPath": self.server_key_path,
                "ClientKeyPath": self.client_key_path, "ServerCertRemotePath": "", "ServerKeyRemotePath": "",
                "ClientCertPath": self.client_cert_path, "ServerCertSANs": self.server_cert_sans,
                "StorePath": self.store_path}

    @classmethod
    def from_json(cls, raw: dict) -> AuthOptions:
        return cls(raw["CertDir"], raw["CaCertPath"], raw["CaPrivateKeyPath"], raw["ClientCertPath"],
                   raw["ClientKeyPath"], raw["ServerCertPath"], raw["ServerKeyPath"], raw["StorePath"],
                   list(raw.get("ServerCertSANs") or []))


@dataclass
class Host:
    name: str
    driver_name: str
    driver: dict  # the driver's configuration, in the driver's own JSON shape
    engine: EngineOptions
    auth: AuthOptions
    config_version: int = CONFIG_VERSION

    def to_json(self) -> dict:
        return {"ConfigVersion": self.config_version, "Driver": self.driver, "DriverName": self.driver_name,
                "HostOptions": {"Driver": "", "Memory": 0, "Disk": 0, "EngineOptions": self.engine.to_json(),
                                "AuthOptions": self.auth.to_json()},
                "Name": self.name}

    @classmethod
    def from_json(cls, raw: dict) -> Host:
        options = raw.get("HostOptions") or {}
        return cls(raw["Name"], raw["DriverName"], dict(raw.get("Driver") or {}),
                   EngineOptions.from_json(options.get("EngineOptions") or {}),
                   AuthOptions.from_json(options["AuthOptions"]), raw.get("ConfigVersion", CONFIG_VERSION))
