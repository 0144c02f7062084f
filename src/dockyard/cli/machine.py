"""`dockyard machine`: docker-machine's commands and output, for hosts on this box (no daemon
involved: the commands act on the machine store and the kernel, as docker-machine does)."""

from __future__ import annotations

import os
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor

from dockyard.cli.flags import Command, Opt, UsageError, help_text, parse

PROGRAM = "dockyard machine"
DEFAULT_NAME = "default"
# docker-machine's default without its SWARM column (classic Swarm is not provisioned).
LS_FORMAT = ("table {{ .Name }}\t{{ .Active }}\t{{ .DriverName}}\t{{ .State }}\t{{ .URL }}\t{{ .DockerVersion }}"
             "\t{{ .Error}}")
LS_HEADERS = {"Name": "NAME", "Active": "ACTIVE", "ActiveHost": "ACTIVE_HOST", "ActiveSwarm": "ACTIVE_SWARM",
              "DriverName": "DRIVER", "State": "STATE", "URL": "URL", "Swarm": "SWARM", "Error": "ERRORS",
              "DockerVersion": "DOCKER", "ResponseTime": "RESPONSE"}

USAGE = """Usage: dockyard machine [OPTIONS] COMMAND [arg...]

Create and manage machines running Docker (hosts on this box: each a network namespace with its own dockyardd).

Options:
  --debug, -D                Enable debug mode
  --storage-path, -s         Configures storage path [$MACHINE_STORAGE_PATH] (default /var/lib/dockyard/machine)

Commands:
  active            Print which machine is active
  config            Print the connection config for machine
  create            Create a machine
  env               Display the commands to set up the environment for the Docker client
  inspect           Inspect information about a machine
  ip                Get the IP address of a machine
  kill              Kill a machine
  ls                List machines
  mount             Mount or unmount a directory from a machine
  provision         Re-provision existing machines
  regenerate-certs  Regenerate TLS Certificates for a machine
  restart           Restart a machine
  rm                Remove a machine
  ssh               Log into or run a command on a machine with SSH.
  scp               Copy files between machines
  start             Start a machine
  status            Get the status of a machine
  stop              Stop a machine
  upgrade           Upgrade a machine to the latest version of Docker (the host's installed dockyardd)
  url               Get the URL of a machine
  version           Show the Dockyard version or a machine's docker version

Run 'dockyard machine COMMAND --help' for more information on a command.
"""


def _create_command() -> Command:
    from dockyard.machine.netns import NetnsDriver

    options = [
        Opt(("-d", "--driver"), "driver", "str", "Driver to create machine with.", "netns"),
        Opt(("--engine-opt",), "engine_opt", "list", "Specify arbitrary flags to include with the created engine in "
            "the form flag=value"),
        Opt(("--engine-insecure-registry",), "insecure", "list", "Specify insecure registries to allow with the "
            "created engine"),
        Opt(("--engine-registry-mirror",), "mirror", "list", "Specify registry mirrors to use"),
        Opt(("--engine-label",), "label", "list", "Specify labels for the created engine"),
        Opt(("--engine-storage-driver",), "storage_driver", "str", "Specify a storage driver to use with the engine",
            ""),
        Opt(("--engine-env",), "engine_env", "list", "Specify environment variables to set in the engine"),
        Opt(("--tls-san",), "tls_san", "list", "Support extra SANs for TLS certs"),
    ]
    for flag in NetnsDriver.create_flags():
        default = os.environ.get(flag.env) or flag.default
        options.append(Opt(("--" + flag.name,), flag.name, "str", f"{flag.help} [${flag.env}]", default))
    return Command("machine create", "[OPTIONS] [arg...]", "Create a machine", tuple(options))


