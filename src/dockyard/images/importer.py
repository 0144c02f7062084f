"""`docker import`: a root filesystem tarball becomes a one-layer image."""

import json
import platform
import tarfile
from typing import BinaryIO

from dockyard.errors import InvalidParameter
from dockyard.images.changes import apply_changes
from dockyard.images.layers import chunks, decompressed
from dockyard.images.store import Image, ImageStore
from dockyard.util.timefmt import now_ns, rfc3339_ns

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x"}


def host_architecture() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def empty_container_config() -> dict:
    return {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
            "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
            "OnBuild": None, "Labels": None}


def import_rootfs(store: ImageStore, stream: BinaryIO, *, changes: list[str], message: str,
                  source: str = "-") -> Image:
    config = apply_changes(empty_container_config(), changes)  # validate before storing anything
    try:
        diff_id = store.content.ingest(chunks(decompressed(stream)))
    except (OSError, EOFError, ValueError) as exc:  # gzip/xz/bz2 errors are OSError or EOFError
        raise InvalidParameter(f"the archive could not be read: {exc}") from None
    try:
        store.layers.register(diff_id, None)
    except (tarfile.TarError, OSError) as exc:
        store.content.delete(diff_id)
        raise InvalidParameter(f"the archive is not a valid tar file: {exc}") from None
    created = rfc3339_ns(now_ns())
    image_config = {
        "architecture": host_architecture(),
        "comment": message,
        "config": config,
        "created": created,
        "history": [{"created": created, "comment": message or f"Imported from {source}"}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    return store.add(json.dumps(image_config, separators=(",", ":")).encode())
