"""`cp` and `export`: files between the host and a container, through the archive API."""

import base64
import io
import json
import os
import sys
import tarfile

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.client.errors import daemon_error

CP = Command("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
             "Copy files/folders between a container and the local filesystem", (
    Opt(("-a", "--archive"), "archive", "bool", "Archive mode (copy all uid/gid information)"),
    Opt(("-L", "--follow-link"), "follow", "bool", "Always follow symbol link in SRC_PATH"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress progress output during copy"),
), min_args=2, max_args=2)
EXPORT = Command("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", (
    Opt(("-o", "--output"), "output", "str", "Write to a file, instead of STDOUT", metavar="string"),
), min_args=1, max_args=1)


def _split(arg: str) -> tuple[str | None, str]:
    """CONTAINER:PATH -> (container, path); a local path (with / before any colon) -> (None, path)."""
    if arg.startswith("/") or arg.startswith(".") or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def _stat(client: Client, container: str, path: str) -> dict | None:
    try:
        response = client.send("HEAD", f"/containers/{container}/archive", query={"path": path})
    except APIError as exc:
        if exc.status == 404:
            return None
        raise
    response.close()
    return json.loads(base64.b64decode(response.headers.get("x-docker-container-path-stat", "") or b"e30="))


def _from_container(client: Client, container: str, src: str, dest: str) -> int:
    response = client.send("GET", f"/containers/{container}/archive", query={"path": src})
    if dest == "-":
        out = sys.stdout.buffer
        while data := response.read_some():
            out.write(data)
        out.flush()
        return 0
    data = response.read()
    response.close()
    rename = None if os.path.isdir(dest) else os.path.basename(dest.rstrip("/"))
    target_dir = dest if rename is None else (os.path.dirname(dest.rstrip("/")) or ".")
    if not os.path.isdir(target_dir):
        sys.stderr.write(f"destination directory {target_dir} does not exist\n")
        return 1
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            if rename:
                top, sep, rest = member.name.partition("/")
                member.name = rename + (sep + rest if sep else "")
            tar.extract(member, target_dir, numeric_owner=os.geteuid() == 0, **_SAFE)  # type: ignore[arg-type]
    return 0


def _to_container(client: Client, src: str, container: str, dest: str) -> int:
    if src == "-":
        client.call("PUT", f"/containers/{container}/archive", query={"path": dest}, body=sys.stdin.buffer)
        return 0
    if not os.path.lexists(src):
        sys.stderr.write(f"lstat {src}: no such file or directory\n")
        return 1
    target = _stat(client, container, dest)
    if target is not None and target["mode"] & (1 << 31):  # an existing directory: copy into it
        directory, name = dest, os.path.basename(os.path.abspath(src))
    else:
        directory, name = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        tar.add(src, arcname=name)
    client.call("PUT", f"/containers/{container}/archive", query={"path": directory}, body=buffer.getvalue())
    return 0


@command(CP)
def cp(client: Client, _values: dict, args: list[str]) -> int:
    source, destination = args
    src_container, src = _split(source)
    dest_container, dest = _split(destination)
    if src_container and dest_container:
        raise UsageError("copying between containers is not supported")
    if not src_container and not dest_container:
        raise UsageError("must specify at least one container source")
    try:
        if src_container:
            return _from_container(client, src_container, src, dest)
        assert dest_container is not None  # one of the two, checked above
        return _to_container(client, src, dest_container, dest)
    except APIError as exc:
        daemon_error(exc.message)
        return 1


@command(EXPORT)
def export(client: Client, values: dict, args: list[str]) -> int:
    if not values["output"] and sys.stdout.isatty():
        sys.stderr.write("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    response = client.send("GET", f"/containers/{args[0]}/export")
    out = open(values["output"], "wb") if values["output"] else sys.stdout.buffer
    try:
        while data := response.read_some():
            out.write(data)
    finally:
        if values["output"]:
            out.close()
        response.close()
    return 0


_SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
