"""The container service: create, start, wait, attach, logs, remove. Knows nothing of HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import errno
import json
import logging
import os
import shutil
import signal

from dockyard.engine import isolation, logconfig, restart, securityopts
from dockyard.engine.archive import fill_from_image
from dockyard.engine.container import Container, Run, Runtime, State
from dockyard.engine.events import EventBus
from dockyard.engine.execrecords import ExecRecords
from dockyard.engine.mounts import MountPlanner, needs_copy, oci_mounts
from dockyard.engine.netplan import apply_network_plan
from dockyard.engine.runtimes import Runtimes
from dockyard.engine.specs.codec import from_json, to_json
from dockyard.engine.specs.containers import (
    ContainerConfig,
    ContainerCreate,
    ContainerUpdate,
    HostConfig,
    Resources,
    RestartPolicy,
    config_from_json,
    is_empty,
)
from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound
from dockyard.images.layerstore import tree_size
from dockyard.images.store import ImageStore
from dockyard.network.namefiles import write_name_files
from dockyard.runtime.launcher import Launcher
from dockyard.runtime.linux import cgroups, resources
from dockyard.runtime.linux.cgroups import Cgroup
from dockyard.runtime.linux.users import resolve as resolve_user
from dockyard.runtime.process import launch, pump_output, read_exit
from dockyard.runtime.shim import SOCKET_NAME, short_path
from dockyard.runtime.spec import NameFiles, build_spec, process_env
from dockyard.storage.snapshotter import Snapshotter
from dockyard.util.atomic import read_json, sweep, write_json
from dockyard.util.ids import new_id
from dockyard.util.names import generate_name, valid_name
from dockyard.util.signals import parse_signal
from dockyard.util.timefmt import now_ns
from dockyard.volumes.store import VolumeStore

log = logging.getLogger("dockyard.containers")

# --init: a static init binary from the host, bind-mounted where Docker puts its docker-init.
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/docker-init")
CGROUP_GONE = (errno.ENOENT, errno.ENODEV)  # a cgroup file whose cgroup is removed or being removed
INIT_TARGET = "/sbin/docker-init"
INIT_DIRS = ("/proc", "/sys", "/dev")
INIT_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/console")


def init_layer(cid: str) -> str:
    return f"{cid}-init"


class StartFailed(DockyardError):
    """The runtime could not start the process (bad command, missing binary)."""

    status = 400


class ContainerService:
    def __init__(self, data_root: str, exec_root: str, images: ImageStore, snapshotter: Snapshotter,
                 launcher: Launcher, events: EventBus, volumes: VolumeStore, runtimes: Runtimes | None = None,
                 execs: ExecRecords | None = None) -> None:
        self.root = os.path.join(data_root, "containers")
        self.exec_root = exec_root
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(exec_root, exist_ok=True)
        self.images = images
        self.snapshotter = snapshotter
        self.launcher = launcher
        self.events = events
        self.volumes = volumes
        self.runtimes = runtimes or Runtimes(exec_root)
        self.execs = execs if execs is not None else ExecRecords()  # forgotten with their container
        self.idmap = None  # a userns-remapped daemon's IdMap (set by the daemon)
        self.cgroup_parent = "dockyard"  # dockyardd --cgroup-parent: for containers that name none
        self.mounts = MountPlanner(volumes, self.get)
        self.on_start: list = []  # callbacks run after each successful start (health checks)
        self.network = None  # engine.networks.NetworkService, wired by the daemon
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}  # "/name" -> id
        self._runtime: dict[str, Runtime] = {}
        self._last_created = 0  # ns: the newest container's creation time

    # -- persistence -----------------------------------------------------------------------
    def _dir(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def container_dir(self, cid: str) -> str:
        """Where the container's record, log and name files (hostname, hosts, resolv.conf) live."""
        return self._dir(cid)

    def state_dir(self, cid: str) -> str:
        return os.path.join(self.exec_root, cid)

    def log_path(self, cid: str) -> str:
        return os.path.join(self._dir(cid), f"{cid}-json.log")

    def save(self, c: Container) -> None:
        self._save(c)

    def _save(self, c: Container) -> None:
        write_json(os.path.join(self._dir(c.id), "config.v2.json"), c.to_record())

    def load(self) -> None:
        """Rebuild the indexes from disk, and finish or undo what a crash interrupted: files left
        by a create or remove that never completed go; containers that ran or stopped while we
        were away are reconciled with what their shims recorded."""
        for cid in os.listdir(self.root):
            sweep(os.path.join(self.root, cid))
            path = os.path.join(self.root, cid, "config.v2.json")
            if not os.path.exists(path):
                log.info("removing the leftovers of an interrupted create or remove: %s", cid)
                self._delete_files(cid)
                continue
            try:
                c = Container.from_record(read_json(path))
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable container record %s", path)
                continue
            self._containers[c.id] = c
            self._names[c.name] = c.id
            self._runtime[c.id] = Runtime()
            self._last_created = max(self._last_created, c.created)
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

    def _live_shim(self, c: Container) -> dict | None:
        """The shim's pid.json if that shim still runs and still parents that container process."""
        try:
            record = read_json(os.path.join(self.state_dir(c.id), "pid.json"))
            with open(f"/proc/{record['pid']}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, KeyError, IndexError):
            return None
        return record if ppid == record["shim"] else None

    def _reconcile(self, c: Container) -> None:
        live = self._live_shim(c)
        if live and c.state.status not in ("running", "paused"):
            # We died between launching the shim and recording the start: adopt the container.
            c.state = State(status="running", pid=live["pid"], shim_pid=live["shim"],
                            started_at=live.get("started_at") or now_ns(), health=c.state.health)
            self._save(c)
        if not c.state.running:
            return
        if live is None:
            self._record_exit_from_file(c)
            return
        pidfd = os.pidfd_open(live["shim"])
        loop = asyncio.get_event_loop()
        rt = self._runtime[c.id]
        rt.run = Run()
        pump = asyncio.ensure_future(self._reconnect_stdio(c, rt))

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

    async def _reconnect_stdio(self, c: Container, rt: Runtime) -> None:
        """Take the container's output stream and stdin back from its shim, so attach and
        `logs -f` work again for containers that outlived a previous daemon."""
        dir_fd = os.open(self.state_dir(c.id), os.O_PATH | os.O_CLOEXEC)
        try:
            reader, writer = await asyncio.open_unix_connection(short_path(dir_fd, SOCKET_NAME))
        except OSError as exc:
            log.warning("cannot reattach to the output of %s: %s", c.id[:12], exc)
            return
        finally:
            os.close(dir_fd)
        rt.stdin_writer = writer
        rt.started.set()
        await pump_output(reader, bool(c.config.tty), rt.attachers)

    def _record_exit_from_file(self, c: Container) -> None:
        try:
            record = read_json(os.path.join(self.state_dir(c.id), "exit.json"))
            code, finished = record["exit_code"], record["finished_at"]
            error = ""
        except (OSError, ValueError, KeyError):
            code, finished, record = 255, now_ns(), {}
            error = "the container's supervisor ended without recording an exit status"
        c.state = State(status="exited", exit_code=code, started_at=c.state.started_at, finished_at=finished,
                        error=error, health=c.state.health, oom_killed=bool(record.get("oom_killed")))
        self._save(c)

    def emit(self, c: Container, action: str, **extra: str) -> None:
        attributes = {**(c.config.labels or {}), "image": c.config.image or "",
                      "name": c.name.lstrip("/"), **extra}
        self.events.publish("container", action, c.id, attributes)

    # -- lookups ---------------------------------------------------------------------------
    def list(self) -> list[Container]:
        return sorted(self._containers.values(), key=lambda c: c.created, reverse=True)

    def get(self, ref: str) -> Container:
        """Full ID, then name, then a unique ID prefix, as Docker resolves them."""
        if ref in self._containers:
            return self._containers[ref]
        cid = self._names.get(ref if ref.startswith("/") else "/" + ref)
        if cid:
            return self._containers[cid]
        if ref:
            matches = [c for cid, c in self._containers.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"Multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def linked(self, ref: str) -> tuple[Container, str, Container]:
        """A legacy link named `<parent>/<alias>`: (parent, its HostConfig.Links entry, target), as
        Docker's name registry resolves it; NotFound in Docker's words otherwise."""
        parent_name, _, alias = ("/" + ref.lstrip("/")).rpartition("/")
        try:
            parent = self.get(parent_name) if parent_name else None
        except NotFound:
            parent = None
        for entry in (parent.host_config.links or []) if parent else []:
            target, _, link_alias = entry.rpartition(":")
            if link_alias.rsplit("/", 1)[-1] == alias:
                try:
                    return parent, entry, self.get(target)
                except NotFound:
                    break
        raise NotFound(f"No such container: {ref}")

    def remove_link(self, ref: str) -> None:
        """`DELETE /containers/<parent>/<alias>?link=1`: the parent forgets the link (Docker's rmLink);
        both containers stay."""
        parent, entry, _target = self.linked(ref)
        parent.host_config.links = [e for e in parent.host_config.links or [] if e != entry] or None
        self._save(parent)

    def find(self, cid: str) -> Container | None:
        return self._containers.get(cid)

    def link_names(self) -> dict[str, list[str]]:
        """Container ID -> the legacy link names that point at it ("/parent/alias"), which Docker
        lists among the container's names."""
        names: dict[str, list[str]] = {}
        for parent in self._containers.values():
            for entry in parent.host_config.links or []:
                target, _, alias = entry.partition(":")
                cid = self._names.get(target)
                if cid:
                    names.setdefault(cid, []).append(f"{parent.name}/{alias.rsplit('/', 1)[-1]}")
        return names

    def runtime(self, c: Container) -> Runtime:
        return self._runtime[c.id]

    # -- create ----------------------------------------------------------------------------
    def create(self, spec: ContainerCreate, name: str | None) -> tuple[Container, list[str]]:
        image_ref = spec.image or ""
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        if name:
            if not valid_name(name.removeprefix("/")):
                raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            name = "/" + name.lstrip("/")
            if name in self._names:
                raise Conflict(f'Conflict. The container name "{name}" is already in use by container '
                               f'"{self._names[name]}". You have to remove (or rename) that container to be able '
                               "to reuse that name.")
        image = self.images.get(image_ref)
        host_config = copy.deepcopy(spec.host_config) if spec.host_config is not None else HostConfig()
        host_config.log_config = logconfig.validate(host_config.log_config)
        resources.validate({}, to_json(host_config))  # the runtime's checks, in Docker's names
        securityopts.validate(host_config)
        if host_config.init:
            self.init_binary()
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
            while name in self._names:
                retry += 1
                name = "/" + generate_name(retry)
        networking = to_json(spec.networking_config) if spec.networking_config is not None else None
        network_settings = self.network.plan_create(cid, config, host_config, networking,
                                                    name=name) if self.network else {}
        if not config.hostname:
            config.hostname = cid[:12]
        config.image = image_ref
        # Strictly increasing even within one clock tick or after the clock steps back: `ps -l`
        # and the list order rely on it.
        created = self._last_created = max(now_ns(), self._last_created + 1)
        container = Container(
            id=cid, name=name, created=created, path=command[0], args=command[1:], config=config,
            host_config=normalize_host_config(host_config), image_id=image.id, driver=self.snapshotter.name,
            network_settings=network_settings,
        )
        self._names[name] = cid  # reserve the name before any slow step
        directory = self._dir(cid)
        try:
            # Validates every mount spec before it creates any volume they name.
            container.mount_points = self.mounts.plan(host_config, config, {})
            self._use_volumes(container)
            os.makedirs(directory)
            self._prepare_rootfs(cid, self.images.layers.snapshot_key(image.top_chain),
                                 (INIT_TARGET,) if host_config.init else ())
            write_name_files(directory, config.hostname)
            self._save(container)
        except BaseException:
            self._names.pop(name, None)
            self._release_volumes(container, remove_anonymous=True)
            self.snapshotter.remove(cid)
            self.snapshotter.remove(init_layer(cid))
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._containers[cid] = container
        self._runtime[cid] = Runtime()
        self.emit(container, "create")
        return container, warnings

    def create_from_config(self, body: dict, name: str | None = None) -> tuple[Container, list[str]]:
        """create() for a body in Docker's JSON that the engine's own parts hold (a build stage's
        image config and RUN settings): read as records are, without the checks of a client's
        request, which no client would be there to read."""
        return self.create(from_json(ContainerCreate, body, strict=False), name)

    # -- start -----------------------------------------------------------------------------
    def build_spec(self, c: Container) -> dict:
        config = c.config
        host_config = c.host_config
        user = resolve_user(config.user or "", lambda path: self.snapshotter.read_file(c.id, path),
                            host_config.group_add or ())
        directory = self._dir(c.id)
        args = [c.path, *c.args]
        if host_config.init:
            # Docker's --init: a real init (tini) as PID 1 reaps zombies and forwards signals.
            args = [INIT_TARGET, "--", *args]
        spec = build_spec(
            args=args,
            env=process_env(config.env or [], config.hostname or "", bool(config.tty)),
            cwd=config.working_dir or "/",
            user=user,
            hostname=config.hostname or "",
            tty=bool(config.tty),
            rootfs=os.path.join(self.state_dir(c.id), "rootfs"),
            files=NameFiles(os.path.join(directory, "hostname"), os.path.join(directory, "hosts"),
                            os.path.join(directory, "resolv.conf")),
            cgroups_path=self.cgroup_path(c),
            readonly_rootfs=bool(host_config.readonly_rootfs),
        )
        isolation.apply(spec, host_config, self.get, cgroups.version() == 1,
                        lambda cid: self._dir(cid or c.id), self.idmap)
        securityopts.apply(spec, host_config)
        # Docker's HostConfig names; the runtime writes them into the cgroup before exec.
        wire = to_json(host_config)
        limits = {k: wire[k] for k in resources.RESOURCE_FIELDS if wire.get(k)}
        if limits:
            spec["linux"]["resources"] = limits
        user_mounts = oci_mounts(self.volumes, c.mount_points, host_config.tmpfs or {})
        if user_mounts:
            taken = {m["destination"] for m in user_mounts}  # a user's /etc/hosts mount replaces ours
            spec["mounts"] = [m for m in spec["mounts"] if m["destination"] not in taken] + user_mounts
        if host_config.init:
            spec["mounts"].append({"destination": INIT_TARGET, "type": "bind", "source": self.init_binary(),
                                   "options": ["bind", "ro"]})
        return spec

    def running_spec(self, c: Container) -> dict:
        """The spec the container was started with (rebuilt after a daemon restart)."""
        rt = self._runtime.get(c.id)
        if rt is not None and rt.spec is not None:
            return rt.spec
        return self.build_spec(c)

    @staticmethod
    def init_binary() -> str:
        for candidate in INIT_BINARIES:
            if os.path.exists(candidate):
                return candidate
        raise InvalidParameter("--init needs an init binary on the host: apt-get install tini "
                               f"(looked for {', '.join(INIT_BINARIES)})")

    def cgroup_path(self, c: Container) -> str:
        """`/dockyard/<id>` (the daemon's --cgroup-parent), or the container's `--cgroup-parent`/<id>,
        in every hierarchy."""
        parent = "/" + (c.host_config.cgroup_parent or self.cgroup_parent).strip("/")
        return f"{parent.rstrip('/')}/{c.id}"

    async def pause(self, c: Container) -> None:
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is already paused")
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
        self._save(c)
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
        self._save(c)
        self.emit(c, "unpause")

    async def start(self, c: Container) -> bool:
        """A start a user asked for (`docker start`, the builder's RUN). False when the container
        runs or waits for a policy restart already (Docker answers 304 Not Modified). The start
        re-arms the restart policy; a --rm container whose start fails is removed, as Docker's is."""
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
        if c.state.status in ("running", "paused") or (c.state.status == "restarting" and not policy_restart):
            return
        if c.state.status in ("removing", "dead"):
            raise Conflict(f"cannot start container {c.id[:12]}: container is marked for removal")
        for point in c.mount_points:
            if needs_copy(self.volumes, point):
                await fill_from_image(self, c, point)
        if c.host_config.ipc_mode == "shareable":
            isolation.mount_shareable_shm(self._dir(c.id), c.host_config.shm_size or 0)
        plan = await self.network.prepare(c) if self.network else None
        try:
            spec = self.build_spec(c)
            if plan is not None:
                apply_network_plan(spec, plan, c)
            self._runtime[c.id].spec = spec
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
        rt = self._runtime[c.id]
        if "error" in message:
            launched.close()
            self._release_network(c)
            error = message["error"]
            code = 126 if "permission denied" in error else 127
            c.state = State(status="created" if not c.state.started_at else "exited", exit_code=code,
                            error=error, started_at=c.state.started_at, finished_at=c.state.finished_at)
            self._save(c)
            raise StartFailed("failed to create task for container: OCI runtime create failed: "
                              f"unable to start container process: {error}: unknown")
        # FinishedAt stays that of the last run, as Docker's SetRunning leaves it
        c.state = State(status="running", pid=message["pid"], shim_pid=message.get("shim", 0),
                        started_at=now_ns(), finished_at=c.state.finished_at)
        rt.run = Run()  # in the step that records "running": a follower that sees one sees the other
        self._save(c)
        self.emit(c, "start")
        for callback in self.on_start:
            callback(c)
        rt.ctl_writer = launched.ctl_writer
        rt.stdin_writer = launched.io_writer
        rt.started.set()
        pump = asyncio.ensure_future(pump_output(launched.io_reader, bool(config.tty), rt.attachers))
        asyncio.ensure_future(self._watch(c, launched.ctl_reader, pump))

    async def _watch(self, c: Container, ctl: asyncio.StreamReader, pump: asyncio.Future) -> None:
        message = await read_exit(ctl)
        try:
            await asyncio.wait_for(asyncio.shield(pump), timeout=5)
        except TimeoutError:
            pass
        rt = self._runtime.get(c.id)
        if rt is not None:
            if rt.ctl_writer:
                rt.ctl_writer.close()
                rt.ctl_writer = None
            if rt.stdin_writer:
                rt.stdin_writer.close()
                rt.stdin_writer = None
            rt.started = asyncio.Event()
        if "exit" in message:
            c.state = State(status="exited", exit_code=message["exit"], started_at=c.state.started_at,
                            finished_at=message["finished"], health=c.state.health,
                            oom_killed=bool(message.get("oom_killed")))
            self._save(c)
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
            self._save(c)

    def _after_exit(self, c: Container) -> None:
        isolation.unmount_shareable_shm(self._dir(c.id))
        self._release_network(c)
        if c.state.oom_killed:
            self.emit(c, "oom")
        self.emit(c, "die", exitCode=str(c.state.exit_code))
        rt = self._runtime.get(c.id)
        if rt is not None:
            waiters, rt.exit_waiters = rt.exit_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(c.state.exit_code)
        if c.host_config.auto_remove:
            asyncio.ensure_future(self._auto_remove(c))
        elif rt is not None and restart.should_restart(c.host_config.restart_policy, c.state.exit_code,
                                                       c.restart_count, c.manually_stopped):
            self._schedule_restart(c, rt)

    def _schedule_restart(self, c: Container, rt: Runtime) -> None:
        uptime = (c.state.finished_at - c.state.started_at) / 1e9
        rt.restart_delay = restart.next_delay(rt.restart_delay, uptime)
        c.state.status = "restarting"
        self._save(c)
        loop = asyncio.get_running_loop()
        rt.pending_restart = loop.call_later(rt.restart_delay, lambda: asyncio.ensure_future(self._restart_now(c)))

    async def _restart_now(self, c: Container) -> None:
        rt = self._runtime.get(c.id)
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
        rt = self._runtime.get(c.id)
        if rt is None or rt.pending_restart is None:
            return False
        rt.pending_restart.cancel()
        rt.pending_restart = None
        c.state.status = "exited"
        self._save(c)
        return True

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
            self._save(c)
            self.emit(c, "kill", signal=str(sig))
        try:
            os.kill(c.state.pid, sig)
        except ProcessLookupError:
            pass
        if c.state.status == "paused":
            # A frozen process cannot act on a signal; Docker thaws it so the signal lands.
            Cgroup(self.cgroup_path(c)).thaw()
            c.state.status = "running"
            self._save(c)

    async def kill_and_wait(self, c: Container, sig: int) -> None:
        """`docker kill`: with SIGKILL, Docker answers once the exit is recorded (at most 10 s)."""
        waiter = None
        if sig == signal.SIGKILL and c.state.status in ("running", "paused"):
            waiter = asyncio.get_running_loop().create_future()
            self._runtime[c.id].exit_waiters.append(waiter)
        try:
            self.kill(c, sig, manual=True)
        except BaseException:
            if waiter is not None:
                self._runtime[c.id].exit_waiters.remove(waiter)
            raise
        if waiter is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout=10)

    async def stop(self, c: Container, timeout: int | None = None) -> bool:
        """SIGTERM (or the image's STOPSIGNAL), then SIGKILL after ``timeout`` seconds.
        Returns False when the container was not running (Docker answers 304)."""
        c.manually_stopped = True
        self._save(c)  # durable before the signal: a crash now must not undo the user's stop
        if self.cancel_restart(c):
            return True
        if not c.state.running:
            return False
        if timeout is None:
            timeout = 10 if c.config.stop_timeout is None else int(c.config.stop_timeout)
        stop_signal = parse_signal(c.config.stop_signal or "SIGTERM")
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._runtime[c.id].exit_waiters.append(waiter)
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
        if not valid_name(new_name.removeprefix("/")):
            raise InvalidParameter(f"Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        new_name = "/" + new_name.lstrip("/")
        if new_name == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        if new_name in self._names:
            raise Conflict(f'Conflict. The container name "{new_name}" is already in use by container '
                           f'"{self._names[new_name]}". You have to remove (or rename) that container to be able '
                           "to reuse that name.")
        old = c.name
        c.name = new_name
        try:
            self._save(c)
        except BaseException:
            c.name = old
            raise
        self._names[new_name] = c.id
        self._names.pop(old, None)
        self.emit(c, "rename", oldName=old)

    async def update(self, c: Container, update: ContainerUpdate) -> list[str]:
        """`docker update`: resources on the live cgroup and the restart policy; returns warnings."""
        changes = to_json(update)  # the runtime takes resources in Docker's names
        merged = resources.validate(to_json(c.host_config), changes)
        policy = c.host_config.restart_policy or RestartPolicy("no", 0)
        if update.restart_policy is not None and update.restart_policy.name:
            if c.host_config.auto_remove:
                raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the "
                                       "container")
            policy = restart.validate(update.restart_policy, False)
        if c.state.running:
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
        self._save(c)
        self.emit(c, "update")
        return []

    def resize(self, c: Container, height: int, width: int) -> None:
        """Set a TTY container's window size (the shim owns the terminal's master side)."""
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        rt = self._runtime[c.id]
        if c.config.tty and rt.ctl_writer is not None:
            rt.ctl_writer.write(json.dumps({"resize": [height, width]}).encode() + b"\n")

    async def wait(self, c: Container, condition: str = "not-running") -> int:
        rt = self._runtime[c.id]
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
        if c.id not in self._containers:
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
            self._runtime[c.id].exit_waiters.append(waiter)
            self.kill(c, signal.SIGKILL)
            await asyncio.wait_for(waiter, timeout=30)
        if c.id not in self._containers:  # removed meanwhile (auto-remove)
            return
        if c.state.status == "removing":
            raise Conflict(f"removal of container {c.id[:12]} is already in progress")
        c.state.status = "removing"
        await asyncio.to_thread(self._delete_files, c.id)
        self._release_volumes(c, remove_anonymous=volumes)
        del self._containers[c.id]
        self._names.pop(c.name, None)
        if not self.uses_image(c.image_id):  # the layers of an image `rmi -f` deleted under it
            await asyncio.to_thread(self.images.release_held, c.image_id)
        self.execs.forget_container(c.id)
        self.emit(c, "destroy")
        rt = self._runtime.pop(c.id, None)
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
        # The record goes first: a crash part-way leaves orphan files, never a record without files.
        isolation.unmount_shareable_shm(self._dir(cid))
        try:
            os.unlink(os.path.join(self._dir(cid), "config.v2.json"))
        except FileNotFoundError:
            pass
        self.snapshotter.remove(cid)
        self.snapshotter.remove(init_layer(cid))
        shutil.rmtree(self.state_dir(cid), ignore_errors=True)
        shutil.rmtree(self._dir(cid), ignore_errors=True)

    def _prepare_rootfs(self, cid: str, image_key: str | None, extra_files: tuple[str, ...] = ()) -> None:
        """The container's writable layer over an "init" layer holding the mount points the runtime
        needs (as Docker's -init layer does), so they never show up in diff, export or commit."""
        fs = self.snapshotter.begin_layer(init_layer(cid))
        try:
            for directory in INIT_DIRS:
                if self.snapshotter.lstat(image_key, directory) is None:
                    os.makedirs(os.path.join(fs, directory.lstrip("/")), mode=0o755, exist_ok=True)
            for path in INIT_FILES + extra_files:  # extra: --init's binary, bind-mounted too
                parent = os.path.dirname(path)
                target_parent = os.path.join(fs, parent.lstrip("/"))
                if not os.path.isdir(target_parent):
                    os.makedirs(target_parent, mode=0o755)
                    below = self.snapshotter.lstat(image_key, parent)
                    if below is not None:  # keep the image's owner and mode on the shared parent
                        os.chmod(target_parent, below.st_mode & 0o7777)
                        os.chown(target_parent, below.st_uid, below.st_gid)
                os.close(os.open(os.path.join(fs, path.lstrip("/")), os.O_CREAT | os.O_WRONLY, 0o755))
            if self.idmap is not None:  # what the daemon made here belongs to the container's root
                for dirpath, dirnames, filenames in os.walk(fs):
                    for name in dirnames + filenames:
                        path = os.path.join(dirpath, name)
                        st = os.lstat(path)
                        if st.st_uid < self.idmap.size:
                            os.lchown(path, self.idmap.host_uid(st.st_uid), self.idmap.host_gid(st.st_gid))
            self.snapshotter.commit_layer(init_layer(cid), image_key)
        except BaseException:
            self.snapshotter.abort_layer(init_layer(cid))
            raise
        self.snapshotter.prepare(cid, init_layer(cid))
        if self.idmap is not None:  # the merged root directory takes its owner from the upper dir
            os.chown(self.snapshotter.fs_path(cid), self.idmap.uid_base, self.idmap.gid_base)

    def rootfs_mounts(self, c: Container) -> list:
        """The mounts that make the container's root filesystem (none once its layer is gone)."""
        return self.snapshotter.mounts(c.id) if self.snapshotter.exists(c.id) else []

    def rootfs_path(self, c: Container) -> str:
        return os.path.join(self.state_dir(c.id), "rootfs")

    def changes(self, c: Container) -> list[tuple[str, int]]:
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
        import shlex
        import subprocess

        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        pids = {str(p) for p in Cgroup(self.cgroup_path(c)).pids()}
        try:
            args = shlex.split(ps_args or "-ef")
        except ValueError as exc:
            raise InvalidParameter(f"invalid ps arguments {ps_args!r}: {exc}") from None
        result = subprocess.run(["ps", *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise InvalidParameter(f"ps: {result.stderr.strip() or 'failed'}")
        lines = result.stdout.splitlines()
        titles = lines[0].split()
        if "PID" not in titles:
            raise InvalidParameter("Couldn't find PID field in ps output")
        pid_index = titles.index("PID")
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_index and fields[pid_index] in pids:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}

    async def prune(self, until_ns: int | None, label_filter) -> tuple[list[str], int]:
        """`docker container prune`: remove stopped containers; returns (IDs, bytes reclaimed)."""
        deleted, reclaimed = [], 0
        for c in list(self._containers.values()):
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

    def uses_image(self, image_id: str) -> list[Container]:
        return [c for c in self._containers.values() if c.image_id == image_id]


def merge_config(request: ContainerConfig, image: ContainerConfig) -> ContainerConfig:
    """Docker's merge of a create request with the image's config (daemon/commit.go merge)."""
    config = ContainerConfig(**{f.name: copy.deepcopy(getattr(request, f.name))
                                for f in dataclasses.fields(ContainerConfig)})
    if not config.user:
        config.user = image.user or ""
    env = list(image.env or [])
    for entry in config.env or []:
        key = entry.partition("=")[0]
        env = [e for e in env if e.partition("=")[0] != key] + [entry]
    config.env = env
    config.labels = {**(image.labels or {}), **(config.labels or {})}
    if not config.entrypoint:
        if not config.cmd:
            config.cmd = image.cmd
        if config.entrypoint is None:
            config.entrypoint = image.entrypoint
    if config.entrypoint == [""]:
        # `--entrypoint ""`: after the merge (so the image's CMD is not taken), Docker resets it.
        config.entrypoint = None
    if not config.working_dir:
        config.working_dir = image.working_dir or ""
    config.exposed_ports = {**(image.exposed_ports or {}), **(config.exposed_ports or {})} or None
    config.volumes = {**(image.volumes or {}), **(config.volumes or {})} or None
    if not config.stop_signal and image.stop_signal:
        config.stop_signal = image.stop_signal
    if is_empty(config.healthcheck) and not is_empty(image.healthcheck):
        config.healthcheck = image.healthcheck
    if not config.on_build and image.on_build:
        config.on_build = image.on_build
    for name in ("hostname", "domainname"):
        if getattr(config, name) is None:
            setattr(config, name, "")
    for name in ("attach_stdin", "attach_stdout", "attach_stderr", "tty", "open_stdin", "stdin_once"):
        if getattr(config, name) is None:
            setattr(config, name, False)
    return config


def normalize_host_config(host_config: HostConfig) -> HostConfig:
    """The defaults Docker reports for what the request left unset."""
    if host_config.network_mode is None:
        host_config.network_mode = "default"
    if host_config.restart_policy is None:
        host_config.restart_policy = RestartPolicy("no", 0)
    for name in ("auto_remove", "privileged", "readonly_rootfs"):
        if getattr(host_config, name) is None:
            setattr(host_config, name, False)
    if host_config.log_config is None:
        host_config.log_config = logconfig.validate(None)
    if not host_config.ipc_mode:
        host_config.ipc_mode = "private"  # dockerd's default-ipc-mode since 20.10 (API clients >= 1.40)
    for name in ("pid_mode", "userns_mode", "isolation"):  # "" when unset, as Docker reports them
        if getattr(host_config, name) is None:
            setattr(host_config, name, "")
    return host_config
