"""`build` and `builder prune`: the context is tarred here (.dockerignore applied) and sent to POST /build;
the daemon's classic stream is printed as it comes, or as a timed step view with --progress."""

from __future__ import annotations

import os
import sys
import time

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.util import fastjson as json

BUILD = Command("build", "[OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", (
    Opt(("--add-host",), "add_host", "list", "Add a custom host-to-IP mapping (\"host:ip\")", metavar="list"),
    Opt(("--build-arg",), "build_arg", "list", "Set build-time variables", metavar="list"),
    Opt(("--cache-from",), "cache_from", "list", "Images to consider as cache sources", metavar="strings"),
    Opt(("--cgroup-parent",), "cgroup_parent", "str", "Optional parent cgroup for the container", metavar="string"),
    Opt(("--cpu-period",), "cpu_period", "int", "Limit the CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Opt(("--cpu-quota",), "cpu_quota", "int", "Limit the CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    Opt(("-c", "--cpu-shares"), "cpu_shares", "int", "CPU shares (relative weight)", metavar="int"),
    Opt(("--cpuset-cpus",), "cpuset_cpus", "str", "CPUs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("--cpuset-mems",), "cpuset_mems", "str", "MEMs in which to allow execution (0-3, 0,1)", metavar="string"),
    Opt(("-f", "--file"), "file", "str", "Name of the Dockerfile (Default is 'PATH/Dockerfile')", metavar="string"),
    Opt(("--force-rm",), "force_rm", "bool", "Always remove intermediate containers"),
    Opt(("--iidfile",), "iidfile", "str", "Write the image ID to the file", metavar="string"),
    Opt(("--label",), "label", "list", "Set metadata for an image", metavar="list"),
    Opt(("-m", "--memory"), "memory", "str", "Memory limit", metavar="bytes"),
    Opt(("--memory-swap",), "memory_swap", "str", "Swap limit equal to memory plus swap: -1 to enable unlimited "
        "swap", metavar="bytes"),
    Opt(("--network",), "network", "str", "Set the networking mode for the RUN instructions during build "
        "(default \"default\")", metavar="string"),
    Opt(("--no-cache",), "no_cache", "bool", "Do not use cache when building the image"),
    Opt(("--platform",), "platform", "str", "Set platform if server is multi-platform capable", metavar="string"),
    Opt(("--progress",), "progress", "str", "Set type of progress output (auto, plain, tty)", default="auto",
        metavar="string"),
    Opt(("--pull",), "pull", "bool", "Always attempt to pull a newer version of the image"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Suppress the build output and print image ID on success"),
    Opt(("--reproducible",), "reproducible", "bool", "Fixed times (SOURCE_DATE_EPOCH, default 0) for the same "
        "image ID from the same inputs"),
    Opt(("--rm",), "rm", "bool", "Remove intermediate containers after a successful build (default true)",
        default=True),
    Opt(("--shm-size",), "shm_size", "str", "Size of /dev/shm", metavar="bytes"),
    Opt(("--squash",), "squash", "bool", "Squash newly built layers into a single new layer"),
    Opt(("-t", "--tag"), "tag", "list", "Name and optionally a tag in the 'name:tag' format", metavar="list"),
    Opt(("--target",), "target", "str", "Set the target build stage to build.", metavar="string"),
    Opt(("--ulimit",), "ulimit", "list", "Ulimit options (default [])", metavar="ulimit"),
), min_args=1, max_args=1)
PRUNE = Command("builder prune", "[OPTIONS]", "Remove build cache", (
    Opt(("-a", "--all"), "all", "bool", "Remove all unused build cache, not just dangling ones"),
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
    Opt(("--filter",), "filter", "list", "Provide filter values (e.g. \"until=24h\")", metavar="filter"),
), max_args=0)


def _query(values: dict) -> dict:
    build_args: dict[str, str | None] = {}
    for entry in values["build_arg"]:
        key, sep, value = entry.partition("=")
        build_args[key] = value if sep else os.environ.get(key)  # `--build-arg NAME` takes it from the env
    if "SOURCE_DATE_EPOCH" not in build_args and os.environ.get("SOURCE_DATE_EPOCH"):
        build_args["SOURCE_DATE_EPOCH"] = os.environ["SOURCE_DATE_EPOCH"]
    labels = {}
    for entry in values["label"]:
        key, _, value = entry.partition("=")
        labels[key] = value
    query: dict = {"t": values["tag"], "buildargs": json.dumps(build_args) if build_args else None,
                   "nocache": values["no_cache"], "pull": values["pull"], "q": values["quiet"],
                   "rm": "1" if values["rm"] else "0", "forcerm": values["force_rm"],
                   "labels": json.dumps(labels) if labels else None, "target": values["target"],
                   "cachefrom": json.dumps(values["cache_from"]) if values["cache_from"] else None,
                   "networkmode": values["network"], "extrahosts": ",".join(values["add_host"]) or None,
                   "squash": values["squash"], "platform": values["platform"],
                   "cpushares": values["cpu_shares"], "cpuperiod": values["cpu_period"],
                   "cpuquota": values["cpu_quota"], "cpusetcpus": values["cpuset_cpus"],
                   "cpusetmems": values["cpuset_mems"], "cgroupparent": values["cgroup_parent"],
                   "reproducible": values["reproducible"]}
    for key, flag in (("memory", "memory"), ("memory_swap", "memswap"), ("shm_size", "shmsize")):
        if values[key]:
            from dockyard.util.units import parse_bytes  # `re`: imported only when a size is given

            text = values[key]
            try:
                query[flag] = -1 if text == "-1" else parse_bytes(text)
            except ValueError:
                raise UsageError(f'invalid argument "{text}" for "--{key.replace("_", "-")}" flag: invalid size: '
                                 f"'{text}'") from None
    if values["ulimit"]:
        from dockyard.cli.container.isolation import parse_ulimit

        query["ulimits"] = json.dumps([parse_ulimit(u) for u in values["ulimit"]])
    return {k: v for k, v in query.items() if v not in (None, "", [])}


def _context(source: str, dockerfile: str | None, query: dict):
    """(body, size) for the context: bytes, a ContextTar (which sends itself), or None for a URL (sent
    as `remote`, with no body)."""
    from dockyard.build.context import ContextTar, archive_head
    from dockyard.util.tarstream import END, padding, ustar_header

    if source.startswith(("http://", "https://")):
        query["remote"] = source
        if dockerfile:
            query["dockerfile"] = dockerfile
        return None, 0
    if source.startswith(("git@", "git://", "github.com/")):
        raise UsageError(f"unable to prepare context: Git contexts ({source}) are not supported by Dockyard")
    if source == "-":
        data = sys.stdin.buffer.read()
        if not archive_head(data[:777]):  # a Dockerfile on stdin: a context holding only it
            data = b"".join((ustar_header("Dockerfile", "file", 0o644, len(data), int(time.time())), data,
                             padding(len(data)), END))
        return data, len(data)
    if not os.path.isdir(source):
        raise UsageError(f'unable to prepare context: path "{source}" not found')
    name = dockerfile or "Dockerfile"
    path = name if os.path.isabs(name) or dockerfile else os.path.join(source, name)
    if dockerfile and not os.path.isabs(dockerfile) and not os.path.exists(dockerfile):
        path = os.path.join(source, dockerfile)  # as docker: -f is relative to the current directory, then PATH
    if not os.path.isfile(path):
        raise UsageError(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
                         f"{os.path.abspath(path)}: no such file or directory")
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(source))
    extra = None
    if rel.startswith(".."):  # outside the context: sent under a name of its own, as the docker CLI does
        rel = f".dockerfile.{os.urandom(10).hex()}"
        extra = (rel, path)
    query["dockerfile"] = rel
    tar = ContextTar(source, rel, extra=extra)
    return tar, tar.size


@command(BUILD)
def build(client: Client, values: dict, args: list[str]) -> int:
    if values["progress"] not in ("auto", "plain", "tty"):
        raise UsageError(f'invalid argument "{values["progress"]}" for "--progress" flag: use auto, plain or tty')
    query = _query(values)
    body, size = _context(args[0], values["file"], query)
    from dockyard.cli.output import human_size

    if not values["quiet"] and body is not None:
        sys.stdout.write(f"Sending build context to Docker daemon  {human_size(size, 4):>8}\n")
        sys.stdout.flush()
    response = client.send("POST", "/build", query=query, body=body if body is not None else b"",
                           headers={"Content-Type": "application/x-tar"})
    view = _View(values["progress"], values["quiet"])
    image_id = ""
    try:
        for message in response.json_lines():
            if "error" in message:
                view.failed()
                sys.stderr.write(message["error"].rstrip("\n") + "\n")
                detail = message.get("errorDetail")  # as the docker CLI: a failed RUN's exit status
                code = detail.get("code") if isinstance(detail, dict) else None
                return code if isinstance(code, int) and 0 < code < 256 else 1
            if "aux" in message and isinstance(message["aux"], dict) and "ID" in message["aux"]:
                image_id = message["aux"]["ID"]
            elif "stream" in message:
                view.text(message["stream"])
            elif "status" in message:
                view.text(f"{message.get('id', '') + ': ' if message.get('id') else ''}{message['status']}\n")
    finally:
        response.close()
    view.finish()
    if values["quiet"] and image_id:
        sys.stdout.write(image_id + "\n")
    if values["iidfile"] and image_id:
        with open(values["iidfile"], "w") as f:
            f.write(image_id)
    return 0


class _View:
    """auto: the daemon's text as it is. plain: `#N` lines per step with their output and a DONE time.
    tty: one line per finished step with its time (CACHED when reused); output shown if it fails."""

    def __init__(self, mode: str, quiet: bool) -> None:
        self.mode = mode
        self.quiet = quiet
        self.step = 0
        self.title: str | None = ""
        self.started = time.monotonic()
        self.build_started = self.started
        self.cached = False
        self.lines: list[str] = []
        self.buffer = ""

    def text(self, text: str) -> None:
        if self.quiet:
            return
        if self.mode == "auto":
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self._line(line)

    def _line(self, line: str) -> None:
        if line.startswith("Step ") and " : " in line:
            self._end_step()
            self.step += 1
            self.title = line.split(" : ", 1)[1]
            counter = line.split(" ", 2)[1]
            self.started = time.monotonic()
            self.cached = False
            self.lines = []
            if self.mode == "plain":
                sys.stdout.write(f"#{self.step} [{counter}] {self.title}\n")
            self.counter = counter
            return
        if line.startswith(" ---> Using cache"):
            self.cached = True
            return
        if line.startswith((" ---> ", "Removing intermediate container")):
            return
        if line.startswith(("Successfully built", "Successfully tagged")):
            self._end_step()
            sys.stdout.write(line + "\n")
            return
        if self.mode == "plain":
            stamp = time.monotonic() - self.started
            sys.stdout.write(f"#{self.step} {stamp:.3f} {line}\n" if self.step else line + "\n")
        else:
            self.lines.append(line)

    def _end_step(self) -> None:
        if not self.step or self.title is None:
            return
        took = time.monotonic() - self.started
        if self.mode == "plain":
            sys.stdout.write(f"#{self.step} {'CACHED' if self.cached else f'DONE {took:.1f}s'}\n")
        else:
            state = "CACHED" if self.cached else f"{took:5.1f}s"
            sys.stdout.write(f" => [{self.counter}] {self.title:<60.60} {state}\n")
        sys.stdout.flush()
        self.title = None

    def failed(self) -> None:
        if self.mode == "tty":
            for line in self.lines:
                sys.stdout.write(f"  | {line}\n")
        self.text("")

    def finish(self) -> None:
        if self.buffer:
            self._line(self.buffer)
            self.buffer = ""
        if self.mode != "auto" and not self.quiet:
            self._end_step()
            sys.stdout.write(f"Built in {time.monotonic() - self.build_started:.1f}s\n")


@command(PRUNE)
def prune(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import confirmed, human_size

    if not values["force"] and not confirmed("WARNING! This will remove all dangling build cache."):
        return 0
    result = client.call("POST", "/build/prune", query={"all": values["all"] or None}) or {}

    deleted = result.get("CachesDeleted") or []
    if deleted:
        sys.stdout.write("Deleted build cache objects:\n" + "".join(f"{d}\n" for d in deleted))
    sys.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed') or 0)}\n")
    return 0
