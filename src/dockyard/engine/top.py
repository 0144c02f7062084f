"""`docker top`: the host's `ps` output, limited to the processes in the container's cgroup."""

from __future__ import annotations

import shlex
import subprocess

from dockyard.engine.container import Container
from dockyard.errors import Conflict, InvalidParameter
from dockyard.runtime.linux.cgroups import Cgroup


def top(c: Container, cgroup_path: str, ps_args: str) -> dict:
    if not c.state.running:
        raise Conflict(f"Container {c.id} is not running")
    if c.state.status == "restarting":  # between two runs: no process, perhaps no cgroup
        raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
    pids = {str(p) for p in Cgroup(cgroup_path).pids()}
    try:
        args = shlex.split(ps_args or "-ef")
    except ValueError as exc:
        raise InvalidParameter(f"invalid ps arguments {ps_args!r}: {exc}") from None
    result = subprocess.run(["ps", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise InvalidParameter(f"ps: {result.stderr.strip() or 'failed'}")
    lines = result.stdout.splitlines()
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_index and fields[pid_index] in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
