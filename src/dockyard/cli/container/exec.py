"""`dockyard exec`: a command run in a running container."""

import os
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import env_list
from dockyard.cli.flags import Command, Opt, command

EXEC = Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", (
    Opt(("-d", "--detach"), "detach", "bool", "Detached mode: run command in the background"),
    Opt(("-e", "--env"), "env", "list", "Set environment variables", metavar="list"),
    Opt(("-i", "--interactive"), "interactive", "bool", "Keep STDIN open even if not attached"),
    Opt(("-t", "--tty"), "tty", "bool", "Allocate a pseudo-TTY"),
    Opt(("-u", "--user"), "user", "str", "Username or UID (format: <name|uid>[:<group|gid>])", metavar="string"),
    Opt(("-w", "--workdir"), "workdir", "str", "Working directory inside the container", metavar="string"),
    Opt(("--privileged",), "privileged", "bool", "Give extended privileges to the command"),
), stop_at_positional=True, min_args=2)


@command(EXEC)
def exec_(client: Client, values: dict, args: list[str]) -> int:
    if values["tty"] and values["interactive"] and not sys.stdin.isatty():
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    detach = values["detach"]
    body = {"AttachStdin": values["interactive"] and not detach, "AttachStdout": not detach,
            "AttachStderr": not detach, "Tty": values["tty"], "Cmd": args[1:], "Env": env_list(values["env"]),
            "User": values["user"] or "", "WorkingDir": values["workdir"] or "", "Privileged": values["privileged"]}
    exec_id = client.call("POST", f"/containers/{args[0]}/exec", body=body)["Id"]
    if detach:
        client.call("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": values["tty"]})
        return 0
    stream = client.send("POST", f"/exec/{exec_id}/start", body={"Detach": False, "Tty": values["tty"]},
                         upgrade=True)
    from dockyard.cli.streams import stream_attached

    if values["tty"]:
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
            client.call("POST", f"/exec/{exec_id}/resize", query={"h": size.lines, "w": size.columns})
        except (OSError, APIError):
            pass
    stream_attached(stream, tty=values["tty"], stdin=values["interactive"])
    code = client.call("GET", f"/exec/{exec_id}/json").get("ExitCode")
    return 126 if code is None else int(code)


