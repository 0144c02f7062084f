"""`docker cp` and `docker export`: the daemon's side of the fsaccess helper; and a new volume filled
from what the image holds at its mount point, read the same way."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import stat
import sys
import tarfile
import tempfile
from typing import TYPE_CHECKING, Any

from dockyard.engine.container import Container
from dockyard.engine.mounts import oci_mounts
from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound

if TYPE_CHECKING:  # the container service imports this module (fill_from_image)
    from dockyard.engine.containers import ContainerService

log = logging.getLogger("dockyard.archive")


class Access:
    """One helper process with the container's root in view; use as an async context manager."""

    def __init__(self, containers: ContainerService, c: Container, request: dict, *, writable: bool = False,
                 stdin: bool = False, volumes: bool = True) -> None:
        """``volumes``: a stopped container's volumes and binds are mounted too (False: the image's
        files only, as filling a new volume from the image needs)."""
        self.containers = containers
        self.c = c
        self.request = dict(request, container=c.name.lstrip("/"))
        self.writable = writable
        self.stdin = stdin
        self.volumes = volumes
        self.proc: asyncio.subprocess.Process | None = None
        self._mountpoint: str | None = None

    async def __aenter__(self) -> Access:
        c = self.c
        if c.state.status in ("running", "paused", "restarting") and c.state.pid:
            self.request["pid"] = c.state.pid
        else:
            mount = self.containers.snapshotter.mounts(c.id)[0]
            self._mountpoint = os.path.join(self.containers.state_dir(c.id), f"access-{os.urandom(4).hex()}")
            os.makedirs(self._mountpoint)
            # Docker mounts a stopped container's volumes and binds too, so their paths resolve.
            volumes = [m for m in oci_mounts(self.containers.volumes, c.mount_points, {}) if m["type"] == "bind"] \
                if self.volumes else []
            self.request.update(mountpoint=self._mountpoint, mount=mount.to_dict(), readonly=not self.writable,
                                volumes=volumes)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dockyard.runtime.fsaccess", json.dumps(self.request),
            stdin=asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=1 << 20)
        return self

    @property
    def output(self) -> asyncio.StreamReader:
        """The helper's stdout, once entered."""
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout

    async def failure(self) -> DockyardError | None:
        """The helper's error, mapped to the domain error its status names, once it has exited."""
        assert self.proc is not None and self.proc.stderr is not None  # entered
        code = await self.proc.wait()
        if code == 0:
            return None
        text = (await self.proc.stderr.read()).decode(errors="replace").strip().splitlines()
        try:
            error = json.loads(text[-1])
            message, status = str(error["error"]), int(error["status"])
        except (ValueError, KeyError, IndexError, TypeError):
            # The helper died before it could say why (killed, out of memory): one line for the
            # client, the whole story in the daemon's log.
            log.warning("file access helper for %s exited with %s: %s", self.c.id[:12], code, "\n".join(text))
            message, status = f"file access helper exited with {code}", 500
        kind = {400: InvalidParameter, 404: NotFound, 409: Conflict}.get(status, DockyardError)
        return kind(message)

    async def __aexit__(self, *exc_info) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._mountpoint:  # the mount lived in the helper's namespace: only the directory is left
            shutil.rmtree(self._mountpoint, ignore_errors=True)


async def fill_from_image(containers: ContainerService, c: Container, point: dict) -> None:
    """Copy what the image holds at the mount point into the empty volume (owner and mode of the
    directory too), as Docker does on first mount unless `nocopy`."""
    st = containers.snapshotter.lstat(c.id, point["Destination"])
    if st is None or not stat.S_ISDIR(st.st_mode):
        return
    target = containers.volumes.mountpoint(point["Name"])
    with tempfile.TemporaryFile(dir=containers.volumes.root) as spool:
        async with Access(containers, c, {"op": "get", "path": point["Destination"]}, volumes=False) as access:
            if not await access.output.readline():  # the path's stat line, then the tar
                raise await access.failure() or InvalidParameter(f"could not read {point['Destination']}")
            while data := await access.output.read(1 << 16):
                spool.write(data)
            error = await access.failure()
            if error:
                raise error
        spool.seek(0)
        await asyncio.to_thread(_extract_below_top, spool, target)


def _extract_below_top(fileobj, target: str) -> None:
    """Extract a `docker cp`-style tar (one top directory) so the top directory becomes ``target``."""
    trusted: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            top, _, rest = member.name.partition("/")
            if not rest:
                if member.isdir():
                    os.chown(target, member.uid, member.gid)
                    os.chmod(target, member.mode)
                continue
            if ".." in rest.split("/"):
                continue
            member.name = rest
            if member.islnk():
                member.linkname = member.linkname.partition("/")[2]
            tar.extract(member, target, numeric_owner=True, **trusted)
