"""Image endpoints: list, inspect, import (`POST /images/create?fromSrc=-` or a URL), tag, history, remove,
prune."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dockyard.api import distribution
from dockyard.api.bodystream import consume
from dockyard.api.filters import Filters, until_ns
from dockyard.api.http import Request, Response
from dockyard.errors import InvalidParameter
from dockyard.images import reference, url_source
from dockyard.images.importer import import_rootfs
from dockyard.images.store import Image
from dockyard.util.timefmt import parse_rfc3339, rfc3339_ns

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon

LIST_FILTERS = {"dangling", "label", "before", "since", "reference"}


def inspect_view(daemon: Daemon, image: Image) -> dict:
    config = image.config
    lower = daemon.layers.snapshot_key(image.top_chain)
    graph = {}
    if lower:
        dirs = [daemon.snapshotter.fs_path(k) for k in daemon.snapshotter.parent_chain(lower)]
        graph = {"UpperDir": dirs[0], "MergedDir": "", "WorkDir": ""}
        if len(dirs) > 1:
            graph["LowerDir"] = ":".join(dirs[1:])
    return {
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": image.parent,
        # As Docker: a committed image's comment lives in its last history row.
        "Comment": config.get("comment") or ((config.get("history") or [{}])[-1].get("comment", "")),
        "Created": config.get("created", ""),
        "Container": config.get("container", ""),
        "ContainerConfig": config.get("container_config") or {},
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config"),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", "linux"),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": daemon.snapshotter.name, "Data": graph},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": rfc3339_ns(image.last_tag_time)},
    }


def list_view(image: Image, tags: list[str], digests: list[str]) -> dict:
    created = parse_rfc3339(image.config.get("created", "")) // 1_000_000_000
    return {
        "Id": image.id,
        "ParentId": image.parent,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": created,
        "Size": image.size,
        "VirtualSize": image.size,
        "SharedSize": -1,
        "Labels": (image.config.get("config") or {}).get("Labels") or {},
        "Containers": -1,
    }


def _reference_matches(name: str, patterns: list[str]) -> bool:
    """Docker's reference.FamiliarMatch: the pattern against `busybox:latest` and against `busybox`."""
    import fnmatch

    bare = name.partition("@")[0]
    if ":" in bare.rpartition("/")[2]:
        bare = bare.rpartition(":")[0]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(bare, p) for p in patterns)


def list_images(store, filters: Filters, *, all_images: bool) -> list[dict]:
    """GET /images/json (moby daemon/images/images.go): dangling images appear as `<none>:<none>`;
    untagged parents of other images are hidden unless ``all_images``."""
    for value in filters.get("dangling"):
        if value not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid filter 'dangling={value}'")
    dangling_only = bool(filters.get("dangling")) and filters.get("dangling")[-1] in ("true", "1")
    pivots = {key: [parse_rfc3339(store.get(ref).config.get("created", "")) for ref in filters.get(key)]
              for key in ("before", "since")}
    patterns = filters.get("reference")
    out = []
    images = store.list()
    parents = {i.parent for i in images if i.parent}
    for image in images:
        created = parse_rfc3339(image.config.get("created", ""))
        if any(created >= p for p in pivots["before"]) or any(created <= p for p in pivots["since"]):
            continue
        if not filters.match_labels((image.config.get("config") or {}).get("Labels") or {}):
            continue
        tags = [t for t in image.repo_tags if not patterns or _reference_matches(t, patterns)]
        digests = [d for d in image.repo_digests if not patterns or _reference_matches(d, patterns)]
        if not tags and not digests:
            if image.repo_tags or image.repo_digests or patterns:
                continue  # named, but not by a matching reference
            if not all_images and image.id in parents:
                continue  # an intermediate image
            if "dangling" in filters and not dangling_only:
                continue
            tags, digests = ["<none>:<none>"], ["<none>@<none>"]
        elif dangling_only and tags:
            continue
        out.append((created, list_view(image, tags, digests)))
    out.sort(key=lambda pair: pair[0], reverse=True)  # newest first, to the nanosecond
    return [view for _created, view in out]


def _import_url(store, url: str, changes: list[str], message: str) -> Image:
    with url_source.open_url(url) as response:
        return import_rootfs(store, response, changes=changes, message=message, source=url)


def register(router: Router, daemon: Daemon) -> None:
    store = daemon.image_store

    async def list_(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), LIST_FILTERS)
        return Response(200, list_images(store, filters, all_images=req.flag("all")))

    async def inspect(req: Request) -> Response:
        return Response(200, inspect_view(daemon, store.get(req.params["name"])))

    async def create(req: Request) -> Response | None:
        if req.arg("fromImage"):
            await distribution.pull(req, daemon)
            return None
        source = req.arg("fromSrc")
        repo, tag = req.arg("repo"), req.arg("tag")
        target = reference.parse_repository_and_tag(repo, tag) if repo else None
        changes = req.query.get("changes", [])
        if source == "-":
            image = await consume(req, lambda body: import_rootfs(store, body, changes=changes,
                                                                  message=req.arg("message"), source="-"))
        else:  # the daemon downloads the tarball, streaming it into the store
            source = url_source.normalize(source)
            image = await asyncio.to_thread(_import_url, store, source, changes, req.arg("message"))
        daemon.events.publish("image", "import", image.id, {"name": image.id})
        if target is not None:
            store.tag(image.id, target)
            daemon.events.publish("image", "tag", image.id, {"name": target.familiar()})
        stream = await req.start_stream(200, "application/json")
        if source != "-":
            await stream.write_json({"status": f"Downloading from {source}"})
        await stream.write_json({"status": image.id})
        await stream.finish()
        return None

    async def remove(req: Request) -> Response:
        report = await asyncio.to_thread(daemon.images.remove, req.params["name"], force=req.flag("force"),
                                         prune=not req.flag("noprune"))
        return Response(200, report)

    async def tag(req: Request) -> Response:
        daemon.images.tag(req.params["name"], req.arg("repo"), req.arg("tag"))
        return Response(201, None)

    async def history(req: Request) -> Response:
        return Response(200, daemon.images.history(req.params["name"]))

    async def prune(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), {"dangling", "until", "label", "label!"})
        dangling = filters.get("dangling")[-1] if filters.get("dangling") else "true"
        if dangling not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid filter 'dangling={dangling}'")
        until = None
        for value in filters.get("until"):
            until = until_ns(value)
        records, reclaimed = await asyncio.to_thread(daemon.images.prune, dangling_only=dangling in ("true", "1"),
                                                     until=until, labels_match=filters.match_labels)
        daemon.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
        return Response(200, {"ImagesDeleted": records or None, "SpaceReclaimed": reclaimed})

    router.add("GET", "/images/json", list_)
    router.add("POST", "/images/prune", prune)
    router.add("GET", "/images/{name:path}/history", history)
    router.add("POST", "/images/{name:path}/tag", tag)
    router.add("POST", "/images/create", create)
    router.add("GET", "/images/{name:path}/json", inspect)
    router.add("DELETE", "/images/{name:path}", remove)
