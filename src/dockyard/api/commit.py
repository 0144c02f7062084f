"""`POST /commit`: a container's changes become an image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.api.codec import from_json, to_json
from dockyard.api.http import Request, Response
from dockyard.engine.commit import CommitOptions
from dockyard.engine.specs.containers import ContainerConfig
from dockyard.images import reference

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon


def register(router: Router, daemon: Daemon) -> None:
    async def commit(req: Request) -> Response:
        c = daemon.containers.get(req.arg("container"))
        repo, tag = req.arg("repo"), req.arg("tag")
        target = reference.parse_repository_and_tag(repo, tag) if repo else None
        # The body is a container Config (HostConfig and NetworkingConfig are ignored, as Docker's
        # decoder drops them); an empty body means "the container's own config".
        body = to_json(from_json(ContainerConfig, await req.json()))
        options = CommitOptions(target=target, author=req.arg("author"), comment=req.arg("comment"),
                                pause=req.flag("pause", True), changes=req.query.get("changes", []),
                                config=body or None)
        image = await daemon.commits.commit(c, options)
        return Response(201, {"Id": image.id})

    router.add("POST", "/commit", commit)

