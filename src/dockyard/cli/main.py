"""`dockyard`: Docker's command line, talking to dockyardd through the Engine API.

Command modules are imported only when their command runs: the CLI starts on every call, and
its start-up time is part of every `dockyard run`.
"""

import sys

from dockyard import __version__

# Where each command is declared (with @command, dockyard.cli.flags): only that module is imported.
MODULES = {
    "run": "container.run",
    "create": "container.run",
    "start": "container.lifecycle",
    "stop": "container.lifecycle",
    "restart": "container.lifecycle",
    "kill": "container.lifecycle",
    "pause": "container.lifecycle",
    "unpause": "container.lifecycle",
    "rename": "container.lifecycle",
    "wait": "container.lifecycle",
    "rm": "container.lifecycle",
    "update": "container.lifecycle",
    "container prune": "container.lifecycle",
    "ps": "container.ps",
    "logs": "container.logs",
    "exec": "container.exec",
    "attach": "container.attach",
    "top": "container.top",
    "stats": "container.stats",
    "diff": "container.diff",
    "port": "container.port",
    "cp": "container.copy",
    "export": "container.copy",
    "commit": "container.commit",
    "events": "events",
    "build": "build",
    "builder prune": "build",
    "images": "images",
    "import": "images",
    "rmi": "images",
    "tag": "images",
    "history": "images",
    "image prune": "images",
    "save": "archives",
    "load": "archives",
    "inspect": "inspect",
    "pull": "registry",
    "push": "registry",
    "login": "registry",
    "logout": "registry",
    "search": "registry",
    "volume create": "volumes",
    "volume ls": "volumes",
    "volume rm": "volumes",
    "volume prune": "volumes",
    "network create": "networks",
    "network ls": "networks",
    "network rm": "networks",
    "network prune": "networks",
    "network connect": "networks",
    "network disconnect": "networks",
    "system df": "system",
    "version": "system",
    "info": "system",
    "catalog ls": "catalog",
    "catalog build": "catalog",
    "compose": "compose",
    "secret create": "secret", "secret ls": "secret", "secret inspect": "secret", "secret rm": "secret",
    "config create": "config", "config ls": "config", "config inspect": "config", "config rm": "config",
    **{f"swarm {sub}": "swarm" for sub in ("init", "join", "join-token", "leave", "update", "ca", "unlock",
                                           "unlock-key")},
    **{f"node {sub}": "node" for sub in ("ls", "inspect", "update", "promote", "demote", "rm", "ps")},
    **{f"stack {sub}": "stack" for sub in ("deploy", "ls", "ps", "services", "rm")},
    **{f"service {sub}": "service" for sub in ("create", "ls", "ps", "inspect", "update", "rollback", "scale", "rm",
                                               "logs")},
}
GROUPS = {
    "container": {"run": "run", "create": "create", "start": "start", "ls": "ps", "list": "ps", "ps": "ps",
                  "logs": "logs", "rm": "rm", "remove": "rm", "inspect": "inspect", "stop": "stop",
                  "restart": "restart", "kill": "kill", "rename": "rename", "wait": "wait",
                  "pause": "pause", "unpause": "unpause", "exec": "exec",
                  "top": "top", "prune": "container prune", "attach": "attach",
                  "stats": "stats", "diff": "diff", "cp": "cp", "export": "export", "commit": "commit",
                  "update": "update", "port": "port"},
    "image": {"ls": "images", "list": "images", "import": "import", "rm": "rmi", "remove": "rmi",
              "inspect": "inspect", "tag": "tag", "history": "history", "prune": "image prune",
              "pull": "pull", "push": "push", "save": "save", "load": "load", "build": "build"},
    "builder": {"build": "build", "prune": "builder prune"},
    "system": {"info": "info", "events": "events", "df": "system df"},
    "volume": {"create": "volume create", "ls": "volume ls", "list": "volume ls", "inspect": "inspect",
               "rm": "volume rm", "remove": "volume rm", "prune": "volume prune"},
    "catalog": {"ls": "catalog ls", "list": "catalog ls", "build": "catalog build"},
    "network": {"create": "network create", "ls": "network ls", "list": "network ls", "inspect": "inspect",
                "rm": "network rm", "remove": "network rm", "prune": "network prune",
                "connect": "network connect", "disconnect": "network disconnect"},
}
for _kind in ("secret", "config"):
    GROUPS[_kind] = {"create": f"{_kind} create", "ls": f"{_kind} ls", "list": f"{_kind} ls",
                     "inspect": f"{_kind} inspect", "rm": f"{_kind} rm", "remove": f"{_kind} rm"}
GROUPS["swarm"] = {sub: f"swarm {sub}" for sub in ("init", "join", "join-token", "leave", "update", "ca", "unlock",
                                                 "unlock-key")}
GROUPS["node"] = {"ls": "node ls", "list": "node ls", "inspect": "node inspect", "update": "node update",
                  "promote": "node promote", "demote": "node demote", "rm": "node rm", "remove": "node rm",
                  "ps": "node ps"}
