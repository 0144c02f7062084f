"""The project's networks and volumes: made when missing (labelled as compose's), checked when external,
removed by `down`."""

from __future__ import annotations

from dockyard.client.engine import Engine
from dockyard.client.transport import APIError
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Network, Project, Volume
from dockyard.compose.progress import Progress
from dockyard.compose.service import LABEL_NETWORK, LABEL_PROJECT, LABEL_VOLUME, project_labels


def network_body(project: Project, network: Network) -> dict:
    body: dict = {"Name": network.name, "CheckDuplicate": True,
                  "Labels": {**network.labels, **project_labels(project), LABEL_NETWORK: network.key},
                  "Internal": network.internal, "Attachable": network.attachable,
                  "EnableIPv6": network.enable_ipv6}
    if network.driver:
        body["Driver"] = network.driver
    if network.driver_opts:
        body["Options"] = {k: str(v) for k, v in network.driver_opts.items()}
    if network.ipam:
        ipam: dict = {"Driver": network.ipam.get("driver") or "default"}
        configs = []
        for entry in network.ipam.get("config") or []:
            config = {"Subnet": entry.get("subnet"), "IPRange": entry.get("ip_range"),
                      "Gateway": entry.get("gateway"), "AuxiliaryAddresses": entry.get("aux_addresses")}
            configs.append({k: v for k, v in config.items() if v})
        ipam["Config"] = configs
        if network.ipam.get("options"):
            ipam["Options"] = network.ipam["options"]
        body["IPAM"] = ipam
    return body


def ensure_networks(engine: Engine, project: Project, keys: set[str], progress: Progress, created: list) -> None:
    for key in sorted(keys):
        network = project.networks[key]
        existing = engine.inspect_network(network.name)
        if network.external:
            if existing is None:
                raise ComposeError(f"network {network.name} declared as external, but could not be found")
            continue
        if existing is not None:
            owner = (existing.get("Labels") or {}).get(LABEL_PROJECT)
            if owner and owner != project.name:
                progress.event("Network", network.name, "Warning", done=True)
            continue
        progress.event("Network", network.name, "Creating")
        try:
            engine.create_network(network_body(project, network))
        except APIError as exc:
            progress.event("Network", network.name, "Error", failed=True)
            raise ComposeError(f"failed to create network {network.name}: Error response from daemon: "
                               f"{exc.message}") from None
        created.append(("network", network.name))
        progress.event("Network", network.name, "Created")


def ensure_volumes(engine: Engine, project: Project, keys: set[str], progress: Progress, created: list) -> None:
    for key in sorted(keys):
        volume = project.volumes[key]
        existing = engine.inspect_volume(volume.name)
        if volume.external:
            if existing is None:
                raise ComposeError(f"external volume \"{volume.name}\" not found")
            continue
        if existing is not None:
            continue
        shown = f'"{volume.name}"'
        progress.event("Volume", shown, "Creating")
        body = {"Name": volume.name, "Labels": {**volume.labels, **project_labels(project), LABEL_VOLUME: volume.key}}
        if volume.driver:
            body["Driver"] = volume.driver
        if volume.driver_opts:
            body["DriverOpts"] = {k: str(v) for k, v in volume.driver_opts.items()}
        try:
            engine.create_volume(body)
        except APIError as exc:
            progress.event("Volume", shown, "Error", failed=True)
            raise ComposeError(f"failed to create volume {volume.name}: Error response from daemon: "
                               f"{exc.message}") from None
        created.append(("volume", volume.name))
        progress.event("Volume", shown, "Created")


def used_by(project: Project, services: list[str]) -> tuple[set[str], set[str]]:
    """The network and volume keys the services use."""
    networks: set[str] = set()
    volumes: set[str] = set()
    for name in services:
        service = project.services[name]
        networks.update(service.networks)
        volumes.update(v.source for v in service.volumes if v.type == "volume" and v.source in project.volumes)
    return networks, volumes


def _remove_all(kind: str, names: list[str], labelled, inspect, remove, progress: Progress) -> None:
    """Remove the declared resources that exist and any other labelled as the project's."""
    for found in labelled:
        if found.name not in names:
            names.append(found.name)
    for name in names:
        if inspect(name) is None:
            continue
        progress.event(kind, name, "Removing")
        try:
            remove(name)
        except APIError as exc:
            if exc.status == 404:
                continue
            progress.event(kind, name, "Error", failed=True)
            raise ComposeError(f"failed to remove {kind.lower()} {name}: Error response from daemon: "
                               f"{exc.message}") from None
        progress.event(kind, name, "Removed")


def remove_networks(engine: Engine, project: Project, progress: Progress) -> None:
    _remove_all("Network", [n.name for n in project.networks.values() if not n.external],
                engine.networks({LABEL_PROJECT: project.name}), engine.inspect_network, engine.remove_network, progress)


def remove_volumes(engine: Engine, project: Project, progress: Progress) -> None:
    _remove_all("Volume", [v.name for v in project.volumes.values() if not v.external],
                engine.volumes({LABEL_PROJECT: project.name}), engine.inspect_volume, engine.remove_volume, progress)


__all__ = ["ensure_networks", "ensure_volumes", "remove_networks", "remove_volumes", "used_by", "Volume"]
