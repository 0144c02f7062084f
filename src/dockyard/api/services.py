"""Engine API: /services. Docker's JSON <-> the typed ServiceSpec (its fields name their JSON keys,
so the engine's codec reads requests with Go's rules); the rules live in cluster/services/control."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.cluster.services import defaults
from dockyard.cluster.services.control import SERVICE_FILTERS, ServiceControl, ServiceCounts
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.spec import ReplicatedService, ServiceMode, ServiceSpec
from dockyard.engine.specs.codec import from_json, to_json
from dockyard.errors import InvalidParameter


def time_json(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def spec_from_json(body: Any) -> ServiceSpec:
    spec = from_json(ServiceSpec, body)
    # moby's convert: a spec naming no mode (or no replica count) is one replica.
    mode = spec.mode
    if mode is None or (mode.kind() == "replicated" and (mode.replicated is None or mode.replicated.replicas is None)):
        spec.mode = ServiceMode(replicated=ReplicatedService(1))
    if spec.task_template is not None and spec.task_template.container_spec is not None:
        spec.task_template.runtime = spec.task_template.runtime or "container"
    return spec


def spec_json(spec: ServiceSpec) -> dict[str, Any]:
    body = to_json(spec)
    body["Labels"] = dict(spec.labels or {})
    body.setdefault("TaskTemplate", {}).setdefault("ForceUpdate", 0)
    body.setdefault("Mode", {})
    return body


Facts = tuple[list[dict[str, str]], dict[tuple[int, str], int]]  # VIPs, ports the swarm chose


def service_json(service: Service, insert_defaults: bool = False, counts: ServiceCounts | None = None,
                 facts: Facts | None = None) -> dict:
    spec = defaults.with_defaults(service.spec) if insert_defaults else service.spec
    endpoint_spec = spec.endpoint_spec
    body: dict[str, Any] = {
        "ID": service.id, "Version": {"Index": service.version.index}, "CreatedAt": time_json(service.created_at),
        "UpdatedAt": time_json(service.updated_at), "Spec": spec_json(spec),
    }
    if service.previous_spec is not None:
        previous = defaults.with_defaults(service.previous_spec) if insert_defaults else service.previous_spec
        body["PreviousSpec"] = spec_json(previous)
    endpoint: dict[str, Any] = {"Spec": to_json(endpoint_spec) if endpoint_spec is not None else {}}
    ports = [to_json(p) for p in (endpoint_spec.ports or [])] if endpoint_spec is not None else []
    virtual_ips, chosen = facts if facts is not None else ([], {})
    if ports:
        endpoint["Ports"] = [{"Protocol": "tcp", "PublishMode": "ingress", **p} for p in ports]
        for p in endpoint["Ports"]:  # a port given without a number: the one the swarm chose
            if p["PublishMode"] == "ingress" and not p.get("PublishedPort"):
                found = chosen.get((p.get("TargetPort", 0), p["Protocol"]))
                if found:
                    p["PublishedPort"] = found
    if virtual_ips:
        endpoint["VirtualIPs"] = virtual_ips
    body["Endpoint"] = endpoint
    status = service.update_status
    if status is not None:
        update: dict[str, Any] = {"State": status.state, "Message": status.message}
        if status.started_at is not None:
            update["StartedAt"] = time_json(status.started_at)
        if status.completed_at is not None:
            update["CompletedAt"] = time_json(status.completed_at)
        body["UpdateStatus"] = update
    if counts is not None:
        body["ServiceStatus"] = {"RunningTasks": counts.running, "DesiredTasks": counts.desired,
                                 "CompletedTasks": counts.completed}
    if service.job_iteration is not None:
        body["JobStatus"] = {"JobIteration": {"Index": service.job_iteration},
                             "LastExecution": time_json(service.last_execution or service.created_at)}
    return body


def _version_arg(req: Request) -> int:
    raw = req.arg("version")
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid service version {raw!r}: the version from `GET /services/{{id}}` is needed "
                               "(strconv.ParseUint: parsing \"" + raw + "\": invalid syntax)") from None


def register(router, control: ServiceControl, node_count,
             endpoint_facts: Callable[[str], Facts] = lambda service_id: ([], {})) -> None:
    async def create(req: Request) -> Response:
        spec = spec_from_json(await req.json())
        service = await asyncio.to_thread(control.create, spec)
        return Response(201, {"ID": service.id})

    async def list_services(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), SERVICE_FILTERS)
        for mode in filters.get("mode"):
            if mode not in ("replicated", "global", "replicated-job", "global-job"):
                raise InvalidParameter(f"Invalid filter: 'mode'='{mode}'")
        found = await asyncio.to_thread(control.services, filters.values)
        counts: dict[str, ServiceCounts] = {}
        if req.flag("status"):
            counts = await asyncio.to_thread(control.counts, found, await asyncio.to_thread(node_count))
        facts = {s.id: await asyncio.to_thread(endpoint_facts, s.id) for s in found}
        return Response(200, [service_json(s, counts=counts.get(s.id), facts=facts[s.id]) for s in found])

    async def inspect(req: Request) -> Response:
        service = await asyncio.to_thread(control.service, req.params["id"])
        return Response(200, service_json(service, insert_defaults=req.flag("insertDefaults"),
                                          facts=await asyncio.to_thread(endpoint_facts, service.id)))

    async def update(req: Request) -> Response:
        version = _version_arg(req)
        rollback = req.arg("rollback")
        if rollback not in ("", "previous"):
            raise InvalidParameter(f"unrecognized rollback option {rollback}")
        body = await req.json()
        spec = None if rollback else spec_from_json(body)
        await asyncio.to_thread(control.update, req.params["id"], version, spec, bool(rollback))
        return Response(200, {"Warnings": None})

    async def remove(req: Request) -> Response:
        await asyncio.to_thread(control.remove, req.params["id"])
        return Response(200, None)

    router.add("POST", "/services/create", create)
    router.add("GET", "/services", list_services)
    router.add("GET", "/services/{id}", inspect)
    router.add("POST", "/services/{id}/update", update)
    router.add("DELETE", "/services/{id}", remove)

