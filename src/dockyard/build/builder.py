"""Dockerfile builds: stages, steps, the step cache and the classic builder's output.

Each step turns the stage's current image into a new one, as Docker's classic builder does:
metadata instructions give an image with an empty layer; RUN runs a container and commits its
changes; COPY/ADD and WORKDIR write their layer directly (copy.py). Only the stages the target
needs are built; stages that do not depend on each other build at the same time.
"""

from __future__ import annotations

import asyncio
import copy
import io
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dockyard.build import cache as step_cache
from dockyard.build import instructions as ins
from dockyard.build import parser
from dockyard.build.archive import ArchiveView, ContextArchive, extract, remove_ignored
from dockyard.build.copy import Copier, Entry, Source, is_archive, plan, write_layer
from dockyard.build.fsview import FSView, clean
from dockyard.build.output import Sequencer, StageOutput
from dockyard.build.reproducible import clamp_layer
from dockyard.build.shell_words import expand_heredoc, process_word
from dockyard.build.squash import squash_image
from dockyard.errors import DockyardError, InvalidParameter, NotFound
from dockyard.images import reference
from dockyard.images.child import add_child_image
from dockyard.images.importer import host_architecture
from dockyard.images.layers import chunks
from dockyard.images.store import Image
from dockyard.runtime.linux.users import resolve as resolve_user
from dockyard.runtime.process import Attacher
from dockyard.util.timefmt import now_ns, rfc3339_ns

EMPTY_TAR_SIZE = 1024


class BuildFailed(DockyardError):
    """A step failed; the message is what the stream's error says, ``code`` a RUN's exit status
    (Docker's errorDetail.code)."""

    status = 400

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class BuildOptions:
    tags: list[reference.Reference] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str | None] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    rm: bool = True
    force_rm: bool = False
    quiet: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    cache_from: list[str] = field(default_factory=list)
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    squash: bool = False
    platform: str = ""
    host_config: dict = field(default_factory=dict)  # resource limits for RUN containers
    source_date_epoch: int | None = None  # reproducible: fixed times, clamped file times
    # Pulls the base image when it is missing: async (ref, emit).
    pull_image: Callable[[reference.Reference, Callable[[dict], None]], Awaitable[None]] | None = None


@dataclass
class Stage:
    index: int
    name: str  # lower case, "" when unnamed
    base: str  # FROM's image, as expanded
    platform: str
    from_line: parser.Instruction
    instructions: list[parser.Instruction]
    deps: set[int] = field(default_factory=set)
    image: Image | None = None  # the result, once built
    base_image: Image | None = None  # what FROM gave (what --squash squashes onto)
    done: asyncio.Event | None = None


@dataclass
class Step:
    """Where a stage is: its image, config and args, and whether the cache still applies."""

    image: Image | None
    state: ins.StageState
    out: StageOutput
    use_cache: bool = True


def host_platform() -> str:
    return f"linux/{host_architecture()}"


def check_platform(platform: str) -> None:
    """Only the host's platform can be built (no emulation); others are refused up front."""
    if platform and platform.lower().split("/")[:2] != host_platform().split("/"):
        raise InvalidParameter(f'the platform "{platform}" is not supported: this daemon builds for '
                               f"{host_platform()} only")


