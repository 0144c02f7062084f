"""Container commands: run, create, start, ps, logs, rm."""

import os
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, UsageError, parse_or_help
from dockyard.cli.isolationflags import ISOLATION_OPTIONS
from dockyard.cli.netflags import NETWORK_OPTIONS, display_ports
from dockyard.cli.securityflags import SECURITY_OPTIONS, profile_path, security_fields
from dockyard.util import fastjson as json

RESOURCE_OPTIONS = (
    Opt(("-m", "--memory"), "memory", "str", "Memory limit", metavar="bytes"),
    Opt(("--memory-swap",), "memory_swap", "str", "Swap limit equal to memory plus swap: '-1' to enable unlimited "
        "swap", metavar="bytes"),
    Opt(("--memory-reservation",), "memory_reservation", "str", "Memory soft limit", metavar="bytes"),
    Opt(("--cpus",), "cpus", "str", "Number of CPUs", metavar="decimal"),
    Opt(("-c", "--cpu-shares"), "cpu_shares", "int", "CPU shares (relative weight)", metavar="int"),
    Opt(("--cpu-period",), "cpu_period", "int", "Limit CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Opt(("--cpu-quota",), "cpu_quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    Opt(("--cpuset-cpus",), "cpuset_cpus", "str", "CPUs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("--cpuset-mems",), "cpuset_mems", "str", "MEMs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("--pids-limit",), "pids_limit", "int", "Tune container pids limit (set -1 for unlimited)", metavar="int"),
    Opt(("--blkio-weight",), "blkio_weight", "int", "Block IO (relative weight), between 10 and 1000, or 0 to "
        "disable", metavar="uint16"),
)


def _bytes(text: str, flag: str) -> int:
    """A size flag (64m, 1g, ...); -1 means unlimited (swap)."""
    from dockyard.util.units import parse_bytes

    if text.strip() == "-1":
        return -1
    try:
        return parse_bytes(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: invalid size: \'{text}\'') from None


def resource_fields(values: dict) -> dict:
    fields: dict = {}
    for key, flag, field in (("memory", "--memory", "Memory"), ("memory_swap", "--memory-swap", "MemorySwap"),
                             ("memory_reservation", "--memory-reservation", "MemoryReservation")):
        if values[key] is not None:
            fields[field] = _bytes(values[key], flag)
    if values["cpus"] is not None:
        try:
            fields["NanoCpus"] = int(round(float(values["cpus"]) * 1e9))
        except ValueError:
            raise UsageError(f'invalid argument "{values["cpus"]}" for "--cpus" flag') from None
    for key, field in (("cpu_shares", "CpuShares"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"),
                       ("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems"), ("pids_limit", "PidsLimit"),
                       ("blkio_weight", "BlkioWeight")):
        if values[key] is not None:
            fields[field] = values[key]
    return fields


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
RUN = Command("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
              (Opt(("-d", "--detach"), "detach", "bool", "Run container in background and print container ID"),
               Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
                   metavar="string"),
               Opt(("--sig-proxy",), "sig_proxy", "bool", "Proxy received signals to the process (default true)",
                   default=True),
               *CONTAINER_OPTIONS), stop_at_positional=True, min_args=1)
CREATE = Command("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CONTAINER_OPTIONS,
                 stop_at_positional=True, min_args=1)
START = Command("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", (
    Opt(("-a", "--attach"), "attach", "bool", "Attach STDOUT/STDERR and forward signals"),
    Opt(("-i", "--interactive"), "interactive", "bool", "Attach container's STDIN"),
    Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
        metavar="string"),
), min_args=1)
ATTACH = Command("attach", "[OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a "
                 "running container", (
    Opt(("--no-stdin",), "no_stdin", "bool", "Do not attach STDIN"),
    Opt(("--sig-proxy",), "sig_proxy", "bool", "Proxy all received signals to the process (default true)",
        default=True),
    Opt(("--detach-keys",), "detach_keys", "str", "Override the key sequence for detaching a container",
        metavar="string"),
), min_args=1, max_args=1)
PS = Command("ps", "[OPTIONS]", "List containers", (
    Opt(("-a", "--all"), "all", "bool", "Show all containers (default shows just running)"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display container IDs"),
    Opt(("-l", "--latest"), "latest", "bool", "Show the latest created container (includes all states)"),
    Opt(("-n", "--last"), "last", "int", "Show n last created containers (includes all states)", default=-1,
        metavar="int"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Don't truncate output"),
    Opt(("-s", "--size"), "size", "bool", "Display total file sizes"),
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
), max_args=0)
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
              "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
              "LocalVolumes": "LOCAL VOLUMES"}
LOGS = Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", (
    Opt(("-f", "--follow"), "follow", "bool", "Follow log output"),
    Opt(("-t", "--timestamps"), "timestamps", "bool", "Show timestamps"),
    Opt(("-n", "--tail"), "tail", "str", 'Number of lines to show from the end of the logs (default "all")',
        default="all", metavar="string"),
    Opt(("--since",), "since", "str", "Show logs since timestamp or relative (e.g. 42m)", metavar="string"),
    Opt(("--until",), "until", "str", "Show logs before a timestamp or relative (e.g. 42m)", metavar="string"),
    Opt(("--details",), "details", "bool", "Show extra details provided to logs"),
), min_args=1, max_args=1)
RM = Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", (
    Opt(("-f", "--force"), "force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    Opt(("-v", "--volumes"), "volumes", "bool", "Remove anonymous volumes associated with the container"),
), min_args=1)


