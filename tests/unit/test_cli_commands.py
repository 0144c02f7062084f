"""The CLI's command table, its module layout and its one error handler (no daemon needed)."""

import ast
import importlib
from pathlib import Path

import pytest

import dockyard.cli
from dockyard.cli.flags import COMMANDS, UsageError
from dockyard.cli.main import GROUPS, MODULES, run_cli
from dockyard.client.errors import report_errors
from dockyard.client.transport import APIError, ConnectionFailed

CLI = Path(dockyard.cli.__file__).parent


def test_every_command_is_declared_in_the_module_main_names():
    for module in sorted(set(MODULES.values())):
        importlib.import_module(f"dockyard.cli.{module}")
    assert set(COMMANDS) == set(MODULES)
    for name, module in MODULES.items():
        assert COMMANDS[name].__module__ == f"dockyard.cli.{module}", name
        assert COMMANDS[name].spec.name == name
    for group, subcommands in GROUPS.items():
        for sub, target in subcommands.items():
            assert target in MODULES, f"{group} {sub} -> {target}"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every `from dockyard.cli... import` in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dockyard.cli"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("dockyard.cli")]
    return found


def test_no_private_name_is_imported_across_cli_modules():
    offenders = [f"{path.relative_to(CLI)}: from {module} import {name}"
                 for path in CLI.rglob("*.py") for module, names in _imports(path)
                 for name in names if name.startswith("_")]
    assert offenders == []


def test_one_handler_reports_what_a_command_raised(capsys):
    def raising(exc: BaseException):
        def call():
            raise exc
        return call

    assert report_errors(raising(APIError(404, "No such container: x"))) == 1
    assert capsys.readouterr().err == "Error response from daemon: No such container: x\n"
    assert report_errors(raising(ConnectionFailed("Cannot connect to the Docker daemon"))) == 1
    assert capsys.readouterr().err == "Cannot connect to the Docker daemon\n"
    assert report_errors(raising(BrokenPipeError())) == 0
    assert report_errors(raising(KeyboardInterrupt())) == 130
    assert report_errors(raising(UsageError("bad")), ((UsageError, lambda exc: 125),)) == 125
    assert report_errors(lambda: None) == 0 and report_errors(lambda: 3) == 3
    with pytest.raises(ValueError):
        report_errors(raising(ValueError("a bug shows its traceback")))


def test_usage_errors_point_to_the_command_help(capsys):
    assert run_cli(["-H", "unix:///nonexistent.sock", "rm"]) == 125
    assert capsys.readouterr().err == "\"dockyard rm\" requires at least 1 argument.\nSee 'dockyard rm --help'.\n"
    assert run_cli(["-H", "unix:///nonexistent.sock", "container", "ls", "--bogus"]) == 125
    assert capsys.readouterr().err == "unknown flag: --bogus\nSee 'dockyard ps --help'.\n"
    assert run_cli(["ps", "--help"]) == 0
    assert "Usage:  dockyard ps [OPTIONS]" in capsys.readouterr().out
    assert run_cli(["run", "--help"]) == 0  # run's -h is --hostname; --help is still the help, as in Docker
    assert "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]" in capsys.readouterr().out
