"""Drives the engine's cluster backend (engine/backend.py) on a real engine, in a process of its
own, as a cluster agent would: a launcher forked first (before any thread, as dockyardd does), the
engine built by the composition root on a stopped daemon's data and exec roots, no default bridge.

    backend_driver.py DATA_ROOT EXEC_ROOT run FILES_JSON    create a task container with these files
                                                            (name, base64 data, target, uid, gid,
                                                            mode, kind), start it, wait; prints its ID,
                                                            exit code, output, the files' sources and
                                                            their mount while it ran as JSON; keeps it
    backend_driver.py DATA_ROOT EXEC_ROOT start ID          start it again; prints the refusal's text
    backend_driver.py DATA_ROOT EXEC_ROOT remove ID         remove it through the backend
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys

from dockyard.runtime.launcher import Launcher

SCRIPT = r"""
for f in "$@"; do
  echo "== $f $(stat -c '%u %g %a' "$f") $(awk -v t="$f" '$5==t {print $(NF-2)}' /proc/self/mountinfo)"
  cat "$f"; echo
  if echo overwritten 2>/dev/null > "$f"; then echo "$f is writable"; fi
done
"""


async def main(launcher: Launcher, data_root: str, exec_root: str, action: str, arg: str) -> dict:
    from dockyard.daemon.main import build_daemon
    from dockyard.engine.backend import EngineBackend, TaskFile
    from dockyard.engine.daemon import DaemonOptions
    from dockyard.engine.networks.options import NetworkOptions
    from dockyard.engine.specs.containers import ContainerCreate, HostConfig

    daemon = build_daemon(DaemonOptions(data_root, exec_root, network=NetworkOptions(bridge="none")), launcher)
    daemon.containers.load()
    daemon.networks.catalog.load()  # the records only (the "none" network): no bridge, no rules
    backend = EngineBackend(daemon.containers, daemon.networks)
    if action == "remove":
        await backend.remove_container(arg, force=True)
        return {}
    if action == "start":
        try:
            await backend.start_container(arg)
        except Exception as exc:  # noqa: BLE001 - the test reads the refusal
            return {"error": str(exc)}
        return {"error": ""}
    files = [TaskFile(f["name"], base64.b64decode(f["data"]), f.get("target", ""), f.get("uid", 0), f.get("gid", 0),
                      f.get("mode", 0o444), f.get("kind", "secret")) for f in json.loads(arg)]
    targets = [f.path_in_container() for f in files]
    c = backend.create_managed_container(ContainerCreate(
        image="busybox", entrypoint=["sh", "-c", SCRIPT, "sh"], cmd=targets,
        labels={"com.docker.swarm.task.name": "secrets-test.1"}, host_config=HostConfig(network_mode="none")))
    backend.set_task_files(c.id, files)
    sources = [f["Source"] for f in backend.inspect_container(c.id).task_files]
    await backend.start_container(c.id)
    # While it runs (no await since the start: its exit is not handled yet), as the host sees it.
    with open("/proc/self/mounts") as mounts:
        running = [line.split()[1:4] for line in mounts if c.id in line and line.split()[1].endswith("/task-files")]
    with open(sources[0], "rb") as first:
        first_file = base64.b64encode(first.read()).decode()
    code = await backend.wait_container(c.id)
    with open(daemon.containers.log_path(c.id)) as log:
        output = "".join(json.loads(line)["log"] for line in log)
    return {"id": c.id, "exit_code": code, "output": output, "sources": sources, "mounts_running": running,
            "first_file": first_file}


if __name__ == "__main__":
    launcher = Launcher.fork()
    try:
        print(json.dumps(asyncio.run(main(launcher, *sys.argv[1:5]))))
    finally:
        launcher.close()
