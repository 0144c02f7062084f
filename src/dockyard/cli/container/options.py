"""The flags run and create share, and the create request they make: Config, HostConfig and
NetworkingConfig. Each family of flags has its module beside this one: resources.py (-m, --cpus),
networking.py (-p, --network, --dns), mounts.py (-v, --mount, --tmpfs), isolation.py (--cap-add,
--device, --ulimit, namespaces), security.py (--security-opt); the rest are here."""

from dockyard.cli.common import env_list, labels, read_lines_file
from dockyard.cli.container.isolation import ISOLATION_OPTIONS, isolation_fields
from dockyard.cli.container.networking import NETWORK_OPTIONS, network_fields
from dockyard.cli.container.resources import RESOURCE_OPTIONS, resource_fields, restart_policy
from dockyard.cli.container.security import SECURITY_OPTIONS, security_fields
from dockyard.cli.flags import Opt, UsageError

CONTAINER_OPTIONS = (
    *RESOURCE_OPTIONS,
    *NETWORK_OPTIONS,
    *SECURITY_OPTIONS,
    Opt(("--name",), "name", "str", "Assign a name to the container", metavar="string"),
    Opt(("-e", "--env"), "env", "list", "Set environment variables", metavar="list"),
    Opt(("-w", "--workdir"), "workdir", "str", "Working directory inside the container", metavar="string"),
    Opt(("-u", "--user"), "user", "str", "Username or UID (format: <name|uid>[:<group|gid>])", metavar="string"),
    Opt(("--entrypoint",), "entrypoint", "str", "Overwrite the default ENTRYPOINT of the image", metavar="string"),
    Opt(("-i", "--interactive"), "interactive", "bool", "Keep STDIN open even if not attached"),
    Opt(("-t", "--tty"), "tty", "bool", "Allocate a pseudo-TTY"),
    Opt(("-h", "--hostname"), "hostname", "str", "Container host name", metavar="string"),
    Opt(("-l", "--label"), "label", "list", "Set meta data on a container", metavar="list"),
    Opt(("--rm",), "rm", "bool", "Automatically remove the container when it exits"),
    Opt(("--cidfile",), "cidfile", "str", "Write the container ID to the file", metavar="string"),
    Opt(("--env-file",), "env_file", "list", "Read in a file of environment variables", metavar="list"),
    Opt(("--label-file",), "label_file", "list", "Read in a line delimited file of labels", metavar="list"),
    Opt(("--restart",), "restart", "str", 'Restart policy to apply when a container exits (default "no")',
        metavar="string"),
    Opt(("--stop-signal",), "stop_signal", "str", "Signal to stop the container", metavar="string"),
    Opt(("--stop-timeout",), "stop_timeout", "int", "Timeout (in seconds) to stop a container", metavar="int"),
    Opt(("--init",), "init", "bool", "Run an init inside the container that forwards signals and reaps processes"),
    Opt(("--health-cmd",), "health_cmd", "str", "Command to run to check health", metavar="string"),
    Opt(("--health-interval",), "health_interval", "str", "Time between running the check (ms|s|m|h) (default 0s)",
        metavar="duration"),
    Opt(("--health-timeout",), "health_timeout", "str", "Maximum time to allow one check to run (ms|s|m|h) "
        "(default 0s)", metavar="duration"),
    Opt(("--health-retries",), "health_retries", "int", "Consecutive failures needed to report unhealthy",
        metavar="int"),
    Opt(("--health-start-period",), "health_start_period", "str", "Start period for the container to initialize "
        "before starting health-retries countdown (ms|s|m|h) (default 0s)", metavar="duration"),
    Opt(("--no-healthcheck",), "no_healthcheck", "bool", "Disable any container-specified HEALTHCHECK"),
    Opt(("--log-driver",), "log_driver", "str", "Logging driver for the container", metavar="string"),
    Opt(("--log-opt",), "log_opt", "list", "Log driver options", metavar="list"),
    Opt(("-v", "--volume"), "volume", "list", "Bind mount a volume", metavar="list"),
    Opt(("--mount",), "mount", "list", "Attach a filesystem mount to the container", metavar="mount"),
    Opt(("--tmpfs",), "tmpfs", "list", "Mount a tmpfs directory", metavar="list"),
    Opt(("--volumes-from",), "volumes_from", "list", "Mount volumes from the specified container(s)",
        metavar="list"),
    Opt(("--volume-driver",), "volume_driver", "str", "Optional volume driver for the container",
        metavar="string"),
    Opt(("--read-only",), "read_only", "bool", "Mount the container's root filesystem as read only"),
    *ISOLATION_OPTIONS,
    Opt(("--pull",), "pull", "str", 'Pull image before running ("always", "missing", "never")', default="missing",
        metavar="string"),
    Opt(("--platform",), "platform", "str", "Set platform if server is multi-platform capable", metavar="string"),
)


