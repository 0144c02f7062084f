"""Image archive endpoints: `GET /images/{name}/get`, `GET /images/get?names=`, `POST /images/load`."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

from dockyard.api.bodystream import BodyReader, feed
from dockyard.api.http import Request, Response
from dockyard.errors import DockyardError
from dockyard.images.load import load as load_archive
from dockyard.images.save import archive, resolve
from dockyard.util import tarstream

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon


def register(router: Router, daemon: Daemon) -> None:
    store = daemon.image_store

    async def send_archive(req: Request, names: list[str]) -> Response | None:
        items = await asyncio.to_thread(resolve, store, names)  # unknown names fail before any output
        chunks = tarstream.batched(archive(store, items))
        first = await asyncio.to_thread(next, chunks, None)
        for item in items:
            daemon.events.publish("image", "save", item.image.id, {"name": item.image.id})
        stream = await req.start_stream(200, "application/x-tar")
        piece = first
        while piece is not None:
            await stream.write(piece)
            piece = await asyncio.to_thread(next, chunks, None)
        await stream.finish()
        return None

    async def get_one(req: Request) -> Response | None:
        return await send_archive(req, [req.params["name"]])

    async def get_many(req: Request) -> Response | None:
        return await send_archive(req, req.query.get("names", []))

    async def load(req: Request) -> Response | None:
        quiet = req.flag("quiet")
        body = BodyReader()
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue[dict] = asyncio.Queue()

        def report(message: dict) -> None:
            loop.call_soon_threadsafe(messages.put_nowait, message)

        def work() -> list[str]:
            try:
                return load_archive(store, io.BufferedReader(body, 1 << 20), report, quiet=quiet)
            finally:
                body.abandon()

        feeder = asyncio.ensure_future(feed(req, body))
        worker = asyncio.ensure_future(asyncio.to_thread(work))
        stream = None
        try:
            while not (worker.done() and messages.empty()):
                getter = asyncio.ensure_future(messages.get())
                await asyncio.wait({getter, worker}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                if stream is None:
                    stream = await req.start_stream(200, "application/json")
                await stream.write_json(getter.result())
        finally:
            await asyncio.wait({feeder})  # the worker has abandoned the body, so the feeder stops
        feeder_error = feeder.exception()
        error = worker.exception() or feeder_error
        if error is not None and (stream is None and (error is feeder_error or not isinstance(error, DockyardError))):
            raise error  # the request itself broke, or a bug: the router answers with a status
        if error is not None:
            if not isinstance(error, DockyardError):
                raise error
            # As Docker: a refused archive is a 200 whose stream ends with the error (docker-py's
            # images.load raises ImageLoadError from it; the CLI prints it and exits 1).
            if stream is None:
                stream = await req.start_stream(200, "application/json")
            message = str(error)
            await stream.write_json({"errorDetail": {"message": message}, "error": message})
        else:
            for image_id in worker.result():
                daemon.events.publish("image", "load", image_id, {"name": image_id})
        if feeder_error is None:
            await req.drain()  # the end of the tar may leave padding unread; keep the connection usable
        if stream is None:
            stream = await req.start_stream(200, "application/json")
        await stream.finish()
        return None

    router.add("GET", "/images/get", get_many)
    router.add("GET", "/images/{name:path}/get", get_one)
    router.add("POST", "/images/load", load)
