"""Validation of what clients name: repositories, tags and digests (OCI distribution spec grammar)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.registry.errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
# Algorithms this registry verifies, with the length of their hex encoding.
ALGORITHMS = {"sha256": 64, "sha512": 128}
MAX_NAME = 255


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name})
    return name


def is_tag(reference: str) -> bool:
    return TAG_RE.fullmatch(reference) is not None


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError("TAG_INVALID", "invalid tag", detail={"tag": tag})
    return tag


def parse_digest(text: str, code: str = "DIGEST_INVALID") -> Digest:
    """A digest of a supported algorithm with a well-formed hex part, else ``code`` (400)."""
    match = DIGEST_RE.fullmatch(text or "")
    if not match:
        raise RegistryError(code, "invalid digest", detail={"digest": text})
    algorithm, encoded = match.groups()
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise RegistryError(code, f"unsupported digest algorithm {algorithm}", detail={"digest": text})
    if len(encoded) != length or not re.fullmatch(r"[a-f0-9]+", encoded):
        raise RegistryError(code, "invalid digest", detail={"digest": text})
    return Digest(algorithm, encoded)


def is_digest(reference: str) -> bool:
    return ":" in reference
