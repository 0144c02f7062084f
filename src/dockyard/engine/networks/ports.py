"""Published ports of a container: the bindings a create request asks for (checked and put in
Docker's form), the host ports to bind when it starts, and inspect's NetworkSettings.Ports.
Binding the host ports is network/portmap.py; the netfilter rules are the driver's."""

from __future__ import annotations

import re

from dockyard.engine.specs.codec import to_json
from dockyard.engine.specs.containers import PortBinding
from dockyard.errors import InvalidParameter
from dockyard.network.portmap import Mapping

_HOST_PORT = re.compile(r"\d+(-\d+)?")


def normalize_port_bindings(port_bindings: dict[str, list[PortBinding] | None] | None) -> None:
    """HostConfig.PortBindings as Docker keeps them: every key with its protocol ("80" is
    "80/tcp"), every host port a number or a range."""
    if port_bindings is None:
        return
    for key, value in list(port_bindings.items()):
        if "/" not in key:
            port_bindings[key + "/tcp"] = port_bindings.pop(key)
        for binding in value or []:
            port = (binding.host_port if binding else None) or ""
            if port and not _HOST_PORT.fullmatch(port):
                raise InvalidParameter(f"invalid port specification: {port!r}")


def wanted_bindings(exposed: dict, port_bindings: dict[str, list[PortBinding] | None] | None,
                    publish_all: bool) -> dict:
    """The host ports to bind at start: PortBindings, plus each exposed port on a port the kernel
    picks with -P (PublishAllPorts); in Docker's words, as the port mapper takes them."""
    bindings: dict = {port: None if entries is None else [to_json(b) if b else b for b in entries]
                      for port, entries in (port_bindings or {}).items()}
    if publish_all:
        for port in exposed:
            bindings.setdefault(port, [{"HostIp": "", "HostPort": ""}])
    return bindings


def recorded_bindings(ports: dict | None) -> dict:
    """The bindings a running container's NetworkSettings.Ports shows, to bind again after a
    daemon restart (the host ports it had, not new ones)."""
    return {port: [{"HostIp": b["HostIp"], "HostPort": b["HostPort"]} for b in entries]
            for port, entries in (ports or {}).items() if entries}


def ports_view(exposed: dict, mappings: list[Mapping]) -> dict:
    """NetworkSettings.Ports: every exposed port (null when unpublished) with its bindings."""
    view: dict = {port: None for port in exposed}
    for m in mappings:
        key = f"{m.container_port}/{m.proto}"
        view[key] = (view.get(key) or []) + [m.binding()]
    return view