def _parse(command: Command, argv: list[str]) -> tuple[dict, list[str]] | None:
    return parse_or_help(command, argv)


def _env_list(entries: list[str]) -> list[str]:
    out = []
    for entry in entries:
        if "=" in entry:
            out.append(entry)
        elif entry in os.environ:
            out.append(f"{entry}={os.environ[entry]}")
    return out


def _labels(entries: list[str]) -> dict[str, str]:
    labels = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        labels[key] = value
    return labels


def _driver_options(entries: list[str]) -> dict[str, str]:
    """`-o/--opt key=value` of `network create` and `volume create`."""
    options = {}
    for option in entries:
        key, eq, value = option.partition("=")
        if not eq:
            raise UsageError(f'invalid argument "{option}" for "-o, --opt" flag: {option} is not a key=value pair')
        options[key] = value
    return options


def _read_lines_file(path: str, what: str) -> list[str]:
    """Docker's env/label file format: one KEY=VALUE (or KEY) per line, # comments, blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"open {path}: {exc.strerror.lower()}") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key = text.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"{what} file {path}, line {number}: variable '{key}' contains whitespaces")
        out.append(text)
    return out


def _restart_policy(text: str | None) -> dict:
    if not text:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = text.partition(":")
    if count and name != "on-failure":
        raise UsageError("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise UsageError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def _healthcheck(values: dict) -> dict | None:
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
    env = [line for path in values["env_file"] for line in _read_lines_file(path, "env")] + values["env"]
    labels = [line for path in values["label_file"] for line in _read_lines_file(path, "label")] + values["label"]
    body = {
        "Image": image,
        "Cmd": command or None,
        "Env": _env_list(env),
        "WorkingDir": values["workdir"] or "",
        "User": values["user"] or "",
        "Hostname": values["hostname"] or "",
        "Tty": values["tty"],
        "OpenStdin": values["interactive"],
        "StdinOnce": values["interactive"],
        "AttachStdin": values["interactive"] and not values.get("detach"),
        "AttachStdout": not values.get("detach"),
        "AttachStderr": not values.get("detach"),
        "Labels": _labels(labels),
        "HostConfig": {"AutoRemove": values["rm"], "RestartPolicy": _restart_policy(values["restart"]),
                       **resource_fields(values),
                       **({"Init": True} if values["init"] else {}),
                       "LogConfig": {"Type": values["log_driver"] or "json-file",
                                     "Config": dict(o.partition("=")[::2] for o in values["log_opt"])}},
    }
    from dockyard.cli.isolationflags import isolation_fields
    from dockyard.cli.mountflags import mount_fields

    mount_config, mount_host = mount_fields(values)
    body.update(mount_config)
    body["HostConfig"].update(mount_host)
    body["HostConfig"].update(isolation_fields(values))
    from dockyard.cli.netflags import network_fields

    net_config, net_host, networking = network_fields(values)
    body.update(net_config)
    body["HostConfig"].update(net_host)
    if networking:
        body["NetworkingConfig"] = networking
    body["HostConfig"].update(security_fields(values))
    healthcheck = _healthcheck(values)
    if healthcheck is not None:
        body["Healthcheck"] = healthcheck
    if values["stop_signal"]:
        body["StopSignal"] = values["stop_signal"]
    if values["stop_timeout"] is not None:
        body["StopTimeout"] = values["stop_timeout"]
    if values["entrypoint"] is not None:
        body["Entrypoint"] = [values["entrypoint"]] if values["entrypoint"] else []
    return body


def _create(client: Client, values: dict, image: str, command: list[str]) -> str:
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


def create(client: Client, argv: list[str]) -> int:
    parsed = _parse(CREATE, argv)
    if parsed is None:
        return 0
    values, args = parsed
    try:
        cid = _create(client, values, args[0], args[1:])
    except APIError as exc:
        sys.stderr.write(f"dockyard: Error response from daemon: {exc.message}\n\n"
                         "Run 'dockyard create --help' for more information\n")
        return 125
    sys.stdout.write(cid + "\n")
    return 0


def run(client: Client, argv: list[str]) -> int:
    parsed = _parse(RUN, argv)
    if parsed is None:
        return 0
    values, args = parsed
    if values["tty"] and values["interactive"] and not sys.stdin.isatty():
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    try:
        cid = _create(client, values, args[0], args[1:])
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


def _run_error(exc: APIError) -> int:
    sys.stderr.write(f"dockyard: Error response from daemon: {exc.message}\n\n"
                     "Run 'dockyard run --help' for more information\n")
    # Docker's convention: 127 when the command was not found, 126 when it cannot run.
    if "executable file not found" in exc.message or "no such file or directory" in exc.message:
        return 127
    if "permission denied" in exc.message:
        return 126
    return 125


def start(client: Client, argv: list[str]) -> int:
    parsed = _parse(START, argv)
    if parsed is None:
        return 0
    values, args = parsed
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
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    if failed:
        sys.stderr.write("Error: failed to start containers: " + ", ".join(args) + "\n")
    return 1 if failed else 0


def _filters_json(entries: list[str]) -> str | None:
    if not entries:
        return None
    filters: dict[str, list[str]] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {entry}")
        filters.setdefault(key.strip().lower(), []).append(value)
    return json.dumps(filters)


def ps(client: Client, argv: list[str]) -> int:
    parsed = _parse(PS, argv)
    if parsed is None:
        return 0
    values, _ = parsed
    from dockyard.cli.output import ago, ellipsis, human_size, table

    limit = 1 if values["latest"] else values["last"]
    query = {"all": values["all"] or limit > 0, "limit": limit if limit > 0 else None, "size": values["size"],
             "filters": _filters_json(values["filter"])}
    containers = client.call("GET", "/containers/json", query=query)
    trunc = not values["no_trunc"]
    if values["quiet"]:
        sys.stdout.write("".join((c["Id"][:12] if trunc else c["Id"]) + "\n" for c in containers))
        return 0
    if values["format"]:
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(values["format"], [_ps_fields(c, trunc) for c in containers], PS_HEADERS))
        return 0
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    if values["size"]:
        headers.append("SIZE")
    rows = []
    for c in containers:
        command = c["Command"]
        image = c["Image"]
        if trunc:
            command = ellipsis(command, 20)
            if image.startswith("sha256:"):
                image = image[7:19]
        row = [c["Id"][:12] if trunc else c["Id"], image, json.dumps(command, ensure_ascii=False),
               ago(c["Created"]), c["Status"], display_ports(c.get("Ports") or []),
               display_names(c["Names"], trunc)]
        if values["size"]:
            row.append(f"{human_size(c.get('SizeRw', 0))} (virtual {human_size(c.get('SizeRootFs', 0))})")
        rows.append(row)
    sys.stdout.write(table(headers, rows))
    return 0


def display_names(names: list[str], trunc: bool) -> str:
    """Docker's NAMES: without --no-trunc only the container's own name, not the link names
    ("parent/alias") that also point at it."""
    names = [n.lstrip("/") for n in names]
    if trunc:
        names = next(([n] for n in names if "/" not in n), names)
    return ",".join(names)


def _ps_fields(c: dict, trunc: bool) -> dict:
    """The fields Docker's container formatter offers to --format templates."""
    import time

    from dockyard.cli.output import ago, ellipsis, human_size

    command = ellipsis(c["Command"], 20) if trunc else c["Command"]
    size = ""
    if "SizeRw" in c:
        size = f"{human_size(c.get('SizeRw', 0))} (virtual {human_size(c.get('SizeRootFs', 0))})"
    return {
        "ID": c["Id"][:12] if trunc else c["Id"],
        "Image": c["Image"],
        "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c["Created"])),
        "RunningFor": ago(c["Created"]),
        "Ports": display_ports(c.get("Ports") or []),
        "State": c["State"],
        "Status": c["Status"],
        "Size": size,
        "Names": display_names(c["Names"], trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted((c.get("Labels") or {}).items())),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in c.get("Mounts") or []),
        "Networks": ",".join(sorted((c.get("NetworkSettings") or {}).get("Networks") or {})),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
    }


