"""Engine API: /swarm and /nodes, and the `Swarm` block of /info. Docker's JSON <-> cluster objects;
the rules live in dockyard.cluster.swarm."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from typing import Any

from dockyard.api.http import BadRequest, Request, Response
from dockyard.cluster.objects import Cluster, ClusterSpec, TLSInfo, Version
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.swarm import InitRequest, JoinRequest, SwarmInfo, SwarmService
from dockyard.errors import InvalidParameter


def api_time(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def api_version(version: Version) -> dict[str, int]:
    return {"Index": version.index}


def _ca_config_json(spec: ClusterSpec) -> dict[str, Any]:
    """Docker's CAConfig: the signing key is never shown (nor kept), empty fields are left out."""
    ca = spec.ca_config
    body: dict[str, Any] = {"NodeCertExpiry": ca.node_cert_expiry}
    if ca.signing_ca_cert:
        body["SigningCACert"] = ca.signing_ca_cert
    if ca.force_rotate:
        body["ForceRotate"] = ca.force_rotate
    return body


def spec_json(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "Name": spec.name,
        "Labels": dict(spec.labels),
        "Orchestration": {"TaskHistoryRetentionLimit": spec.orchestration.task_history_retention_limit},
        "Raft": {"SnapshotInterval": spec.raft.snapshot_interval, "KeepOldSnapshots": spec.raft.keep_old_snapshots,
                 "LogEntriesForSlowFollowers": spec.raft.log_entries_for_slow_followers,
                 "ElectionTick": spec.raft.election_tick, "HeartbeatTick": spec.raft.heartbeat_tick},
        "Dispatcher": {"HeartbeatPeriod": spec.dispatcher.heartbeat_period},
        "CAConfig": _ca_config_json(spec),
        "TaskDefaults": dict(spec.task_defaults),
        "EncryptionConfig": {"AutoLockManagers": spec.encryption_config.auto_lock_managers},
    }


