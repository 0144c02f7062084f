"""Manifest routes (by tag or digest, content negotiation by Accept) and the referrers API."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field

from dockyard.oci import mediatypes as mt
from dockyard.registry.context import Registry
from dockyard.registry.errors import RegistryError
from dockyard.registry.http import Request, Response
from dockyard.registry.names import Digest, check_tag, is_digest, parse_digest

MAX_MANIFEST = 4 << 20  # distribution's limit


@dataclass
class Parsed:
    media_type: str
    document: dict
    blobs: list[Digest] = field(default_factory=list)  # config and layers: must be in the repository
    children: list[Digest] = field(default_factory=list)  # manifests an index names
    subject: Digest | None = None
    artifact_type: str = ""


def parse(body: bytes, content_type: str) -> Parsed:
    """Check a manifest's shape and collect what it references; MANIFEST_INVALID otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RegistryError("MANIFEST_INVALID", detail="the manifest is not valid JSON") from None
    if not isinstance(document, dict):
        raise RegistryError("MANIFEST_INVALID", detail="the manifest is not a JSON object")
    declared = document.get("mediaType")
    content_type = content_type.split(";")[0].strip()
    if declared and content_type and content_type != declared and content_type != "application/json":
        raise RegistryError("MANIFEST_INVALID", detail=f"mediaType {declared} does not match Content-Type "
                                                       f"{content_type}")
    media_type = declared or content_type
    if media_type in mt.SCHEMA1 or document.get("schemaVersion") == 1:
        raise RegistryError("MANIFEST_INVALID", detail="Docker image manifest v2 schema 1 is not supported")
    if document.get("schemaVersion") != 2:
        raise RegistryError("MANIFEST_INVALID", detail="schemaVersion must be 2")
    if media_type in ("", "application/json"):
        media_type = mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST
    if media_type not in mt.ALL_MANIFESTS:
        raise RegistryError("MANIFEST_INVALID", detail=f"unsupported manifest media type {media_type}")
    parsed = Parsed(media_type, document, artifact_type=str(document.get("artifactType") or ""))
    if media_type in mt.IMAGE_MANIFESTS:
        config = _descriptor(document.get("config"), "config")
        parsed.blobs.append(config)
        layers = document.get("layers")
        if layers is None and media_type == mt.DOCKER_MANIFEST:
            raise RegistryError("MANIFEST_INVALID", detail="layers missing")
        for layer in layers or []:
            digest = _descriptor(layer, "layer")
            # Foreign (non-distributable) layers live elsewhere, named by their urls.
            if not layer.get("urls") and layer.get("mediaType") != mt.DOCKER_FOREIGN_LAYER:
                parsed.blobs.append(digest)
    else:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError("MANIFEST_INVALID", detail="manifests missing from the index")
        parsed.children = [_descriptor(entry, "manifest") for entry in entries]
    if document.get("subject") is not None:
        parsed.subject = _descriptor(document["subject"], "subject")
    return parsed


def _descriptor(value: object, what: str) -> Digest:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        raise RegistryError("MANIFEST_INVALID", detail=f"{what} descriptor without a digest")
    if not isinstance(value.get("size", 0), int) or value.get("size", 0) < 0:
        raise RegistryError("MANIFEST_INVALID", detail=f"{what} descriptor with an invalid size")
    return parse_digest(value["digest"], "MANIFEST_INVALID")


def media_type_of(body: bytes) -> str:
    try:
        document = json.loads(body)
        declared = document.get("mediaType")
    except (ValueError, AttributeError):
        return mt.OCI_MANIFEST
    if declared:
        return str(declared)
    return mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST


def _resolve(app: Registry, name: str, reference: str) -> Digest:
    if is_digest(reference):
        return parse_digest(reference)
    check_tag(reference)
    digest = app.storage.resolve_tag(name, reference)
    if digest is None:
        raise RegistryError("MANIFEST_UNKNOWN", detail={"Tag": reference})
    return digest


def _accepts(request: Request) -> set[str]:
    values = set()
    for header in request.headers.get("accept", "").split(","):
        value = header.split(";")[0].strip()
        if value:
            values.add(value)
    return values


async def get_manifest(app: Registry, request: Request, name: str, reference: str) -> Response:
    body = digest = None
    if app.proxy is not None:
        found = await app.proxy.fetch_manifest(name, reference, request.headers.get("accept", ""))
        if found is not None:
            digest, body = found
    if body is None or digest is None:
        digest = _resolve(app, name, reference)
        body = app.storage.get_manifest(name, digest)
        if body is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"Revision": str(digest)} if is_digest(reference)
                                else {"Tag": reference})
    media_type = media_type_of(body)
    accepted = _accepts(request)
    if accepted and media_type not in accepted and "*/*" not in accepted and not is_digest(reference):
        body, digest, media_type = _negotiate(app, name, body, media_type, accepted)
    app.storage.touch(digest)
    if request.method == "GET":
        app.notify(request, "pull", name, str(digest), media_type, len(body),
                   tag="" if is_digest(reference) else reference)
    return Response(200, {"Content-Type": media_type, "Docker-Content-Digest": str(digest),
                          "ETag": f'"{digest}"'}, body)


