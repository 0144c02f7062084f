"""The compose commands' parsers. Each handler is named "module.function" and imported only when its
command runs, so `compose config` does not pay for what `up` or `watch` need."""


def register(sub) -> None:
    for add in (_lifecycle, _interact, _container, _inspect, _images, _watch):
        add(sub)


def handler(name: str):
    import importlib

    module, _, function = name.partition(".")
    return getattr(importlib.import_module(f"dockyard.compose.commands.{module}"), function)


def _lifecycle(sub) -> None:
    p = sub.add_parser("up", help="Create and start containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: Run containers in the background")
    p.add_argument("--build", action="store_true", help="Build images before starting containers")
    p.add_argument("--no-build", action="store_true", help="Don't build an image, even if it's policy")
    p.add_argument("--force-recreate", action="store_true")
    p.add_argument("--no-recreate", action="store_true")
    p.add_argument("--no-deps", action="store_true", help="Don't start linked services")
    p.add_argument("--no-start", action="store_true", help="Don't start the services after creating them")
    p.add_argument("--scale", action="append", metavar="SERVICE=NUM")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("--wait", action="store_true", help="Wait for services to be running|healthy. Implies detached")
    p.add_argument("--wait-timeout", type=int)
    p.add_argument("--abort-on-container-exit", action="store_true")
    p.add_argument("--exit-code-from", metavar="SERVICE")
    p.add_argument("--attach-dependencies", action="store_true")
    p.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    p.add_argument("--quiet-pull", action="store_true")
    p.add_argument("-t", "--timeout", type=int)
    p.add_argument("--no-color", action="store_true")
    p.add_argument("--no-log-prefix", action="store_true")
    p.add_argument("-V", "--renew-anon-volumes", action="store_true")
    p.set_defaults(handler="lifecycle.up")

    p = sub.add_parser("create", help="Creates containers for a service")
    p.add_argument("services", nargs="*")
    p.add_argument("--build", action="store_true")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--force-recreate", action="store_true")
    p.add_argument("--no-recreate", action="store_true")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("--scale", action="append", metavar="SERVICE=NUM")
    p.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    p.set_defaults(handler="lifecycle.create")

    p = sub.add_parser("down", help="Stop and remove containers, networks")
    p.add_argument("services", nargs="*")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove named volumes and anonymous volumes")
    p.add_argument("--rmi", metavar="type", help='Remove images used by services: "local" or "all"')
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("-t", "--timeout", type=int)
    p.set_defaults(handler="lifecycle.down")

    for name, handler, text in (("start", "lifecycle.start", "Start services"),
                                ("pause", "lifecycle.pause", "Pause services"),
                                ("unpause", "lifecycle.unpause", "Unpause services")):
        p = sub.add_parser(name, help=text)
        p.add_argument("services", nargs="*")
        p.set_defaults(handler=handler)
    for name, handler, text in (("stop", "lifecycle.stop", "Stop services"),
                                ("restart", "lifecycle.restart", "Restart service containers")):
        p = sub.add_parser(name, help=text)
        p.add_argument("services", nargs="*")
        p.add_argument("-t", "--timeout", type=int)
        p.add_argument("--no-deps", action="store_true")
        p.set_defaults(handler=handler)
    p = sub.add_parser("kill", help="Force stop service containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-s", "--signal", default="SIGKILL")
    p.add_argument("--remove-orphans", action="store_true")
    p.set_defaults(handler="lifecycle.kill")
    p = sub.add_parser("scale", help="Scale services")
    p.add_argument("replicas", nargs="+", metavar="SERVICE=REPLICAS")
    p.add_argument("--no-deps", action="store_true", help="Don't start linked services")
    p.set_defaults(handler="lifecycle.scale")
    p = sub.add_parser("wait", help="Block until containers of all (or specified) services stop.")
    p.add_argument("services", nargs="+", metavar="SERVICE")
    p.add_argument("--down-project", action="store_true", help="Drops project when the first container stops")
    p.set_defaults(handler="lifecycle.wait")
    p = sub.add_parser("rm", help="Removes stopped service containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-f", "--force", action="store_true", help="Don't ask to confirm removal")
    p.add_argument("-s", "--stop", action="store_true", help="Stop the containers, if required, before removing")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove any anonymous volumes attached to containers")
    p.set_defaults(handler="lifecycle.rm")


def _interact(sub) -> None:
    p = sub.add_parser("logs", help="View output from containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--index", type=int)
    p.add_argument("--no-color", action="store_true")
    p.add_argument("--no-log-prefix", action="store_true")
    p.set_defaults(handler="interact.logs")

    p = sub.add_parser("exec", help="Execute a command in a running container")
    p.add_argument("service")
    p.add_argument("command", nargs="...")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true", default=True)
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("-e", "--env", action="append")
    p.add_argument("--index", type=int, default=0, help="Index of the container if service has multiple replicas")
    p.add_argument("--privileged", action="store_true")
    p.set_defaults(handler="interact.exec_")

    p = sub.add_parser("run", help="Run a one-off command on a service")
    p.add_argument("service")
    p.add_argument("command", nargs="...")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--rm", action="store_true")
    p.add_argument("--no-deps", action="store_true")
    p.add_argument("-e", "--env", action="append")
    p.add_argument("-l", "--label", action="append")
    p.add_argument("--name")
    p.add_argument("--entrypoint")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true", default=True)
    p.add_argument("-p", "--publish", action="append")
    p.add_argument("-v", "--volume", action="append")
    p.add_argument("--service-ports", action="store_true")
    p.add_argument("--use-aliases", action="store_true")
    p.add_argument("--build", action="store_true")
    p.add_argument("--quiet-pull", action="store_true")
    p.set_defaults(handler="interact.run")

    p = sub.add_parser("cp", help="Copy files/folders between a service container and the local filesystem")
    p.add_argument("source")
    p.add_argument("destination")
    p.add_argument("--index", type=int)
    p.add_argument("-a", "--archive", action="store_true")
    p.add_argument("-L", "--follow-link", action="store_true")
    p.set_defaults(handler="interact.cp")


