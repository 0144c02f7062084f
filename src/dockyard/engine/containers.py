"""The container service: the rules of a container's life (create, start, stop, restart, remove,
auto-remove, exec bookkeeping), on the record store and the seams of engine/seams.py. Knows
nothing of HTTP. Its parts live beside it: records (containerstore), the Config merge
(configmerge), the OCI spec (ocispec), the init layer (initlayer), crash reconciliation
(reconcile), restart scheduling (restarts) and `top`."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import dataclasses
import errno
import logging
import os
import posixpath
import shutil
import signal

from dockyard.engine import isolation, logconfig, reconcile, restart, securityopts, taskfiles
from dockyard.engine.archive import fill_from_image
from dockyard.engine.configmerge import merge_config, normalize_host_config
from dockyard.engine.container import Container, Run, Runtime, State
from dockyard.engine.containerstore import ContainerStore
from dockyard.engine.events import EventBus
from dockyard.engine.execrecords import ExecRecords
from dockyard.engine.initlayer import init_layer, prepare_rootfs
from dockyard.engine.mounts import MountPlanner, needs_copy
from dockyard.engine.netplan import apply_network_plan
from dockyard.engine.ocispec import INIT_TARGET, SpecBuilder, cgroup_path, init_binary
from dockyard.engine.restarts import RestartSchedule
from dockyard.engine.runtimes import Runtimes
from dockyard.engine.seams import ContainerLayers, ImageSource, NetworkAttachment, ProcessLauncher, VolumeUse
from dockyard.engine.specs.codec import from_json, to_json
from dockyard.engine.specs.containers import (
    ContainerCreate,
    ContainerUpdate,
    HostConfig,
    Resources,
    RestartPolicy,
    config_from_json,
)
from dockyard.engine.top import top
from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound
from dockyard.images.layerstore import tree_size
from dockyard.network.namefiles import write_name_files
from dockyard.runtime.linux import resources
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.userns import IdMap
from dockyard.runtime.process import launch, pump_output, read_exit
from dockyard.storage.snapshotter import Mount
from dockyard.util.aio import background
from dockyard.util.ids import new_id
from dockyard.util.names import generate_name
from dockyard.util.signals import parse_signal
from dockyard.util.timefmt import now_ns

log = logging.getLogger("dockyard.containers")

CGROUP_GONE = (errno.ENOENT, errno.ENODEV)  # a cgroup file whose cgroup is removed or being removed


class StartFailed(DockyardError):
    """The runtime could not start the process (bad command, missing binary)."""

    status = 400


class ContainerService:
    def __init__(self, store: ContainerStore, images: ImageSource, snapshotter: ContainerLayers,
                 launcher: ProcessLauncher, events: EventBus, volumes: VolumeUse, runtimes: Runtimes,
                 execs: ExecRecords, network: NetworkAttachment | None = None, idmap: IdMap | None = None,
                 cgroup_parent: str = "dockyard") -> None:
        self.store = store
        self.images = images
        self.snapshotter = snapshotter
        self.launcher = launcher
        self.events = events
        self.volumes = volumes
        self.runtimes = runtimes
        self.execs = execs  # forgotten with their container
        self.network = network  # None: containers get no networking (tests of the engine's rules)
        self.idmap = idmap  # a userns-remapped daemon's ranges
        self.cgroup_parent = cgroup_parent  # dockyardd --cgroup-parent: for containers that name none
        self.mounts = MountPlanner(volumes, store.get)
        self.specs = SpecBuilder(snapshotter, volumes, store.get, store.container_dir, store.state_dir, idmap,
                                 cgroup_parent)
        self.restarts = RestartSchedule(store.save)
        self.on_start: list = []  # callbacks run after each successful start (health checks)

    # -- the records (see ContainerStore) ----------------------------------------------------
    def container_dir(self, cid: str) -> str:
        return self.store.container_dir(cid)

    def state_dir(self, cid: str) -> str:
        return self.store.state_dir(cid)

    def log_path(self, cid: str) -> str:
        return self.store.log_path(cid)

    def save(self, c: Container) -> None:
        self.store.save(c)

    def list(self) -> list[Container]:
        return self.store.list()

    def get(self, ref: str) -> Container:
        return self.store.get(ref)

    def find(self, cid: str) -> Container | None:
        return self.store.find(cid)

    def linked(self, ref: str) -> tuple[Container, str, Container]:
        return self.store.linked(ref)

    def link_names(self) -> dict[str, builtins.list[str]]:
        return self.store.link_names()

    def runtime(self, c: Container) -> Runtime:
        return self.store.runtime(c)

    def uses_image(self, image_id: str) -> builtins.list[Container]:
        return self.store.uses_image(image_id)

    def load(self) -> None:
        """Rebuild the indexes from disk, and finish or undo what a crash interrupted: files left
        by a create or remove that never completed go; containers that ran or stopped while we
        were away are reconciled with what their shims recorded."""
        for cid, c in self.store.scan():
            if c is None:
                log.info("removing the leftovers of an interrupted create or remove: %s", cid)
                self._delete_files(cid)
                continue
            self.store.add(c)
            self._use_volumes(c)
            self._reconcile(c)
        for image_id in self.images.held():  # a crash between a container's removal and this release
            if not self.uses_image(image_id):
                self.images.release_held(image_id)

    async def apply_policies_at_boot(self) -> None:
        """Start the containers whose restart policy says so (after load()), and resume the
        watchers (health checks) of those still running."""
        for c in self.list():
            if c.state.status == "running":
                for callback in self.on_start:
                    callback(c)
                continue
            if c.state.status in ("exited", "created") and c.state.started_at and restart.restart_on_daemon_start(
                    c.host_config.restart_policy, c.manually_stopped):
                try:
                    await self._start(c)
                except DockyardError as exc:
                    log.warning("restarting %s at daemon start failed: %s", c.id[:12], exc)

    def _reconcile(self, c: Container) -> None:
        state_dir = self.state_dir(c.id)
        live = reconcile.live_shim(state_dir)
        if live and c.state.status not in ("running", "paused"):
            c.state = reconcile.adopted_state(c, live)
            self.save(c)
        if not c.state.running:
            return
        if live is None:
            c.state = reconcile.exit_state(c, state_dir)
            self.save(c)
            return
        pidfd = os.pidfd_open(live["shim"])
        loop = asyncio.get_event_loop()
        rt = self.runtime(c)
        rt.run = Run()
        pump = asyncio.ensure_future(reconcile.reconnect_stdio(c, rt, state_dir))

        def shim_exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            pump.cancel()
            for attacher in list(rt.attachers):
                attacher.done.set()
            rt.stdin_writer = None
            rt.started = asyncio.Event()
            self._record_exit_from_file(c)
            self._end_run(rt)
            self._after_exit(c)

        loop.add_reader(pidfd, shim_exited)

    def _record_exit_from_file(self, c: Container) -> None:
        c.state = reconcile.exit_state(c, self.state_dir(c.id))
        self.save(c)

    def emit(self, c: Container, action: str, **extra: str) -> None:
        attributes = {**(c.config.labels or {}), "image": c.config.image or "",
                      "name": c.name.lstrip("/"), **extra}
        self.events.publish("container", action, c.id, attributes)

    # -- links -------------------------------------------------------------------------------
    def remove_link(self, ref: str) -> None:
        """`DELETE /containers/<parent>/<alias>?link=1`: the parent forgets the link (Docker's rmLink);
        both containers stay."""
        parent, entry, _target = self.linked(ref)
        parent.host_config.links = [e for e in parent.host_config.links or [] if e != entry] or None
        self.save(parent)

    # -- create ----------------------------------------------------------------------------
    def create(self, spec: ContainerCreate, name: str | None) -> tuple[Container, builtins.list[str]]:
        image_ref = spec.image or ""
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        if name:
            name = self.store.check_name(name)
        image = self.images.get(image_ref)
        host_config = copy.deepcopy(spec.host_config) if spec.host_config is not None else HostConfig()
        host_config.log_config = logconfig.validate(host_config.log_config)
        resources.validate({}, to_json(host_config))  # the runtime's checks, in Docker's names
        securityopts.validate(host_config)
        if host_config.init:
            init_binary()
        host_config.restart_policy = restart.validate(host_config.restart_policy, bool(host_config.auto_remove))
        warnings = isolation.validate(host_config, self.get, self.idmap)
        if host_config.network_mode == "host" and host_config.port_bindings:
            warnings.append("Published ports are discarded when using host network mode")
        host_config.runtime = self.runtimes.resolve(host_config.runtime)
        config = merge_config(spec, config_from_json(image.config.get("config")))
        command = list(config.entrypoint or []) + list(config.cmd or [])
        if not command:
            raise InvalidParameter("No command specified")
        cid = new_id()
        if not name:
            name = "/" + generate_name()
            retry = 0
            while self.store.taken(name):
                retry += 1
                name = "/" + generate_name(retry)
        networking = to_json(spec.networking_config) if spec.networking_config is not None else None
        network_settings = self.network.plan_create(cid, config, host_config, networking,
                                                    name=name) if self.network else {}
        if not config.hostname:
            config.hostname = cid[:12]
        config.image = image_ref
        created = self.store.next_created(now_ns())
        container = Container(
            id=cid, name=name, created=created, path=command[0], args=command[1:], config=config,
            host_config=normalize_host_config(host_config), image_id=image.id, driver=self.snapshotter.name,
            network_settings=network_settings,
        )
        self.store.reserve_name(name, cid)  # before any slow step
        directory = self.container_dir(cid)
        try:
            # Validates every mount spec before it creates any volume they name.
            container.mount_points = self.mounts.plan(host_config, config, {})
            self._use_volumes(container)
            os.makedirs(directory)
            prepare_rootfs(self.snapshotter, cid, self.images.layers.snapshot_key(image.top_chain),
                           (INIT_TARGET,) if host_config.init else (), self.idmap)
            write_name_files(directory, config.hostname)
            self.save(container)
        except BaseException:
            self.store.release_name(name)
            self._release_volumes(container, remove_anonymous=True)
            self.snapshotter.remove(cid)
            self.snapshotter.remove(init_layer(cid))
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self.store.add(container)
        self.emit(container, "create")
        return container, warnings

    def create_from_config(self, body: dict, name: str | None = None) -> tuple[Container, builtins.list[str]]:
        """create() for a body in Docker's JSON that the engine's own parts hold (a build stage's
        image config and RUN settings): read as records are, without the checks of a client's
        request, which no client would be there to read."""
        return self.create(from_json(ContainerCreate, body, strict=False), name)

    # -- start -----------------------------------------------------------------------------
    def build_spec(self, c: Container) -> dict:
        return self.specs.build(c)

    def running_spec(self, c: Container) -> dict:
        """The spec the container was started with (rebuilt after a daemon restart)."""
        rt = self.store.runtime_of(c.id)
        if rt is not None and rt.spec is not None:
            return rt.spec
        return self.build_spec(c)

    def cgroup_path(self, c: Container) -> str:
        return cgroup_path(c, self.cgroup_parent)

    async def settled(self, c: Container) -> None:
        """Wait until no start of ``c`` is under way. Docker's container lock makes stop, kill,
        pause and rm wait for a start; here they wait for Runtime.starting, so that none of them
        meets a container that counts as running (or restarting) while its PID is still 0."""
        while (rt := self.store.runtime_of(c.id)) is not None and rt.starting is not None:
            await asyncio.shield(rt.starting)  # a caller that goes away leaves the start alone

    async def pause(self, c: Container) -> None:
        await self.settled(c)
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is already paused")
        if c.state.status == "restarting":  # waiting out the policy's backoff: no process to freeze
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        try:
            await asyncio.to_thread(Cgroup(self.cgroup_path(c)).freeze)
        except OSError as exc:
            if exc.errno not in CGROUP_GONE:
                raise
            # Its cgroup is gone (or going): the process exited and its exit is not yet seen.
            raise Conflict(f"Container {c.id} is not running") from None
        if c.state.status != "running":  # it exited while the freeze ran: its exit stands
            raise Conflict(f"Container {c.id} is not running")
        c.state.status = "paused"
        self.save(c)
        self.emit(c, "pause")

    async def unpause(self, c: Container) -> None:
        if c.state.status != "paused":
            raise Conflict(f"Container {c.id} is not paused")
        try:
            await asyncio.to_thread(Cgroup(self.cgroup_path(c)).thaw)
        except OSError as exc:
            if exc.errno not in CGROUP_GONE:
                raise
            # Its processes exited (an empty cgroup freezes) and the cgroup went: nothing to thaw.
        if c.state.status != "paused":  # it exited while the thaw ran: its exit stands
            return
        c.state.status = "running"
        self.save(c)
        self.emit(c, "unpause")

    async def start(self, c: Container) -> bool:
        """A start a user asked for (`docker start`, the builder's RUN). False when the container
        runs or waits for a policy restart already (Docker answers 304 Not Modified). The start
        re-arms the restart policy; a --rm container whose start fails is removed, as Docker's is."""
        await self.settled(c)  # a second `docker start` meanwhile finds the first one's process
        if c.state.status in ("running", "paused", "restarting"):
            return False
        c.manually_stopped = False
        try:
            await self._start(c)
        except Exception:
            if c.host_config.auto_remove and not c.state.running:
                await self.remove(c, force=True)
            raise
        return True

    async def restart(self, c: Container, timeout: int | None = None) -> None:
        """`docker restart`: stop (see stop()), then start again; the restart policy is re-armed,
        as Docker's restart does."""
        await self.stop(c, timeout)
        c.manually_stopped = False
        await self._start(c)

    async def _start(self, c: Container, *, policy_restart: bool = False) -> None:
        """One start at a time, marked in Runtime.starting from here to its end (see settled())."""
        await self.settled(c)
        rt = self.runtime(c)
        rt.starting = done = asyncio.get_running_loop().create_future()  # no await since settled()
        try:
            await self._launch(c, policy_restart=policy_restart)
        finally:
            rt.starting = None
            done.set_result(None)

    async def _launch(self, c: Container, *, policy_restart: bool) -> None:
        if c.state.status in ("running", "paused") or (c.state.status == "restarting" and not policy_restart):
            return
        if c.state.status in ("removing", "dead"):
            raise Conflict(f"cannot start container {c.id[:12]}: container is marked for removal")
        for point in c.mount_points:
            if needs_copy(self.volumes, point):
                await fill_from_image(self, c, point)
        if c.task_files and not taskfiles.present(self.state_dir(c.id)):
            raise Conflict(f"cannot start container {c.id[:12]}: its secrets and configs went when it stopped "
                           "(a task's files live in memory while it runs); the swarm starts a new task instead")
        if c.host_config.ipc_mode == "shareable":
            isolation.mount_shareable_shm(self.container_dir(c.id), c.host_config.shm_size or 0)
        plan = await self.network.prepare(c) if self.network else None
        try:
            spec = self.build_spec(c)
            if plan is not None:
                apply_network_plan(spec, plan, c)
            self.runtime(c).spec = spec
        except BaseException:
            self._release_network(c)
            raise
        state_dir = self.state_dir(c.id)
        os.makedirs(os.path.join(state_dir, "rootfs"), exist_ok=True)
        for stale in ("exit.json", "pid.json"):
            try:
                os.unlink(os.path.join(state_dir, stale))
            except FileNotFoundError:
                pass
        config = c.config
        log_config = c.host_config.log_config
        log_options = (log_config.config if log_config else None) or {}
        request = {
            "id": c.id,
            "spec": spec,
            "rootfs_mounts": [m.to_dict() for m in self.snapshotter.mounts(c.id)],
            "log_path": self.log_path(c.id) if logconfig.reads_back(log_config) else None,
            "log_max_size": logconfig.parse_size(log_options["max-size"]) if "max-size" in log_options else -1,
            "log_max_file": int(log_options.get("max-file", "1")),
            "log_attrs": logconfig.attributes(log_options, config.labels or {}, config.env or []),
            "state_dir": state_dir,
            "tty": bool(config.tty),
            "open_stdin": bool(config.open_stdin),
        }
        oci_runtime = self.runtimes.oci_request(c.host_config.runtime)
        if oci_runtime:
            request["oci_runtime"] = oci_runtime
        try:
            launched = await launch(self.launcher, request)
        except BaseException:
            self._release_network(c)
            raise
        message = launched.first
        rt = self.runtime(c)
        if "error" in message:
            launched.close()
            self._release_network(c)
            error = message["error"]
            code = 126 if "permission denied" in error else 127
            c.state = State(status="created" if not c.state.started_at else "exited", exit_code=code,
                            error=error, started_at=c.state.started_at, finished_at=c.state.finished_at)
            self.save(c)
            raise StartFailed("failed to create task for container: OCI runtime create failed: "
                              f"unable to start container process: {error}: unknown")
        # FinishedAt stays that of the last run, as Docker's SetRunning leaves it
        c.state = State(status="running", pid=message["pid"], shim_pid=message.get("shim", 0),
                        started_at=now_ns(), finished_at=c.state.finished_at)
        rt.run = Run()  # in the step that records "running": a follower that sees one sees the other
        self.save(c)
        self.emit(c, "start")
        for callback in self.on_start:
            callback(c)
        rt.ctl_writer = launched.ctl_writer
        rt.control = launched.control
        rt.stdin_writer = launched.io_writer
        rt.started.set()
        pump = asyncio.ensure_future(pump_output(launched.io_reader, bool(config.tty), rt.attachers))
        background(self._watch(c, launched.ctl_reader, pump))

    async def _watch(self, c: Container, ctl: asyncio.StreamReader, pump: asyncio.Future) -> None:
        message = await read_exit(ctl)
        try:
            await asyncio.wait_for(asyncio.shield(pump), timeout=5)
        except TimeoutError:
            pass
        rt = self.store.runtime_of(c.id)
        if rt is not None:
            if rt.ctl_writer:
                rt.ctl_writer.close()
                rt.ctl_writer = None
            if rt.control:
                rt.control.close()
                rt.control = None
            if rt.stdin_writer:
                rt.stdin_writer.close()
                rt.stdin_writer = None
            rt.started = asyncio.Event()
        if "exit" in message:
            c.state = State(status="exited", exit_code=message["exit"], started_at=c.state.started_at,
                            finished_at=message["finished"], health=c.state.health,
                            oom_killed=bool(message.get("oom_killed")))
            self.save(c)
        else:
            self._record_exit_from_file(c)
        if rt is not None:
            self._end_run(rt)
        self._after_exit(c)

    @staticmethod
    def _end_run(rt: Runtime) -> None:
        """The exit is recorded: followers of this start's output finish (see Run)."""
        if rt.run is not None:
            rt.run.ended.set()
            rt.run = None

    def _release_network(self, c: Container) -> None:
        if self.network is not None:
            self.network.release(c)
            self.save(c)

    def _after_exit(self, c: Container) -> None:
        isolation.unmount_shareable_shm(self.container_dir(c.id))
        if c.task_files:  # a task's secrets and configs go with its container's end, as in Docker
            taskfiles.release(self.state_dir(c.id))
        self._release_network(c)
        if c.state.oom_killed:
            self.emit(c, "oom")
        self.emit(c, "die", exitCode=str(c.state.exit_code))
        rt = self.store.runtime_of(c.id)
        if rt is not None:
            waiters, rt.exit_waiters = rt.exit_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(c.state.exit_code)
        if c.host_config.auto_remove:
            background(self._auto_remove(c))
        elif rt is not None and restart.should_restart(c.host_config.restart_policy, c.state.exit_code,
                                                       c.restart_count, c.manually_stopped):
            self.restarts.schedule(c, rt, self._restart_now)

    async def _restart_now(self, c: Container) -> None:
        rt = self.store.runtime_of(c.id)
        if rt is None or c.state.status != "restarting":
            return
        rt.pending_restart = None
        c.restart_count += 1
        try:
            await self._start(c, policy_restart=True)
        except DockyardError as exc:
            log.warning("restarting %s failed: %s", c.id[:12], exc)
            self._after_exit(c)

    def cancel_restart(self, c: Container) -> bool:
        """Stop a pending policy restart; True if there was one."""
        return self.restarts.cancel(c, self.store.runtime_of(c.id))

    async def _auto_remove(self, c: Container) -> None:
        try:
            await self.remove(c, force=True, volumes=True)
        except DockyardError as exc:
            log.warning("auto-removing %s: %s", c.id[:12], exc)

    # -- signals, wait, remove --------------------------------------------------------------
    def kill(self, c: Container, sig: int = signal.SIGKILL, *, manual: bool = False) -> None:
        if manual and c.state.status == "restarting":
            c.manually_stopped = True
            self.cancel_restart(c)
            return
        if not c.state.running or not c.state.pid:
            raise Conflict(f"Container {c.id} is not running")
        if manual:
            c.manually_stopped = True
            self.save(c)
            self.emit(c, "kill", signal=str(sig))
        try:
            os.kill(c.state.pid, sig)
        except ProcessLookupError:
            pass
        if c.state.status == "paused":
            # A frozen process cannot act on a signal; Docker thaws it so the signal lands.
            try:
                Cgroup(self.cgroup_path(c)).thaw()
            except OSError as exc:
                if exc.errno not in CGROUP_GONE:
                    raise
                # SIGKILL ended it before the thaw and its shim removed the cgroup: nothing to thaw.
            c.state.status = "running"
            self.save(c)

    async def kill_and_wait(self, c: Container, sig: int) -> None:
        """`docker kill`: with SIGKILL, Docker answers once the exit is recorded (at most 10 s)."""
        await self.settled(c)
        waiter = None
        if sig == signal.SIGKILL and c.state.status in ("running", "paused"):
            waiter = asyncio.get_running_loop().create_future()
            self.runtime(c).exit_waiters.append(waiter)
        try:
            self.kill(c, sig, manual=True)
        except BaseException:
            if waiter is not None:
                self.runtime(c).exit_waiters.remove(waiter)
            raise
        if waiter is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout=10)

    async def stop(self, c: Container, timeout: int | None = None) -> bool:
        """SIGTERM (or the image's STOPSIGNAL), then SIGKILL after ``timeout`` seconds.
        Returns False when the container was not running (Docker answers 304)."""
        await self.settled(c)  # a start under way (the policy's too) ends first; this stop then ends it
        c.manually_stopped = True
        self.save(c)  # durable before the signal: a crash now must not undo the user's stop
        if self.cancel_restart(c):
            return True
        if not c.state.running:
            return False
        if timeout is None:
            timeout = 10 if c.config.stop_timeout is None else int(c.config.stop_timeout)
        stop_signal = parse_signal(c.config.stop_signal or "SIGTERM")
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self.runtime(c).exit_waiters.append(waiter)
        self.emit(c, "kill", signal=str(stop_signal))
        if timeout != 0:
            self.kill(c, stop_signal)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout=timeout if timeout > 0 else None)
                self.emit(c, "stop")
                return True
            except TimeoutError:
                log.info("container %s did not stop within %s s after signal %s; killing it", c.id[:12], timeout,
                         stop_signal)
        if c.state.running:
            self.emit(c, "kill", signal=str(int(signal.SIGKILL)))
            self.kill(c, signal.SIGKILL)
            await asyncio.wait_for(waiter, timeout=30)
        self.emit(c, "stop")
        return True

    def rename(self, c: Container, new_name: str) -> None:
        if "/" + new_name.lstrip("/") == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        new_name = self.store.check_name(new_name)
        old = c.name
        c.name = new_name
        try:
            self.save(c)
        except BaseException:
            c.name = old
            raise
        self.store.reserve_name(new_name, c.id)
        self.store.release_name(old)
        self.emit(c, "rename", oldName=old)

    async def update(self, c: Container, update: ContainerUpdate) -> builtins.list[str]:
        """`docker update`: resources on the live cgroup and the restart policy; returns warnings."""
        await self.settled(c)  # a start under way: its cgroup is not made yet
        changes = to_json(update)  # the runtime takes resources in Docker's names
        merged = resources.validate(to_json(c.host_config), changes)
        policy = c.host_config.restart_policy or RestartPolicy("no", 0)
        if update.restart_policy is not None and update.restart_policy.name:
            if c.host_config.auto_remove:
                raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the "
                                       "container")
            policy = restart.validate(update.restart_policy, False)
        if c.state.running and c.state.status != "restarting":  # as Docker: the next start applies them
            try:
                await asyncio.to_thread(resources.apply, Cgroup(self.cgroup_path(c)),
                                        {k: v for k, v in merged.items() if k in changes})
            except OSError as exc:  # a value the kernel refuses that no rule above foresaw
                raise InvalidParameter(f"Cannot update container {c.id}: {exc.strerror or exc}"
                                       f"{f' ({os.path.basename(exc.filename)})' if exc.filename else ''}") from None
        kept = from_json(Resources, {k: v for k, v in merged.items() if v is not None}, strict=False)
        for f in dataclasses.fields(Resources):
            if getattr(kept, f.name) is not None:
                setattr(c.host_config, f.name, getattr(kept, f.name))
        c.host_config.restart_policy = policy
        self.save(c)
        self.emit(c, "update")
        return []

    def resize(self, c: Container, height: int, width: int) -> None:
        """Set a TTY container's window size (the shim owns the terminal's master side)."""
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        rt = self.runtime(c)
        if c.config.tty and rt.control is not None:
            rt.control.send({"resize": [height, width]})

    async def wait(self, c: Container, condition: str = "not-running") -> int:
        rt = self.runtime(c)
        loop = asyncio.get_running_loop()
        if condition == "removed":
            waiter = loop.create_future()
            rt.removed_waiters.append(waiter)
            return await waiter
        if condition == "not-running" and not c.state.running:
            return c.state.exit_code
        waiter = loop.create_future()
        rt.exit_waiters.append(waiter)
        return await waiter

    async def remove(self, c: Container, *, force: bool = False, volumes: bool = False) -> None:
        await self.settled(c)
        if self.find(c.id) is None:
            return
        if c.state.status == "restarting" and force:
            self.cancel_restart(c)
        if c.state.running:
            if not force:
                procedure = "Stop the container before attempting removal or force remove"
                if c.state.status == "paused":
                    procedure = "Unpause and then " + procedure.lower()
                raise Conflict(f"You cannot remove a {c.state.status} container {c.id}. {procedure}")
            waiter = asyncio.get_running_loop().create_future()
            self.runtime(c).exit_waiters.append(waiter)
            self.kill(c, signal.SIGKILL)
            await asyncio.wait_for(waiter, timeout=30)
        if self.find(c.id) is None:  # removed meanwhile (auto-remove)
            return
        if c.state.status == "removing":
            raise Conflict(f"removal of container {c.id[:12]} is already in progress")
        c.state.status = "removing"
        await asyncio.to_thread(self._delete_files, c.id)
        self._release_volumes(c, remove_anonymous=volumes)
        rt = self.store.drop(c)
        if not self.uses_image(c.image_id):  # the layers of an image `rmi -f` deleted under it
            await asyncio.to_thread(self.images.release_held, c.image_id)
        self.execs.forget_container(c.id)
        self.emit(c, "destroy")
        if rt is not None:
            for waiter in rt.removed_waiters:
                if not waiter.done():
                    waiter.set_result(c.state.exit_code)

    def _use_volumes(self, c: Container) -> None:
        for point in c.mount_points:
            if point["Type"] == "volume":
                self.volumes.use(point["Name"], c.id)

    def _release_volumes(self, c: Container, *, remove_anonymous: bool) -> None:
        """Drop the container's references; with ``remove_anonymous`` (rm -v, --rm) also remove its
        anonymous volumes that no other container uses. Named volumes always stay."""
        for point in c.mount_points:
            if point["Type"] != "volume":
                continue
            self.volumes.release(point["Name"], c.id)
            if remove_anonymous and point.get("anonymous") and not self.volumes.users(point["Name"]):
                try:
                    self.volumes.remove(point["Name"])
                except (NotFound, Conflict) as exc:
                    log.warning("could not remove volume %s of container %s: %s", point["Name"], c.id[:12], exc)

    def _delete_files(self, cid: str) -> None:
        isolation.unmount_shareable_shm(self.container_dir(cid))
        self.store.delete_record(cid)  # first: a crash part-way leaves orphan files, never a record without files
        self.snapshotter.remove(cid)
        self.snapshotter.remove(init_layer(cid))
        taskfiles.release(self.state_dir(cid))  # a task's in-memory secrets and configs
        shutil.rmtree(self.state_dir(cid), ignore_errors=True)
        shutil.rmtree(self.container_dir(cid), ignore_errors=True)

    @staticmethod
    def check_writable(c: Container, path: str) -> None:
        """`docker cp` into a container: may ``path`` be written? moby's checkIfPathIsInAVolume:
        the innermost mount holding the path decides; a running container's read-only rootfs refuses."""
        target = posixpath.normpath(posixpath.join("/", path))
        holders = [m for m in c.mount_points
                   if target == m["Destination"] or target.startswith(m["Destination"].rstrip("/") + "/")]
        volume = max(holders, key=lambda m: len(m["Destination"]), default=None)
        if volume is not None and not volume.get("RW", True):
            raise DockyardError("mounted volume is marked read-only")
        if volume is None and c.host_config.readonly_rootfs and c.state.running:
            raise Conflict("container rootfs is marked read-only")

    def rootfs_mounts(self, c: Container) -> builtins.list[Mount]:
        """The mounts that make the container's root filesystem (none once its layer is gone)."""
        return self.snapshotter.mounts(c.id) if self.snapshotter.exists(c.id) else []

    def rootfs_path(self, c: Container) -> str:
        return os.path.join(self.state_dir(c.id), "rootfs")

    def changes(self, c: Container) -> builtins.list[tuple[str, int]]:
        return self.snapshotter.changes(c.id)

    def sizes(self, c: Container) -> tuple[int, int]:
        """(SizeRw, SizeRootFs): the writable layer's bytes, and those plus the image's."""
        rw = tree_size(self.snapshotter.fs_path(c.id))
        held = self.images.held_size(c.image_id)  # the image was deleted under the container
        return rw, rw + (held if held is not None else self.images.get(c.image_id).size)

    def image_name(self, c: Container) -> str:
        """The IMAGE column of `docker ps`: the reference the container was created from while it
        still names the container's image, its ID otherwise."""
        label = c.config.image or c.image_id
        try:
            return label if self.images.get(label).id == c.image_id else c.image_id
        except (NotFound, InvalidParameter):
            return c.image_id

    def image_id(self, ref: str) -> str | None:
        """The ID of the image ``ref`` names, None when none does."""
        try:
            return self.images.get(ref).id
        except NotFound:
            return None

    def top(self, c: Container, ps_args: str) -> dict:
        """`docker top`: the host's `ps` output, limited to the container's processes."""
        return top(c, self.cgroup_path(c), ps_args)

    async def prune(self, until_ns: int | None, label_filter) -> tuple[builtins.list[str], int]:
        """`docker container prune`: remove stopped containers; returns (IDs, bytes reclaimed)."""
        deleted, reclaimed = [], 0
        for c in self.list():
            if c.state.running or c.state.status == "removing":
                continue
            if until_ns is not None and c.created >= until_ns:
                continue
            if not label_filter(c.config.labels or {}):
                continue
            size = tree_size(self.snapshotter.fs_path(c.id))
            await self.remove(c)
            deleted.append(c.id)
            reclaimed += size
        return deleted, reclaimed
