"""Blob routes: fetch (with Range), delete, and uploads (monolithic, chunked, status, cancel, mount)."""

from __future__ import annotations

import asyncio
import re

from dockyard.registry.context import Registry
from dockyard.registry.errors import RegistryError
from dockyard.registry.http import FileSlice, Request, Response
from dockyard.registry.names import check_name, parse_digest

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(\d+|\*))?")


async def get_blob(app: Registry, request: Request, name: str, digest_text: str) -> Response:
    digest = parse_digest(digest_text)
    info = app.storage.repo_blob(name, digest)
    if info is None and app.proxy is not None:
        info = await app.proxy.fetch_blob(name, digest)
    if info is None:
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
    headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": str(digest),
               "Accept-Ranges": "bytes", "ETag": f'"{digest}"', "Cache-Control": "max-age=31536000"}
    range_header = request.header("range")
    if range_header:
        match = _RANGE.fullmatch(range_header.strip())
        start, end = _byte_range(match, info.size) if match else (None, None)
        if start is None or end is None:
            raise RegistryError("RANGE_INVALID", detail={"range": range_header},
                                headers={"Content-Range": f"bytes */{info.size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        response = Response(206, headers, file=FileSlice(info.path, start, end - start + 1))
    else:
        response = Response(200, headers, file=FileSlice(info.path, 0, info.size))
    if request.method == "GET":
        app.notify(request, "pull", name, str(digest), "application/octet-stream", info.size)
    return response


def _byte_range(match: re.Match, size: int) -> tuple[int | None, int | None]:
    first, last = match.groups()
    if not first and not last:
        return None, None
    if not first:  # a suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            return None, None
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None, None
    return start, end


async def delete_blob(app: Registry, request: Request, name: str, digest_text: str) -> Response:
    digest = parse_digest(digest_text)
    if not app.config.delete_enabled:
        raise RegistryError("UNSUPPORTED", "The operation is unsupported.")
    if not app.storage.unlink_blob(name, digest):
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
    app.notify(request, "delete", name, str(digest))
    return Response(202, {"Docker-Content-Digest": str(digest), "Content-Length": "0"})


def _upload_headers(app: Registry, request: Request, name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {"Location": app.url_for(request, f"/v2/{name}/blobs/uploads/{upload_id}"),
            "Range": f"0-{max(offset - 1, 0)}", "Docker-Upload-UUID": upload_id, "Content-Length": "0"}


def _blob_created(app: Registry, request: Request, name: str, digest: str) -> Response:
    return Response(201, {"Location": app.url_for(request, f"/v2/{name}/blobs/{digest}"),
                          "Docker-Content-Digest": digest, "Content-Length": "0"})


async def start_upload(app: Registry, request: Request, name: str) -> Response:
    mount, source = request.arg("mount"), request.arg("from")
    if mount and source:
        digest = parse_digest(mount)
        source = check_name(source)
        if app.may_pull(request, source):
            with app.storage.pinned([digest]):
                if app.storage.repo_blob(source, digest) is not None:
                    await asyncio.to_thread(app.storage.link_blob, name, digest)
                    app.notify(request, "mount", name, str(digest), "application/octet-stream",
                               (app.storage.stat_blob(digest) or _NoSize).size)
                    return _blob_created(app, request, name, str(digest))
        # Not mountable (or not readable by this user): an ordinary upload, as the spec says.
    digest_text = request.arg("digest")
    if digest_text:  # monolithic: POST with the whole blob
        digest = parse_digest(digest_text)
        upload = app.uploads.start(name)
        await _append_checked(app, request, upload, expect_length=True)
        size = await app.uploads.finish(upload, digest)
        app.notify(request, "push", name, str(digest), "application/octet-stream", size)
        return _blob_created(app, request, name, str(digest))
    upload = app.uploads.start(name)
    return Response(202, _upload_headers(app, request, name, upload.id, 0))


class _NoSize:
    size = 0


async def _append_checked(app: Registry, request: Request, upload, *, expect_length: bool = False) -> None:
    """Append the body after checking Content-Range against the upload's offset (416 when a chunk
    comes out of order) and Content-Length against what arrived."""
    content_range = request.header("content-range")
    length_header = request.header("content-length")
    if content_range:
        match = _CONTENT_RANGE.fullmatch(content_range.strip())
        if not match:
            raise RegistryError("RANGE_INVALID", detail={"content-range": content_range},
                                headers=_upload_headers(app, request, upload.name, upload.id, upload.offset))
        start, end = int(match.group(1)), int(match.group(2))
        if start != upload.offset or end < start:
            raise RegistryError("RANGE_INVALID", "chunk does not start at the upload's offset",
                                detail={"content-range": content_range, "offset": upload.offset},
                                headers=_upload_headers(app, request, upload.name, upload.id, upload.offset))
        if length_header and int(length_header) != end - start + 1:
            raise RegistryError("SIZE_INVALID", detail={"content-range": content_range,
                                                        "content-length": length_header})
    before = upload.offset
    written = await app.uploads.append(upload, request.chunks())
    if length_header and written != int(length_header):
        # The body ended short: what arrived stays, and the client can resume from the offset.
        raise RegistryError("SIZE_INVALID", detail={"offset": before + written})


async def upload_status(app: Registry, request: Request, name: str, upload_id: str) -> Response:
    upload = app.uploads.get(name, upload_id)
    return Response(204, _upload_headers(app, request, name, upload.id, upload.offset))


async def patch_upload(app: Registry, request: Request, name: str, upload_id: str) -> Response:
    upload = app.uploads.get(name, upload_id)
    async with upload.lock:
        await _append_checked(app, request, upload)
        return Response(202, _upload_headers(app, request, name, upload.id, upload.offset))


async def finish_upload(app: Registry, request: Request, name: str, upload_id: str) -> Response:
    upload = app.uploads.get(name, upload_id)
    digest_text = request.arg("digest")
    if not digest_text:
        raise RegistryError("DIGEST_INVALID", "digest missing from the request", detail={"digest": ""})
    digest = parse_digest(digest_text)
    async with upload.lock:
        if upload.id not in app.uploads.active:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        await _append_checked(app, request, upload)
        size = await app.uploads.finish(upload, digest)
    app.notify(request, "push", name, str(digest), "application/octet-stream", size)
    return _blob_created(app, request, name, str(digest))


async def cancel_upload(app: Registry, request: Request, name: str, upload_id: str) -> Response:
    upload = app.uploads.get(name, upload_id)
    app.uploads.discard(upload)
    return Response(204, {"Content-Length": "0"})
