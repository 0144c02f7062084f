"""`stack deploy|ls|ps|services|rm`, as docker/cli's cli/command/stack: a stack is the services,
networks, secrets and configs that carry its `com.docker.stack.namespace` label. deploy reads
the compose files (cli/stack_load.py), converts them (cli/stack_convert.py) and applies them
(cli/stack_deploy.py); the listings are `service ls` and `service ps` narrowed to the label."""

import json
import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import UNSET, Command, Opt, UsageError, command

DEPLOY = Command("stack deploy", "[OPTIONS] STACK", "Deploy a new stack or update an existing stack", (
    Opt(("-c", "--compose-file"), "compose_file", "list", 'Path to a Compose file, or "-" to read from stdin',
        metavar="strings"),
    Opt(("-d", "--detach"), "detach", "bool", "Exit immediately instead of waiting for the stack services to "
        "converge (default true)", default=UNSET),
    Opt(("--prune",), "prune", "bool", "Prune services that are no longer referenced"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress progress output"),
    Opt(("--resolve-image",), "resolve_image", "str", 'Query the registry to resolve image digest and supported '
        'platforms ("always", "changed", "never") (default "always")', default="always", metavar="string"),
    Opt(("--with-registry-auth",), "with_registry_auth", "bool", "Send registry authentication details to Swarm "
        "agents"),
), min_args=1, max_args=1)

LS = Command("stack ls", "[OPTIONS]", "List stacks", (
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
), max_args=0)

PS = Command("stack ps", "[OPTIONS] STACK", "List the tasks in the stack", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--no-resolve",), "no_resolve", "bool", "Do not map IDs to Names"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate output"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display task IDs"),
), min_args=1, max_args=1)

SERVICES = Command("stack services", "[OPTIONS] STACK", "List the services in the stack", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display IDs"),
), min_args=1, max_args=1)

RM = Command("stack rm", "[OPTIONS] STACK [STACK...]", "Remove one or more stacks", (
    Opt(("-d", "--detach"), "detach", "bool", "Do not wait for stack removal (default true)", default=UNSET),
), min_args=1)


def _fail(message: str) -> int:
    sys.stderr.write(message + "\n")
    return 1


def _check_name(name: str) -> None:
    if not name.strip(" \t\r\n\"'"):
        raise UsageError(f'invalid stack name: "{name}"')


def _filters(entries: list[str]) -> dict[str, list[str]]:
    from dockyard.cli.common import filters_json

    return json.loads(filters_json(entries) or "{}")


@command(DEPLOY)
def deploy(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.stack_convert import ConvertError, convert
    from dockyard.cli.stack_deploy import RESOLVE_CHOICES, DeployError
    from dockyard.cli.stack_deploy import deploy as apply
    from dockyard.cli.stack_load import LoadError, load_stack

    name = args[0]
    _check_name(name)
    detach = values["detach"] is not False  # true unless --detach=false
    try:
        # pflag's StringSlice: -c a.yml,b.yml is two files too
        files = [f for value in values["compose_file"] for f in value.split(",") if f]
        document = load_stack(files, name)
        if values["resolve_image"] not in RESOLVE_CHOICES:
            return _fail(f"invalid option {values['resolve_image']} for flag --resolve-image")
        if detach and values["detach"] is None:
            sys.stderr.write("Since --detach=false was not specified, tasks will be created in the background.\n"
                             "In a future release, --detach=false will become the default.\n")
        plan = convert(document, name)
        ids = apply(client, plan, prune=values["prune"], resolve_image=values["resolve_image"],
                    registry_auth=values["with_registry_auth"])
    except (LoadError, ConvertError, DeployError) as exc:
        return _fail(str(exc))
    if detach:
        return 0
    import contextlib
    import os

    from dockyard.cli.service_progress import wait_converged

    status = 0
    for service_id in ids:  # docker/cli's waitOnServices: each in turn, -q waits without the progress
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull if values["quiet"] else sys.stdout):
            status = wait_converged(client, service_id) or status
    return status


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import formatted
    from dockyard.cli.stack_convert import NAMESPACE_LABEL

    found = client.call("GET", "/services", query={"filters": json.dumps({"label": [NAMESPACE_LABEL]})}) or []
    counts: dict[str, int] = {}
    for service in found:
        stack = (service["Spec"].get("Labels") or {}).get(NAMESPACE_LABEL)
        if stack is None:
            return _fail(f"cannot get label {NAMESPACE_LABEL} for service {service['ID']}")
        counts[stack] = counts.get(stack, 0) + 1
    template = values["format"] or "table"
    if template == "table":
        template = "table {{.Name}}\t{{.Services}}"
    elif template == "json":
        template = "{{json .}}"
    rows = [{"Name": name, "Services": str(counts[name])} for name in sorted(counts, key=_natural)]
    sys.stdout.write(formatted(template, rows, {"Name": "NAME", "Services": "SERVICES"}))
    return 0


def _natural(text: str) -> list:
    """sortorder.NaturalLess: runs of digits compare as numbers (stack2 before stack10)."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", text)]


@command(PS)
def ps(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.service import write_tasks
    from dockyard.cli.stack_deploy import stack_filter

    _check_name(args[0])
    tasks = client.call("GET", "/tasks", query={"filters": stack_filter(args[0], _filters(values["filter"]))}) or []
    if not tasks:
        return _fail(f"nothing found in stack: {args[0]}")
    write_tasks(client, tasks, values)
    return 0


@command(SERVICES)
def services(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.service import write_services
    from dockyard.cli.stack_deploy import stack_filter

    _check_name(args[0])
    query = {"filters": stack_filter(args[0], _filters(values["filter"])), "status": not values["quiet"] or None}
    found = client.call("GET", "/services", query=query) or []
    if not found:
        sys.stderr.write(f"Nothing found in stack: {args[0]}\n")
        return 0
    write_services(found, values)
    return 0


@command(RM)
def rm(client: Client, values: dict, args: list[str]) -> int:
    from dockyard.cli.stack_deploy import remove_stack

    for name in args:
        _check_name(name)
    detach = values["detach"] is not False
    errors = []
    for name in args:
        outcome = remove_stack(client, name)
        if outcome is None:
            sys.stderr.write(f"Nothing found in stack: {name}\n")
        elif outcome:
            errors.append(f"failed to remove some resources from stack: {name}")
        elif not detach:
            _wait_tasks_gone(client, name)
    return _fail("\n".join(errors)) if errors else 0


def _wait_tasks_gone(client: Client, name: str) -> None:
    """--detach=false: until every task of the stack has ended (docker/cli's waitOnTasks)."""
    import time

    from dockyard.cli.stack_deploy import stack_filter

    ended = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")
    while True:
        tasks = client.call("GET", "/tasks", query={"filters": stack_filter(name)}) or []
        if all(t["Status"]["State"] in ended for t in tasks):
            return
        time.sleep(0.2)