COMMANDS = {
    "active": Command("machine active", "[OPTIONS]", "Print which machine is active",
                      (Opt(("-t", "--timeout"), "timeout", "int", "Timeout in seconds, default to 10s", 10),)),
    "config": Command("machine config", "[OPTIONS] [arg...]", "Print the connection config for machine",
                      (Opt(("--swarm",), "swarm", "bool", "Display the Swarm config instead of the Docker daemon"),)),
    "env": Command("machine env", "[OPTIONS] [arg...]",
                   "Display the commands to set up the environment for the Docker client",
                   (Opt(("--swarm",), "swarm", "bool", "Display the Swarm config instead of the Docker daemon"),
                    Opt(("--shell",), "shell", "str", "Force environment to be configured for a specified shell: "
                        "[fish, cmd, powershell, tcsh, emacs], default is auto-detect", ""),
                    Opt(("-u", "--unset"), "unset", "bool", "Unset variables instead of setting them"),
                    Opt(("--no-proxy",), "no_proxy", "bool", "Add machine IP to NO_PROXY environment variable"))),
    "inspect": Command("machine inspect", "[OPTIONS] [arg...]", "Inspect information about a machine",
                       (Opt(("-f", "--format"), "format", "str", "Format the output using the given go template.",
                            ""),)),
    "ip": Command("machine ip", "[arg...]", "Get the IP address of a machine", ()),
    "kill": Command("machine kill", "[arg...]", "Kill a machine", ()),
    "ls": Command("machine ls", "[OPTIONS] [arg...]", "List machines",
                  (Opt(("-q", "--quiet"), "quiet", "bool", "Enable quiet mode"),
                   Opt(("--filter",), "filter", "list", "Filter output based on conditions provided"),
                   Opt(("-t", "--timeout"), "timeout", "int", "Timeout in seconds, default to 10s", 10),
                   Opt(("-f", "--format"), "format", "str", "Pretty-print machines using a Go template", ""))),
    "mount": Command("machine mount", "[OPTIONS] [arg...]", "Mount or unmount a directory from a machine",
                     (Opt(("-u", "--unmount"), "unmount", "bool", "Unmount instead of mount"),)),
    "provision": Command("machine provision", "[arg...]", "Re-provision existing machines", ()),
    "upgrade": Command("machine upgrade", "[arg...]", "Upgrade a machine to the latest version of Docker", ()),
    "regenerate-certs": Command("machine regenerate-certs", "[OPTIONS] [arg...]",
                                "Regenerate TLS Certificates for a machine",
                                (Opt(("-f", "--force"), "force", "bool", "Force rebuild and do not prompt"),
                                 Opt(("--client-certs",), "client_certs", "bool",
                                     "Also regenerate client certificates and CA."))),
    "restart": Command("machine restart", "[arg...]", "Restart a machine", ()),
    "rm": Command("machine rm", "[OPTIONS] [arg...]", "Remove a machine",
                  (Opt(("-f", "--force"), "force", "bool", "Remove local configuration even if machine cannot be "
                       "removed, also implies an automatic yes (`-y`)"),
                   Opt(("-y",), "yes", "bool", "Assumes automatic yes to proceed with remove, without prompting "
                       "further user confirmation"))),
    "scp": Command("machine scp", "[OPTIONS] [arg...]", "Copy files between machines",
                   (Opt(("-r", "--recursive"), "recursive", "bool", "Copy files recursively (required to copy "
                        "directories)"),
                    Opt(("-d", "--delta"), "delta", "bool", "Reduce amount of data sent over network by sending only "
                        "the differences (uses rsync)"),
                    Opt(("-q", "--quiet"), "quiet", "bool", "Disables the progress meter as well as warning and "
                        "diagnostic messages from ssh"))),
    "start": Command("machine start", "[arg...]", "Start a machine", ()),
    "status": Command("machine status", "[arg...]", "Get the status of a machine", ()),
    "stop": Command("machine stop", "[arg...]", "Stop a machine", ()),
    "url": Command("machine url", "[arg...]", "Get the URL of a machine", ()),
    "version": Command("machine version", "[arg...]", "Show the Dockyard version or a machine's docker version", ()),
}


class Failed(Exception):
    """A command's error, printed as is (docker-machine's log.Error) with exit status 1."""