def _int(raw: dict[str, Any], key: str, what: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameter(f"invalid {what}: {value!r}: a non-negative integer is required")
    return value


def merge_spec(raw: Any, base: ClusterSpec, zero_keeps_base: bool) -> ClusterSpec:
    """`base` with the fields Docker's JSON `raw` gives; on init a zero also means "the default"."""
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid Spec: an object is required")

    def pick(section: str, key: str, current: int, what: str) -> int:
        part = raw.get(section) or {}
        value = _int(part, key, what) if isinstance(part, dict) else None
        if value is None or (zero_keeps_base and value == 0):
            return current
        return value

    spec = base
    if raw.get("Name"):
        spec.name = str(raw["Name"])
    if isinstance(raw.get("Labels"), dict):
        spec.labels = {str(k): str(v) for k, v in raw["Labels"].items()}
    o, r, d, c = spec.orchestration, spec.raft, spec.dispatcher, spec.ca_config
    o.task_history_retention_limit = pick("Orchestration", "TaskHistoryRetentionLimit",
                                          o.task_history_retention_limit, "task history retention limit")
    r.snapshot_interval = pick("Raft", "SnapshotInterval", r.snapshot_interval, "snapshot interval")
    r.keep_old_snapshots = pick("Raft", "KeepOldSnapshots", r.keep_old_snapshots, "KeepOldSnapshots")
    r.log_entries_for_slow_followers = pick("Raft", "LogEntriesForSlowFollowers", r.log_entries_for_slow_followers,
                                            "LogEntriesForSlowFollowers")
    r.election_tick = pick("Raft", "ElectionTick", r.election_tick, "ElectionTick")
    r.heartbeat_tick = pick("Raft", "HeartbeatTick", r.heartbeat_tick, "HeartbeatTick")
    d.heartbeat_period = pick("Dispatcher", "HeartbeatPeriod", d.heartbeat_period, "dispatcher heartbeat period")
    c.node_cert_expiry = pick("CAConfig", "NodeCertExpiry", c.node_cert_expiry, "certificate expiry")
    c.force_rotate = pick("CAConfig", "ForceRotate", c.force_rotate, "ForceRotate")
    ca_raw = raw.get("CAConfig")
    if isinstance(ca_raw, dict):
        for key, attr in (("SigningCACert", "signing_ca_cert"), ("SigningCAKey", "signing_ca_key")):
            value = ca_raw.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidParameter(f"invalid {key}: a PEM string is required")
            if value is not None:
                setattr(c, attr, value)
        if ca_raw.get("ExternalCAs"):
            # swarmkit forwards node certificate requests to a cfssl server; Dockyard has no cfssl
            # client, and a swarm that has its root key never needs one.
            raise InvalidArgument("external CAs (--external-ca) are not supported by Dockyard: the swarm signs "
                                  "node certificates with its own root CA key; to use a root of your own, rotate "
                                  "to it with `docker swarm ca --rotate --ca-cert <cert> --ca-key <key>`")
    if c.node_cert_expiry < 3600 * 1_000_000_000:
        raise InvalidArgument("minimum certificate expiry time is: 1h0m0s")
    encryption = raw.get("EncryptionConfig")
    if isinstance(encryption, dict) and "AutoLockManagers" in encryption:
        spec.encryption_config.auto_lock_managers = bool(encryption["AutoLockManagers"])
    return spec


def tls_json(t: TLSInfo) -> dict[str, str]:
    return {"TrustRoot": t.trust_root, "CertIssuerSubject": base64.b64encode(t.cert_issuer_subject).decode(),
            "CertIssuerPublicKey": base64.b64encode(t.cert_issuer_public_key).decode()}


def cluster_json(cluster: Cluster, with_tokens: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ID": cluster.id, "Version": api_version(cluster.version), "CreatedAt": api_time(cluster.created_at),
        "UpdatedAt": api_time(cluster.updated_at), "Spec": spec_json(cluster.spec),
        "TLSInfo": tls_json(cluster.tls_info),
        "RootRotationInProgress": cluster.root_rotation_in_progress,
        "DefaultAddrPool": list(cluster.default_addr_pool), "SubnetSize": cluster.subnet_size,
        "DataPathPort": cluster.data_path_port,
    }
    if with_tokens:
        body["JoinTokens"] = {"Worker": cluster.join_tokens.worker, "Manager": cluster.join_tokens.manager}
    return body


def info_json(info: SwarmInfo) -> dict[str, Any]:
    """The `Swarm` block of /info, as Docker writes it for an inactive and an active node."""
    block: dict[str, Any] = {
        "NodeID": info.node_id, "NodeAddr": info.node_addr, "LocalNodeState": info.local_node_state,
        "ControlAvailable": info.control_available, "Error": info.error,
        "RemoteManagers": [{"NodeID": i, "Addr": a} for i, a in info.remote_managers] or None,
    }
    if info.local_node_state == "active":
        if info.nodes:  # omitempty in Docker's types.Info: a worker (or a manager without quorum) has none
            block["Nodes"], block["Managers"] = info.nodes, info.managers
        if info.cluster is not None:
            block["Cluster"] = cluster_json(info.cluster, with_tokens=False)
    return block


def _init_request(raw: Any) -> InitRequest:
    if not isinstance(raw, dict):
        raise BadRequest("invalid JSON body: an object is required")
    pool = raw.get("DefaultAddrPool") or []
    if not isinstance(pool, list) or not all(isinstance(p, str) for p in pool):
        raise InvalidParameter("invalid DefaultAddrPool: a list of CIDRs is required")
    spec = merge_spec(raw.get("Spec"), ClusterSpec(), zero_keeps_base=True)
    if raw.get("AutoLockManagers"):  # `swarm init --autolock` sets it here, beside the spec
        spec.encryption_config.auto_lock_managers = True
    return InitRequest(
        listen_addr=str(raw.get("ListenAddr") or "0.0.0.0:2377"),
        advertise_addr=str(raw.get("AdvertiseAddr") or ""),
        force_new_cluster=bool(raw.get("ForceNewCluster")),
        spec=spec,
        default_addr_pool=list(pool), subnet_size=_int(raw, "SubnetSize", "SubnetSize") or 0,
        data_path_port=_int(raw, "DataPathPort", "DataPathPort") or 0,
        data_path_addr=str(raw.get("DataPathAddr") or ""),
    )


def _join_request(raw: Any) -> JoinRequest:
    if not isinstance(raw, dict):
        raise BadRequest("invalid JSON body: an object is required")
    remotes = raw.get("RemoteAddrs") or []
    if not isinstance(remotes, list) or not all(isinstance(a, str) for a in remotes):
        raise InvalidParameter("invalid RemoteAddrs: a list of addresses is required")
    availability = raw.get("Availability") or "active"
    if not isinstance(availability, str):
        raise InvalidParameter("invalid Availability: a string is required")
    return JoinRequest(remote_addrs=list(remotes), token=str(raw.get("JoinToken") or ""),
                       listen_addr=str(raw.get("ListenAddr") or "0.0.0.0:2377"),
                       advertise_addr=str(raw.get("AdvertiseAddr") or ""), availability=availability.lower(),
                       data_path_addr=str(raw.get("DataPathAddr") or ""))


def register(router, swarm: SwarmService) -> None:
    async def init(req: Request) -> Response:
        request = _init_request(await req.json())
        node_id = await asyncio.to_thread(swarm.init, request)
        return Response(200, json.dumps(node_id).encode(), {"Content-Type": "application/json"})

    async def inspect(req: Request) -> Response:
        return Response(200, cluster_json(await asyncio.to_thread(swarm.inspect)))

    async def update(req: Request) -> Response:
        raw_version = req.arg("version")
        if not raw_version.isdigit():
            raise InvalidParameter(f"invalid swarm version {raw_version!r}: the version from `GET /swarm` is needed")
        body = await req.json()
        current = await asyncio.to_thread(swarm.inspect)
        spec = merge_spec(body.get("Spec", body) if isinstance(body, dict) else body, current.spec,
                          zero_keeps_base=False)
        await asyncio.to_thread(swarm.update, int(raw_version), spec, req.flag("rotateWorkerToken"),
                                req.flag("rotateManagerToken"), req.flag("rotateManagerUnlockKey"))
        return Response(200, None)

    async def unlock_key(req: Request) -> Response:
        await asyncio.to_thread(swarm.inspect)  # a manager, unlocked: Docker's refusals otherwise
        return Response(200, {"UnlockKey": swarm.autolock.unlock_key()})

    async def unlock(req: Request) -> Response:
        body = await req.json()
        key = body.get("UnlockKey") if isinstance(body, dict) else None
        await asyncio.to_thread(swarm.unlock, key if isinstance(key, str) else "")
        return Response(200, None)

    async def leave(req: Request) -> Response:
        await asyncio.to_thread(swarm.leave, req.flag("force"))
        return Response(200, None)

    async def join(req: Request) -> Response:
        await asyncio.to_thread(swarm.join, _join_request(await req.json()))
        return Response(200, None)

    router.add("POST", "/swarm/init", init)
    router.add("GET", "/swarm", inspect)
    router.add("POST", "/swarm/update", update)
    router.add("POST", "/swarm/leave", leave)
    router.add("POST", "/swarm/join", join)
    router.add("GET", "/swarm/unlockkey", unlock_key)
    router.add("POST", "/swarm/unlock", unlock)
