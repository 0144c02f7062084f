"""Exec instances: processes started inside running containers (`docker exec`). Like Docker's,
they live in memory only (see engine/execrecords.py)."""

import asyncio

from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService, StartFailed
from dockyard.engine.execrecords import Exec, ExecRecords
from dockyard.engine.specs.execs import ExecCreate
from dockyard.errors import Conflict, InvalidParameter
from dockyard.runtime.linux.users import resolve as resolve_user
from dockyard.runtime.process import launch, pump_output, read_exit
from dockyard.runtime.spec import build_process, process_env
from dockyard.util.aio import background
from dockyard.util.ids import new_id


class ExecService:
    def __init__(self, containers: ContainerService, records: ExecRecords) -> None:
        self.containers = containers
        self.records = records

    def create(self, c: Container, config: ExecCreate, *, internal: bool = False) -> Exec:
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.status == "restarting":
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        cmd = config.cmd
        if not cmd:
            raise InvalidParameter("No exec command specified")
        e = Exec(new_id(), c.id, config, internal=internal)
        self.records.add(e)
        if not internal:  # health probes are not reported as execs, as in Docker
            self.containers.emit(c, "exec_create: " + " ".join(cmd), execID=e.id)
        return e

    def forget(self, exec_id: str) -> None:
        self.records.forget(exec_id)

    def get(self, exec_id: str) -> Exec:
        return self.records.get(exec_id)

    def _process(self, c: Container, e: Exec, container_spec: dict) -> dict:
        config = e.config
        user = resolve_user(config.user or c.config.user or "",
                            lambda path: self.containers.snapshotter.read_file(c.id, path),
                            c.host_config.group_add or ())
        env = process_env(list(c.config.env or []) + list(config.env or []),
                          c.config.hostname or "", bool(config.tty))
        process = build_process(args=list(config.cmd or []), env=env,
                                cwd=config.working_dir or c.config.working_dir or "/", user=user,
                                tty=bool(config.tty), privileged=bool(config.privileged))
        if not config.privileged:
            # An exec holds what the container holds (its --cap-add/--cap-drop/--privileged).
            granted = list(container_spec["process"]["capabilities"]["bounding"])
            root = user.uid == 0
            process["capabilities"] = {"bounding": granted, "effective": granted if root else [],
                                       "permitted": granted if root else [], "inheritable": [], "ambient": []}
        for key in ("noNewPrivileges", "apparmorProfile"):  # Docker: an exec shares its container's
            if key in container_spec["process"]:
                process[key] = container_spec["process"][key]
        return process

    async def start(self, e: Exec) -> None:
        """Launch the exec's process; output goes to ``e.attachers``, which callers add first."""
        c = self.containers.get(e.container_id)
        await self.containers.settled(c)  # a start under way has no PID to join yet
        if e.started:
            raise Conflict(f"Error: Exec command {e.id} has already run")
        if c.state.status == "restarting":
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if not c.state.running or c.state.status == "paused":
            raise Conflict(f"Container {c.id} is not running")
        e.started = True
        # As with runc, an exec runs under its container's seccomp filter and no_new_privs, even with
        # --privileged (which only widens its capabilities).
        container_spec = self.containers.running_spec(c)
        request = {
            "exec_in": c.state.pid,
            "process": self._process(c, e, container_spec),
            "seccomp": container_spec["linux"].get("seccomp"),
            "cgroups_path": self.containers.cgroup_path(c),
            "tty": bool(e.config.tty),
            "open_stdin": bool(e.config.attach_stdin),
        }
        launched = await launch(self.containers.launcher, request)
        if "error" in launched.first:
            launched.close()
            e.exit_code = 126 if "permission denied" in launched.first["error"] else 127
            e.finished.set()
            for attacher in e.attachers:
                attacher.done.set()
            raise StartFailed(f"OCI runtime exec failed: exec failed: unable to start container process: "
                              f"{launched.first['error']}: unknown")
        if not e.internal:
            self.containers.emit(c, "exec_start: " + " ".join(e.config.cmd or []), execID=e.id)
        e.launched = launched
        e.pid = launched.first["pid"]
        e.running = True
        pump = asyncio.ensure_future(pump_output(launched.io_reader, bool(e.config.tty), e.attachers))
        background(self._watch(e, pump))

    async def _watch(self, e: Exec, pump: asyncio.Future) -> None:
        message = await read_exit(e.launched.ctl_reader)
        try:
            await asyncio.wait_for(asyncio.shield(pump), timeout=5)
        except TimeoutError:
            pass
        e.launched.close()
        e.running = False
        e.exit_code = message.get("exit", 126 if not message else None)
        e.pid = 0
        e.finished.set()
        c = self.containers.find(e.container_id)
        if c is not None and not e.internal:
            self.containers.emit(c, "exec_die", execID=e.id, exitCode=str(e.exit_code))

    def resize(self, e: Exec, height: int, width: int) -> None:
        if e.launched is None or not e.running:
            raise Conflict(f"Exec {e.id} is not running")
        if e.config.tty:
            e.launched.control.send({"resize": [height, width]})
