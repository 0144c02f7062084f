"""`dockyard attach`, and the attach-then-start of `dockyard start -a`."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, command
from dockyard.client.errors import daemon_error

ATTACH = Command("attach", "[OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a "
                 "running container", (
    Opt(("--no-stdin",), "no_stdin", "bool", "Do not attach STDIN"),
    Opt(("--sig-proxy",), "sig_proxy", "bool", "Proxy all received signals to the process (default true)",
        default=True),
    Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
        metavar="string"),
), min_args=1, max_args=1)


def attach_container(client: Client, name: str, *, stdin: bool, detach_keys: str | None, start_first: bool,
            sig_proxy: bool = True) -> int:
    """Attach to a container (starting it first for `start -a`); return its exit code if it ends."""
    from dockyard.cli.streams import proxy_signals, send_terminal_size, stream_attached

    info = client.call("GET", f"/containers/{name}/json")
    tty = bool(info["Config"].get("Tty"))
    stdin = stdin and bool(info["Config"].get("OpenStdin"))
    if not start_first and not info["State"]["Running"]:
        sys.stderr.write("You cannot attach to a stopped container, start it first\n")
        return 1
    response = client.send("POST", f"/containers/{info['Id']}/attach", upgrade=True,
                           query={"stream": True, "stdout": True, "stderr": True, "stdin": stdin,
                                  "detachKeys": detach_keys})
    wait = client.send("POST", f"/containers/{info['Id']}/wait", query={"condition": "next-exit"})
    if start_first:
        try:
            client.call("POST", f"/containers/{info['Id']}/start")
        except APIError as exc:
            response.close()
            wait.close()
            daemon_error(exc.message)
            return 1
    if tty:
        send_terminal_size(client, info["Id"])
    restore = None if tty or not sig_proxy else proxy_signals(client, info["Id"])
    try:
        detached = stream_attached(response, tty=tty, stdin=stdin, detach_keys=detach_keys)
    finally:
        if restore:
            restore()
    if detached:
        wait.close()
        return 0  # detached: the container runs on
    result = wait.json()
    wait.close()
    return int(result.get("StatusCode", 0))


@command(ATTACH)
def attach(client: Client, values: dict, args: list[str]) -> int:
    return attach_container(client, args[0], stdin=not values["no_stdin"], detach_keys=values["detach_keys"],
                   start_first=False, sig_proxy=values["sig_proxy"])