def _parse_time(value: str, now: float) -> str:
    """Docker's --since/--until: a relative duration (10m, 1h30m), a unix time or an RFC 3339 date."""
    import re

    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value):
        units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", value))
        return f"{now - seconds:.9f}"
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    from dockyard.util.timefmt import parse_rfc3339

    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return f"{parse_rfc3339(text) / 1e9:.9f}"
    except ValueError:
        raise UsageError(f'invalid value for "since"/"until": {value!r} is not a timestamp or a duration') from None


def logs(client: Client, argv: list[str]) -> int:
    parsed = _parse(LOGS, argv)
    if parsed is None:
        return 0
    import time

    values, args = parsed
    now = time.time()
    query = {"stdout": True, "stderr": True, "follow": values["follow"], "timestamps": values["timestamps"],
             "details": values["details"],
             "tail": values["tail"],
             "since": _parse_time(values["since"], now) if values["since"] else None,
             "until": _parse_time(values["until"], now) if values["until"] else None}
    response = client.send("GET", f"/containers/{args[0]}/logs", query=query)
    from dockyard.cli.streams import copy_output

    copy_output(response, multiplexed="multiplexed" in response.headers.get("content-type", ""))
    response.close()
    return 0


def rm(client: Client, argv: list[str]) -> int:
    parsed = _parse(RM, argv)
    if parsed is None:
        return 0
    values, args = parsed
    return _each(client, args, "DELETE", "", {"force": values["force"], "v": values["volumes"]})



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
            sys.stderr.write(f"Error response from daemon: {error}\n")
    return 1 if any(e is not None for e in results) else 0


