"""A container's life after create: start, stop, restart, kill, pause, unpause, rename, wait,
update, rm and container prune."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import filters_json
from dockyard.cli.container.attach import attach_container
from dockyard.cli.container.resources import RESOURCE_OPTIONS, resource_fields, restart_policy
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.client.errors import daemon_error

START = Command("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", (
    Opt(("-a", "--attach"), "attach", "bool", "Attach STDOUT/STDERR and forward signals"),
    Opt(("-i", "--interactive"), "interactive", "bool", "Attach container's STDIN"),
    Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
        metavar="string"),
), min_args=1)
STOP = Command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", (
    Opt(("-t", "--time"), "time", "int", "Seconds to wait before killing the container", metavar="int"),
), min_args=1)
RESTART = Command("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", STOP.options,
                  min_args=1)
KILL = Command("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", (
    Opt(("-s", "--signal"), "signal", "str", "Signal to send to the container", metavar="string"),
), min_args=1)
RENAME = Command("rename", "CONTAINER NEW_NAME", "Rename a container", (), min_args=2, max_args=2)
WAIT = Command("wait", "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit "
               "codes", (), min_args=1)
PAUSE = Command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", (),
                min_args=1)
UNPAUSE = Command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
                  (), min_args=1)
RM = Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", (
    Opt(("-f", "--force"), "force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    Opt(("-v", "--volumes"), "volumes", "bool", "Remove anonymous volumes associated with the container"),
), min_args=1)
PRUNE = Command("container prune", "[OPTIONS]", "Remove all stopped containers", (
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
    Opt(("--filter",), "filter", "list", 'Provide filter values (e.g. "until=<timestamp>")', metavar="filter"),
), max_args=0)
UPDATE = Command("update", "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers", (
    *RESOURCE_OPTIONS,
    Opt(("--restart",), "restart", "str", "Restart policy to apply when a container exits", metavar="string"),
), min_args=1)


def _each(client: Client, names: list[str], method: str, action: str, query: dict | None = None) -> int:
    """One request per container, all at once (as the docker CLI does), reported in argument order."""
    results: list[str | None] = [None] * len(names)

    def one(index: int, name: str) -> None:
        try:
            client.call(method, f"/containers/{name}/{action}".rstrip("/"), query=query)
        except APIError as exc:
            results[index] = exc.message
        except Exception as exc:  # noqa: BLE001 - reported like a daemon error
            results[index] = str(exc)

    if len(names) == 1:
        one(0, names[0])
    else:
        import threading

        threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for name, error in zip(names, results, strict=True):
        if error is None:
            sys.stdout.write(name + "\n")
        else:
            daemon_error(error)
    return 1 if any(e is not None for e in results) else 0


@command(START)
def start(client: Client, values: dict, args: list[str]) -> int:
    if values["attach"] or values["interactive"]:
        if len(args) > 1:
            sys.stderr.write("you cannot start and attach multiple containers at once\n")
            return 1
        return attach_container(client, args[0], stdin=values["interactive"], detach_keys=values["detach_keys"],
                       start_first=True)
    failed = False
    for name in args:
        try:
            client.call("POST", f"/containers/{name}/start")
            sys.stdout.write(name + "\n")
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
    if failed:
        sys.stderr.write("Error: failed to start containers: " + ", ".join(args) + "\n")
    return 1 if failed else 0


@command(STOP)
def stop(client: Client, values: dict, args: list[str]) -> int:
    return _each(client, args, "POST", "stop", {"t": values["time"]})


@command(RESTART)
def restart(client: Client, values: dict, args: list[str]) -> int:
    return _each(client, args, "POST", "restart", {"t": values["time"]})


@command(KILL)
def kill(client: Client, values: dict, args: list[str]) -> int:
    return _each(client, args, "POST", "kill", {"signal": values["signal"]})


@command(PAUSE)
def pause(client: Client, _values: dict, args: list[str]) -> int:
    return _each(client, args, "POST", "pause")


@command(UNPAUSE)
def unpause(client: Client, _values: dict, args: list[str]) -> int:
    return _each(client, args, "POST", "unpause")


@command(RENAME)
def rename(client: Client, _values: dict, args: list[str]) -> int:
    client.call("POST", f"/containers/{args[0]}/rename", query={"name": args[1]})
    return 0


@command(WAIT)
def wait(client: Client, _values: dict, args: list[str]) -> int:
    failed = False
    for name in args:
        try:
            result = client.call("POST", f"/containers/{name}/wait")
            sys.stdout.write(f"{result['StatusCode']}\n")
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
    return 1 if failed else 0


@command(RM)
def rm(client: Client, values: dict, args: list[str]) -> int:
    return _each(client, args, "DELETE", "", {"force": values["force"], "v": values["volumes"]})


@command(PRUNE)
def prune(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import confirmed

    if not values["force"] and not confirmed("WARNING! This will remove all stopped containers."):
        return 0
    from dockyard.cli.output import human_size

    result = client.call("POST", "/containers/prune", query={"filters": filters_json(values["filter"])})
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Containers:\n" + "".join(cid + "\n" for cid in deleted) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}\n")
    return 0


@command(UPDATE)
def update(client: Client, values: dict, args: list[str]) -> int:
    body = resource_fields(values)
    if values["restart"]:
        body["RestartPolicy"] = restart_policy(values["restart"])
    if not body:
        raise UsageError("you must provide one or more flags when using this command")
    failed = False
    for name in args:
        try:
            client.call("POST", f"/containers/{name}/update", body=body)
            sys.stdout.write(name + "\n")
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
    return 1 if failed else 0


