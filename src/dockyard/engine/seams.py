"""What the container service needs from the rest of the daemon, named. The composition root
(dockyard/daemon/main.py) passes the real ones: the image store, a snapshotter, the network
service, the volume store, the launcher; tests pass in-memory fakes (tests/unit/enginefakes.py).
Each seam lists only what the container service calls."""

from __future__ import annotations

import os
from typing import Protocol

from dockyard.engine.container import Container
from dockyard.engine.specs.containers import ContainerConfig, HostConfig
from dockyard.storage.snapshotter import Mount
from dockyard.volumes.records import Volume


class LayerKeys(Protocol):
    def snapshot_key(self, chain: str | None) -> str | None:
        """The snapshotter's key of an image's top layer (a chain ID)."""
        ...


class ImageInfo(Protocol):
    """What the container service reads of an image."""

    id: str
    config: dict  # the image's config document, in Docker's JSON
    size: int

    @property
    def top_chain(self) -> str | None: ...


class ImageSource(Protocol):
    """The image store: images by reference, and where their layers are."""

    @property
    def layers(self) -> LayerKeys: ...

    def get(self, ref: str) -> ImageInfo:
        """An image by name, tag, digest or ID; NotFound otherwise."""
        ...

    def held(self) -> list[str]:
        """The images `rmi -f` deleted while containers used them: their layers wait for the last one."""
        ...

    def held_size(self, image_id: str) -> int | None:
        """Such an image's size; None for an image that was not deleted."""
        ...

    def release_held(self, image_id: str) -> list[str]:
        """The last container of such an image is gone: its layers go too."""
        ...


class ContainerLayers(Protocol):
    """The snapshotter: a container's writable layer over its init layer over its image's."""

    name: str  # the storage driver Docker reports (overlay2, vfs)

    def exists(self, key: str) -> bool: ...
    def begin_layer(self, key: str) -> str: ...
    def commit_layer(self, key: str, parent: str | None) -> None: ...
    def abort_layer(self, key: str) -> None: ...
    def prepare(self, key: str, parent: str | None) -> list[Mount]: ...
    def mounts(self, key: str) -> list[Mount]: ...
    def changes(self, key: str) -> list[tuple[str, int]]: ...
    def remove(self, key: str) -> None: ...
    def fs_path(self, key: str) -> str: ...
    def lstat(self, key: str | None, path: str) -> os.stat_result | None: ...
    def read_file(self, key: str, path: str) -> str | None: ...


class NetworkAttachment(Protocol):
    """The network service, as a container's create, start and exit use it."""

    def plan_create(self, cid: str, config: ContainerConfig, host_config: HostConfig, networking: dict | None,
                    name: str = "") -> dict:
        """Check the request's networking (filling NetworkMode, Links, the hostname where Docker
        does) and return the container's first NetworkSettings."""
        ...

    async def prepare(self, c: Container) -> dict:
        """The container's network namespace and name files before its process starts."""
        ...

    def release(self, c: Container) -> None:
        """Undo prepare() once the process has exited."""
        ...


class VolumeUse(Protocol):
    """The volume store, as containers make, reference and mount their volumes."""

    root: str

    def create(self, name: str = "", *, driver: str = "", options: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> Volume: ...
    def get(self, name: str) -> Volume: ...
    def activate(self, name: str) -> str:
        """The volume's directory, ready to mount."""
        ...

    def use(self, name: str, container_id: str) -> None: ...
    def release(self, name: str, container_id: str) -> None: ...
    def users(self, name: str) -> list[str]: ...
    def remove(self, name: str, *, force: bool = False) -> None: ...
    def mountpoint(self, name: str) -> str: ...


class ProcessLauncher(Protocol):
    """The launcher forked before any thread: hands a request and its sockets to a new shim."""

    def launch(self, request: dict, fds: list[int]) -> None: ...