def stop(client: Client, argv: list[str]) -> int:
    parsed = _parse(STOP, argv)
    if parsed is None:
        return 0
    values, args = parsed
    return _each(client, args, "POST", "stop", {"t": values["time"]})


def restart(client: Client, argv: list[str]) -> int:
    parsed = _parse(RESTART, argv)
    if parsed is None:
        return 0
    values, args = parsed
    return _each(client, args, "POST", "restart", {"t": values["time"]})


def kill(client: Client, argv: list[str]) -> int:
    parsed = _parse(KILL, argv)
    if parsed is None:
        return 0
    values, args = parsed
    return _each(client, args, "POST", "kill", {"signal": values["signal"]})


def rename(client: Client, argv: list[str]) -> int:
    parsed = _parse(RENAME, argv)
    if parsed is None:
        return 0
    _values, args = parsed
    client.call("POST", f"/containers/{args[0]}/rename", query={"name": args[1]})
    return 0


def wait(client: Client, argv: list[str]) -> int:
    parsed = _parse(WAIT, argv)
    if parsed is None:
        return 0
    _values, args = parsed
    failed = False
    for name in args:
        try:
            result = client.call("POST", f"/containers/{name}/wait")
            sys.stdout.write(f"{result['StatusCode']}\n")
        except APIError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    return 1 if failed else 0


PAUSE = Command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", (),
                min_args=1)
UNPAUSE = Command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
                  (), min_args=1)


def pause(client: Client, argv: list[str]) -> int:
    parsed = _parse(PAUSE, argv)
    return 0 if parsed is None else _each(client, parsed[1], "POST", "pause")


def unpause(client: Client, argv: list[str]) -> int:
    parsed = _parse(UNPAUSE, argv)
    return 0 if parsed is None else _each(client, parsed[1], "POST", "unpause")


EXEC = Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", (
    Opt(("-d", "--detach"), "detach", "bool", "Detached mode: run command in the background"),
    Opt(("-e", "--env"), "env", "list", "Set environment variables", metavar="list"),
    Opt(("-i", "--interactive"), "interactive", "bool", "Keep STDIN open even if not attached"),
    Opt(("-t", "--tty"), "tty", "bool", "Allocate a pseudo-TTY"),
    Opt(("-u", "--user"), "user", "str", "Username or UID (format: <name|uid>[:<group|gid>])", metavar="string"),
    Opt(("-w", "--workdir"), "workdir", "str", "Working directory inside the container", metavar="string"),
    Opt(("--privileged",), "privileged", "bool", "Give extended privileges to the command"),
), stop_at_positional=True, min_args=2)