def _negotiate(app: Registry, name: str, body: bytes, media_type: str,
               accepted: set[str]) -> tuple[bytes, Digest, str]:
    """distribution's fallbacks for a client that does not accept what is stored: a list is
    answered with its linux/amd64 image, an OCI manifest with MANIFEST_UNKNOWN."""
    if media_type in mt.LISTS and accepted & set(mt.IMAGE_MANIFESTS):
        for entry in json.loads(body).get("manifests") or []:
            platform = entry.get("platform") or {}
            if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                child = parse_digest(entry["digest"])
                child_body = app.storage.get_manifest(name, child)
                if child_body is not None and media_type_of(child_body) in accepted:
                    return child_body, child, media_type_of(child_body)
    if media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX):
        raise RegistryError("MANIFEST_UNKNOWN", "OCI manifest found, but accept header does not support OCI "
                                                "manifests")
    raise RegistryError("MANIFEST_UNKNOWN", f"manifest of type {media_type} is not accepted by the client")


async def put_manifest(app: Registry, request: Request, name: str, reference: str) -> Response:
    try:
        body = await request.body(MAX_MANIFEST)
    except ValueError:
        raise RegistryError("MANIFEST_INVALID", detail="manifest larger than 4 MiB", status=413) from None
    tag = ""
    if is_digest(reference):
        digest = parse_digest(reference)
    else:
        tag = check_tag(reference)
        digest = Digest("sha256", "")
    actual = hashlib.new(digest.algorithm, body).hexdigest()
    if tag:
        digest = Digest("sha256", actual)
    elif actual != digest.hex:
        raise RegistryError("DIGEST_INVALID", detail={"digest": str(digest), "actual": f"{digest.algorithm}:{actual}"})
    parsed = parse(body, request.header("content-type"))
    storage = app.storage
    if app.proxy is not None:
        app.proxy.mark_pushed(name)
    with storage.pinned([digest, *parsed.blobs, *parsed.children]):
        missing = [str(d) for d in parsed.blobs if storage.repo_blob(name, d) is None]
        missing += [str(d) for d in parsed.children if not storage.has_manifest(name, d)]
        if missing:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": missing[0]})
        await asyncio.to_thread(_store, storage, name, digest, body, tag, parsed.subject)
    headers = {"Location": app.url_for(request, f"/v2/{name}/manifests/{digest}"),
               "Docker-Content-Digest": str(digest), "Content-Length": "0"}
    if parsed.subject is not None:
        headers["OCI-Subject"] = str(parsed.subject)
    app.notify(request, "push", name, str(digest), parsed.media_type, len(body), tag=tag)
    return Response(201, headers)


def _store(storage, name: str, digest: Digest, body: bytes, tag: str, subject: Digest | None) -> None:
    storage.put_manifest(name, digest, body)
    if subject is not None:
        storage.add_referrer(name, subject, digest)
    if tag:
        storage.set_tag(name, tag, digest)


async def delete_manifest(app: Registry, request: Request, name: str, reference: str) -> Response:
    if not app.config.delete_enabled:
        raise RegistryError("UNSUPPORTED", "The operation is unsupported.")
    if is_digest(reference):
        digest = parse_digest(reference)
        if not await asyncio.to_thread(app.storage.delete_manifest, name, digest):
            raise RegistryError("MANIFEST_UNKNOWN", detail={"Revision": str(digest)})
        app.notify(request, "delete", name, str(digest))
    else:
        check_tag(reference)
        tagged = app.storage.resolve_tag(name, reference)
        if tagged is None or not app.storage.untag(name, reference):
            raise RegistryError("MANIFEST_UNKNOWN", detail={"Tag": reference})
        app.notify(request, "delete", name, str(tagged), tag=reference)
    return Response(202, {"Content-Length": "0"})


async def get_referrers(app: Registry, request: Request, name: str, subject_text: str) -> Response:
    subject = parse_digest(subject_text)
    wanted = request.arg("artifactType")
    descriptors = []
    for digest in app.storage.referrers(name, subject):
        body = app.storage.get_manifest(name, digest)
        if body is None:
            continue
        document = json.loads(body)
        artifact_type = document.get("artifactType") or (document.get("config") or {}).get("mediaType", "")
        if wanted and artifact_type != wanted:
            continue
        descriptor = {"mediaType": media_type_of(body), "digest": str(digest), "size": len(body)}
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        if document.get("annotations"):
            descriptor["annotations"] = document["annotations"]
        descriptors.append(descriptor)
    headers = {"Content-Type": mt.OCI_INDEX}
    if wanted:
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
    return Response(200, headers, json.dumps(index).encode())
