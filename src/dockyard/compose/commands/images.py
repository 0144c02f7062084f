"""build, pull, push."""

from __future__ import annotations

from dockyard.compose import images
from dockyard.compose.parallel import run_all
from dockyard.compose.progress import Progress


def build(ctx, args) -> int:
    project = ctx.load(args.services)
    wanted = [s for s in project.select(args.services) if s.build is not None]
    build_args = {}
    for entry in args.build_arg or []:
        key, sep, value = entry.partition("=")
        import os

        build_args[key] = value if sep else os.environ.get(key, "")
    with Progress("Building", ctx.options.progress) as progress:
        for service in wanted:  # one at a time: the daemon's builder is the bottleneck anyway
            images.build(ctx.engine, project, service, progress, no_cache=args.no_cache, pull=args.pull,
                         quiet=args.quiet, build_args=build_args)
    return 0


def pull(ctx, args) -> int:
    project = ctx.load(args.services)
    wanted = [s for s in project.select(args.services)
              if not (s.build is not None and (args.ignore_buildable or not s.config.get("image")))]
    seen: dict[str, object] = {}
    unique = [seen.setdefault(s.image, s) for s in wanted if s.image not in seen]
    with Progress("Pulling", ctx.options.progress if not args.quiet else "quiet") as progress:
        run_all(unique, lambda s: images.pull(ctx.engine, s, progress, ignore_failures=args.ignore_pull_failures))
    return 0


def push(ctx, args) -> int:
    project = ctx.load(args.services)
    wanted = [s for s in project.select(args.services) if s.config.get("image")]
    with Progress("Pushing", ctx.options.progress if not args.quiet else "quiet") as progress:
        run_all(wanted, lambda s: images.push(ctx.engine, s, progress, ignore_failures=args.ignore_push_failures))
    return 0
