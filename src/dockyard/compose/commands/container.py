"""attach, stats, commit, export: Docker's per-container commands on a service's container, as Compose v2
runs them (the project is found by name; no compose file is needed when -p names it)."""

from __future__ import annotations

import sys

from dockyard.compose import state
from dockyard.compose.errors import ComposeError
from dockyard.compose.progress import Progress
from dockyard.compose.service import LABEL_PROJECT, LABEL_SERVICE


def attach(ctx, args) -> int:
    from dockyard.cli.container.attach import attach_container

    container = state.service_container(ctx.engine, ctx.project_name(), args.service, args.index)
    return attach_container(ctx.engine.transport, container.id, stdin=not args.no_stdin,
                            detach_keys=args.detach_keys, start_first=False, sig_proxy=args.sig_proxy)


def stats(ctx, args) -> int:
    from dockyard.cli.container.stats import show_stats

    labels: dict[str, str | None] = {LABEL_PROJECT: ctx.project_name()}
    if args.service:
        labels[LABEL_SERVICE] = args.service
    containers = ctx.engine.containers(labels, all=args.all)
    return show_stats(ctx.engine.transport, [c.id for c in containers], no_stream=args.no_stream,
                      no_trunc=args.no_trunc, template=args.format)


def commit(ctx, args) -> int:
    container = state.service_container(ctx.engine, ctx.project_name(), args.service, args.index)
    query = {"container": container.id, "author": args.author or None, "comment": args.message or None,
             "pause": "1" if args.pause else "0", "changes": args.change or None}
    if args.reference:
        if "@" in args.reference:
            raise ComposeError("refusing to create a tag with a digest reference")
        repo, sep, tag = args.reference.rpartition(":")
        if sep and "/" not in tag:
            query.update(repo=repo, tag=tag)
        else:
            query.update(repo=args.reference)
    with Progress("Running", ctx.options.progress) as progress:
        progress.event("Container", container.name, "Committing")
        answer = ctx.engine.transport.call("POST", "/commit", query=query)
        progress.event("Container", container.name, f"Committed as {answer['Id']}", done=True)
    return 0


def export(ctx, args) -> int:
    container = state.service_container(ctx.engine, ctx.project_name(), args.service, args.index)
    if not args.output and sys.stdout.isatty():
        raise ComposeError("output option is required when exporting to terminal")
    with Progress("Running", ctx.options.progress) as progress:
        progress.event("Container", container.name, "Exporting")
        response = ctx.engine.transport.send("GET", f"/containers/{container.id}/export")
        try:
            if args.output:
                _write_atomically(args.output, response)
            else:
                while data := response.read_some():
                    sys.stdout.buffer.write(data)
        finally:
            response.close()
        progress.event("Container", container.name, "Exported", done=True)
    return 0


def _write_atomically(path: str, response) -> None:
    """The archive appears whole under its name or not at all (an existing file is kept on failure)."""
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ComposeError(f"failed to export container: invalid output path: directory {directory!r} does not "
                           "exist")
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".export-")
    try:
        with os.fdopen(fd, "wb") as out:
            while data := response.read_some():
                out.write(data)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
