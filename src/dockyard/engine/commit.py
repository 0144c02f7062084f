"""`docker commit`: a container's writable layer becomes a new image on top of its image.

Follows daemon/commit.go and image/image.go NewChildImage: the config is the request's (or the
container's) with the -c changes applied, merged over the container's config; the image records
the container, its config, the author, a history row and its parent image.
"""

from __future__ import annotations

import asyncio
import copy
import tempfile
from dataclasses import dataclass, field

from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.events import EventBus
from dockyard.engine.specs.containers import config_json
from dockyard.errors import Conflict, NotFound
from dockyard.images import reference
from dockyard.images.changes import apply_changes
from dockyard.images.child import add_child_image
from dockyard.images.diff import write_diff
from dockyard.images.layers import chunks
from dockyard.images.store import Image, ImageStore
from dockyard.util.tarstream import END
from dockyard.util.timefmt import now_ns, rfc3339_ns


@dataclass
class CommitOptions:
    target: reference.Reference | None = None  # repo:tag to tag the new image with
    author: str = ""
    comment: str = ""
    pause: bool = True
    changes: list[str] = field(default_factory=list)
    config: dict | None = None  # the request body's Config; None means the container's


class CommitService:
    def __init__(self, containers: ContainerService, store: ImageStore, events: EventBus) -> None:
        self.containers = containers
        self.store = store
        self.events = events

    async def commit(self, c: Container, options: CommitOptions) -> Image:
        if c.state.status == "dead":
            raise Conflict(f"You cannot commit container {c.id} which is Dead")
        if c.state.status == "removing":
            raise Conflict(f"You cannot commit container {c.id} which is being removed")
        # Everything that can be refused is checked before the container is touched.
        container_config = config_json(c.config)  # an image keeps its config in Docker's JSON
        base = container_config if options.config is None else options.config
        config = merge(apply_changes(copy.deepcopy(base), options.changes), container_config)
        try:
            parent = self.store.get(c.image_id)
        except NotFound:
            raise NotFound(f"the image {c.image_id} of container {c.id[:12]} no longer exists") from None
        paused_here = options.pause and c.state.status == "running"
        if paused_here:
            try:
                await self.containers.pause(c)  # a consistent snapshot: nothing writes while we read
            except Conflict:
                paused_here = False  # it exited meanwhile: nothing writes to it any more
        try:
            diff_id = await asyncio.to_thread(self._ingest_diff, c.id)
            image = await asyncio.to_thread(self._add_image, c, parent, diff_id, config, options)
            image_ref = ""
            if options.target is not None:
                self.store.tag(image.id, options.target)
                image_ref = options.target.familiar()
                self.events.publish("image", "tag", image.id, {"name": image_ref})
            self.containers.emit(c, "commit", comment=options.comment, imageID=image.id, imageRef=image_ref)
            return image
        finally:
            # As Docker: the container thaws when the commit is done (pause, commit, unpause).
            if paused_here and c.state.status == "paused":
                await self.containers.unpause(c)

    def _ingest_diff(self, cid: str) -> str | None:
        """The writable layer's tar into the content store; None when the container changed nothing."""
        with tempfile.TemporaryFile(dir=self.store.content.root) as tmp:
            try:
                write_diff(self.containers.snapshotter, cid, tmp, self.containers.idmap)
            except (FileNotFoundError, NotFound):
                if self.containers.find(cid) is None or not self.containers.snapshotter.exists(cid):
                    raise Conflict(f"container {cid[:12]} was removed while it was being committed") from None
                raise
            if tmp.tell() == len(END):
                return None  # Docker's empty layer: kept out of rootfs, marked empty in history
            tmp.seek(0)
            return self.store.content.ingest(chunks(tmp))

    def _add_image(self, c: Container, parent: Image, diff_id: str | None, config: dict,
                   options: CommitOptions) -> Image:
        created = rfc3339_ns(now_ns())
        history_row = {"created": created}
        if options.author:
            history_row["author"] = options.author
        created_by = " ".join(c.config.cmd or [])
        if created_by:
            history_row["created_by"] = created_by
        if options.comment:
            history_row["comment"] = options.comment
        return add_child_image(self.store, parent, diff_id, config, history_row=history_row, created=created,
                               container=c.id, container_config=config_json(c.config), author=options.author)

    def layer_from_container(self, cid: str) -> str | None:
        """The container's changes as a layer tar in the content store (None when it changed nothing);
        the build's RUN steps use it too."""
        return self._ingest_diff(cid)


def merge(config: dict, container_config: dict) -> dict:
    """daemon/commit.go merge(): what the new config leaves unset comes from the container's."""
    if not config.get("User"):
        config["User"] = container_config.get("User", "")
    ports = dict(container_config.get("ExposedPorts") or {})
    ports.update(config.get("ExposedPorts") or {})
    config["ExposedPorts"] = ports or None
    if not config.get("Env"):
        config["Env"] = container_config.get("Env")
    else:
        keys = {e.partition("=")[0] for e in config["Env"]}
        config["Env"] = [*config["Env"],
                         *(e for e in container_config.get("Env") or [] if e.partition("=")[0] not in keys)]
    labels = dict(container_config.get("Labels") or {})
    labels.update(config.get("Labels") or {})
    config["Labels"] = labels
    if not config.get("Entrypoint"):
        if not config.get("Cmd"):
            config["Cmd"] = container_config.get("Cmd")
        if config.get("Entrypoint") is None:
            config["Entrypoint"] = container_config.get("Entrypoint")
    health = container_config.get("Healthcheck")
    if health:
        mine = config.get("Healthcheck")
        if not mine:
            config["Healthcheck"] = health
        else:
            for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
                if not mine.get(key) and health.get(key):
                    mine[key] = health[key]
    if not config.get("WorkingDir"):
        config["WorkingDir"] = container_config.get("WorkingDir", "")
    volumes = dict(config.get("Volumes") or {})
    volumes.update(container_config.get("Volumes") or {})
    config["Volumes"] = volumes or None
    if not config.get("StopSignal") and container_config.get("StopSignal"):
        config["StopSignal"] = container_config["StopSignal"]
    return config
