"""`POST /build` (the classic builder protocol: a tar context in, JSON messages out), `POST /build/prune`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard.api.codec import from_json, to_json
from dockyard.api.http import BadRequest, Request, Response
from dockyard.distribution.auth import credentials_from_json
from dockyard.engine.specs.containers import HostConfig
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.images import reference

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.build.builder import BuildOptions
    from dockyard.engine.daemon import Daemon

_RESOURCES = (("memory", "Memory"), ("memswap", "MemorySwap"), ("cpushares", "CpuShares"),
              ("cpuperiod", "CpuPeriod"), ("cpuquota", "CpuQuota"), ("shmsize", "ShmSize"))


def _json_arg(req: Request, name: str, kind: type, default, *, strings: bool = True):
    """A JSON query value of ``kind``; with ``strings``, its values are strings as Go's
    map[string]string and []string want them (buildargs' may be null: map[string]*string)."""
    text = req.arg(name)
    if not text:
        return default
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"invalid {name} parameter: {exc}") from None
    if value is None:
        return default
    if not isinstance(value, kind):
        raise BadRequest(f"invalid {name} parameter: expected a JSON {kind.__name__}")
    items: Iterable[object] = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    if strings and not all(isinstance(v, str) or (v is None and name == "buildargs") for v in items):
        raise BadRequest(f"invalid {name} parameter: the values must be strings")
    return value


def options_from_request(req: Request) -> BuildOptions:
    if req.arg("version") == "2":
        raise InvalidParameter("BuildKit (version=2) is not supported by Dockyard: use the classic builder "
                               "(DOCKER_BUILDKIT=0)")
    tags = []
    for text in req.query.get("t", []):
        try:
            ref = reference.parse(text)
        except InvalidParameter:
            raise InvalidParameter(f'invalid reference format: "{text}" is not a valid repository/tag') from None
        if ref.digest:
            raise InvalidParameter(f"invalid tag {text!r}: a build cannot be tagged with a digest")
        tags.append(ref)
    build_args = _json_arg(req, "buildargs", dict, {})
    labels = _json_arg(req, "labels", dict, {})
    cache_from = _json_arg(req, "cachefrom", list, [])
    host_config: dict = {}
    for param, key in _RESOURCES:
        text = req.arg(param)
        if text:
            try:
                host_config[key] = int(text)
            except ValueError:
                raise BadRequest(f"invalid {param} parameter: {text}") from None
    for param, key in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems"), ("cgroupparent", "CgroupParent")):
        if req.arg(param):
            host_config[key] = req.arg(param)
    ulimits = _json_arg(req, "ulimits", list, [], strings=False)
    if ulimits:
        host_config["Ulimits"] = to_json(from_json(HostConfig, {"Ulimits": ulimits})).get("Ulimits")
    extra_hosts = [h for text in req.query.get("extrahosts", []) for h in text.split(",") if h]
    epoch = None
    given_epoch = build_args.get("SOURCE_DATE_EPOCH")
    if given_epoch not in (None, ""):
        try:
            epoch = int(str(given_epoch))
        except ValueError:
            raise InvalidParameter(f"invalid SOURCE_DATE_EPOCH {given_epoch!r}: give seconds since 1970") from None
    elif req.flag("reproducible"):
        epoch = 0
    from dockyard.build.builder import BuildOptions  # with the builder, loaded by the first build

    return BuildOptions(
        tags=tags, dockerfile=req.arg("dockerfile") or "Dockerfile",
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        no_cache=req.flag("nocache"), pull=req.flag("pull"), rm=req.flag("rm", True), force_rm=req.flag("forcerm"),
        quiet=req.flag("q"), labels={str(k): str(v) for k, v in labels.items()}, target=req.arg("target"),
        cache_from=[str(c) for c in cache_from], network_mode=req.arg("networkmode"), extra_hosts=extra_hosts,
        squash=req.flag("squash"), platform=req.arg("platform"), host_config=host_config, source_date_epoch=epoch)


def register(router: Router, daemon: Daemon) -> None:
    service = daemon.builds

    async def build(req: Request) -> Response | None:
        options = options_from_request(req)
        loop = asyncio.get_running_loop()
        remote = req.arg("remote")
        if remote:
            if remote.startswith("git") or remote.endswith(".git"):
                raise InvalidParameter(f"cannot build from {remote}: Git contexts are not supported; give the URL "
                                       "of a tar archive, or a local directory")
            from dockyard.images.url_source import open_url

            def fetch():
                with open_url(remote) as response:
                    return service.read_context(response)

            await req.drain()
            context = await asyncio.to_thread(fetch)
        else:
            context = await _receive(req, service)
        try:
            options.pull_image = _puller(daemon, req, loop)
            await _stream_build(req, service, context, options)
            return None
        finally:
            context.close()

    async def prune(req: Request) -> Response:
        dropped, reclaimed = await asyncio.to_thread(service.prune, all_records=req.flag("all"))
        return Response(200, {"CachesDeleted": dropped or None, "SpaceReclaimed": reclaimed})

    router.add("POST", "/build", build)
    router.add("POST", "/build/prune", prune)


