"""In-memory stand-ins for what the container service runs on (snapshotter, launcher, image
store), so the engine's rules can be tested without root, a kernel or a runtime."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
from dataclasses import dataclass, field

from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.containerstore import ContainerStore
from dockyard.engine.events import EventBus
from dockyard.engine.execrecords import ExecRecords
from dockyard.engine.runtimes import Runtimes
from dockyard.errors import NotFound
from dockyard.util.atomic import write_json
from dockyard.util.ids import new_id
from dockyard.volumes.store import VolumeStore


class FakeSnapshotter:
    """Layers as empty temporary directories; no mounts."""

    name = "overlay2"

    def __init__(self, root: str) -> None:
        self.root = root
        self.layers: set[str] = set()

    def fs_path(self, key: str) -> str:
        return os.path.join(self.root, key)

    def exists(self, key: str) -> bool:
        return key in self.layers

    def begin_layer(self, key: str) -> str:
        os.makedirs(self.fs_path(key), exist_ok=True)
        return self.fs_path(key)

    def commit_layer(self, key: str, parent: str | None) -> None:
        self.layers.add(key)

    def abort_layer(self, key: str) -> None:
        self.remove(key)

    def prepare(self, key: str, parent: str | None) -> list:
        os.makedirs(self.fs_path(key), exist_ok=True)
        self.layers.add(key)
        return []

    def mounts(self, key: str) -> list:
        return []

    def changes(self, key: str) -> list:
        return []

    def remove(self, key: str) -> None:
        self.layers.discard(key)

    def lstat(self, key: str | None, path: str):
        return None

    def read_file(self, key: str, path: str) -> str | None:
        return None


@dataclass
class FakeImage:
    id: str
    config: dict = field(default_factory=dict)  # the image's OCI config: {"config": {...}}
    size: int = 0
    top_chain: str | None = None


class FakeImages:
    def __init__(self, *images: FakeImage) -> None:
        self.by_ref = {image.id: image for image in images}

        class Layers:
            @staticmethod
            def snapshot_key(chain: str | None) -> str | None:
                return chain

        self.layers = Layers()

    def get(self, ref: str) -> FakeImage:
        try:
            return self.by_ref[ref]
        except KeyError:
            raise NotFound(f"No such image: {ref}") from None

    # no image is deleted under a container here (`rmi -f` holds the layers of such images)
    @staticmethod
    def held() -> list[str]:
        return []

    @staticmethod
    def held_size(image_id: str) -> int | None:
        return None

    @staticmethod
    def release_held(image_id: str) -> list[str]:
        return []


class FakeLauncher:
    """Answers each launch as a shim would: the process's PID, or the error the test set. The
    test ends a process with exit(): the shim's last word on the control socket. With ``hold``
    set, a launch stops half-way (the daemon waits for the PID) until the test calls release();
    ``arrived`` is set when such a launch comes in. PIDs are above the highest pid_max Linux
    allows (2**22), so a signal the engine sends them reaches no process."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.requests: list[dict] = []
        self.shims: dict[str, tuple[socket.socket, socket.socket]] = {}
        self.hold = False
        self.arrived: asyncio.Event | None = None
        self.held: dict[str, tuple[socket.socket, socket.socket]] = {}

    def launch(self, request: dict, fds: list[int]) -> None:
        ctl, io = (socket.socket(fileno=os.dup(fd)) for fd in fds)
        self.requests.append(request)
        if self.error is not None:
            ctl.sendall(json.dumps({"error": self.error}).encode() + b"\n")
            ctl.close()
            io.close()
            return
        if self.hold:
            self.held[request["id"]] = (ctl, io)
            if self.arrived is not None:
                self.arrived.set()
            return
        self._answer(request["id"], ctl, io)

    def release(self, cid: str) -> None:
        """The held launch of ``cid`` goes on: its process has started."""
        self._answer(cid, *self.held.pop(cid))

    def _answer(self, cid: str, ctl: socket.socket, io: socket.socket) -> None:
        ctl.sendall(json.dumps({"pid": 2 ** 22 + len(self.requests), "shim": 0}).encode() + b"\n")
        self.shims[cid] = (ctl, io)

    def exit(self, cid: str, code: int, finished: int = 1) -> None:
        ctl, io = self.shims.pop(cid)
        ctl.sendall(json.dumps({"exit": code, "finished": finished}).encode() + b"\n")
        io.close()
        ctl.close()

    def close(self) -> None:
        for ctl, io in [*self.shims.values(), *self.held.values()]:
            ctl.close()
            io.close()


async def until(predicate) -> None:
    """Let the event loop run until ``predicate`` holds (an engine's own timers, such as a restart
    policy's backoff, decide when); 10 s at most."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


@dataclass
class Engine:
    service: ContainerService
    launcher: FakeLauncher
    execs: ExecRecords
    events: EventBus
    data_root: str


def make_engine(tmp: str | None = None, *images: FakeImage) -> Engine:
    tmp = tmp or tempfile.mkdtemp()
    data_root, exec_root = os.path.join(tmp, "data"), os.path.join(tmp, "exec")
    launcher, execs, events = FakeLauncher(), ExecRecords(), EventBus()
    service = ContainerService(ContainerStore(data_root, exec_root), FakeImages(*images),
                               FakeSnapshotter(os.path.join(tmp, "fs")), launcher, events, VolumeStore(data_root),
                               Runtimes(exec_root), execs)
    return Engine(service, launcher, execs, events, data_root)


def load_records(engine: Engine, *records: dict) -> list[Container]:
    """Put container records on disk as a daemon would have left them, and load them as a
    daemon does at start-up."""
    for record in records:
        directory = os.path.join(engine.data_root, "containers", record["id"])
        os.makedirs(directory)
        write_json(os.path.join(directory, "config.v2.json"), record)
    engine.service.load()
    return [engine.service.get(record["id"]) for record in records]


def container_record(**host_config) -> dict:
    cid = new_id()
    return {"id": cid, "name": f"/c{cid[:6]}", "created": 1, "path": "true", "args": [],
            "config": {"Image": "busybox", "Hostname": cid[:12], "Env": [], "Labels": {}, "Tty": False},
            "host_config": {"NetworkMode": "none", "LogConfig": {"Type": "none", "Config": {}}, **host_config},
            "image_id": "sha256:" + "0" * 64}
