"""A built layer as an image: its config (created at SOURCE_DATE_EPOCH, so the ID depends on the
inputs alone; on a base, the base's layers and history come first) and the `docker load` archive
that carries config and layers to the daemon, streamed without copying the layers."""

import hashlib
import io
import json
import platform
import tarfile
import time
from pathlib import Path

from dockyard.catalog.bootstrap import Layer
from dockyard.catalog.recipes import LABEL, Recipe
from dockyard.util import tarstream

ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
                 "i686": "386"}


def config_bytes(recipe: Recipe, layer: Layer, digest: str, source_date_epoch: int, base: bytes | None = None) -> bytes:
    """The image config; ``base`` is the base image's config when ``recipe`` is a layer on one."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(source_date_epoch))
    spec = recipe.config
    config: dict = {"Env": list(spec.env), "Labels": {LABEL: digest}}
    if spec.entrypoint:
        config["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd:
        config["Cmd"] = list(spec.cmd)
    if spec.ports:
        config["ExposedPorts"] = {port: {} for port in spec.ports}
    if spec.volumes:
        config["Volumes"] = {volume: {} for volume in spec.volumes}
    if spec.working_dir:
        config["WorkingDir"] = spec.working_dir
    if spec.stop_signal:
        config["StopSignal"] = spec.stop_signal
    packages = " ".join(recipe.packages) or ("busybox-static" if recipe.variant == "busybox" else "")
    if base is None:
        created_by = f"dockyard catalog build {recipe.reference}: mmdebstrap --variant={recipe.variant} {packages}"
        diff_ids, history = [], []
    else:
        below = json.loads(base)
        created_by = f"dockyard catalog build {recipe.reference}: on {recipe.base}, apt-get install {packages}"
        diff_ids, history = below["rootfs"]["diff_ids"], below["history"]
    document = {
        "architecture": ARCHITECTURES.get(platform.machine(), platform.machine()),
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [*diff_ids, layer.diff_id]},
        "history": [*history, {"created": created, "created_by": created_by.rstrip(),
                               "comment": "built from Debian packages"}],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class ArchiveReader:
    """A `docker save` style archive (config, layers lowest first, manifest.json) as a readable stream."""

    def __init__(self, recipe: Recipe, layers: list[Layer], config: bytes) -> None:
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_names = [layer.diff_id.removeprefix("sha256:") + "/layer.tar" for layer in layers]
        manifest = json.dumps([{"Config": config_name, "RepoTags": list(recipe.references),
                                "Layers": layer_names}]).encode()
        self._parts: list[bytes | Path] = []
        self._member(config_name, config)
        for name, layer in zip(layer_names, layers, strict=True):
            self._member(name, layer.path, layer.size)
        self._member("manifest.json", manifest)
        self._parts.append(b"\0" * (tarfile.RECORDSIZE * 2))  # end of archive, padded like tarfile does
        self._current: io.BufferedReader | io.BytesIO | None = None

    def _member(self, name: str, data: bytes | Path, size: int | None = None) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data) if isinstance(data, bytes) else size if size is not None else data.stat().st_size
        info.mode = 0o644
        self._parts.append(tarstream.pax_header(info))
        self._parts.append(data)
        self._parts.append(tarstream.padding(info.size))

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                if not self._parts:
                    return b""
                part = self._parts.pop(0)
                self._current = open(part, "rb") if isinstance(part, Path) else io.BytesIO(part)
            data = self._current.read(size if size > 0 else 1 << 20)
            if data:
                return data
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
