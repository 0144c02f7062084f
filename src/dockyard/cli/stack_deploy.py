"""`stack deploy` against the Engine API, in docker/cli's order and words: the daemon must be a
swarm manager; with --prune, services no longer in the file go first; then the networks (those
missing), secrets and configs (created, or their labels updated), and the services: created, or
updated with the version read. An update sends the whole spec again; the managers restart no task
whose spec did not change, so a second deploy of the same file restarts nothing."""

from __future__ import annotations

import json
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.stack_convert import IMAGE_LABEL, NAMESPACE_LABEL, Namespace, StackPlan

RESOLVE_CHOICES = ("always", "changed", "never")


class DeployError(Exception):
    """The deploy stopped; the message is docker/cli's."""


def stack_filter(namespace: str, more: dict[str, list[str]] | None = None) -> str:
    filters = {k: list(v) for k, v in (more or {}).items()}
    filters.setdefault("label", []).append(f"{NAMESPACE_LABEL}={namespace}")
    return json.dumps(filters)


def listed(client: Client, path: str, namespace: str) -> list[dict]:
    return client.call("GET", path, query={"filters": stack_filter(namespace)}) or []


def check_manager(client: Client) -> None:
    info = client.call("GET", "/info")
    if not ((info.get("Swarm") or {}).get("ControlAvailable")):
        raise DeployError('this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
                          "connect this node to swarm and try again")


def deploy(client: Client, plan: StackPlan, *, prune: bool, resolve_image: str, registry_auth: bool) -> list[str]:
    """The IDs of the stack's services, created or updated."""
    check_manager(client)
    namespace = plan.namespace
    if prune:
        stale = [s for s in listed(client, "/services", namespace.name)
                 if namespace.descope(s["Spec"]["Name"]) not in plan.services]
        remove_services(client, stale)
    _check_external_networks(client, plan.external_networks)
    _create_networks(client, plan)
    for kind, specs in (("secret", plan.secrets), ("config", plan.configs)):
        _create_payloads(client, kind, specs)
    return _deploy_services(client, plan, resolve_image, registry_auth)


def _check_external_networks(client: Client, names: list[str]) -> None:
    for name in names:
        if name in ("bridge", "host", "none", "default") or name.startswith("container:"):
            continue  # local networks every node has
        try:
            network = client.call("GET", f"/networks/{name}")
        except APIError as exc:
            if exc.status == 404:
                raise DeployError(f'network "{name}" is declared as external, but could not be found. You need to '
                                  "create a swarm-scoped network before the stack is deployed") from None
            raise
        if network.get("Scope") != "swarm":
            raise DeployError(f'network "{name}" is declared as external, but it is not in the right scope: '
                              f'"{network.get("Scope")}" instead of "swarm"')


def _create_networks(client: Client, plan: StackPlan) -> None:
    existing = {n["Name"] for n in listed(client, "/networks", plan.namespace.name)}
    for name, body in plan.networks.items():
        if name in existing:
            continue
        sys.stdout.write(f"Creating network {name}\n")
        try:
            client.call("POST", "/networks/create", body=body)
        except APIError as exc:
            raise DeployError(f"failed to create network {name}: Error response from daemon: {exc.message}") from None


def _create_payloads(client: Client, kind: str, specs: list[dict]) -> None:
    """A secret or config of the stack that exists gets the file's spec as an update (swarmkit
    takes new labels only, and refuses other data); a missing one is created."""
    for spec in specs:
        try:
            current = client.call("GET", f"/{kind}s/{spec['Name']}")
        except APIError as exc:
            if exc.status != 404:
                raise
            sys.stdout.write(f"Creating {kind} {spec['Name']}\n")
            try:
                client.call("POST", f"/{kind}s/create", body=spec)
            except APIError as err:
                raise DeployError(f"failed to create {kind} {spec['Name']}: Error response from daemon: "
                                  f"{err.message}") from None
            continue
        try:
            client.call("POST", f"/{kind}s/{current['ID']}/update", query={"version": current["Version"]["Index"]},
                        body=spec)
        except APIError as err:
            raise DeployError(f"failed to update {kind} {spec['Name']}: Error response from daemon: "
                              f"{err.message}") from None