def healthcheck(values: dict) -> dict | None:
    from dockyard.errors import InvalidParameter
    from dockyard.util.durations import parse_ns

    given = {key: values[key] for key in ("health_cmd", "health_interval", "health_timeout", "health_retries",
                                          "health_start_period") if values[key] is not None}
    if values["no_healthcheck"]:
        if given:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    check: dict = {}
    if "health_cmd" in given:
        check["Test"] = ["CMD-SHELL", given["health_cmd"]]
    try:
        for key, field in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                           ("health_start_period", "StartPeriod")):
            if key in given:
                check[field] = parse_ns(given[key])
    except InvalidParameter as exc:
        raise UsageError(str(exc)) from None
    if "health_retries" in given:
        check["Retries"] = given["health_retries"]
    return check


def container_body(values: dict, image: str, command: list[str]) -> dict:
    env = [line for path in values["env_file"] for line in read_lines_file(path, "env")] + values["env"]
    label_lines = [line for path in values["label_file"] for line in read_lines_file(path, "label")] + values["label"]
    body = {
        "Image": image,
        "Cmd": command or None,
        "Env": env_list(env),
        "WorkingDir": values["workdir"] or "",
        "User": values["user"] or "",
        "Hostname": values["hostname"] or "",
        "Tty": values["tty"],
        "OpenStdin": values["interactive"],
        "StdinOnce": values["interactive"],
        "AttachStdin": values["interactive"] and not values.get("detach"),
        "AttachStdout": not values.get("detach"),
        "AttachStderr": not values.get("detach"),
        "Labels": labels(label_lines),
        "HostConfig": {"AutoRemove": values["rm"], "RestartPolicy": restart_policy(values["restart"]),
                       **resource_fields(values),
                       **({"Init": True} if values["init"] else {}),
                       "LogConfig": {"Type": values["log_driver"] or "json-file",
                                     "Config": dict(o.partition("=")[::2] for o in values["log_opt"])}},
    }
    from dockyard.cli.container.mounts import mount_fields  # csv (and re): not for start, stop or update

    mount_config, mount_host = mount_fields(values)
    body.update(mount_config)
    body["HostConfig"].update(mount_host)
    body["HostConfig"].update(isolation_fields(values))
    net_config, net_host, networking = network_fields(values)
    body.update(net_config)
    body["HostConfig"].update(net_host)
    if networking:
        body["NetworkingConfig"] = networking
    body["HostConfig"].update(security_fields(values))
    check = healthcheck(values)
    if check is not None:
        body["Healthcheck"] = check
    if values["stop_signal"]:
        body["StopSignal"] = values["stop_signal"]
    if values["stop_timeout"] is not None:
        body["StopTimeout"] = values["stop_timeout"]
    if values["entrypoint"] is not None:
        body["Entrypoint"] = [values["entrypoint"]] if values["entrypoint"] else []
    return body


