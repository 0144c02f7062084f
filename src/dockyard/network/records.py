"""A network as the engine holds it (typed), and its one conversion from and to Docker's JSON
(`network inspect` without "Containers"), which is also its form on disk (network/store.py).

Records written before these types existed load unchanged: ``from_json`` reads every key with
the default Docker gives it, so an older record missing a key still loads, and ``to_json`` writes
the same keys in the same order as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Driver options Docker defines (com.docker.network.*), read by the engine and the bridge driver.
BRIDGE_NAME = "com.docker.network.bridge.name"
ENABLE_ICC = "com.docker.network.bridge.enable_icc"
ENABLE_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
MTU = "com.docker.network.driver.mtu"
ENABLE_IPV6 = "com.docker.network.enable_ipv6"  # a driver option with the effect of EnableIPv6
DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"

PREDEFINED = ("bridge", "host", "none")


@dataclass
class IPAMConfig:
    """One subnet of a network (moby's IPAMConfig): its gateway, the range endpoints get their
    addresses from ("" = the whole subnet) and addresses reserved for hosts outside Docker."""

    subnet: str
    gateway: str = ""
    ip_range: str = ""
    auxiliary_addresses: dict[str, str] = field(default_factory=dict)

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.subnet

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IPAMConfig:
        return cls(subnet=doc.get("Subnet") or "", gateway=doc.get("Gateway") or "",
                   ip_range=doc.get("IPRange") or "", auxiliary_addresses=dict(doc.get("AuxiliaryAddresses") or {}))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Subnet": self.subnet, "Gateway": self.gateway}
        if self.ip_range:
            doc["IPRange"] = self.ip_range
        if self.auxiliary_addresses:
            doc["AuxiliaryAddresses"] = dict(self.auxiliary_addresses)
        return doc


@dataclass
class IPAM:
    driver: str = "default"
    # Docker echoes the create request's IPAM options: null when a client sent none (docker-py), {}
    # from the CLI; the predefined host and none networks have null.
    options: dict[str, str] | None = None
    config: list[IPAMConfig] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> IPAM:
        doc = doc or {}
        options = doc.get("Options")
        return cls(driver=doc.get("Driver") or "default", options=dict(options) if options is not None else None,
                   config=[IPAMConfig.from_json(c) for c in doc.get("Config") or []])

    def to_json(self) -> dict[str, Any]:
        return {"Driver": self.driver, "Options": dict(self.options) if self.options is not None else None,
                "Config": [c.to_json() for c in self.config]}


@dataclass
class Network:
    name: str
    id: str
    driver: str
    created: str = ""  # RFC 3339 with nanoseconds, as Docker shows it
    scope: str = "local"
    enable_ipv6: bool = False
    ipam: IPAM = field(default_factory=IPAM)
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    config_from: str = ""  # ConfigFrom.Network
    config_only: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    # -- what the engine asks of a record ---------------------------------------------------
    @property
    def ipv4(self) -> IPAMConfig | None:
        """The IPv4 subnet (every network but host and none has one)."""
        return next((c for c in self.ipam.config if not c.is_ipv6), None)

    @property
    def ipv6(self) -> IPAMConfig | None:
        """The IPv6 subnet of a network made with EnableIPv6, else None."""
        if not self.enable_ipv6:
            return None
        return next((c for c in self.ipam.config if c.is_ipv6), None)

    @property
    def user_defined(self) -> bool:
        return self.name not in PREDEFINED

    def option_true(self, key: str, default: bool = True) -> bool:
        value = self.options.get(key)
        return default if value is None else str(value).lower() in ("true", "1")

    def mtu(self, default: int) -> int:
        return int(self.options.get(MTU) or default)

    # -- Docker's JSON ------------------------------------------------------------------------
    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Network:
        return cls(name=doc["Name"], id=doc["Id"], driver=doc.get("Driver") or "", created=doc.get("Created") or "",
                   scope=doc.get("Scope") or "local", enable_ipv6=bool(doc.get("EnableIPv6")),
                   ipam=IPAM.from_json(doc.get("IPAM")), internal=bool(doc.get("Internal")),
                   attachable=bool(doc.get("Attachable")), ingress=bool(doc.get("Ingress")),
                   config_from=(doc.get("ConfigFrom") or {}).get("Network") or "",
                   config_only=bool(doc.get("ConfigOnly")),
                   options={k: str(v) for k, v in (doc.get("Options") or {}).items()},
                   labels=dict(doc.get("Labels") or {}))

    def to_json(self) -> dict[str, Any]:
        return {"Name": self.name, "Id": self.id, "Created": self.created, "Scope": self.scope, "Driver": self.driver,
                "EnableIPv6": self.enable_ipv6, "IPAM": self.ipam.to_json(), "Internal": self.internal,
                "Attachable": self.attachable, "Ingress": self.ingress, "ConfigFrom": {"Network": self.config_from},
                "ConfigOnly": self.config_only, "Options": dict(self.options), "Labels": dict(self.labels)}
