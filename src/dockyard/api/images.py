"""Image endpoints: list, inspect, import (`POST /images/create?fromSrc=-`), remove."""

import asyncio
import io

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.errors import InvalidParameter, NotImplementedYet
from dockyard.images import reference
from dockyard.images.importer import import_rootfs
from dockyard.images.store import Image
from dockyard.util.timefmt import parse_rfc3339, rfc3339_ns

LIST_FILTERS = {"dangling", "label", "before", "since", "reference"}


def inspect_view(daemon, image: Image) -> dict:
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


def list_view(image: Image) -> dict:
    created = parse_rfc3339(image.config.get("created", "")) // 1_000_000_000
    return {
        "Id": image.id,
        "ParentId": image.parent,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Created": created,
        "Size": image.size,
        "VirtualSize": image.size,
        "SharedSize": -1,
        "Labels": (image.config.get("config") or {}).get("Labels") or {},
        "Containers": -1,
    }


def _matches_reference(image: Image, patterns: list[str]) -> bool:
    import fnmatch

    for tag in image.repo_tags:
        name = tag.rpartition(":")[0] if ":" in tag.rpartition("/")[2] else tag
        for pattern in patterns:
            if fnmatch.fnmatchcase(tag, pattern) or fnmatch.fnmatchcase(name, pattern):
                return True
    return False


def register(router, daemon) -> None:
    store = daemon.image_store

    async def list_images(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), LIST_FILTERS)
        images = store.list()
        for value in filters.get("dangling"):
            if value not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid filter 'dangling={value}'")
        if filters.get("dangling"):
            dangling = filters.get("dangling")[-1] in ("true", "1")
            images = [i for i in images if (not i.repo_tags) == dangling]
        images = [i for i in images if filters.match_labels((i.config.get("config") or {}).get("Labels") or {})]
        for key, keep in (("before", lambda t, ref: t < ref), ("since", lambda t, ref: t > ref)):
            for ref in filters.get(key):
                pivot = parse_rfc3339(store.get(ref).config.get("created", ""))
                images = [i for i in images if keep(parse_rfc3339(i.config.get("created", "")), pivot)]
        if filters.get("reference"):
            images = [i for i in images if _matches_reference(i, filters.get("reference"))]
        images.sort(key=lambda i: i.config.get("created", ""), reverse=True)
        return Response(200, [list_view(i) for i in images])

    async def inspect(req: Request) -> Response:
        return Response(200, inspect_view(daemon, store.get(req.params["name"])))

    async def create(req: Request) -> Response | None:
        if req.arg("fromImage"):
            raise NotImplementedYet("pulling images from a registry (POST /images/create?fromImage=...) is not "
                                    "implemented by Dockyard yet; use `docker import` or `docker load`")
        source = req.arg("fromSrc")
        if source != "-":
            raise NotImplementedYet("importing from a URL is not implemented by Dockyard yet; use fromSrc=-")
        repo, tag = req.arg("repo"), req.arg("tag")
        target = reference.parse_repository_and_tag(repo, tag) if repo else None
        changes = req.query.get("changes", [])
        body = await req.body(limit=8 << 30)
        image = await asyncio.to_thread(import_rootfs, store, io.BytesIO(body), changes=changes,
                                        message=req.arg("message"), source=source)
        daemon.events.publish("image", "import", image.id, {"name": image.id})
        if target is not None:
            store.tag(image.id, target)
            daemon.events.publish("image", "tag", image.id, {"name": target.familiar()})
        stream = await req.start_stream(200, "application/json")
        await stream.write_json({"status": image.id})
        await stream.finish()
        return None

    async def remove(req: Request) -> Response:
        report = daemon.images.remove(req.params["name"], force=req.flag("force"), prune=not req.flag("noprune"))
        daemon.images.publish(report)
        return Response(200, report)

    router.add("GET", "/images/json", list_images)
    router.add("POST", "/images/create", create)
    router.add("GET", "/images/{name:path}/json", inspect)
    router.add("DELETE", "/images/{name:path}", remove)
