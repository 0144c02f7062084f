"""Docker-style flag parsing: -abc bundles, --flag=value, -eVALUE, repeatable flags, and
stopping at the first positional argument where Docker does (run, create, exec)."""

class UsageError(Exception):
    """Bad command-line usage; the message is printed with a pointer to --help."""


# Plain classes, not dataclasses: `dataclasses` imports `inspect`, and the CLI is on the start path.
class Opt:
    __slots__ = ("names", "dest", "kind", "help", "default", "metavar")

    def __init__(self, names: tuple[str, ...], dest: str, kind: str = "bool", help: str = "",
                 default: object = None, metavar: str = "") -> None:
        self.names = names  # ("-e", "--env")
        self.dest = dest
        self.kind = kind  # bool | str | list | int
        self.help = help
        self.default = default
        self.metavar = metavar


class Command:
    __slots__ = ("name", "usage", "summary", "options", "stop_at_positional", "min_args", "max_args")

    def __init__(self, name: str, usage: str, summary: str, options: tuple[Opt, ...],
                 stop_at_positional: bool = False, min_args: int = 0, max_args: int | None = None) -> None:
        self.name = name  # "run"
        self.usage = usage  # "[OPTIONS] IMAGE [COMMAND] [ARG...]"
        self.summary = summary
        self.options = options
        self.stop_at_positional = stop_at_positional
        self.min_args = min_args
        self.max_args = max_args


# The default of a bool flag whose command must know whether it was given at all (pflag's Changed,
# e.g. `stack deploy`'s --detach): the value stays None until the flag appears.
UNSET = object()


def _defaults(options: tuple[Opt, ...]) -> dict:
    values: dict = {}
    for opt in options:
        if opt.kind == "list":
            values[opt.dest] = list(opt.default) if isinstance(opt.default, list | tuple) else []
        elif opt.kind == "bool":
            values[opt.dest] = None if opt.default is UNSET else bool(opt.default)
        else:
            values[opt.dest] = opt.default
    return values


def _store(values: dict, opt: Opt, raw: str | None, shown: str) -> None:
    if opt.kind == "bool":
        if raw is None:
            values[opt.dest] = True
        elif raw.lower() in ("true", "1", "t"):
            values[opt.dest] = True
        elif raw.lower() in ("false", "0", "f"):
            values[opt.dest] = False
        else:
            raise UsageError(f'invalid argument "{raw}" for "{shown}" flag: strconv.ParseBool: parsing "{raw}": '
                             "invalid syntax")
    elif opt.kind == "list":
        values[opt.dest].append(raw)
    elif opt.kind == "int":
        try:
            values[opt.dest] = int(raw or "")  # never None: a value flag always has its argument
        except ValueError:
            raise UsageError(f'invalid argument "{raw}" for "{shown}" flag: strconv.ParseInt: parsing "{raw}": '
                             "invalid syntax") from None
    else:
        values[opt.dest] = raw


def parse(command: Command, argv: list[str]) -> tuple[dict, list[str]]:
    by_name = {name: opt for opt in command.options for name in opt.names}
    values = _defaults(command.options)
    values["help"] = False
    positionals: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positionals += argv[i:]
            break
        if arg == "--help" or (arg == "-h" and "-h" not in by_name):  # -h is run's --hostname
            values["help"] = True
            continue
        if arg.startswith("--") and len(arg) > 2:
            name, eq, raw = arg.partition("=")
            opt = by_name.get(name)
            if opt is None:
                raise UsageError(f"unknown flag: {name}")
            if opt.kind != "bool" and not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                raw, i = argv[i], i + 1
            _store(values, opt, raw if eq or opt.kind != "bool" else None, name)
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                short = "-" + arg[j]
                opt = by_name.get(short)
                if opt is None:
                    raise UsageError(f"unknown shorthand flag: '{arg[j]}' in {arg}")
                if opt.kind == "bool":
                    if arg[j + 1:j + 2] == "=":  # pflag's `-H=false`
                        _store(values, opt, arg[j + 2:], short)
                        break
                    _store(values, opt, None, short)
                    j += 1
                    continue
                raw = arg[j + 1:].removeprefix("=")
                if not raw:
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: '{arg[j]}' in {short}")
                    raw, i = argv[i], i + 1
                _store(values, opt, raw, short)
                break
            continue
        positionals.append(arg)
        if command.stop_at_positional:
            positionals += argv[i:]
            break
    if not values["help"]:
        if len(positionals) < command.min_args:
            need = "at least 1 argument" if command.min_args == 1 else f"at least {command.min_args} arguments"
            if command.max_args == command.min_args:
                need = "exactly 1 argument" if command.min_args == 1 else f"exactly {command.min_args} arguments"
            raise UsageError(f'"dockyard {command.name}" requires {need}.')
        if command.max_args is not None and len(positionals) > command.max_args:
            raise UsageError(f'"dockyard {command.name}" accepts at most {command.max_args} argument(s).')
    return values, positionals


def help_text(command: Command) -> str:
    lines = [f"\nUsage:  dockyard {command.name} {command.usage}\n", command.summary, ""]
    if command.options:
        lines.append("Options:")
        rows = []
        for opt in command.options:
            short = next((n for n in opt.names if not n.startswith("--")), "")
            long = next((n for n in opt.names if n.startswith("--")), "")
            names = (f"{short}, " if short else "    ") + long
            if opt.kind != "bool":
                names += " " + (opt.metavar or opt.kind)
            rows.append((names, opt.help))
        width = max(len(r[0]) for r in rows)
        lines += [f"  {n.ljust(width)}   {h}" for n, h in rows]
    return "\n".join(lines) + "\n"


def parse_or_help(command: Command, argv: list[str]) -> tuple[dict, list[str]] | None:
    """Parse ``argv``; on -h/--help print the help and return None."""
    import sys

    values, args = parse(command, argv)
    if values["help"]:
        sys.stdout.write(help_text(command))
        return None
    return values, args


# Every command the CLI has, by name ("run", "network ls"), filled in as command modules are
# imported; dockyard.cli.main knows which module declares which command, so only that one loads.
COMMANDS: dict = {}


def command(spec: Command, *, raw: bool = False):
    """Declare the function that runs ``spec``: it is called as ``fn(client, values, args, **extra)``
    with the parsed flags and arguments (never for -h/--help, which prints the help), or with
    ``raw`` as ``fn(client, argv)`` for a command that parses its own (compose); and registered
    under the command's name. The decorated name keeps the ``(client, argv)`` form."""

    def register(fn):
        def run(client, argv: list[str], **extra) -> int:
            if raw:
                return fn(client, argv, **extra)
            parsed = parse_or_help(spec, argv)
            if parsed is None:
                return 0
            return fn(client, parsed[0], parsed[1], **extra)

        run.__name__, run.__qualname__, run.__doc__, run.__module__ = (fn.__name__, fn.__qualname__, fn.__doc__,
                                                                      fn.__module__)
        run.spec = spec
        COMMANDS[spec.name] = run
        return run

    return register
