"""What a container's networking changes in its OCI spec (the namespace to join, link
environment, shared name files): kept apart from spec.py, which knows nothing of networks."""

import os

from dockyard.engine.container import Container
from dockyard.network.sandbox import DEFAULT_SYSCTLS
from dockyard.runtime.spec import process_env

NAME_FILES = {"/etc/hosts": "hosts", "/etc/resolv.conf": "resolv.conf", "/etc/hostname": "hostname"}


def apply_network_plan(spec: dict, plan: dict, c: Container) -> None:
    """``plan`` is NetworkService.prepare's answer: {"namespace": None | "host" | path, "env": [...],
    "files_dir": directory of another container's name files (container:<id> mode) or None}."""
    namespace = plan.get("namespace")
    entries = spec["linux"]["namespaces"]
    if namespace == "host":
        spec["linux"]["namespaces"] = [ns for ns in entries if ns["type"] != "network"]
    elif namespace:
        for ns in entries:
            if ns["type"] == "network":
                ns["path"] = namespace
    elif any(ns["type"] == "network" and not ns.get("path") for ns in entries):
        # `--network none`: the runtime makes the namespace, so the defaults travel in the spec.
        spec["linux"]["sysctl"] = {**DEFAULT_SYSCTLS, **(spec["linux"].get("sysctl") or {})}
    if plan.get("env"):
        spec["process"]["env"] = process_env(plan["env"] + list(c.config.env or []),
                                             c.config.hostname or "", bool(c.config.tty))
    if plan.get("files_dir"):
        for mount in spec["mounts"]:
            name = NAME_FILES.get(mount["destination"])
            if name and mount.get("type") == "bind" and mount["source"].endswith("/" + name):
                mount["source"] = os.path.join(plan["files_dir"], name)