def _info(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    storage = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-s", "--storage-path"):
            if i + 1 >= len(argv):
                sys.stderr.write("flag needs an argument: --storage-path\n")
                return 1
            storage, i = argv[i + 1], i + 2
        elif arg.startswith("--storage-path="):
            storage, i = arg.partition("=")[2], i + 1
        elif arg in ("-D", "--debug", "--native-ssh"):
            i += 1
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        else:
            sys.stderr.write(f"Incorrect Usage. flag provided but not defined: {arg}\n\n{USAGE}")
            return 1
    rest = argv[i:]
    if rest[:1] == ["help"] and len(rest) > 1:  # `help COMMAND` is `COMMAND --help`
        rest = [rest[1], "--help"]
    if not rest or rest[0] == "help":
        sys.stdout.write(USAGE)
        return 0
    name, args = rest[0], rest[1:]
    handler = HANDLERS.get(name)
    if name not in HANDLERS:
        sys.stderr.write(f"dockyard machine: '{name}' is not a machine command. See '{PROGRAM} --help'.\n")
        return 1
    if os.geteuid() != 0:
        sys.stderr.write("dockyard machine: must run as root (machines are namespaces, veths and daemons)\n")
        return 1
    from dockyard.machine.errors import MachineError
    from dockyard.machine.service import Machines
    from dockyard.machine.store import Store

    machines = Machines(Store(storage), _info)
    try:
        if name == "ssh":
            return _ssh(machines, args)
        command = _create_command() if name == "create" else COMMANDS[name]
        values, positionals = parse(command, args)
        if values["help"]:
            sys.stdout.write(help_text(command))
            return 0
        assert handler is not None  # only ssh (handled above) has none
        return handler(machines, values, positionals, argv) or 0
    except UsageError as exc:
        sys.stderr.write(f"{exc}\nSee '{PROGRAM} {name} --help'.\n")
        return 1
    except (Failed, MachineError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


# -- helpers ---------------------------------------------------------------------------------------
def _target(machines, args: list[str]) -> str:
    """docker-machine's targetHost: the named machine, else "default" when it exists."""
    if args:
        return args[0]
    if machines.store.exists(DEFAULT_NAME):
        return DEFAULT_NAME
    raise Failed(f'Error: No machine name(s) specified and no "{DEFAULT_NAME}" machine exists')


def _one(machines, args: list[str]):
    if len(args) > 1:
        raise Failed("Error: Expected one machine name as an argument")
    return machines.load(_target(machines, args))


def _for_each(machines, args: list[str], action) -> int:
    """runAction: the action on every named machine at once, every error reported."""
    from dockyard.machine.errors import MachineError

    names = args or [_target(machines, args)]
    hosts, errors = [], []
    for name in names:
        try:
            hosts.append(machines.load(name))
        except MachineError as exc:
            errors.append(str(exc))
    if errors:
        raise Failed("\n".join(errors))

    def run(host) -> str | None:
        try:
            action(host)
            return None
        except MachineError as exc:
            return str(exc)
        except OSError as exc:
            return f"{host.name}: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        errors = [e for e in pool.map(run, hosts) if e]
    if errors:
        raise Failed("\n".join(errors))
    return 0


# -- commands --------------------------------------------------------------------------------------
def create(machines, values: dict, args: list[str], argv: list[str]) -> int:
    from dockyard.machine.model import EngineOptions
    from dockyard.machine.netns import NetnsDriver

    if not args:
        raise Failed("Error: No machine name specified")
    if len(args) > 1:
        raise Failed(f"Invalid command line. Found extra arguments {args[1:]}")
    options = EngineOptions(values["engine_opt"], values["engine_env"], values["insecure"], values["label"],
                            values["mirror"], values["storage_driver"] or "")
    flags = {f.name: values[f.name] for f in NetnsDriver.create_flags()}
    from dockyard.machine.errors import MachineError

    try:
        machines.create(args[0], values["driver"], flags, options, values["tls_san"], PROGRAM)
    except MachineError as exc:
        text = str(exc)
        raise Failed(text if text.startswith(("Error", "Docker machine")) else f"Error creating machine: {text}") \
            from None
    return 0


def ls(machines, values: dict, args: list[str], argv: list[str]) -> int:
    from dockyard.cli.template import render

    if args:
        raise Failed("Error: Too many arguments given")
    filters = _ls_filters(values["filter"])
    hosts, broken = [], []
    for name in machines.store.names():
        try:
            hosts.append(machines.load(name))
        except Exception as exc:  # noqa: BLE001 - a broken record is a row in error, as docker-machine shows it
            broken.append((name, str(exc)))
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        items = list(pool.map(lambda h: machines.listing(h, float(values["timeout"])), hosts))
    from dockyard.machine.service import Listing

    items += [Listing(name, "-", "not found", "Error", "", "Unknown", err.replace("\n", "")) for name, err in broken]
    by_name = {h.name: h for h in hosts}
    items = [item for item in items if _matches(item, by_name.get(item.name), filters)]
    items.sort(key=lambda item: _natural(item.name.lower()))
    if values["quiet"]:
        sys.stdout.write("".join(item.name + "\n" for item in items))
        return 0
    template = values["format"] or LS_FORMAT
    table = template.startswith("table")
    body = template[len("table"):] if table else template
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    lines = [render(body, LS_HEADERS)] if table else []
    lines += [render(body, item.template_fields()) for item in items]
    if table:
        sys.stdout.write(_tabwriter(lines))
    else:
        sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def _natural(text: str) -> list:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _tabwriter(lines: list[str]) -> str:
    """Go's tabwriter as docker-machine's ls sets it up: minwidth 5, padding 3, spaces."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    out = []
    for row in rows:
        cells = [cell.ljust(max(widths[i] + 3, 5)) for i, cell in enumerate(row[:-1])]
        out.append("".join(cells) + row[-1] + "\n")
    return "".join(out)


def _ls_filters(raw: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in raw:
        key, eq, value = item.partition("=")
        if not eq:
            raise Failed("Unsupported filter syntax")
        key = key.lower()
        if key not in ("swarm", "driver", "state", "name", "label"):
            raise Failed(f"Unsupported filter key '{key}'")
        filters.setdefault(key, []).append(value)
    return filters


def _matches(item, host, filters: dict[str, list[str]]) -> bool:
    import re

    if "swarm" in filters:
        return False  # no machine belongs to a Swarm (classic Swarm is not provisioned)
    if "driver" in filters and not any(item.driver.lower() == d.lower() for d in filters["driver"]):
        return False
    if "state" in filters and not any(item.state.lower() == s.lower() for s in filters["state"]):
        return False
    if "name" in filters:
        try:
            if not any(re.search(pattern, item.name) for pattern in filters["name"]):
                return False
        except re.error as exc:
            raise Failed(f"error parsing regexp: {exc}") from None
    if "label" in filters:
        labels = dict(label.partition("=")[::2] for label in (host.engine.labels if host else []))
        wanted = [label.partition("=")[::2] for label in filters["label"]]
        if not any(k in labels and labels[k].lower() == v.lower() for k, v in wanted):
            return False
    return True


def inspect(machines, values: dict, args: list[str], argv: list[str]) -> int:
    import json

    host = _one(machines, args)
    document = host.to_json()
    if values["format"]:
        from dockyard.cli.template import TemplateError, render

        try:
            sys.stdout.write(render(values["format"], document) + "\n")
        except TemplateError as exc:
            raise Failed(f"template parsing error: {exc}") from None
        return 0
    sys.stdout.write(json.dumps(document, indent=4) + "\n")
    return 0


def ip(machines, values: dict, args: list[str], argv: list[str]) -> int:
    def show(host) -> None:
        machines.require_running(host)
        _info(machines.driver(host).ip())

    try:
        return _for_each(machines, args, show)
    except Failed as exc:
        raise Failed(str(exc).replace('Host "', 'Error getting IP address: Host "')) from None


def url(machines, values: dict, args: list[str], argv: list[str]) -> int:
    host = _one(machines, args)
    machines.require_running(host)
    _info(machines.url(host))
    return 0


def status(machines, values: dict, args: list[str], argv: list[str]) -> int:
    host = _one(machines, args)
    _info(machines.state(host)[0])
    return 0


def active(machines, values: dict, args: list[str], argv: list[str]) -> int:
    if args:
        raise Failed("Error: Too many arguments given")
    hosts = [machines.load(name) for name in machines.store.names()]
    docker_host = os.environ.get("DOCKER_HOST")
    for host in hosts:
        if docker_host == machines.url(host) and machines.state(host)[0] == "Running":
            _info(host.name)
            return 0
    raise Failed("No active host found")


def _shell_name(requested: str) -> str:
    if requested:
        return requested
    shell = os.environ.get("SHELL", "")
    if not shell:
        # docker-machine stops here with "Unknown shell"; the sh/bash lines it names are what we print.
        sys.stderr.write("The default lines below are for a sh/bash shell, you can specify the shell you're using, "
                         "with the --shell flag.\n\n")
        return "bash"
    return os.path.basename(shell)


_SET = {"fish": ('set -gx ', ' "', '";\n'), "powershell": ("$Env:", ' = "', '"\n'), "cmd": ("SET ", "=", "\n"),
        "tcsh": ("setenv ", ' "', '";\n'), "emacs": ('(setenv "', '" "', '")\n')}
_UNSET = {"fish": ("set -e ", "", ";\n"), "powershell": ("Remove-Item Env:\\\\", "", "\n"), "cmd": ("SET ", "=", "\n"),
          "emacs": ('(setenv "', '" nil', ")\n"), "tcsh": ("unsetenv ", "", ";\n")}


def _usage_hint(shell: str, argv: list[str]) -> str:
    command = " ".join([PROGRAM, *(shlex.quote(a) for a in argv)])
    comment = "#"
    if shell == "fish":
        cmd = f"eval ({command})"
    elif shell == "powershell":
        cmd = f"& {command} | Invoke-Expression"
    elif shell == "cmd":
        cmd, comment = f"\t@FOR /f \"tokens=*\" %i IN ('{command}') DO @%i", "REM"
    elif shell == "emacs":
        cmd, comment = f'(with-temp-buffer (shell-command "{command}" (current-buffer)) (eval-buffer))', ";;"
    elif shell == "tcsh":
        cmd, comment = f"eval `{command}`", ":"
    else:
        cmd = f"eval $({command})"
    return f"{comment} Run this command to configure your shell: \n{comment} {cmd}\n"


def env(machines, values: dict, args: list[str], argv: list[str]) -> int:
    if values["swarm"]:
        raise Failed("Error: machines are not provisioned with Swarm (classic); use the machine's own URL")
    if values["unset"]:
        if args:
            raise Failed("Error: Expected no machine name when the -u flag is present")
        shell = _shell_name(values["shell"])
        prefix, delimiter, suffix = _UNSET.get(shell, ("unset ", "", "\n"))
        names = ["DOCKER_TLS_VERIFY", "DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_MACHINE_NAME"]
        if values["no_proxy"]:
            names.append("no_proxy" if os.environ.get("no_proxy") else "NO_PROXY")
        sys.stdout.write("".join(f"{prefix}{n}{delimiter}{suffix}" for n in names) + _usage_hint(shell, argv))
        return 0
    if len(args) > 1:
        raise Failed("Error: Expected one machine name as an argument")
    host = machines.load(_target(machines, args))
    from dockyard.machine.errors import HostNotRunning, MachineError

    try:
        machines.require_running(host)
        machines.docker_version(host, timeout=10)
    except HostNotRunning as exc:
        raise Failed(f"Error checking TLS connection: {exc}") from None
    except MachineError as exc:
        raise Failed(str(exc)) from None
    shell = _shell_name(values["shell"])
    prefix, delimiter, suffix = _SET.get(shell, ("export ", '="', '"\n'))
    pairs = [("DOCKER_TLS_VERIFY", "1"), ("DOCKER_HOST", machines.url(host)),
             ("DOCKER_CERT_PATH", machines.store.machine_dir(host.name)), ("DOCKER_MACHINE_NAME", host.name)]
    if values["no_proxy"]:
        var = "no_proxy" if os.environ.get("no_proxy") else "NO_PROXY"
        current = os.environ.get(var, "")
        address = machines.driver(host).ip()
        value = address if not current else current if address in current else f"{current},{address}"
        pairs.append((var, value))
    sys.stdout.write("".join(f"{prefix}{k}{delimiter}{v}{suffix}" for k, v in pairs) + _usage_hint(shell, argv))
    return 0


def config(machines, values: dict, args: list[str], argv: list[str]) -> int:
    from dockyard.machine.errors import MachineError

    if values["swarm"]:
        raise Failed("Error: machines are not provisioned with Swarm (classic); use the machine's own URL")
    host = _one(machines, args)
    try:
        machines.require_running(host)
        machines.docker_version(host, timeout=10)
    except MachineError as exc:
        raise Failed(f"Error running connection boilerplate: {exc}") from None
    directory = machines.store.machine_dir(host.name)
    sys.stdout.write(f'--tlsverify\n--tlscacert="{directory}/ca.pem"\n--tlscert="{directory}/cert.pem"\n'
                     f'--tlskey="{directory}/key.pem"\n-H={machines.url(host)}\n')
    return 0


def start(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.start)


def stop(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.stop)


def kill(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.kill)


def restart(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.restart)


def rm(machines, values: dict, args: list[str], argv: list[str]) -> int:
    from dockyard.machine.errors import MachineError

    if not args:
        sys.stdout.write(help_text(COMMANDS["rm"]))
        raise Failed("Error: Expected to get one or more machine names as arguments")
    force = values["force"]
    _info(f"About to remove {', '.join(args)}")
    _info("WARNING: This action will delete both local reference and remote instance.")
    if not (force or values["yes"]):
        sys.stdout.write("Are you sure? (y/n): ")
        sys.stdout.flush()
        if not sys.stdin.readline().strip().lower().startswith("y"):
            return 0
    errors = []
    for name in args:
        try:
            machines.remove(name, force)
            _info(f"Successfully removed {name}")
        except (MachineError, OSError) as exc:
            message = f'Error removing host "{name}": {exc}'
            if force:
                sys.stderr.write(message + "\n")
            errors.append(message)
    if errors and not force:
        raise Failed("\n".join(errors))
    return 0


def regenerate_certs(machines, values: dict, args: list[str], argv: list[str]) -> int:
    if not values["force"]:
        sys.stdout.write("Regenerate TLS machine certs?  Warning: this is irreversible. (y/n): ")
        sys.stdout.flush()
        if not sys.stdin.readline().strip().lower().startswith("y"):
            return 0
    _info("Regenerating TLS certificates")
    return _for_each(machines, args, lambda host: machines.regenerate_certs(host, values["client_certs"]))


def provision(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.provision)


def upgrade(machines, values: dict, args: list[str], argv: list[str]) -> int:
    return _for_each(machines, args, machines.upgrade)


def mount(machines, values: dict, args: list[str], argv: list[str]) -> int:
    """docker-machine's ``mount [machine:][path] [mountpoint]`` (sshfs there); the driver says what
    it can do."""
    if len(args) != 2:
        raise Failed("Error: Expected two arguments: [machine:][path] [mountpoint]")
    machine, colon, path = args[0].partition(":")
    if not colon:
        raise Failed(f"Error: {args[0]!r} names no machine: use [machine:][path]")
    host = machines.load(machine.rpartition("@")[2] or _target(machines, []))
    machines.require_running(host)
    machines.mount(host, path or ".", args[1], values["unmount"])
    return 0


def version(machines, values: dict, args: list[str], argv: list[str]) -> int:
    """Without a name, this program's version; with one, the machine's engine's (over TLS)."""
    if not args:
        from dockyard import __version__

        _info(f"dockyard machine version {__version__}")
        return 0
    host = _one(machines, args)
    machines.require_running(host)
    _info(machines.docker_version(host))
    return 0


def _ssh(machines, args: list[str]) -> int:
    if args and args[0] in ("-h", "--help", "-help"):
        sys.stdout.write(f"\nUsage:  {PROGRAM} ssh [arg...]\n\nLog into or run a command on a machine with SSH.\n\n"
                         "Arguments are [machine-name] [command]\n")
        return 0
    from dockyard.machine.errors import HostNotRunning

    host = machines.load(_target(machines, args[:1]))
    try:
        driver = machines.require_running(host)
    except HostNotRunning:
        raise Failed(f'Error: Cannot run SSH command: Host "{host.name}" is not running') from None
    shell = driver.shell()
    command = args[1:]
    if command:
        argv = [*shell.argv, "/bin/sh", "-c", " ".join(command)]
    else:
        login = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        argv = [*shell.argv, login, "-l"]
    sys.stdout.flush()
    os.chdir(shell.cwd)
    os.execvpe(argv[0], argv, shell.env)
    return 1  # not reached


def scp(machines, values: dict, args: list[str], argv: list[str]) -> int:
    import shutil

    if len(args) != 2:
        raise Failed("Error: Expected two arguments: [[user@]machine:][path] [[user@]machine:][path]")
    paths = [_scp_path(machines, arg) for arg in args]
    source, target = paths
    if os.path.isdir(source):
        if not values["recursive"]:
            raise Failed(f"scp: {args[0]}: not a regular file")
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(source.rstrip("/")))
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        return 0
    if not os.path.exists(source):
        raise Failed(f"scp: {args[0]}: No such file or directory")
    try:
        shutil.copy2(source, target)
    except OSError as exc:
        raise Failed(f"scp: {args[1]}: {exc.strerror}") from None
    return 0


def _scp_path(machines, arg: str) -> str:
    """``[user@]machine:path`` -> the path on this box (relative to the machine's home); else local."""
    machine, colon, path = arg.partition(":")
    if not colon or "/" in machine:
        return os.path.abspath(arg)
    machine = machine.rpartition("@")[2]
    host = machines.load(machine)
    from dockyard.machine.errors import HostNotRunning

    try:
        driver = machines.require_running(host)
    except HostNotRunning:
        raise Failed(f'Error: Cannot run SSH command: Host "{host.name}" is not running') from None
    home = driver.home()
    os.makedirs(home, mode=0o755, exist_ok=True)
    return os.path.join(home, path) if path else home


HANDLERS = {"active": active, "config": config, "create": create, "env": env, "inspect": inspect, "ip": ip,
            "kill": kill, "ls": ls, "mount": mount, "provision": provision, "regenerate-certs": regenerate_certs,
            "restart": restart, "rm": rm, "scp": scp, "ssh": None, "start": start, "status": status, "stop": stop,
            "upgrade": upgrade, "url": url, "version": version}
