"""A container record -> the OCI spec its process starts with (moby's oci_linux.go, runc's
specconv): user, environment, name files, isolation, security options, cgroup limits, mounts."""

from __future__ import annotations

import os
from collections.abc import Callable

from dockyard.engine import isolation, securityopts
from dockyard.engine.container import Container
from dockyard.engine.mounts import oci_mounts
from dockyard.engine.seams import ContainerLayers, VolumeUse
from dockyard.engine.specs.codec import to_json
from dockyard.errors import InvalidParameter
from dockyard.runtime.linux import cgroups, resources
from dockyard.runtime.linux.userns import IdMap
from dockyard.runtime.linux.users import resolve as resolve_user
from dockyard.runtime.spec import NameFiles, build_spec, process_env

# --init: a static init binary from the host, bind-mounted where Docker puts its docker-init.
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/docker-init")
INIT_TARGET = "/sbin/docker-init"


def init_binary() -> str:
    for candidate in INIT_BINARIES:
        if os.path.exists(candidate):
            return candidate
    raise InvalidParameter("--init needs an init binary on the host: apt-get install tini "
                           f"(looked for {', '.join(INIT_BINARIES)})")


def cgroup_path(c: Container, default_parent: str = "dockyard") -> str:
    """`/dockyard/<id>` (the daemon's --cgroup-parent), or the container's `--cgroup-parent`/<id>,
    in every hierarchy."""
    parent = "/" + (c.host_config.cgroup_parent or default_parent).strip("/")
    return f"{parent.rstrip('/')}/{c.id}"


class SpecBuilder:
    def __init__(self, layers: ContainerLayers, volumes: VolumeUse, find_container: Callable[[str], Container],
                 container_dir: Callable[[str], str], state_dir: Callable[[str], str],
                 idmap: IdMap | None = None, cgroup_parent: str = "dockyard") -> None:
        self.layers = layers
        self.volumes = volumes
        self.find_container = find_container  # name or ID -> Container (NotFound otherwise)
        self.container_dir = container_dir
        self.state_dir = state_dir
        self.idmap = idmap
        self.cgroup_parent = cgroup_parent  # the daemon's --cgroup-parent

    def build(self, c: Container) -> dict:
        config = c.config
        host_config = c.host_config
        user = resolve_user(config.user or "", lambda path: self.layers.read_file(c.id, path),
                            host_config.group_add or ())
        directory = self.container_dir(c.id)
        args = [c.path, *c.args]
        if host_config.init:
            # Docker's --init: a real init (tini) as PID 1 reaps zombies and forwards signals.
            args = [INIT_TARGET, "--", *args]
        spec = build_spec(
            args=args,
            env=process_env(config.env or [], config.hostname or "", bool(config.tty)),
            cwd=config.working_dir or "/",
            user=user,
            hostname=config.hostname or "",
            tty=bool(config.tty),
            rootfs=os.path.join(self.state_dir(c.id), "rootfs"),
            files=NameFiles(os.path.join(directory, "hostname"), os.path.join(directory, "hosts"),
                            os.path.join(directory, "resolv.conf")),
            cgroups_path=cgroup_path(c, self.cgroup_parent),
            readonly_rootfs=bool(host_config.readonly_rootfs),
        )
        isolation.apply(spec, host_config, self.find_container, cgroups.version() == 1,
                        lambda cid: self.container_dir(cid or c.id), self.idmap)
        securityopts.apply(spec, host_config)
        # Docker's HostConfig names; the runtime writes them into the cgroup before exec.
        wire = to_json(host_config)
        limits = {k: wire[k] for k in resources.RESOURCE_FIELDS if wire.get(k)}
        if limits:
            spec["linux"]["resources"] = limits
        user_mounts = oci_mounts(self.volumes, c.mount_points, host_config.tmpfs or {})
        if user_mounts:
            taken = {m["destination"] for m in user_mounts}  # a user's /etc/hosts mount replaces ours
            spec["mounts"] = [m for m in spec["mounts"] if m["destination"] not in taken] + user_mounts
        for task_file in c.task_files:  # a cluster agent's secrets and configs (engine/backend.py)
            spec["mounts"].append({"destination": task_file["Target"], "type": "bind", "source": task_file["Source"],
                                   "options": ["rbind", "rprivate", "ro"]})
        if host_config.init:
            spec["mounts"].append({"destination": INIT_TARGET, "type": "bind", "source": init_binary(),
                                   "options": ["bind", "ro"]})
        return spec