GROUPS["service"] = {"create": "service create", "ls": "service ls", "list": "service ls", "ps": "service ps",
                     "inspect": "service inspect", "update": "service update", "rollback": "service rollback",
                     "scale": "service scale", "rm": "service rm", "remove": "service rm", "logs": "service logs"}
GROUPS["stack"] = {"deploy": "stack deploy", "up": "stack deploy", "ls": "stack ls", "list": "stack ls",
                  "ps": "stack ps", "services": "stack services", "rm": "stack rm", "remove": "stack rm",
                  "down": "stack rm"}
GROUP_TYPES = {"container": "container", "image": "image", "volume": "volume", "network": "network"}

USAGE = """
Usage:  dockyard [OPTIONS] COMMAND

A Docker-compatible container engine

Options:
  -H, --host string   Daemon socket to connect to (default $DOCKER_HOST or unix:///run/dockyard.sock)
  -v, --version       Print version information and quit

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  build       Build an image from a Dockerfile
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  exec        Execute a command in a running container
  history     Show the history of an image
  images      List images
  kill        Kill one or more running containers
  import      Import the contents of a tarball to create a filesystem image
  info        Display system-wide information
  inspect     Return low-level information on Docker objects
  login       Log in to a registry
  logout      Log out from a registry
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  ps          List containers
  pull        Download an image from a registry
  push        Upload an image to a registry
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  run         Create and run a new container from an image
  search      Search Docker Hub for images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  top         Display the running processes of a container
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  version     Show the Docker version information
  wait        Block until one or more containers stop, then print their exit codes

Management Commands:
  builder     Manage builds
  catalog     Build familiar images (busybox, debian, nginx, redis, ...) from Debian packages
  compose     Define and run multi-container applications
  config      Manage Swarm configs
  container   Manage containers
  image       Manage images
  machine     Create and manage machines (Docker hosts on this box) running dockyardd
  network     Manage networks
  node        Manage Swarm nodes
  registry    Run a registry server (serve, garbage-collect, token-server)
  secret      Manage Swarm secrets
  service     Manage Swarm services
  stack       Manage Swarm stacks
  swarm       Manage Swarm
  system      Manage Docker
  volume      Manage volumes
"""


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(sys.argv[1:] if argv is None else argv))


def run_cli(argv: list[str]) -> int:
    host = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-H", "--host"):
            if i + 1 >= len(argv):
                sys.stderr.write("flag needs an argument: --host\n")
                return 125
            host = argv[i + 1]
            i += 2
        elif arg.startswith("--host=") or (arg.startswith("-H") and len(arg) > 2):
            host = arg.split("=", 1)[1] if arg.startswith("--host=") else arg[2:]
            i += 1
        elif arg in ("-v", "--version"):
            sys.stdout.write(f"Dockyard version {__version__}\n")
            return 0
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif arg in ("-D", "--debug"):
            i += 1
        else:
            sys.stderr.write(f"unknown flag: {arg}\nSee 'dockyard --help'.\n")
            return 125
    rest = argv[i:]
    if not rest:
        sys.stdout.write(USAGE)
        return 0
    name, args = rest[0], rest[1:]
    if name == "registry":  # the registry server runs in this process, with no daemon involved
        from dockyard.registry import commands as registry_commands

        return registry_commands.main(args)
    if name == "machine":  # machines are namespaces and daemons of their own, made without the host's daemon
        from dockyard.cli import machine

        return machine.main(args)
    kind = None
    if name in GROUPS:
        group = name
        if not args or args[0] in ("-h", "--help"):
            sys.stdout.write(f"\nUsage:  dockyard {group} COMMAND\n\nCommands:\n"
                             + "".join(f"  {sub}\n" for sub in GROUPS[group]))
            return 0
        if args[0] not in GROUPS[group]:
            sys.stderr.write(f"dockyard: '{group} {args[0]}' is not a dockyard command.\nSee 'dockyard {group} "
                             "--help'\n")
            return 1
        name, args = GROUPS[group][args[0]], args[1:]
        kind = GROUP_TYPES.get(group)
    if name not in MODULES:
        sys.stderr.write(f"dockyard: '{name}' is not a dockyard command.\nSee 'dockyard --help'\n")
        return 1
    import importlib

    from dockyard.cli.client import Client
    from dockyard.cli.flags import COMMANDS, UsageError
    from dockyard.client.errors import report_errors

    importlib.import_module(f"dockyard.cli.{MODULES[name]}")
    command = COMMANDS[name]
    client = Client(host)

    def usage_error(exc: Exception) -> int:
        sys.stderr.write(f"{exc}\nSee 'dockyard {name} --help'.\n")
        return 125

    extra = {"kind": kind} if kind and name == "inspect" else {}
    return report_errors(lambda: command(client, args, **extra), ((UsageError, usage_error),))
