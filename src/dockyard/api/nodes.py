"""Engine API: /nodes (list with filters, inspect, update on a version, remove). Docker's JSON <->
cluster objects; the rules live in dockyard.cluster.nodes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dockyard.api.filters import Filters
from dockyard.api.http import BadRequest, Request, Response
from dockyard.api.swarm import api_time, api_version, tls_json
from dockyard.cluster.nodes import ACCEPTED_FILTERS, NodeFilters, NodeService
from dockyard.cluster.objects import Availability, Cluster, Node, NodeRole, NodeSpec
from dockyard.cluster.swarm import SwarmService
from dockyard.errors import InvalidParameter


def _node_tls(node: Node, cluster: Cluster) -> dict[str, str]:
    """The issuer of the node's own certificate when it reported one, else the cluster's."""
    return tls_json(node.description.tls_info or cluster.tls_info)


def node_json(node: Node, cluster: Cluster) -> dict[str, Any]:
    d = node.description
    spec: dict[str, Any] = {"Labels": dict(node.spec.labels), "Role": node.spec.role.value,
                            "Availability": node.spec.availability.value}
    if node.spec.name:
        spec["Name"] = node.spec.name
    body: dict[str, Any] = {
        "ID": node.id, "Version": api_version(node.version), "CreatedAt": api_time(node.created_at),
        "UpdatedAt": api_time(node.updated_at), "Spec": spec,
        "Description": {
            "Hostname": d.hostname, "Platform": {"Architecture": d.platform.architecture, "OS": d.platform.os},
            "Resources": {"NanoCPUs": d.resources.nano_cpus, "MemoryBytes": d.resources.memory_bytes},
            "Engine": {"EngineVersion": d.engine_version, "Labels": dict(d.engine_labels), "Plugins": []},
            "TLSInfo": _node_tls(node, cluster),
        },
        "Status": {"State": node.status.state.value, "Addr": node.status.addr},
    }
    if node.status.message:
        body["Status"]["Message"] = node.status.message
    if node.manager_status is not None:
        m = node.manager_status
        body["ManagerStatus"] = {"Leader": m.leader, "Reachability": m.reachability.value, "Addr": m.addr}
    return body


def node_spec(raw: Any) -> NodeSpec:
    """Docker's NodeSpec JSON, checked as moby's convert.NodeSpecToGRPC does (role first)."""
    if not isinstance(raw, dict):
        raise BadRequest("invalid JSON body: a node spec object is required")
    role, availability = raw.get("Role", ""), raw.get("Availability", "")
    if not isinstance(role, str) or role.lower() not in {r.value for r in NodeRole}:
        raise InvalidParameter(f"invalid Role: {json.dumps(role)}")
    if not isinstance(availability, str) or availability.lower() not in {a.value for a in Availability}:
        raise InvalidParameter(f"invalid Availability: {json.dumps(availability)}")
    labels = raw.get("Labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise InvalidParameter("invalid Labels: an object of strings is required")
    name = raw.get("Name") or ""
    if not isinstance(name, str):
        raise InvalidParameter("invalid Name: a string is required")
    return NodeSpec(role=NodeRole(role.lower()), availability=Availability(availability.lower()), name=name,
                    labels=dict(labels))


def _version_arg(raw: str) -> int:
    if not raw.isdigit():
        # moby parses it with strconv.ParseUint and shows Go's error
        raise InvalidParameter(f"invalid node version '{raw}': strconv.ParseUint: parsing {json.dumps(raw)}: "
                               "invalid syntax")
    return int(raw)


def register(router, swarm: SwarmService) -> None:
    nodes = NodeService(swarm.store, swarm.local_node_id, observe=swarm.observe_managers)

    async def listing(req: Request) -> Response:
        filters = NodeFilters.from_values(Filters.parse(req.arg("filters"), ACCEPTED_FILTERS).values)
        found = await asyncio.to_thread(swarm.through_reload, nodes.list, filters)
        cluster = await asyncio.to_thread(swarm.inspect)
        return Response(200, [node_json(n, cluster) for n in found])

    async def inspect(req: Request) -> Response:
        found = await asyncio.to_thread(swarm.through_reload, nodes.get, req.params["id"])
        cluster = await asyncio.to_thread(swarm.inspect)
        return Response(200, node_json(found, cluster))

    async def update(req: Request) -> Response:
        version = _version_arg(req.arg("version"))
        spec = node_spec(await req.json())
        await asyncio.to_thread(nodes.update, req.params["id"], version, spec)
        return Response(200, None)

    async def remove(req: Request) -> Response:
        await asyncio.to_thread(nodes.remove, req.params["id"], req.flag("force"))
        return Response(200, None)

    router.add("GET", "/nodes", listing)
    router.add("GET", "/nodes/{id}", inspect)
    router.add("POST", "/nodes/{id}/update", update)
    router.add("DELETE", "/nodes/{id}", remove)