async def _stream_build(req: Request, service, context, options: BuildOptions) -> None:
    """Run the build, its messages (and its error, if any) as the response's JSON stream. As
    Docker, the stream starts with the first message: a build refused before it says anything (an
    empty or unparsable Dockerfile, a bad option) is answered with the error's HTTP status."""
    queue: asyncio.Queue = asyncio.Queue()
    done = object()
    stream = None
    said = False

    def emit(message: dict) -> None:
        nonlocal said
        said = True
        queue.put_nowait(message)

    async def writer() -> None:
        nonlocal stream
        # What queued up meanwhile goes as one chunk: a cached build's ~30 messages in a few writes.
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            finished = batch[-1] is done
            if finished:
                batch.pop()
            if stream is None:
                stream = await req.start_stream(200, "application/json")
            if batch:
                await stream.write(b"".join(json.dumps(m).encode() + b"\n" for m in batch))
            if finished:
                return

    writing = asyncio.ensure_future(writer())
    building = asyncio.ensure_future(service.build(context, options, emit))
    # As Docker (the request's context): a client that goes away cancels its build, which kills
    # the RUN container of the step under way and stops there.
    watching = asyncio.ensure_future(req.gone.wait())
    try:
        await asyncio.wait({building, watching}, return_when=asyncio.FIRST_COMPLETED)
        if not building.done():
            building.cancel()
            await asyncio.gather(building, return_exceptions=True)
            raise ConnectionError("the client went away: build cancelled")
        image = await building
        if options.quiet:
            emit({"stream": image.id + "\n"})
    except DockyardError as exc:
        if not said:  # nothing sent yet: the router answers with the error's status
            writing.cancel()
            raise
        detail = {"message": str(exc)}
        code = getattr(exc, "code", None)  # a RUN's exit status, as Docker reports it
        if code is not None:
            detail = {"code": code, "message": str(exc)}
        emit({"errorDetail": detail, "error": str(exc)})
    except (ConnectionError, asyncio.CancelledError):
        writing.cancel()
        raise
    except Exception as exc:  # noqa: BLE001 - reported in the stream; the daemon goes on
        if not said:
            writing.cancel()
            raise
        message = f"{type(exc).__name__}: {exc}"
        emit({"errorDetail": {"message": message}, "error": message})
    finally:
        for task in (building, watching):
            task.cancel()
        await asyncio.gather(building, watching, return_exceptions=True)
    queue.put_nowait(done)
    await writing
    if stream is None:  # a build that said nothing still answers with its (empty) stream
        stream = await req.start_stream(200, "application/json")
    await stream.finish()


async def _receive(req: Request, service):
    """The context tar from the request body, indexed where it lies (see build/archive.py). Small
    contexts are gathered in the event loop; once one is large, its pieces go to disk from a thread."""
    from dockyard.build.archive import open_context

    spool = service.spool()
    try:
        while data := await req.read_chunk(1 << 24):
            if spool.blocks(len(data)):
                await asyncio.to_thread(spool.write, data)
            else:
                spool.write(data)
        if spool.file is not None or spool.size > 1 << 20:
            return await asyncio.to_thread(open_context, spool)
        return open_context(spool)
    except BaseException:
        spool.close()
        raise


def _puller(daemon: Daemon, req: Request, loop: asyncio.AbstractEventLoop):
    """FROM an image that is not here (or --pull): pull it, its progress in the build's stream."""
    configs = {}
    header = req.headers.get("x-registry-config", "")
    if header:
        import base64

        try:
            configs = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except ValueError:
            configs = {}

    async def pull(ref: reference.Reference, emit) -> None:
        auth = configs.get(ref.domain) or configs.get(f"https://{ref.domain}/v1/") or {}
        credentials = credentials_from_json(auth if isinstance(auth, dict) else {})

        def relay(message: dict) -> None:
            loop.call_soon_threadsafe(emit, message)

        await asyncio.to_thread(daemon.distribution.pull, ref, platform="", all_tags=False, credentials=credentials,
                                emit=relay, cancel=threading.Event())

    return pull

