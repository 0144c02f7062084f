"""A create request's Config merged with its image's, and the HostConfig defaults Docker reports:
what a container record holds before anything is made for it."""

from __future__ import annotations

import copy
import dataclasses

from dockyard.engine import logconfig
from dockyard.engine.specs.containers import ContainerConfig, HostConfig, RestartPolicy, is_empty


def merge_config(request: ContainerConfig, image: ContainerConfig) -> ContainerConfig:
    """Docker's merge of a create request with the image's config (daemon/commit.go merge)."""
    config = ContainerConfig(**{f.name: copy.deepcopy(getattr(request, f.name))
                                for f in dataclasses.fields(ContainerConfig)})
    if not config.user:
        config.user = image.user or ""
    env = list(image.env or [])
    for entry in config.env or []:
        key = entry.partition("=")[0]
        env = [e for e in env if e.partition("=")[0] != key] + [entry]
    config.env = env
    config.labels = {**(image.labels or {}), **(config.labels or {})}
    if not config.entrypoint:
        if not config.cmd:
            config.cmd = image.cmd
        if config.entrypoint is None:
            config.entrypoint = image.entrypoint
    if config.entrypoint == [""]:
        # `--entrypoint ""`: after the merge (so the image's CMD is not taken), Docker resets it.
        config.entrypoint = None
    if not config.working_dir:
        config.working_dir = image.working_dir or ""
    config.exposed_ports = {**(image.exposed_ports or {}), **(config.exposed_ports or {})} or None
    config.volumes = {**(image.volumes or {}), **(config.volumes or {})} or None
    if not config.stop_signal and image.stop_signal:
        config.stop_signal = image.stop_signal
    if is_empty(config.healthcheck) and not is_empty(image.healthcheck):
        config.healthcheck = image.healthcheck
    if not config.on_build and image.on_build:
        config.on_build = image.on_build
    for name in ("hostname", "domainname"):
        if getattr(config, name) is None:
            setattr(config, name, "")
    for name in ("attach_stdin", "attach_stdout", "attach_stderr", "tty", "open_stdin", "stdin_once"):
        if getattr(config, name) is None:
            setattr(config, name, False)
    return config


def normalize_host_config(host_config: HostConfig) -> HostConfig:
    """The defaults Docker reports for what the request left unset."""
    if host_config.network_mode is None:
        host_config.network_mode = "default"
    if host_config.restart_policy is None:
        host_config.restart_policy = RestartPolicy("no", 0)
    for name in ("auto_remove", "privileged", "readonly_rootfs"):
        if getattr(host_config, name) is None:
            setattr(host_config, name, False)
    if host_config.log_config is None:
        host_config.log_config = logconfig.validate(None)
    if not host_config.ipc_mode:
        host_config.ipc_mode = "private"  # dockerd's default-ipc-mode since 20.10 (API clients >= 1.40)
    for name in ("pid_mode", "userns_mode", "isolation"):  # "" when unset, as Docker reports them
        if getattr(host_config, name) is None:
            setattr(host_config, name, "")
    return host_config