def _with_ids(client: Client, spec: dict) -> dict:
    """The spec's secret and config references with their objects' IDs (docker/cli's ParseSecrets)."""
    from dockyard.cli.payloadrefs import UnresolvedReference, resolve

    container = spec["TaskTemplate"]["ContainerSpec"]
    for kind, key, name_key in (("secret", "Secrets", "SecretName"), ("config", "Configs", "ConfigName")):
        if container.get(key):
            try:
                container[key] = sorted(resolve(client, kind, container[key]), key=lambda r: r[name_key])
            except UnresolvedReference as exc:
                raise DeployError(f"service {spec['Name']}: {exc}") from None
    return spec


def _deploy_services(client: Client, plan: StackPlan, resolve_image: str, registry_auth: bool) -> list[str]:
    from dockyard.cli.service import resolve_service_image

    namespace: Namespace = plan.namespace
    existing = {s["Spec"]["Name"]: s for s in listed(client, "/services", namespace.name)}
    ids = []
    for spec in plan.services.values():
        spec = _with_ids(client, spec)
        name = spec["Name"]
        container = spec["TaskTemplate"]["ContainerSpec"]
        image = container["Image"]
        headers = {}
        if registry_auth:  # the credentials `login` stored for the image's registry
            from dockyard.cli.credentials import registry_auth_header

            headers = registry_auth_header(image)
        current = existing.get(name)
        if current is None:
            sys.stdout.write(f"Creating service {name}\n")
            if resolve_image != "never":
                resolve_service_image(client, spec, warn=False)
            try:
                created = client.call("POST", "/services/create", body=spec, headers=headers)
            except APIError as exc:
                raise DeployError(f"failed to create service {name}: Error response from daemon: "
                                  f"{exc.message}") from None
            ids.append(created["ID"])
            continue
        sys.stdout.write(f"Updating service {name} (id: {current['ID']})\n")
        warnings: list[str] = []
        same_image = image == (current["Spec"].get("Labels") or {}).get(IMAGE_LABEL)
        if resolve_image == "always" or (resolve_image == "changed" and not same_image):
            warnings += resolve_service_image(client, spec, warn=False)
        elif same_image:  # keep the digest an earlier deploy pinned, or the update would change the image
            container["Image"] = current["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        # stack deploy has no --force: keep the counter, or every deploy would restart the tasks
        force = (current["Spec"].get("TaskTemplate") or {}).get("ForceUpdate")
        if force:
            spec["TaskTemplate"]["ForceUpdate"] = force
        try:
            answer = client.call("POST", f"/services/{current['ID']}/update",
                                 query={"version": current["Version"]["Index"]}, body=spec, headers=headers)
        except APIError as exc:
            raise DeployError(f"failed to update service {name}: Error response from daemon: {exc.message}") from None
        for warning in warnings + list((answer or {}).get("Warnings") or []):
            sys.stderr.write(warning + "\n")
        ids.append(current["ID"])
    return ids


def _remove(client: Client, kind: str, path: str, objects: list[dict], name_of) -> bool:
    """docker/cli's removeServices and the like: each object said and deleted; a failure is said
    (without a newline, as docker/cli) and the others still go. True when one failed."""
    failed = False
    for obj in objects:
        sys.stdout.write(f"Removing {kind} {name_of(obj)}\n")
        object_id = obj.get("ID") or obj["Id"]  # a network's JSON says Id
        try:
            client.call("DELETE", f"{path}/{object_id}")
        except APIError as exc:
            failed = True
            sys.stderr.write(f"Failed to remove {kind} {object_id}: Error response from daemon: {exc.message}")
    return failed


def remove_services(client: Client, services: list[dict]) -> bool:
    return _remove(client, "service", "/services", sorted(services, key=lambda s: s["Spec"]["Name"]),
                   lambda s: s["Spec"]["Name"])


def remove_stack(client: Client, namespace: str) -> bool | None:
    """Services, secrets, configs, then networks of the stack; None when it has none of them,
    True when something could not be removed."""
    services = listed(client, "/services", namespace)
    networks = listed(client, "/networks", namespace)
    secrets = listed(client, "/secrets", namespace)
    configs = listed(client, "/configs", namespace)
    if not (services or networks or secrets or configs):
        return None
    failed = remove_services(client, services)
    failed = _remove(client, "secret", "/secrets", secrets, lambda o: o["Spec"]["Name"]) or failed
    failed = _remove(client, "config", "/configs", configs, lambda o: o["Spec"]["Name"]) or failed
    return _remove(client, "network", "/networks", networks, lambda o: o["Name"]) or failed
