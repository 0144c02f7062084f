"""The image a task needs, on this node: pulled when the node lacks it, as moby's executor does
before it creates a task's container (registry credentials are not carried yet: public images and
registries this daemon is logged in to through its certs directory)."""

from __future__ import annotations

import asyncio
import threading

from dockyard.errors import NotFound


def puller(images, distribution):
    """An async `pull(image)` on the engine's image store and distribution service."""

    async def pull(image: str) -> None:
        try:
            images.get(image)
            return
        except NotFound:
            pass
        from dockyard.distribution.auth import Credentials
        from dockyard.images import reference

        ref = reference.parse(image)
        await asyncio.to_thread(distribution.pull, ref, platform="", all_tags=False, credentials=Credentials(),
                                emit=lambda _event: None, cancel=threading.Event())

    return pull
