"""Registry endpoints: pull (`POST /images/create?fromImage=`), push, `POST /auth`, search and
`GET /distribution/{name}/json`. The work runs in a thread; its progress messages are streamed as
Docker's JSON messages. An error before the first message is a plain error response, as dockerd does."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.distribution import progress
from dockyard.distribution.auth import credentials_from_json, decode_registry_auth
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.images import reference
from dockyard.images.reference import Reference

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon

_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
SEARCH_FILTERS = {"stars", "is-official", "is-automated"}
_DONE = object()


def _credentials(req: Request):
    return decode_registry_auth(req.headers.get("x-registry-auth", ""))


async def _streamed(req: Request, work: Callable[[progress.Emit, threading.Event], str | None]) -> bool:
    """Run ``work(emit, cancel)`` in a thread, streaming what it emits; its return value is a last status
    line. Returns True on success. Errors become an error response (nothing sent yet) or an error message."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancel = threading.Event()

    def emit(message: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def run() -> None:
        outcome: object
        try:
            outcome = work(emit, cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop below
            outcome = exc
        loop.call_soon_threadsafe(queue.put_nowait, (_DONE, outcome))

    worker = loop.run_in_executor(None, run)
    stream = None
    try:
        while True:
            message = await queue.get()
            if isinstance(message, tuple) and message[0] is _DONE:
                outcome = message[1]
                break
            if stream is None:
                stream = await req.start_stream(200, "application/json")
            await stream.write_json(message)
    except BaseException:
        cancel.set()  # the client went away: stop downloading or uploading
        await worker
        raise
    await worker
    if isinstance(outcome, BaseException):
        if stream is None:
            if isinstance(outcome, DockyardError):
                raise outcome
            raise DockyardError(str(outcome)) from outcome
        text = str(outcome) if isinstance(outcome, DockyardError) else f"{type(outcome).__name__}: {outcome}"
        await stream.write_json(progress.error(text))
        await stream.finish()
        return False
    if stream is None:
        stream = await req.start_stream(200, "application/json")
    if outcome:
        await stream.write_json(progress.status(outcome))
    await stream.finish()
    return True


def pull_reference(from_image: str, tag: str) -> tuple[Reference, bool]:
    """`fromImage` and `tag` as dockerd reads them: the tag may be a digest; neither means every tag."""
    ref = reference.parse(from_image, default_tag=False)
    if tag:
        if _DIGEST.match(tag):
            ref = Reference(ref.domain, ref.path, None, tag)
        else:
            ref = reference.parse_repository_and_tag(ref.name, tag)
    return ref, not ref.tag and not ref.digest


async def pull(req: Request, daemon: Daemon) -> None:
    """`POST /images/create?fromImage=...`: called by the images module's create handler."""
    ref, all_tags = pull_reference(req.arg("fromImage"), req.arg("tag"))
    credentials = _credentials(req)
    platform = req.arg("platform")

    def work(emit, cancel) -> str:
        return daemon.distribution.pull(ref, platform=platform, all_tags=all_tags, credentials=credentials,
                                        emit=emit, cancel=cancel)

    if await _streamed(req, work):
        name = ref.familiar_name if all_tags else ref.familiar()
        daemon.events.publish("image", "pull", name, {"name": name})


def register(router: Router, daemon: Daemon) -> None:
    async def push(req: Request) -> None:
        repo = reference.parse(req.params["name"], default_tag=False)
        tag = req.arg("tag") or None
        if repo.digest:
            raise InvalidParameter("cannot push a digest reference")
        if repo.tag:
            if tag:
                raise InvalidParameter("invalid reference format: the name has a tag and so does ?tag=")
            tag = repo.tag
        repo = Reference(repo.domain, repo.path)
        credentials = _credentials(req)

        def work(emit, cancel) -> None:
            daemon.distribution.push(repo, tag, credentials=credentials, emit=emit, cancel=cancel)

        if await _streamed(req, work):
            name = repo.with_tag(tag).familiar() if tag else repo.familiar_name
            daemon.events.publish("image", "push", name, {"name": name})
        return None

    async def auth(req: Request) -> Response:
        credentials = credentials_from_json(await req.json())
        await asyncio.to_thread(daemon.distribution.login, credentials)
        return Response(200, {"Status": "Login Succeeded", "IdentityToken": ""})

    async def search(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), SEARCH_FILTERS)
        stars = 0
        for value in filters.get("stars"):
            try:
                stars = int(value)
            except ValueError:
                raise InvalidParameter(f"invalid filter 'stars={value}'") from None
        flags = {}
        for key in ("is-official", "is-automated"):
            for value in filters.get(key):
                if value not in ("true", "false", "1", "0"):
                    raise InvalidParameter(f"invalid filter '{key}={value}'")
                flags[key.replace("-", "_")] = value in ("true", "1")
        results = await asyncio.to_thread(daemon.distribution.search, req.arg("term"), req.int_arg("limit", 25),
                                          _credentials(req))
        results = [r for r in results if r["star_count"] >= stars and all(r[k] == v for k, v in flags.items())]
        return Response(200, results)

    async def distribution_inspect(req: Request) -> Response:
        ref = reference.parse(req.params["name"])
        return Response(200, await asyncio.to_thread(daemon.distribution.inspect, ref, _credentials(req)))

    router.add("POST", "/images/{name:path}/push", push)
    router.add("POST", "/auth", auth)
    router.add("GET", "/images/search", search)
    router.add("GET", "/distribution/{name:path}/json", distribution_inspect)
