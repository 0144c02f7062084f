"""Manifest formats: Docker v2 schema 2, OCI image manifests, OCI indexes and Docker manifest lists,
and choosing the entry of a list for a platform."""

from __future__ import annotations

import json
import platform as host_platform
from dataclasses import dataclass

from dockyard.errors import InvalidParameter, NotFound
from dockyard.oci.mediatypes import (  # noqa: F401 - re-exported for the client's modules
    DOCKER_CONFIG,
    DOCKER_FOREIGN_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    LISTS,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    SCHEMA1,
)

ACCEPT = ", ".join((DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX))

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def host() -> Platform:
    machine = host_platform.machine()
    arch = _ARCH.get(machine, machine)
    variant = {"armv7l": "v7", "armv6l": "v6"}.get(machine, "")
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """`--platform os/arch[/variant]` (Docker normalises aliases such as x86_64 and aarch64)."""
    parts = text.strip().lower().split("/")
    if not text.strip() or len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        is_os = parts[0] in ("linux", "windows", "darwin")
        parts = [parts[0], host().architecture] if is_os else ["linux", parts[0]]
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
            "i386": "386"}.get(parts[1], parts[1])
    variant = parts[2] if len(parts) > 2 else ""
    if arch == "arm64" and variant == "v8":
        variant = ""
    return Platform(parts[0], arch, variant)


def _matches(entry: dict, want: Platform) -> bool:
    p = entry.get("platform") or {}
    if p.get("os") != want.os or p.get("architecture") != want.architecture:
        return False
    variant = p.get("variant", "")
    if want.architecture == "arm64" and variant == "v8":
        variant = ""
    return not want.variant or variant == want.variant or not variant


def select(index: dict, want: Platform) -> dict:
    """The descriptor of ``index`` for ``want``: an exact variant first, then any variant."""
    manifests = index.get("manifests") or []
    exact = [m for m in manifests if _matches(m, want) and (m.get("platform") or {}).get("variant", "") == want.variant]
    loose = [m for m in manifests if _matches(m, want)]
    found = exact or loose
    if not found:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return found[0]


def parse(body: bytes, content_type: str) -> tuple[str, dict]:
    """The manifest's media type (from its own field or the response's Content-Type) and content."""
    try:
        manifest = json.loads(body)
    except ValueError:
        raise InvalidParameter("the registry sent a manifest that is not JSON") from None
    if not isinstance(manifest, dict):
        raise InvalidParameter("the registry sent a manifest that is not a JSON object")
    media_type = manifest.get("mediaType") or content_type.split(";")[0].strip()
    if media_type in SCHEMA1 or manifest.get("schemaVersion") == 1:
        raise InvalidParameter("this image uses the deprecated Docker image manifest v2 schema 1, which Dockyard "
                               "does not pull; push it again with a current Docker")
    if not media_type or media_type == "application/json":
        media_type = OCI_INDEX if "manifests" in manifest else OCI_MANIFEST
    if media_type not in (DOCKER_MANIFEST, OCI_MANIFEST, *LISTS):
        raise InvalidParameter(f"unsupported manifest media type {media_type}")
    return media_type, manifest


def schema2(config_digest: str, config_size: int, layers: list[tuple[str, int]]) -> bytes:
    """A Docker v2 schema 2 manifest for a push, as dockerd writes it (3-space indent)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": DOCKER_LAYER_GZIP, "size": size, "digest": digest} for digest, size in layers],
    }
    return json.dumps(manifest, indent=3).encode()