def exec_(client: Client, argv: list[str]) -> int:
    parsed = _parse(EXEC, argv)
    if parsed is None:
        return 0
    values, args = parsed
    if values["tty"] and values["interactive"] and not sys.stdin.isatty():
        sys.stderr.write("the input device is not a TTY\n")
        return 1
    detach = values["detach"]
    body = {"AttachStdin": values["interactive"] and not detach, "AttachStdout": not detach,
            "AttachStderr": not detach, "Tty": values["tty"], "Cmd": args[1:], "Env": _env_list(values["env"]),
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


EVENTS = Command("events", "[OPTIONS]", "Get real time events from the server", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--since",), "since", "str", "Show all events created since timestamp", metavar="string"),
    Opt(("--until",), "until", "str", "Stream events until this timestamp", metavar="string"),
), max_args=0)


def events(client: Client, argv: list[str]) -> int:
    parsed = _parse(EVENTS, argv)
    if parsed is None:
        return 0
    import time

    from dockyard.util.timefmt import rfc3339_fixed

    values, _ = parsed
    now = time.time()
    query = {"since": _parse_time(values["since"], now) if values["since"] else None,
             "until": _parse_time(values["until"], now) if values["until"] else None,
             "filters": _filters_json(values["filter"])}
    response = client.send("GET", "/events", query=query)
    for event in response.json_lines():
        if values["format"]:
            from dockyard.cli.template import render

            line = render(values["format"], event)
        else:
            attributes = event.get("Actor", {}).get("Attributes", {})
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
            line = (f"{rfc3339_fixed(event['timeNano'])} {event['Type']} {event['Action']} "
                    f"{event['Actor']['ID']}" + (f" ({pairs})" if pairs else ""))
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    response.close()
    return 0


TOP = Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", (),
              stop_at_positional=True, min_args=1)
PRUNE = Command("container prune", "[OPTIONS]", "Remove all stopped containers", (
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
    Opt(("--filter",), "filter", "list", 'Provide filter values (e.g. "until=<timestamp>")', metavar="filter"),
), max_args=0)


def top(client: Client, argv: list[str]) -> int:
    parsed = _parse(TOP, argv)
    if parsed is None:
        return 0
    _values, args = parsed
    from dockyard.cli.output import table

    result = client.call("GET", f"/containers/{args[0]}/top",
                         query={"ps_args": " ".join(args[1:]) if len(args) > 1 else None})
    sys.stdout.write(table(result["Titles"], result["Processes"] or []))
    return 0


def prune(client: Client, argv: list[str]) -> int:
    parsed = _parse(PRUNE, argv)
    if parsed is None:
        return 0
    values, _ = parsed
    from dockyard.cli.output import confirmed

    if not values["force"] and not confirmed("WARNING! This will remove all stopped containers."):
        return 0
    from dockyard.cli.output import human_size

    result = client.call("POST", "/containers/prune", query={"filters": _filters_json(values["filter"])})
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Containers:\n" + "".join(cid + "\n" for cid in deleted) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}\n")
    return 0


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
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
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


def attach(client: Client, argv: list[str]) -> int:
    parsed = _parse(ATTACH, argv)
    if parsed is None:
        return 0
    values, args = parsed
    return attach_container(client, args[0], stdin=not values["no_stdin"], detach_keys=values["detach_keys"],
                   start_first=False, sig_proxy=values["sig_proxy"])


STATS = Command("stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage "
                "statistics", (
    Opt(("-a", "--all"), "all", "bool", "Show all containers (default shows just running)"),
    Opt(("--no-stream",), "no_stream", "bool", "Disable streaming stats and only pull the first result"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
))
STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}


def _binary_size(size: float) -> str:
    """go-units BytesSize: binary units, %.4g."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def stats_fields(s: dict, trunc: bool) -> dict:
    """Docker's stats formatter fields from one API sample (with precpu_stats)."""
    from dockyard.cli.output import human_size

    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    cpu_percent = cpu_delta / system_delta * online * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = s.get("memory_stats") or {}
    usage = memory.get("usage", 0)
    stats = memory.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    if inactive < usage:
        usage -= inactive
    limit = memory.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        if entry.get("op", "").lower() == "read":
            read += entry.get("value", 0)
        elif entry.get("op", "").lower() == "write":
            write += entry.get("value", 0)
    cid = s.get("id", "")
    return {"Container": cid[:12] if trunc else cid, "ID": cid[:12] if trunc else cid,
            "Name": s.get("name", "").lstrip("/"), "CPUPerc": f"{cpu_percent:.2f}%",
            "MemUsage": f"{_binary_size(usage)} / {_binary_size(limit)}",
            "MemPerc": f"{usage / limit * 100 if limit else 0:.2f}%",
            "NetIO": f"{human_size(rx)} / {human_size(tx)}", "BlockIO": f"{human_size(read)} / {human_size(write)}",
            "PIDs": str((s.get("pids_stats") or {}).get("current", 0))}


