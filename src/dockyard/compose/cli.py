"""`dockyard compose` (and `dockyard-compose`): Compose v2's command line over the Engine API."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from dockyard.client.engine import Engine
from dockyard.client.errors import report_errors
from dockyard.client.transport import Client
from dockyard.compose.errors import ComposeError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # Compose exits 1 on usage errors, with its own words
        raise ComposeError(f"{message}\nSee '{self.prog} --help'.", exit_code=1)


@dataclass
class Context:
    """What every command gets: the engine, the global options and the project, loaded on demand."""

    engine: Engine
    options: argparse.Namespace
    _project: object = field(default=None, repr=False)

    def load(self, targets: list[str] | None = None):
        from dockyard.compose import graph
        from dockyard.compose.config.loader import LoadOptions, load
        from dockyard.compose.model import build_project

        options = LoadOptions(files=self.options.file or [], project_name=self.options.project_name,
                              project_directory=self.options.project_directory,
                              env_files=self.options.env_file or [], profiles=self.options.profile or [],
                              targets=list(targets or []))
        loaded = load(options)
        project = build_project(loaded)
        graph.check_cycles(project)
        for name in targets or []:
            if name not in project.services:
                raise ComposeError(f"no such service: {name}")
        self._project = project
        return project

    def project_name(self) -> str:
        """The project name without needing a compose file when -p says it (`down -p x`, `ps -p x`)."""
        if self.options.project_name and not self.options.file:
            from dockyard.compose.config.loader import discover

            try:
                discover(os.getcwd())
            except ComposeError:
                return self.options.project_name
        return self.load().name


def _global(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", action="append", help="Compose configuration files")
    parser.add_argument("-p", "--project-name", help="Project name")
    parser.add_argument("--project-directory", help="Specify an alternate working directory")
    parser.add_argument("--env-file", action="append", help="Specify an alternate environment file")
    parser.add_argument("--profile", action="append", help="Specify a profile to enable")
    parser.add_argument("--progress", default="auto", choices=["auto", "tty", "plain", "quiet", "json"],
                        help="Set type of progress output")
    parser.add_argument("--ansi", default="auto", choices=["never", "always", "auto"],
                        help="Control when to print ANSI control characters")
    parser.add_argument("--parallel", type=int, default=-1, help="Control max parallelism, -1 for unlimited")
    parser.add_argument("--compatibility", action="store_true", help="Run compose in backward compatibility mode")
    parser.add_argument("--dry-run", action="store_true", help="Execute command in dry run mode")
    parser.add_argument("-H", "--host", help="Daemon socket to connect to")


def build_parser() -> argparse.ArgumentParser:
    from dockyard.compose import commands

    parser = _Parser(prog="dockyard compose", description="Define and run multi-container applications with Docker")
    _global(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    commands.register(sub)
    return parser


def main(argv: list[str] | None = None, host: str | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
    except ComposeError as exc:
        return _report(exc)
    if not options.command:
        parser.print_help()
        return 0
    if options.parallel and options.parallel > 0:
        os.environ["COMPOSE_PARALLEL_LIMIT"] = str(options.parallel)
    if options.ansi == "never" and options.progress == "auto":
        options.progress = "plain"
    context = Context(Engine(Client(options.host or host)), options)

    def run() -> int:
        from dockyard.compose.commands import handler

        return handler(options.handler)(context, options) or 0

    return report_errors(run, ((ComposeError, _report),))


def _report(exc: Exception) -> int:
    sys.stderr.write(f"{exc}\n")
    return exc.exit_code if isinstance(exc, ComposeError) else 1


def entry() -> None:
    """`dockyard-compose`, for people used to the v1 command."""
    sys.exit(main())
