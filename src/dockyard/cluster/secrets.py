"""Secrets and configs as swarmkit keeps them (api/objects.proto's Secret and Config), typed.

Both are a name, labels and a payload that tasks receive as files. They differ in what the API
gives back (a secret's data never leaves the managers except to a task; a config's does), in their
size limits and in a secret's optional external driver. Docker's JSON is written in
api/secrets.py and api/configs.py; in the store the payload is sealed (cluster/datakey.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from dockyard.cluster.objects import Version
from dockyard.cluster.rpc import InvalidArgument, RpcError

# swarmkit's manager/controlapi/common.go: configs and secrets share their naming rule.
_VALID_NAME = re.compile(r"^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$")
INVALID_NAME = ("invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be "
                "[a-zA-Z0-9]")
MAX_SECRET_SIZE = 500 * 1024  # swarmkit's api/validation.MaxSecretSize
MAX_CONFIG_SIZE = 1000 * 1024  # swarmkit's controlapi.MaxConfigSize


@dataclass
class Driver:
    """An external secrets driver or a templating engine ("golang"), with its options."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class SecretSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    driver: Driver | None = None
    templating: Driver | None = None


@dataclass
class Secret:
    id: str
    created_at: datetime
    updated_at: datetime
    spec: SecretSpec
    version: Version = field(default_factory=Version)


@dataclass
class ConfigSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    templating: Driver | None = None


@dataclass
class Config:
    id: str
    created_at: datetime
    updated_at: datetime
    spec: ConfigSpec
    version: Version = field(default_factory=Version)


@dataclass(frozen=True)
class Kind:
    """What differs between secrets and configs: their word in messages, their store prefix, their
    size limit, and whether reads return the data."""

    word: str  # "secret" or "config"
    prefix: str
    max_size: int
    returns_data: bool
    object_type: type
    spec_type: type

    def users_key(self, object_id: str) -> str:
        """A key every service write that refers to the object touches, in the write's transaction:
        a removal compares it with the revision it read before it looked for users, so a service
        made (or changed to use the object) in between makes the removal look again."""
        return self.prefix.rstrip("/") + "-users/" + object_id


SECRET = Kind("secret", "/swarm/secrets/", MAX_SECRET_SIZE, False, Secret, SecretSpec)
CONFIG = Kind("config", "/swarm/configs/", MAX_CONFIG_SIZE, True, Config, ConfigSpec)


class NoPlugins(RpcError):
    status = 501


def validate_spec(kind: Kind, spec: SecretSpec | ConfigSpec) -> None:
    """swarmkit's validateSecretSpec / validateConfigSpec, with Docker's texts."""
    if not spec.name:
        raise InvalidArgument("name must be provided")
    if len(spec.name) > 64 or not _VALID_NAME.match(spec.name):
        raise InvalidArgument(INVALID_NAME)
    driver = getattr(spec, "driver", None)
    if driver is not None:  # an external store holds the data: none is given
        if not driver.name:
            raise InvalidArgument("secret driver must have a name")
        # swarmkit then asks the plugin store for the driver; Dockyard runs no plugins. Docker's
        # text (its status is 500; 501 here: the feature is not built, the request is not wrong).
        raise NoPlugins(f'plugin "{driver.name}" not found (Dockyard has no plugins: create the secret without '
                        "--driver to keep it in the swarm's encrypted store)")
    if not 0 < len(spec.data) < kind.max_size:
        raise InvalidArgument(f"{kind.word} data must be larger than 0 and less than {kind.max_size} bytes")
