"""watch: `develop.watch` rules kept in force while files change.

`sync` copies changed files into the service's running containers (a tar through the archive
endpoint, deletions as removals by exec), `sync+restart` also restarts them, and `rebuild` builds
the image again and recreates the service. Changes are found by polling modification times
every half second: portable, and cheap for the source trees compose projects watch.
"""

from __future__ import annotations

import fnmatch
import io
import os
import sys
import tarfile
import time
from dataclasses import dataclass

from dockyard.compose import state
from dockyard.compose.errors import ComposeError

POLL = 0.5
DEFAULT_IGNORES = (".git", "*.swp", "*~", ".DS_Store", "__pycache__")


@dataclass(frozen=True)
class Rule:
    service: str
    action: str  # sync, rebuild, sync+restart
    path: str
    target: str
    ignore: tuple[str, ...]


def rules_of(project) -> list[Rule]:
    rules = []
    for service in project.services.values():
        develop = service.config.get("develop") or {}
        for entry in develop.get("watch") or []:
            path = entry["path"]
            if not os.path.isabs(path):
                path = os.path.normpath(os.path.join(project.working_dir, path))
            action = entry["action"]
            if action in ("sync", "sync+restart") and not entry.get("target"):
                raise ComposeError(f"services.{service.name}.develop.watch: action {action} needs a target")
            rules.append(Rule(service.name, action, path, entry.get("target", ""),
                              tuple(entry.get("ignore") or ()) + DEFAULT_IGNORES))
    return rules


def _ignored(rel: str, patterns: tuple[str, ...]) -> bool:
    parts = rel.split(os.sep)
    return any(fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in patterns)


def snapshot(rule: Rule) -> dict[str, float]:
    """Every watched file's modification time, by path relative to the rule's path."""
    found: dict[str, float] = {}
    if os.path.isfile(rule.path):
        return {"": os.stat(rule.path).st_mtime_ns}
    for root, dirs, files in os.walk(rule.path):
        rel_root = os.path.relpath(root, rule.path)
        dirs[:] = [d for d in dirs if not _ignored(os.path.normpath(os.path.join(rel_root, d)), rule.ignore)]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            if _ignored(rel, rule.ignore):
                continue
            try:
                found[rel] = os.stat(os.path.join(root, name)).st_mtime_ns
            except FileNotFoundError:
                pass
    return found


def _sync(ctx, project, rule: Rule, changed: list[str], removed: list[str]) -> None:
    containers = [c for c in state.project_containers(ctx.engine, project.name, services=[rule.service])
                  if c.state == "running"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel in changed:
            source = rule.path if rel == "" else os.path.join(rule.path, rel)
            target = rule.target if rel == "" else os.path.join(rule.target, rel)
            tar.add(source, arcname=target.lstrip("/"), recursive=False)
    data = buffer.getvalue()
    for container in containers:
        if changed:
            ctx.engine.put_archive(container.id, "/", data)
        if removed:
            paths = [rule.target if rel == "" else os.path.join(rule.target, rel) for rel in removed]
            exec_id = ctx.engine.exec_create(container.id, {"Cmd": ["rm", "-rf", "--", *paths]})
            ctx.engine.exec_start(exec_id, tty=False, detach=True).close()
        if rule.action == "sync+restart":
            ctx.engine.restart(container.id)


def watch(ctx, args) -> int:
    from dockyard.compose.progress import Progress
    from dockyard.compose.up import UpRequest, converge

    project = ctx.load(args.services)
    rules = [r for r in rules_of(project) if not args.services or r.service in args.services]
    if not rules:
        raise ComposeError("none of the selected services is configured for watch, consider setting a "
                           "'develop' section")
    if not args.no_up:
        with Progress("Running", ctx.options.progress) as progress:
            converge(ctx.engine, project, UpRequest(args.services), progress)
    snapshots = [snapshot(r) for r in rules]  # before saying so: a change after the message is seen
    sys.stdout.write("Watch enabled\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(POLL)
            for i, rule in enumerate(rules):
                now = snapshot(rule)
                before = snapshots[i]
                changed = sorted(k for k, v in now.items() if before.get(k) != v)
                removed = sorted(k for k in before if k not in now)
                if not changed and not removed:
                    continue
                snapshots[i] = now
                count = len(changed) + len(removed)
                if rule.action == "rebuild":
                    sys.stdout.write(f"Rebuilding service(s) [\"{rule.service}\"] after changes were detected...\n")
                    sys.stdout.flush()
                    with Progress("Running", ctx.options.progress) as progress:
                        converge(ctx.engine, project, UpRequest([rule.service], True, "always"), progress)
                else:
                    _sync(ctx, project, rule, changed, removed)
                    sys.stdout.write(f"Syncing service \"{rule.service}\" after {count} changes were detected\n")
                    sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
