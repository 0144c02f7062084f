"""`stack deploy -c FILE [-c FILE]`: the files read by the compose loader (interpolation, `extends`,
merged in order), then docker/cli's checks for what a stack cannot do: keys that stop the deploy
(`volumes_from`, `mem_limit`, ...), keys ignored with a warning (`build`, `links`, ...), and a
service without an image."""

from __future__ import annotations

import os
import sys

from dockyard.compose.config.loader import LoadOptions, load  # the one import of the compose plugin's loader

# docker/cli's types.UnsupportedProperties, DeprecatedProperties and ForbiddenProperties (but for
# `extends`, which the compose loader resolves: docker/cli refuses it)
UNSUPPORTED = ("build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links", "ipc", "links",
               "mac_address", "network_mode", "pid", "privileged", "restart", "security_opt", "shm_size",
               "userns_mode")
DEPRECATED = {
    "container_name": "Setting the container name is not supported.",
    "expose": "Exposing ports is unnecessary - services on the same network can access each other's containers on "
              "any port.",
}
_RESOURCES = "Set resource limits using deploy.resources"
FORBIDDEN = {
    "volume_driver": "Instead of setting the volume driver on the service, define a volume using the top-level "
                     "`volumes` option and specify the driver there.",
    "volumes_from": "To share a volume between services, define it using the top-level `volumes` option and "
                    "reference it from each service that shares it using the service-level `volumes` option.",
    "cpu_quota": _RESOURCES, "cpu_shares": _RESOURCES, "cpuset": _RESOURCES, "mem_limit": _RESOURCES,
    "memswap_limit": _RESOURCES,
}


class LoadError(Exception):
    """The files cannot be a stack; the message is docker/cli's."""


def _warnings(properties: dict[str, str]) -> str:
    return "\n\n".join(sorted(f"{name}: {text}" for name, text in properties.items()))


def load_stack(files: list[str], stack: str) -> dict:
    """The merged, interpolated document of the files, with docker/cli's warnings on stderr."""
    from dockyard.compose.errors import ComposeError

    if not files:
        raise LoadError("specify a Compose file (with --compose-file)")
    name = stack if stack.replace("-", "").replace("_", "").isalnum() and stack == stack.lower() else None
    options = LoadOptions(files=files, project_name=name, warn_obsolete_version=False,
                          project_directory=os.getcwd() if files == ["-"] else None)
    try:
        document = load(options).document
    except ComposeError as exc:
        raise LoadError(str(exc)) from None
    services = document.get("services") or {}
    forbidden = {key: text for service in services.values() for key, text in FORBIDDEN.items() if key in service}
    if forbidden:
        raise LoadError(f"compose file contains unsupported options:\n\n{_warnings(forbidden)}\n")
    unsupported = sorted({key for service in services.values() for key in UNSUPPORTED if key in service})
    if unsupported:
        sys.stderr.write(f"Ignoring unsupported options: {', '.join(unsupported)}\n\n")
    deprecated = {key: text for service in services.values() for key, text in DEPRECATED.items() if key in service}
    if deprecated:
        sys.stderr.write(f"Ignoring deprecated options:\n\n{_warnings(deprecated)}\n\n")
    for service_name, service in services.items():
        image = service.get("image")
        if not image:
            raise LoadError(f"invalid image reference for service {service_name}: no image specified")
        from dockyard.images import reference

        try:
            reference.parse(image)
        except Exception as exc:  # noqa: BLE001 - the reference module's own words follow
            raise LoadError(f"invalid image reference for service {service_name}: {exc}") from None
    return document