class Builder:
    def __init__(self, service, context: ContextArchive, options: BuildOptions, emit) -> None:
        self.service = service  # BuildService: stores and containers
        self.store = service.store
        self.context = context
        self.options = options
        self.emit = emit
        self.work_dir = tempfile.mkdtemp(prefix="step-", dir=service.tmp_root)
        self.stages: list[Stage] = []
        self.meta_args: dict[str, str | None] = {}
        self.step_numbers: dict[int, int] = {}  # id(instruction) -> step number
        self.total_steps = 0
        self.escape = "\\"
        self.intermediate_containers: list[str] = []
        self.cache_allowed: set[str] | None = None  # with --cache-from: the images it may reuse

    # -- the whole build ---------------------------------------------------------------------
    async def run(self) -> Image:
        try:
            return await self._run()
        finally:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    async def _run(self) -> Image:
        options = self.options
        check_platform(options.platform)
        dockerfile = self._read_dockerfile()
        # Read first: .dockerignore may list the Dockerfile, which COPY then must not see.
        remove_ignored(self.context, options.dockerfile or "Dockerfile")
        self._plan_stages(dockerfile)
        target = self._target_stage()
        needed = sorted(self._needed(target))
        if options.labels:
            text = "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in sorted(options.labels.items()))
            target.instructions.append(parser.parse_line(text, options.dockerfile))
        meta = [i for i in dockerfile.instructions if i.cmd == "ARG" and id(i) in self._meta_ids]
        self._number_steps(meta, [self.stages[i] for i in needed])
        if options.cache_from:
            self.cache_allowed = self._cache_from_images()
        sequencer = Sequencer(self.emit, needed, quiet=options.quiet)
        first = sequencer.outputs[needed[0]]
        for instruction in meta:
            first.stream(f"Step {self.step_numbers[id(instruction)]}/{self.total_steps} : {instruction.original}\n")
        tasks: dict[int, asyncio.Task] = {}
        for stage in self.stages:
            stage.done = asyncio.Event()

        def start(index: int) -> asyncio.Task:
            if index not in tasks:
                tasks[index] = asyncio.ensure_future(self._build_stage(self.stages[index], sequencer, start))
            return tasks[index]

        try:
            for index in needed:
                start(index)
            await start(target.index)
            await asyncio.gather(*(start(i) for i in needed))
        except BaseException:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            sequencer.failed()
            raise
        image = target.image
        if image is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        unused = sorted(k for k in options.build_args if k not in self._declared_args
                        and k not in ins.PREDEFINED_ARGS)
        if unused:
            sequencer.final({"stream": f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n"})
        self.emit({"aux": {"ID": image.id}})
        if options.squash:  # as Docker: the squashed image is a second result, and the one tagged
            try:
                image = await asyncio.to_thread(squash_image, self.store, image, target.base_image,
                                                created=self._created(), clamp=options.source_date_epoch)
            except OSError as exc:
                raise BuildFailed(f"error squashing image: {exc}") from None
            self.emit({"aux": {"ID": image.id}})
        sequencer.final({"stream": f"Successfully built {image.id[7:19]}\n"})
        for ref in options.tags:
            self.store.tag(image.id, ref)
            self.service.events.publish("image", "tag", image.id, {"name": ref.familiar()})
            sequencer.final({"stream": f"Successfully tagged {ref.familiar()}\n"})
        return image

    def _read_dockerfile(self) -> parser.Dockerfile:
        name = self.options.dockerfile or "Dockerfile"
        try:
            rel = ArchiveView(self.context).resolve(name)
        except OSError:
            rel = ""
        text = self.context.read_text(rel) if rel else None
        if text is None:
            raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
        dockerfile = parser.parse(text, os.path.basename(name))
        self.escape = dockerfile.escape
        return dockerfile

    def _plan_stages(self, dockerfile: parser.Dockerfile) -> None:
        self._meta_ids: set[int] = set()
        self._declared_args: set[str] = set()
        current: Stage | None = None
        for instruction in dockerfile.instructions:
            if instruction.cmd == "ARG":
                self._declared_args.update(k for k, _ in parser.name_values(instruction, self.escape))
            if instruction.cmd == "FROM":
                current = self._stage_from(instruction, len(self.stages))
                self.stages.append(current)
                continue
            if current is None:
                if instruction.cmd != "ARG":
                    raise parser.ParseError(f"failed to parse {self.options.dockerfile}: dockerfile parse error on "
                                            f"line {instruction.line}: {instruction.cmd}: no build stage in current "
                                            "context (the first instruction must be FROM, after optional ARGs)")
                self._meta_ids.add(id(instruction))
                state = ins.StageState({}, self.escape, self.options.build_args, self.meta_args)
                state.meta_args = {}
                ins.apply_metadata(instruction, state)
                continue
            current.instructions.append(instruction)
            source = instruction.flag("from") if instruction.cmd in ("COPY", "ADD") else None
            if source is not None:
                found = self._stage_named(source, current.index)
                if found is not None:
                    current.deps.add(found.index)
        if not self.stages:
            raise parser.ParseError(f"failed to parse {self.options.dockerfile}: the Dockerfile has no FROM "
                                    "instruction (file with no instructions?)")

    def _stage_from(self, instruction: parser.Instruction, index: int) -> Stage:
        env = {k: v for k, v in self.meta_args.items() if v is not None}
        words = instruction.rest.split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise parser.ParseError(f"failed to parse {self.options.dockerfile}: dockerfile parse error on line "
                                    f"{instruction.line}: FROM requires either one or three arguments")
        base = process_word(words[0], env, self.escape)
        if not base:
            raise InvalidParameter(f"base name ({words[0]}) should not be blank")
        name = words[2].lower() if len(words) == 3 else ""
        if name and any(s.name == name for s in self.stages):
            raise InvalidParameter(f"duplicate name {name}")
        platform = process_word(instruction.flag("platform") or "", env, self.escape)
        stage = Stage(index, name, base, platform, instruction, [])
        found = self._stage_named(base, index, by_index=False)
        if found is not None:
            stage.deps.add(found.index)
        return stage

    def _stage_named(self, name: str, before: int, *, by_index: bool = True) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages[:before]:
            if stage.name and stage.name == lowered:
                return stage
        if by_index and name.isdigit():
            if int(name) >= before:
                raise InvalidParameter(f"invalid from flag value {name}: refers to current or a later build stage")
            return self.stages[int(name)]
        return None

    def _target_stage(self) -> Stage:
        if not self.options.target:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name == self.options.target.lower():
                return stage
        raise InvalidParameter(f"failed to reach build target {self.options.target} in Dockerfile")

    def _needed(self, stage: Stage) -> set[int]:
        out = {stage.index}
        for dep in stage.deps:
            out |= self._needed(self.stages[dep])
        return out

    def _number_steps(self, meta: list[parser.Instruction], stages: list[Stage]) -> None:
        number = 0
        for instruction in meta:
            number += 1
            self.step_numbers[id(instruction)] = number
        for stage in stages:
            for instruction in [stage.from_line, *stage.instructions]:
                number += 1
                self.step_numbers[id(instruction)] = number
        self.total_steps = number

    def _base_of(self, stage: Stage) -> Image | None:
        found = self._stage_named(stage.base, stage.index, by_index=False)
        if found is not None:
            return found.image
        if stage.base.lower() == "scratch":
            return None
        return self.store.get(stage.base)

    def _cache_from_images(self) -> set[str]:
        allowed: set[str] = set()
        for name in self.options.cache_from:
            try:
                image = self.store.get(name)
            except NotFound:
                continue  # as Docker: a --cache-from image that is not there is skipped
            while image is not None:
                allowed.add(image.id)
                try:
                    image = self.store.get(image.parent) if image.parent else None
                except NotFound:
                    image = None
        return allowed

    def _created(self) -> str:
        if self.options.source_date_epoch is not None:
            return rfc3339_ns(self.options.source_date_epoch * 1_000_000_000)
        return rfc3339_ns(now_ns())

    def _now(self) -> int:
        return self.options.source_date_epoch if self.options.source_date_epoch is not None else now_ns() // 10**9

    # -- one stage ---------------------------------------------------------------------------
    async def _build_stage(self, stage: Stage, sequencer: Sequencer, start) -> None:
        out = sequencer.outputs[stage.index]
        try:
            for dep in sorted(stage.deps):
                await start(dep)
            out.stream(self._header(stage.from_line))
            image = stage.base_image = await self._from(stage, out)
            config = copy.deepcopy((image.config.get("config") if image else None) or {})
            onbuild = list(config.get("OnBuild") or [])
            config["OnBuild"] = None
            state = ins.StageState(config, self.escape, self.options.build_args, meta_args=self.meta_args)
            step = Step(image, state, out, use_cache=not self.options.no_cache)
            out.stream(f" ---> {image.id[7:19] if image is not None else ''}\n")  # scratch: " ---> "
            if onbuild:
                out.stream(f"# Executing {len(onbuild)} build triggers\n")
                for text in onbuild:
                    await self._dispatch(stage, step, parser.parse_line(text, "ONBUILD trigger"))
            for instruction in stage.instructions:
                out.stream(self._header(instruction))
                await self._dispatch(stage, step, instruction)
            stage.image = step.image
        finally:
            sequencer.done(stage.index)

    def _header(self, instruction: parser.Instruction) -> str:
        return f"Step {self.step_numbers[id(instruction)]}/{self.total_steps} : {instruction.original}\n"

    async def _from(self, stage: Stage, out: StageOutput) -> Image | None:
        found = self._stage_named(stage.base, stage.index, by_index=False)
        if found is not None:
            return found.image
        if stage.base.lower() == "scratch":
            return None
        check_platform(stage.platform or self.options.platform)
        if not self.options.pull:
            try:
                return self.store.get(stage.base)
            except NotFound:
                pass
        if self.options.pull_image is None:
            raise NotFound(f"pull access denied for {stage.base}, repository does not exist or may require "
                           "'docker login'")
        ref = reference.parse(stage.base)
        await self.options.pull_image(ref, out.message)
        return self.store.get(str(ref))

    async def _dispatch(self, stage: Stage, step: Step, instruction: parser.Instruction) -> None:
        cmd = instruction.cmd
        if cmd == "FROM":
            raise InvalidParameter("FROM isn't allowed here")
        if cmd == "RUN":
            await self._run_step(step, instruction)
        elif cmd in ("COPY", "ADD"):
            await self._copy_step(stage, step, instruction)
        elif cmd == "WORKDIR":
            await self._workdir_step(step, instruction)
        else:
            comment = ins.apply_metadata(instruction, step.state)
            await self._commit(step, step.state.shell + ["#(nop) ", comment], None, intermediate=True)

    # -- committing a step -------------------------------------------------------------------
    async def _commit(self, step: Step, created_by: list[str], layer, *, extra: str = "",
                      ran: dict | None = None, intermediate: bool = False) -> None:
        """Reuse the cached image for this step, or make it: ``layer`` is a function that writes
        the step's layer tar into the content store and returns its DiffID (None: no layer); a RUN
        step's ``ran["cid"]`` names the container it ran, recorded in the image and then removed.
        ``intermediate`` (metadata, WORKDIR): as Docker's classic builder, the step commits a
        container made for it (created, never started), which is then removed."""
        config = copy.deepcopy(step.state.config)
        container_config = {**copy.deepcopy(step.state.config), "Cmd": created_by}
        parent_id = step.image.id if step.image else ""
        key = step_cache.step_key(parent_id, {"config": config, "container_config": container_config,
                                              "author": step.state.author}, extra)
        cached = self._cached(step, key, parent_id)
        if cached is not None:
            step.out.stream(" ---> Using cache\n")
            step.out.stream(f" ---> {cached.id[7:19]}\n")
            step.image = cached
            return
        step.use_cache = False  # as Docker: the first miss rebuilds every later step of the stage
        if intermediate and step.image is not None:  # Docker's FROM scratch too; ours needs an image
            ran = {"cid": (await self._create_container(step, created_by)).id}
        diff_id = await layer() if layer is not None else None
        container = (ran or {}).get("cid", "")
        history = {"created": self._created(), "created_by": " ".join(created_by)}
        if step.state.author:
            history["author"] = step.state.author
        image = await asyncio.to_thread(
            add_child_image, self.store, step.image, diff_id, config, history_row=history, created=history["created"],
            container="" if self.options.source_date_epoch is not None else container,
            container_config=container_config, author=step.state.author)
        size = self.store.layers.size(image.top_chain) if diff_id and image.top_chain else 0
        self.service.cache.put(key, image.id, size, " ".join(created_by)[:200])
        step.image = image
        if container:
            await self._remove_container(step, container)
        step.out.stream(f" ---> {image.id[7:19]}\n")

    def _cached(self, step: Step, key: str, parent_id: str) -> Image | None:
        if not step.use_cache:
            return None
        for image_id in self.service.cache.get(key):
            if self.cache_allowed is not None and image_id not in self.cache_allowed:
                continue
            try:
                image = self.store.get(image_id)
            except NotFound:
                continue
            if image.parent == parent_id:
                return image
        return None

    async def _ingest(self, write) -> str | None:
        """Run ``write(file)`` in a thread and store the tar; None for an empty layer."""
        def work() -> str | None:
            content = self.store.content
            with tempfile.TemporaryFile(dir=content.root) as tmp:
                write(tmp)
                if tmp.tell() <= EMPTY_TAR_SIZE:
                    return None
                tmp.seek(0)
                if self.options.source_date_epoch is not None:
                    with tempfile.TemporaryFile(dir=content.root) as clamped:
                        clamp_layer(tmp, clamped, self.options.source_date_epoch)
                        clamped.seek(0)
                        return content.ingest(chunks(clamped))
                return content.ingest(chunks(tmp))

        return await asyncio.to_thread(work)

    # -- RUN ---------------------------------------------------------------------------------
    async def _run_step(self, step: Step, instruction: parser.Instruction) -> None:
        state = step.state
        if instruction.json_args is not None:
            cmd = list(instruction.json_args)
        else:
            cmd = state.shell + [_heredoc_script(instruction)]
        args = state.run_args()
        saved = ([f"|{len(args)}", *args] if args else []) + cmd
        ran: dict[str, str] = {}

        async def layer() -> str | None:
            ran["cid"] = await self._run_container(step, cmd, instruction)
            diff_id = await asyncio.to_thread(self.service.commits.layer_from_container, ran["cid"])
            if diff_id is not None and self.options.source_date_epoch is not None:
                diff_id = await self._ingest(lambda out: _copy_blob(self.store.content.path(diff_id), out))
            return diff_id

        await self._commit(step, saved, layer, ran=ran)

    async def _create_container(self, step: Step, cmd: list[str]):
        """The step's container, created (not started) from the stage's image and config, as
        Docker's builder creates it; announced with Docker's ` ---> Running in <id>`."""
        containers = self.service.containers
        host_config = dict(self.options.host_config)
        if self.options.network_mode:
            host_config["NetworkMode"] = self.options.network_mode
        if self.options.extra_hosts:
            host_config["ExtraHosts"] = list(self.options.extra_hosts)
        body = {**copy.deepcopy(step.state.config), "Image": step.image.id if step.image else "", "Cmd": cmd,
                "Entrypoint": [], "Env": step.state.run_env(), "Healthcheck": None, "OnBuild": None,
                "HostConfig": host_config, "AttachStdout": True, "AttachStderr": True}
        body.pop("Shell", None)
        c, _ = containers.create_from_config(body, None)
        step.out.stream(f" ---> Running in {c.id[:12]}\n")
        return c

    async def _run_container(self, step: Step, cmd: list[str], instruction: parser.Instruction) -> str:
        if step.image is None:
            raise InvalidParameter(f"RUN needs a base image with a shell: {instruction.original}")
        containers = self.service.containers
        c = await self._create_container(step, cmd)
        # As Docker's builder: stderr reaches the stream in red (ANSI 91), each chunk on its own.
        attacher = Attacher(lambda stream, data: step.out.stream(
            data.decode("utf-8", "replace") if stream == 1 else f"\x1b[91m{data.decode('utf-8', 'replace')}\x1b[0m"),
            {1, 2})
        containers.runtime(c).attachers.append(attacher)
        try:
            await containers.start(c)
            code = await containers.wait(c)
        except BaseException:
            if c.state.running:
                containers.kill(c)
            await self._remove_container(step, c.id, quiet=True)
            raise
        try:
            await asyncio.wait_for(attacher.done.wait(), timeout=10)
        except TimeoutError:
            pass
        if code != 0:
            if self.options.force_rm:
                await self._remove_container(step, c.id, quiet=True)
            raise BuildFailed(f"The command '{' '.join(cmd)}' returned a non-zero code: {code}", code)
        return c.id

    async def _remove_container(self, step: Step, cid, *, quiet: bool = False) -> None:
        cid = str(cid)
        if not cid or (not self.options.rm and not self.options.force_rm and not quiet):
            return
        c = self.service.containers.find(cid)
        if c is None:
            return
        try:
            await self.service.containers.remove(c, force=True)
        except DockyardError:
            return
        if not quiet:
            step.out.stream(f"Removing intermediate container {cid[:12]}\n")

    # -- COPY / ADD --------------------------------------------------------------------------
    async def _copy_step(self, stage: Stage, step: Step, instruction: parser.Instruction) -> None:
        state = step.state
        cmd = instruction.cmd
        allowed = {"from", "chown", "chmod", "link"} | ({"keep-git-dir", "checksum"} if cmd == "ADD" else set())
        for flag in instruction.flags:
            if flag[2:].partition("=")[0] not in allowed:
                raise InvalidParameter(f"{cmd} failed: unknown flag: {flag.partition('=')[0]}")
        if instruction.json_args is not None:
            words = [state.expand(w) for w in instruction.json_args]
        else:
            words = state.expand_words(instruction.rest)
        heredocs = {h.name: h for h in instruction.heredocs}
        if len(words) < 2 and not (heredocs and words):
            raise InvalidParameter(f"{cmd} requires at least two arguments, but only {len(words)} provided")
        *raw_sources, dest_text = words
        workdir = state.config.get("WorkingDir") or "/"
        dest = clean(dest_text, workdir)
        if dest_text.endswith("/") and dest != "/":
            dest += "/"
        from_flag = instruction.flag("from")
        src_view, context_name, src_image = self._source_view(stage, from_flag, state)
        dest_view = self._image_view(step.image)
        chown = self._owner(instruction.flag("chown"), state, step.image)
        chmod_text = instruction.flag("chmod")
        chmod = None
        if chmod_text is not None:
            try:
                chmod = int(chmod_text, 8)
            except ValueError:
                raise InvalidParameter(f"invalid chmod parameter: {chmod_text}") from None
        sources: list[Source] = []
        archives: list[str] = []
        for text in raw_sources:
            marker = text.lstrip("<").lstrip("-").strip("\"'") if text.startswith("<<") else None
            if marker is not None and marker in heredocs:
                heredoc = heredocs[marker]
                body = heredoc.content
                if heredoc.expand:
                    body = expand_heredoc(body, state.expansion_env(), self.escape)
                sources.append(Source(marker, body.encode()))
                continue
            if cmd == "ADD" and text.startswith(("http://", "https://")):
                sources.append(await asyncio.to_thread(self._download, text, dest))
                continue
            sources.append(Source(text))
        if cmd == "ADD" and from_flag is None:
            sources, archives, src_view = await asyncio.to_thread(self._unpack_archives, sources, src_view)
        copier = Copier(src_view, dest_view, chown=chown, chmod=chmod, now=self._now(),
                        keep_owner=bool(archives))
        copy_plan = await asyncio.to_thread(plan, copier, sources, dest, instruction=cmd, context_name=context_name,
                                            archives=archives)
        comment = f"{cmd} {copy_plan.label} in {dest} "
        if from_flag is not None:
            comment = f"{cmd} --from={from_flag} {copy_plan.label} in {dest} "
        entries = copy_plan.entries
        clamp = self.options.source_date_epoch

        async def layer() -> str | None:
            return await self._ingest(lambda out: write_layer(entries, out, clamp))

        extra = copy_plan.checksum + (src_image or "")
        await self._commit(step, state.shell + ["#(nop) " + comment], layer, extra=extra)

    def _source_view(self, stage: Stage, from_flag: str | None, state: ins.StageState) -> tuple[FSView, str, str]:
        if from_flag is None:
            return ArchiveView(self.context), "build context or excluded by .dockerignore", ""
        name = state.expand(from_flag)
        found = self._stage_named(name, stage.index)
        if found is not None:
            image = found.image
        else:
            try:
                image = self.store.get(name)
            except NotFound:
                raise InvalidParameter(f"invalid from flag value {name}: no stage or image named {name} "
                                       "(pull the image first)") from None
        return self._image_view(image), f"image {name}", image.id if image else ""

    def _image_view(self, image: Image | None) -> FSView:
        if image is None or image.top_chain is None:
            empty = os.path.join(self.work_dir, "empty")
            os.makedirs(empty, exist_ok=True)
            return FSView([empty], plain=True)
        snapshotter = self.store.layers.snapshotter
        keys = snapshotter.parent_chain(self.store.layers.snapshot_key(image.top_chain))
        return FSView([snapshotter.fs_path(k) for k in keys])

    def _owner(self, text: str | None, state: ins.StageState, image: Image | None) -> tuple[int, int] | None:
        if text is None:
            return None
        spec = state.expand(text)
        view = self._image_view(image)

        def read(path: str) -> str | None:
            found = view.find(view.resolve(path.lstrip("/")))
            if found is None or not os.path.isfile(found):
                return None
            with open(found, encoding="utf-8", errors="replace") as f:
                return f.read()

        user, _, group = spec.partition(":")
        # Docker's rule: a user without a group gets the same number as its GID.
        uid = int(user) if user.isdigit() else resolve_user(user, read).uid
        if not group:
            return uid, uid
        gid = int(group) if group.isdigit() else resolve_user(f"0:{group}", read).gid
        return uid, gid

    def _download(self, url: str, dest: str) -> Source:
        from dockyard.images.url_source import open_url

        name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
        with open_url(url) as response:
            data = response.read()
        return Source(name, data, 0o600)

    def _unpack_archives(self, sources: list[Source], view: FSView) -> tuple[list[Source], list[str], FSView]:
        """ADD unpacks local tar archives: each goes into a scratch directory whose contents are copied."""
        archives: list[str] = []
        found = {n: rel for n, s in enumerate(sources) if s.data is None
                 and (rel := _local_archive(view, s.path)) is not None}
        if not found:
            return sources, archives, view
        staging = os.path.join(self.work_dir, "add")
        os.makedirs(staging, exist_ok=True)
        link = os.path.join(staging, "context")
        if not os.path.lexists(link):  # the other sources, from the context unpacked for this step
            os.symlink(self.context.directory(self.work_dir), link)
        out = []
        for number, source in enumerate(sources):
            if number in found:
                target = os.path.join(staging, f"archive-{number}")
                os.makedirs(target)
                content = view.content(found[number])
                with open(content, "rb") if isinstance(content, str) else io.BytesIO(content) as f:
                    extract(f, target)
                archives.append(f"archive-{number}")
                out.append(Source(f"archive-{number}"))
            elif source.data is None:
                out.append(Source("context/" + source.path.lstrip("/")))
            else:
                out.append(source)
        return out, archives, FSView([staging], plain=True)

    # -- WORKDIR -----------------------------------------------------------------------------
    async def _workdir_step(self, step: Step, instruction: parser.Instruction) -> None:
        path = ins.workdir_path(instruction.rest, step.state)
        step.state.config["WorkingDir"] = path
        view = self._image_view(step.image)
        rel = view.resolve(path.lstrip("/"))
        exists = rel == "" or (view.lstat(rel) is not None)
        entries: list[Entry] = []
        if not exists:
            copier = Copier(view, view, chown=None, chmod=None, now=self._now())
            copier.entries[rel] = Entry(rel, "dir", 0o755, 0, 0, self._now())
            entries = copier.finish()
        clamp = self.options.source_date_epoch

        async def layer() -> str | None:
            return await self._ingest(lambda out: write_layer(entries, out, clamp)) if entries else None

        await self._commit(step, step.state.shell + ["#(nop) WORKDIR " + path], layer, intermediate=True)


def _copy_blob(path: str, out) -> None:
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)


def _local_archive(view: FSView, path: str) -> str | None:
    """The source's path in ``view`` when it is a tar archive ADD unpacks."""
    try:
        rel = view.resolve(path.lstrip("/"))
    except OSError:
        return None
    return rel if rel and is_archive(view, rel) else None


def _heredoc_script(instruction: parser.Instruction) -> str:
    """RUN with heredocs: `RUN <<EOF` alone runs the body as the script; otherwise the shell gets the
    command line and the heredoc bodies, and does the redirection itself."""
    if not instruction.heredocs:
        return instruction.rest
    only = instruction.heredocs[0]
    if len(instruction.heredocs) == 1 and instruction.rest.strip().lstrip("<").lstrip("-").strip("\"'") == only.name:
        return only.content
    text = instruction.rest
    for heredoc in instruction.heredocs:
        text += "\n" + heredoc.content + heredoc.name
    return text
