"""`dockyard commit`: create a new image from a container's changes."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, Opt, UsageError, command

COMMIT = Command("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", (
    Opt(("-a", "--author"), "author", "str", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
        default="", metavar="string"),
    Opt(("-c", "--change"), "change", "list", "Apply Dockerfile instruction to the created image", metavar="list"),
    Opt(("-m", "--message"), "message", "str", "Commit message", default="", metavar="string"),
    Opt(("-p", "--pause"), "pause", "bool", "Pause container during commit (default true)", default=True),
), min_args=1, max_args=2)


@command(COMMIT)
def commit(client: Client, values: dict, args: list[str]) -> int:
    query = {"container": args[0], "author": values["author"] or None, "comment": values["message"] or None,
             "pause": "1" if values["pause"] else "0", "changes": values["change"]}
    if len(args) > 1:
        target = args[1]
        if "@" in target:
            raise UsageError("refusing to create a tag with a digest reference")
        repo, sep, tag = target.rpartition(":")
        if sep and "/" not in tag:
            query.update(repo=repo, tag=tag)
        else:
            query.update(repo=target)
    result = client.call("POST", "/commit", query=query)
    sys.stdout.write(result["Id"] + "\n")
    return 0