def _container(sub) -> None:
    index_help = "index of the container if service has multiple replicas."
    p = sub.add_parser("attach", help="Attach local standard input, output, and error streams to a service's "
                       "running container")
    p.add_argument("service")
    p.add_argument("--index", type=int, default=0, help=index_help)
    p.add_argument("--detach-keys", help="Override the key sequence for detaching from a container.")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", type=_boolean, nargs="?", const=True, default=True,
                   help="Proxy all received signals to the process")
    p.set_defaults(handler="container.attach")

    p = sub.add_parser("stats", help="Display a live stream of container(s) resource usage statistics")
    p.add_argument("service", nargs="?")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.set_defaults(handler="container.stats")

    p = sub.add_parser("commit", help="Create a new image from a service container's changes")
    p.add_argument("service")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("--index", type=int, default=0, help=index_help)
    p.add_argument("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-p", "--pause", type=_boolean, nargs="?", const=True, default=True,
                   help="Pause container during commit")
    p.set_defaults(handler="container.commit")

    p = sub.add_parser("export", help="Export a service container's filesystem as a tar archive")
    p.add_argument("service")
    p.add_argument("--index", type=int, default=0, help=index_help)
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    p.set_defaults(handler="container.export")


def _boolean(text: str) -> bool:
    """Go's flag syntax for booleans that default to true: `--sig-proxy=false`."""
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise ValueError(text)


def _inspect(sub) -> None:
    p = sub.add_parser("ps", help="List containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--services", dest="services_only", action="store_true")
    p.add_argument("--format", default="table")
    p.add_argument("--status", action="append",
                   choices=["paused", "restarting", "removing", "running", "dead", "created", "exited"])
    p.add_argument("--filter", action="append")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--orphans", action="store_true", default=True)
    p.set_defaults(handler="inspect.ps")

    p = sub.add_parser("ls", help="List running compose projects")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table", choices=["table", "json"])
    p.add_argument("--filter", action="append")
    p.set_defaults(handler="inspect.ls")

    p = sub.add_parser("config", aliases=["convert"], help="Parse, resolve and render compose file in canonical "
                       "format")
    p.add_argument("service_names", nargs="*")
    p.add_argument("--services", action="store_true")
    p.add_argument("--volumes", action="store_true")
    p.add_argument("--profiles", action="store_true")
    p.add_argument("--images", action="store_true")
    p.add_argument("--hash")
    p.add_argument("--format", default="yaml", choices=["yaml", "json"])
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-o", "--output")
    p.add_argument("--no-interpolate", action="store_true")
    p.add_argument("--resolve-image-digests", action="store_true")
    p.set_defaults(handler="inspect.config")

    p = sub.add_parser("images", help="List images used by the created containers")
    p.add_argument("services", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table", choices=["table", "json"])
    p.set_defaults(handler="inspect.images")

    p = sub.add_parser("top", help="Display the running processes")
    p.add_argument("services", nargs="*")
    p.set_defaults(handler="inspect.top")

    p = sub.add_parser("port", help="Print the public port for a port binding")
    p.add_argument("service")
    p.add_argument("private_port")
    p.add_argument("--protocol", default="tcp", choices=["tcp", "udp"])
    p.add_argument("--index", type=int, default=1)
    p.set_defaults(handler="inspect.port")

    p = sub.add_parser("version", help="Show the Docker Compose version information")
    p.add_argument("--short", action="store_true")
    p.add_argument("-f", "--format", default="pretty", choices=["pretty", "json"])
    p.set_defaults(handler="inspect.version")

    p = sub.add_parser("volumes", help="List volumes")
    p.add_argument("services", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    p.add_argument("--format", default="table", help="Format output using a custom template")
    p.set_defaults(handler="inspect.volumes")

    p = sub.add_parser("events", help="Receive real time events from containers")
    p.add_argument("services", nargs="*")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="inspect.events")


def _images(sub) -> None:
    p = sub.add_parser("build", help="Build or rebuild services")
    p.add_argument("services", nargs="*")
    p.add_argument("--build-arg", action="append")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--pull", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--push", action="store_true")
    p.set_defaults(handler="images.build")

    p = sub.add_parser("pull", help="Pull service images")
    p.add_argument("services", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--ignore-pull-failures", action="store_true")
    p.add_argument("--ignore-buildable", action="store_true")
    p.add_argument("--include-deps", action="store_true")
    p.set_defaults(handler="images.pull")

    p = sub.add_parser("push", help="Push service images")
    p.add_argument("services", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--ignore-push-failures", action="store_true")
    p.add_argument("--include-deps", action="store_true")
    p.set_defaults(handler="images.push")


def _watch(sub) -> None:
    p = sub.add_parser("watch", help="Watch build context for service and rebuild/refresh containers when "
                       "files are updated")
    p.add_argument("services", nargs="*")
    p.add_argument("--no-up", action="store_true", help="Do not build & start services before watching")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--prune", action="store_true")
    p.set_defaults(handler="watch.watch")
