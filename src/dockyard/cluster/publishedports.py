"""Published ports the swarm picks itself: an ingress-mode port given without `published`
(`--publish target=80`) gets one from 30000-32767, as swarmkit's port allocator does
(manager/allocator/portallocator.go: dynamicPortStart..dynamicPortEnd). The spec keeps 0;
`service inspect` shows the chosen port in Endpoint.Ports, and every node's mesh publishes it.

/mesh/ports/<service ID> -> [{"target", "protocol", "published"}] is the service's choice;
/mesh/published/<protocol>/<port> -> service ID reserves the port for the swarm, taken in the same
txn (requiring it absent), so two managers never hand out the same port. Both go with the service.
"""

from __future__ import annotations

import copy
import json

from dockyard.cluster.store.api import Compare, Delete, Put, Store

PORTS_PREFIX = "/mesh/ports/"
RESERVED_PREFIX = "/mesh/published/"
FIRST, LAST = 30000, 32767

Chosen = dict[tuple[int, str], int]  # (target, protocol) -> published


def _wanted(svc) -> list[tuple[int, str]]:
    endpoint = svc.spec.endpoint_spec
    return [(p.target_port, p.protocol or "tcp") for p in (endpoint.ports or [] if endpoint is not None else [])
            if (p.publish_mode or "ingress") == "ingress" and not p.published_port and p.target_port]


def _decode(raw: bytes) -> Chosen:
    return {(int(e["target"]), str(e["protocol"])): int(e["published"]) for e in json.loads(raw)}


def stored(store: Store) -> dict[str, Chosen]:
    """Service ID -> its chosen ports."""
    return {kv.key[len(PORTS_PREFIX):]: _decode(kv.value) for kv in store.range(PORTS_PREFIX)}


def allocate(store: Store, services: list) -> dict[str, Chosen]:
    """Ports chosen for the services that need them (once each); those of services gone released."""
    have = stored(store)
    live = {svc.id: svc for svc in services}
    for service_id in [s for s in have if s not in live or set(_wanted(live[s])) != set(have[s])]:
        ops = [Delete(PORTS_PREFIX + service_id)]
        ops += [Delete(f"{RESERVED_PREFIX}{proto}/{port}") for (_, proto), port in have.pop(service_id).items()]
        store.txn([], ops)
    for svc in services:
        wanted = _wanted(svc)
        if not wanted or svc.id in have:
            continue
        for _attempt in range(16):  # another manager may take a port between the read and the txn
            taken = {(kv.key[len(RESERVED_PREFIX):].partition("/")[0], int(kv.key.rpartition("/")[2]))
                     for kv in store.range(RESERVED_PREFIX)}
            taken |= {(p.protocol or "tcp", p.published_port) for s in services
                      for p in (s.spec.endpoint_spec.ports or [] if s.spec.endpoint_spec is not None else [])
                      if p.published_port}
            chosen: Chosen = {}
            for target, proto in wanted:
                port = next((n for n in range(FIRST, LAST + 1) if (proto, n) not in taken), None)
                if port is None:
                    break
                chosen[(target, proto)] = port
                taken.add((proto, port))
            if len(chosen) != len(wanted):
                break  # the range is used up: the service's port stays unpublished
            key = PORTS_PREFIX + svc.id
            doc = json.dumps([{"target": t, "protocol": p, "published": n} for (t, p), n in chosen.items()])
            reserve = [f"{RESERVED_PREFIX}{p}/{n}" for (_, p), n in chosen.items()]
            if store.txn([Compare(key, 0), *(Compare(r, 0) for r in reserve)],
                         [Put(key, doc.encode()), *(Put(r, svc.id.encode()) for r in reserve)]):
                have[svc.id] = chosen
                break
            current = store.get(key)
            if current is not None:  # another manager chose first: its choice stands
                have[svc.id] = _decode(current.value)
                break
    return have


def fill(services: list, chosen: dict[str, Chosen]) -> list:
    """The services with their chosen ports in place of 0 (copies; the records stay as stored)."""
    out = []
    for svc in services:
        ports = chosen.get(svc.id)
        if ports:
            svc = copy.deepcopy(svc)
            for p in svc.spec.endpoint_spec.ports or []:
                if not p.published_port and (p.publish_mode or "ingress") == "ingress":
                    p.published_port = ports.get((p.target_port, p.protocol or "tcp"), 0)
        out.append(svc)
    return out