def stats(client: Client, argv: list[str]) -> int:
    parsed = _parse(STATS, argv)
    if parsed is None:
        return 0
    values, names = parsed
    if not names:
        names = [c["Id"] for c in client.call("GET", "/containers/json", query={"all": values["all"]})]
    return show_stats(client, names, no_stream=values["no_stream"], no_trunc=values["no_trunc"],
                      template=values["format"])


def show_stats(client: Client, names: list[str], *, no_stream: bool, no_trunc: bool, template: str | None) -> int:
    """`docker stats` (and `compose stats`) of these containers: one table, redrawn every second until
    their streams end, or drawn once from the first sample with ``no_stream``."""
    import threading
    import time

    from dockyard.cli.output import formatted

    latest: dict[str, dict] = {}
    errors: list[str] = []

    def follow(name: str) -> None:
        try:
            response = client.send("GET", f"/containers/{name}/stats",
                                   query={"stream": "0" if no_stream else "1"})
            for sample_ in response.json_lines():
                latest[name] = sample_
            response.close()
        except APIError as exc:
            errors.append(exc.message)
        except Exception:  # noqa: BLE001 - a container going away ends its stream
            pass

    threads = [threading.Thread(target=follow, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    if template == "json":  # Docker's --format json: one JSON object per container
        template = "{{json .}}"
    template = template or ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                            "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")

    def render() -> str:
        rows = [stats_fields(latest[n], not no_trunc) for n in names if n in latest]
        return formatted(template, rows, STATS_HEADERS)

    if no_stream:
        for t in threads:
            t.join()
        for message in errors:
            sys.stderr.write(f"Error response from daemon: {message}\n")
        sys.stdout.write(render())
        return 1 if errors and not latest else 0
    clear = "\033[2J\033[H" if sys.stdout.isatty() else ""
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        sys.stdout.write(clear + render())
        sys.stdout.flush()
    return 0


DIFF = Command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem", (),
               min_args=1, max_args=1)


def diff(client: Client, argv: list[str]) -> int:
    parsed = _parse(DIFF, argv)
    if parsed is None:
        return 0
    changes = client.call("GET", f"/containers/{parsed[1][0]}/changes") or []
    sys.stdout.write("".join(f"{'CAD'[c['Kind']]} {c['Path']}\n" for c in changes))
    return 0


UPDATE = Command("update", "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers", (
    *RESOURCE_OPTIONS,
    Opt(("--restart",), "restart", "str", "Restart policy to apply when a container exits", metavar="string"),
), min_args=1)


def update(client: Client, argv: list[str]) -> int:
    parsed = _parse(UPDATE, argv)
    if parsed is None:
        return 0
    values, args = parsed
    body = resource_fields(values)
    if values["restart"]:
        body["RestartPolicy"] = _restart_policy(values["restart"])
    if not body:
        raise UsageError("you must provide one or more flags when using this command")
    failed = False
    for name in args:
        try:
            client.call("POST", f"/containers/{name}/update", body=body)
            sys.stdout.write(name + "\n")
        except APIError as exc:
            sys.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    return 1 if failed else 0


PORT = Command("port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the "
               "container", (), min_args=1, max_args=2)


def port(client: Client, argv: list[str]) -> int:
    parsed = _parse(PORT, argv)
    if parsed is None:
        return 0
    _values, args = parsed
    info = client.call("GET", f"/containers/{args[0]}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = None
    if len(args) > 1:
        wanted = args[1] if "/" in args[1] else args[1] + "/tcp"
    lines = []
    for private, bindings in sorted(ports.items()):
        if wanted and private != wanted:
            continue
        for binding in bindings or []:
            address = f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
            lines.append(address if wanted else f"{private} -> {address}")
    if wanted and not lines:
        sys.stderr.write(f"Error: No public port '{wanted}' published for {args[0]}\n")
        return 1
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0
