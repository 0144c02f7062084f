"""`dockyard run` and `dockyard create`: the container is created (pulling its image when it is
missing), then for run started, attached to and waited for."""

import os
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.container.options import CONTAINER_OPTIONS, container_body
from dockyard.cli.container.security import profile_path
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.client.errors import daemon_error

RUN = Command("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
              (Opt(("-d", "--detach"), "detach", "bool", "Run container in background and print container ID"),
               Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
                   metavar="string"),
               Opt(("--sig-proxy",), "sig_proxy", "bool", "Proxy received signals to the process (default true)",
                   default=True),
               *CONTAINER_OPTIONS), stop_at_positional=True, min_args=1)
CREATE = Command("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CONTAINER_OPTIONS,
                 stop_at_positional=True, min_args=1)


def create_container(client: Client, values: dict, image: str, command: list[str]) -> str:
    body = container_body(values, image, command)
    query = {"name": values["name"]} if values["name"] else None
    cidfile = values["cidfile"]
    if cidfile and os.path.exists(cidfile):
        raise UsageError(f"container ID file found, make sure the other container isn't running or delete {cidfile}")
    if values["pull"] not in ("always", "missing", "never"):
        raise UsageError(f"invalid pull option: '{values['pull']}': must be one of \"always\", \"missing\" or "
                         '"never"')
    if values["pull"] == "always":
        _pull(client, image, values["platform"])
    try:
        created = client.call("POST", "/containers/create", query=query, body=body)
    except APIError as exc:
        if exc.message.startswith(("invalid seccomp profile", "Decoding seccomp profile")) and profile_path(values):
            raise APIError(exc.status, f"{exc.message} (in {profile_path(values)})") from None
        if exc.status != 404 or not exc.message.startswith("No such image") or values["pull"] != "missing":
            raise
        sys.stderr.write(f"Unable to find image '{_with_tag(image)}' locally\n")
        _pull(client, image, values["platform"])
        created = client.call("POST", "/containers/create", query=query, body=body)
    cid = created["Id"]
    for warning in created.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {warning}\n")
    if cidfile:
        with open(cidfile, "w") as f:
            f.write(cid)
    return cid


def _pull(client: Client, image: str, platform: str | None) -> None:
    """Pull for run/create, with progress on stderr as Docker shows it."""
    from dockyard.cli.jsonmessage import StreamError
    from dockyard.cli.registry import pull_image

    try:
        pull_image(client, image, platform=platform or "", out=sys.stderr)
    except StreamError as exc:
        raise APIError(500, str(exc)) from None


def _with_tag(image: str) -> str:
    last = image.rpartition("/")[2]
    return image if ":" in last or "@" in last else image + ":latest"


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    try:
        cid = create_container(client, values, args[0], args[1:])
    except APIError as exc:
        return _refused(exc, "create")
    sys.stdout.write(cid + "\n")
    return 0


@command(RUN)
def run(client: Client, values: dict, args: list[str]) -> int:
    if values["tty"] and values["interactive"] and not sys.stdin.isatty():
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    try:
        cid = create_container(client, values, args[0], args[1:])
    except APIError as exc:
        return _run_error(exc)
    if values["detach"]:
        try:
            client.call("POST", f"/containers/{cid}/start")
        except APIError as exc:
            return _run_error(exc)
        sys.stdout.write(cid + "\n")
        return 0
    attach = client.send("POST", f"/containers/{cid}/attach", upgrade=True,
                         query={"stream": True, "stdout": True, "stderr": True, "stdin": values["interactive"],
                                "detachKeys": values["detach_keys"]})
    wait = client.send("POST", f"/containers/{cid}/wait",
                       query={"condition": "removed" if values["rm"] else "next-exit"})
    try:
        client.call("POST", f"/containers/{cid}/start")
    except APIError as exc:
        attach.close()
        wait.close()
        return _run_error(exc)
    from dockyard.cli.streams import proxy_signals, send_terminal_size, stream_attached

    if values["tty"]:
        send_terminal_size(client, cid)
    restore = None if values["tty"] or not values["sig_proxy"] else proxy_signals(client, cid)
    try:
        detached = stream_attached(attach, tty=values["tty"], stdin=values["interactive"],
                                   detach_keys=values["detach_keys"])
    finally:
        if restore:
            restore()
    if detached:
        wait.close()
        return 0  # detached with the detach keys: the container runs on
    result = wait.json()
    wait.close()
    if result.get("Error"):
        sys.stderr.write(f"dockyard: {result['Error'].get('Message', '')}\n")
    return int(result.get("StatusCode", 0))


def _refused(exc: APIError, name: str) -> int:
    """The daemon refused to create (or start) the container: Docker's CLI exits 125."""
    daemon_error(exc.message, prefix="dockyard: ")
    sys.stderr.write(f"\nRun 'dockyard {name} --help' for more information\n")
    return 125


def _run_error(exc: APIError) -> int:
    _refused(exc, "run")
    # Docker's convention: 127 when the command was not found, 126 when it cannot run.
    if "executable file not found" in exc.message or "no such file or directory" in exc.message:
        return 127
    if "permission denied" in exc.message:
        return 126
    return 125


