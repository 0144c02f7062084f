"""Engine API routes shared by /secrets and /configs: Docker's JSON <-> the cluster's Secret and
Config objects. The rules live in dockyard.cluster.payloads; secrets.py and configs.py say what
differs (a secret's driver; a config's data shown on inspect)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
from collections.abc import Callable
from typing import Any

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.cluster.payloads import PayloadFilters, Payloads
from dockyard.cluster.secrets import Driver
from dockyard.errors import InvalidParameter

TEMPLATING_MIN_API = (1, 37)


def _time(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def driver_json(driver: Driver) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": driver.name}
    if driver.options:
        body["Options"] = dict(driver.options)
    return body


def object_json(obj: Any) -> dict[str, Any]:
    """A Secret or Config as Docker writes it (swarm.Secret / swarm.Config): Labels always there,
    Data, Driver and Templating only when set."""
    spec: dict[str, Any] = {"Name": obj.spec.name, "Labels": dict(obj.spec.labels)}
    if obj.spec.data:
        spec["Data"] = base64.b64encode(obj.spec.data).decode()
    if getattr(obj.spec, "driver", None) is not None:
        spec["Driver"] = driver_json(obj.spec.driver)
    if obj.spec.templating is not None:
        spec["Templating"] = driver_json(obj.spec.templating)
    return {"ID": obj.id, "Version": {"Index": obj.version.index}, "CreatedAt": _time(obj.created_at),
            "UpdatedAt": _time(obj.updated_at), "Spec": spec}


def field(raw: dict[str, Any], name: str) -> Any:
    """`raw[name]` as Go's encoding/json finds a struct field: the exact key first, then any key that
    matches ignoring case (docker-py sends `{"name": "golang"}` for a Templating driver)."""
    if name in raw:
        return raw[name]
    folded = name.casefold()
    return next((value for key, value in raw.items() if key.casefold() == folded), None)


def parse_driver(raw: Any, what: str) -> Driver | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter(f"invalid {what}: an object with Name and Options is required")
    options = field(raw, "Options") or {}
    if not isinstance(options, dict):
        raise InvalidParameter(f"invalid {what} Options: an object of strings is required")
    return Driver(str(field(raw, "Name") or ""), {str(k): str(v) for k, v in options.items()})


def parse_common(raw: dict[str, Any], word: str) -> tuple[str, dict[str, str], bytes, Driver | None]:
    """Name, Labels, Data (base64, as Go's []byte) and Templating of a SecretSpec or ConfigSpec."""
    name = field(raw, "Name") or ""
    if not isinstance(name, str):
        raise InvalidParameter(f"invalid {word} Name: a string is required")
    labels = field(raw, "Labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise InvalidParameter(f"invalid {word} Labels: an object of strings is required")
    data = field(raw, "Data") or ""
    if not isinstance(data, str):
        raise InvalidParameter(f"invalid {word} Data: a base64 string is required")
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"invalid {word} Data: it is not valid base64") from None
    return name, dict(labels), payload, parse_driver(field(raw, "Templating"), "Templating")


def _filters(req: Request, accepted: set[str]) -> PayloadFilters:
    given = Filters.parse(req.arg("filters"), accepted)
    return PayloadFilters(names=given.get("names"), name_prefixes=given.get("name"), id_prefixes=given.get("id"),
                          labels=given.get("label"))


def _version(req: Request, word: str) -> int:
    raw = req.arg("version")
    if not raw.isdigit():
        raise InvalidParameter(f"invalid {word} version")
    return int(raw)


def register_kind(router, payloads: Payloads, parse_spec: Callable[[dict[str, Any]], Any],
                  list_filters: set[str]) -> None:
    word = payloads.kind.word
    base = f"/{word}s"

    async def create(req: Request) -> Response:
        raw = await req.json()
        old_api = tuple(int(p) for p in req.api_version.split(".")) < TEMPLATING_MIN_API
        if field(raw, "Templating") is not None and old_api:
            raise InvalidParameter(f"{word} templating is not supported on the specified API version: "
                                   f"{req.api_version}")
        object_id = await asyncio.to_thread(payloads.create, parse_spec(raw))
        return Response(201, {"ID": object_id})

    async def listing(req: Request) -> Response:
        found = await asyncio.to_thread(payloads.list, _filters(req, list_filters))
        return Response(200, [object_json(o) for o in found])

    async def inspect(req: Request) -> Response:
        return Response(200, object_json(await asyncio.to_thread(payloads.get, req.params["id"])))

    async def update(req: Request) -> Response:
        version = _version(req, word)
        spec = parse_spec(await req.json())
        await asyncio.to_thread(payloads.update, req.params["id"], version, spec)
        return Response(200, None)

    async def remove(req: Request) -> Response:
        await asyncio.to_thread(payloads.remove, req.params["id"])
        return Response(204, None)

    router.add("POST", f"{base}/create", create)
    router.add("GET", base, listing)
    router.add("GET", f"{base}/{{id}}", inspect)
    router.add("POST", f"{base}/{{id}}/update", update)
    router.add("DELETE", f"{base}/{{id}}", remove)
