"""Build image archives in memory for tests: layers, configs, and the layouts `docker load` reads
(Docker 20.10's per-layer directories, and OCI image layouts with gzip layers and nested indexes)."""

import gzip
import hashlib
import io
import json
import os
import tarfile


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar holding ``files`` (paths without a leading slash)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def random_layer(name: str = "random.bin", size: int = 4096) -> bytes:
    return layer({name: os.urandom(size)})


def config(diff_ids: list[str], *, cmd: list[str] | None = None, created: str = "2024-05-06T07:08:09Z") -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": f"layer {i}"} for i in range(len(diff_ids))],
    }, separators=(",", ":")).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def docker_archive(images: list[tuple[bytes, list[bytes], list[str]]]) -> bytes:
    """Docker 20.10's `docker save` layout: `<id>/layer.tar` directories and `<config hex>.json`; a
    layer used twice is written once and linked, as Docker does. ``images``: (config, layers, tags)."""
    out = io.BytesIO()
    manifest = []
    written: dict[str, str] = {}
    with tarfile.open(fileobj=out, mode="w") as tar:
        for config_bytes, layers, tags in images:
            paths = []
            for data in layers:
                layer_dir = hashlib.sha256(b"v1" + digest(data).encode()).hexdigest()
                path = f"{layer_dir}/layer.tar"
                if digest(data) in written:
                    if written[digest(data)] != path:
                        info = tarfile.TarInfo(path)
                        info.type, info.linkname = tarfile.SYMTYPE, f"../{written[digest(data)]}"
                        tar.addfile(info)
                else:
                    _add(tar, f"{layer_dir}/VERSION", b"1.0")
                    _add(tar, path, data)
                    written[digest(data)] = path
                paths.append(path)
            config_name = digest(config_bytes)[7:] + ".json"
            _add(tar, config_name, config_bytes)
            manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": paths})
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out.getvalue()


def oci_layout(config_bytes: bytes, layers: list[bytes], name: str, *, nested: bool = True,
               gzipped: bool = True) -> bytes:
    """An OCI image layout: gzip layers; index.json -> (an index for two platforms, of which only
    this one's blobs are present ->) the image manifest; the name in containerd's annotation."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> dict:
        blobs[digest(data)] = data
        return {"digest": digest(data), "size": len(data)}

    layer_blobs = [gzip.compress(data, mtime=0) if gzipped else data for data in layers]
    media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzipped else "")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config_bytes)},
        "layers": [{"mediaType": media, **put(data)} for data in layer_blobs],
    }).encode()
    top = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest)}
    if nested:
        missing = "sha256:" + "ab" * 32  # another platform's manifest, not in the layout
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [
                                {**top, "platform": {"architecture": "amd64", "os": "linux"}},
                                {"mediaType": top["mediaType"], "digest": missing, "size": 10,
                                 "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", **put(index)}
    top["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":")[-1]}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [top]}).encode())
        for blob_digest, data in blobs.items():
            _add(tar, f"blobs/sha256/{blob_digest[7:]}", data)
    return out.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
