"""Typed Engine API calls: records for what callers read back, plain bodies for what they send.

Docker's JSON stays here; callers (compose today) work on the dataclasses. Each method is one
request (or one stream), so the class is safe to share between threads: the transport opens a
connection per request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from dockyard.client.transport import APIError, Client, Response


@dataclass(frozen=True)
class PortBinding:
    private_port: int
    protocol: str
    host_ip: str = ""
    public_port: int | None = None


@dataclass(frozen=True)
class ContainerSummary:
    """One row of GET /containers/json."""

    id: str
    name: str
    image: str
    image_id: str
    command: str
    created: int
    state: str
    status: str
    labels: dict[str, str]
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, raw: dict) -> ContainerSummary:
        names = raw.get("Names") or [""]
        ports = tuple(PortBinding(p.get("PrivatePort", 0), p.get("Type", "tcp"), p.get("IP", ""),
                                  p.get("PublicPort")) for p in raw.get("Ports") or [])
        return cls(raw["Id"], names[0].lstrip("/"), raw.get("Image", ""), raw.get("ImageID", ""),
                   raw.get("Command", ""), int(raw.get("Created") or 0), raw.get("State", ""),
                   raw.get("Status", ""), dict(raw.get("Labels") or {}), ports,
                   tuple(m.get("Name", "") for m in raw.get("Mounts") or [] if m.get("Type") == "volume"))


@dataclass(frozen=True)
class MountPoint:
    type: str
    name: str
    source: str
    destination: str


@dataclass(frozen=True)
class ContainerDetails:
    """The parts of GET /containers/{id}/json that callers decide on."""

    id: str
    name: str
    image_id: str
    running: bool
    paused: bool
    status: str
    exit_code: int
    health: str
    labels: dict[str, str]
    mounts: tuple[MountPoint, ...]
    ports: dict[str, list[dict] | None]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, raw: dict) -> ContainerDetails:
        state = raw.get("State") or {}
        mounts = tuple(MountPoint(m.get("Type", ""), m.get("Name", ""), m.get("Source", ""),
                                  m.get("Destination", "")) for m in raw.get("Mounts") or [])
        return cls(raw["Id"], raw.get("Name", "").lstrip("/"), raw.get("Image", ""), bool(state.get("Running")),
                   bool(state.get("Paused")), state.get("Status", ""), int(state.get("ExitCode") or 0),
                   (state.get("Health") or {}).get("Status", ""), dict((raw.get("Config") or {}).get("Labels") or {}),
                   mounts, dict((raw.get("NetworkSettings") or {}).get("Ports") or {}), raw)


@dataclass(frozen=True)
class NetworkSummary:
    id: str
    name: str
    driver: str
    labels: dict[str, str]

    @classmethod
    def from_api(cls, raw: dict) -> NetworkSummary:
        return cls(raw.get("Id", ""), raw.get("Name", ""), raw.get("Driver", ""), dict(raw.get("Labels") or {}))


@dataclass(frozen=True)
class VolumeSummary:
    name: str
    driver: str
    labels: dict[str, str]

    @classmethod
    def from_api(cls, raw: dict) -> VolumeSummary:
        return cls(raw.get("Name", ""), raw.get("Driver", ""), dict(raw.get("Labels") or {}))


@dataclass(frozen=True)
class ImageSummary:
    id: str
    repo_tags: tuple[str, ...]
    size: int
    created: int

    @classmethod
    def from_api(cls, raw: dict) -> ImageSummary:
        return cls(raw.get("Id", ""), tuple(raw.get("RepoTags") or ()), int(raw.get("Size") or 0),
                   int(raw.get("Created") or 0))


def label_filters(labels: dict[str, str | None], **more: list[str]) -> str:
    """The `filters` query value: label=k=v (or label=k when the value is None), plus other filters."""
    filters: dict[str, list[str]] = {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}
    filters.update({k: v for k, v in more.items() if v})
    return json.dumps(filters)


class Engine:
    """Engine API calls with typed answers, over a transport `Client`."""

    def __init__(self, transport: Client) -> None:
        self.transport = transport

    @property
    def host(self) -> str:
        return self.transport.host

    def _call(self, method: str, path: str, **kwargs):
        return self.transport.call(method, path, **kwargs)

    # -- system ------------------------------------------------------------------------------------
    def version(self) -> dict:
        return self._call("GET", "/version") or {}

    def events(self, filters: str | None = None, since: str | None = None, until: str | None = None) -> Response:
        return self.transport.send("GET", "/events", query={"filters": filters, "since": since, "until": until})

    # -- containers --------------------------------------------------------------------------------
    def containers(self, labels: dict[str, str | None], *, all: bool = True,
                   status: list[str] | None = None) -> list[ContainerSummary]:
        query = {"all": all, "filters": label_filters(labels, status=status or [])}
        return [ContainerSummary.from_api(c) for c in self._call("GET", "/containers/json", query=query) or []]

    def inspect_container(self, ident: str) -> ContainerDetails:
        return ContainerDetails.from_api(self._call("GET", f"/containers/{ident}/json"))

    def create_container(self, name: str | None, body: dict) -> str:
        return self._call("POST", "/containers/create", query={"name": name}, body=body)["Id"]

    def start(self, ident: str) -> None:
        self._call("POST", f"/containers/{ident}/start")

    def stop(self, ident: str, timeout: int | None = None) -> None:
        self._call("POST", f"/containers/{ident}/stop", query={"t": timeout})

    def restart(self, ident: str, timeout: int | None = None) -> None:
        self._call("POST", f"/containers/{ident}/restart", query={"t": timeout})

    def kill(self, ident: str, signal: str | None = None) -> None:
        self._call("POST", f"/containers/{ident}/kill", query={"signal": signal})

    def pause(self, ident: str) -> None:
        self._call("POST", f"/containers/{ident}/pause")

    def unpause(self, ident: str) -> None:
        self._call("POST", f"/containers/{ident}/unpause")

    def rename(self, ident: str, name: str) -> None:
        self._call("POST", f"/containers/{ident}/rename", query={"name": name})

    def remove_container(self, ident: str, *, force: bool = False, volumes: bool = False) -> None:
        self._call("DELETE", f"/containers/{ident}", query={"force": force, "v": volumes})

    def wait(self, ident: str, condition: str | None = None) -> int:
        answer = self._call("POST", f"/containers/{ident}/wait", query={"condition": condition}) or {}
        return int(answer.get("StatusCode") or 0)

    def logs(self, ident: str, *, follow: bool = False, tail: str = "all", timestamps: bool = False,
             since: str | None = None) -> Response:
        query = {"stdout": True, "stderr": True, "follow": follow, "tail": tail, "timestamps": timestamps,
                 "since": since}
        return self.transport.send("GET", f"/containers/{ident}/logs", query=query)

    def attach(self, ident: str, *, stdin: bool) -> Response:
        query = {"stream": True, "stdin": stdin, "stdout": True, "stderr": True}
        return self.transport.send("POST", f"/containers/{ident}/attach", query=query, upgrade=True)

    def top(self, ident: str) -> dict:
        return self._call("GET", f"/containers/{ident}/top") or {}

    def connect(self, network: str, container: str, endpoint: dict | None = None) -> None:
        self._call("POST", f"/networks/{network}/connect",
                   body={"Container": container, "EndpointConfig": endpoint or {}})

    def exec_create(self, ident: str, body: dict) -> str:
        return self._call("POST", f"/containers/{ident}/exec", body=body)["Id"]

    def exec_start(self, exec_id: str, *, tty: bool, detach: bool = False) -> Response:
        return self.transport.send("POST", f"/exec/{exec_id}/start", body={"Detach": detach, "Tty": tty},
                                   upgrade=not detach)

    def exec_inspect(self, exec_id: str) -> dict:
        return self._call("GET", f"/exec/{exec_id}/json") or {}

    def get_archive(self, ident: str, path: str) -> Response:
        return self.transport.send("GET", f"/containers/{ident}/archive", query={"path": path})

    def put_archive(self, ident: str, path: str, body) -> None:
        self._call("PUT", f"/containers/{ident}/archive", query={"path": path}, body=body,
                   headers={"Content-Type": "application/x-tar"})

    # -- networks ----------------------------------------------------------------------------------
    def networks(self, labels: dict[str, str | None] | None = None, name: str | None = None) -> list[NetworkSummary]:
        filters = label_filters(labels or {}, name=[name] if name else [])
        return [NetworkSummary.from_api(n) for n in self._call("GET", "/networks", query={"filters": filters}) or []]

    def inspect_network(self, name: str) -> dict | None:
        try:
            return self._call("GET", f"/networks/{name}")
        except APIError as exc:
            if exc.status == 404:
                return None
            raise

    def create_network(self, body: dict) -> str:
        return (self._call("POST", "/networks/create", body=body) or {}).get("Id", "")

    def remove_network(self, name: str) -> None:
        self._call("DELETE", f"/networks/{name}")

    # -- volumes -----------------------------------------------------------------------------------
    def volumes(self, labels: dict[str, str | None]) -> list[VolumeSummary]:
        answer = self._call("GET", "/volumes", query={"filters": label_filters(labels)}) or {}
        return [VolumeSummary.from_api(v) for v in answer.get("Volumes") or []]

    def inspect_volume(self, name: str) -> dict | None:
        try:
            return self._call("GET", f"/volumes/{name}")
        except APIError as exc:
            if exc.status == 404:
                return None
            raise

    def create_volume(self, body: dict) -> None:
        self._call("POST", "/volumes/create", body=body)

    def remove_volume(self, name: str) -> None:
        self._call("DELETE", f"/volumes/{name}")

    # -- images ------------------------------------------------------------------------------------
    def inspect_image(self, name: str) -> dict | None:
        try:
            return self._call("GET", f"/images/{name}/json")
        except APIError as exc:
            if exc.status == 404:
                return None
            raise

    def images(self, reference: str | None = None) -> list[ImageSummary]:
        query = {"filters": json.dumps({"reference": [reference]})} if reference else None
        return [ImageSummary.from_api(i) for i in self._call("GET", "/images/json", query=query) or []]

    def remove_image(self, name: str, force: bool = False) -> None:
        self._call("DELETE", f"/images/{name}", query={"force": force})

    def pull(self, image: str, headers: dict[str, str] | None = None) -> Iterator[dict]:
        repo, tag = split_tag(image)
        response = self.transport.send("POST", "/images/create", query={"fromImage": repo, "tag": tag or "latest"},
                                       headers=headers)
        try:
            yield from response.json_lines()
        finally:
            response.close()

    def push(self, image: str, headers: dict[str, str] | None = None) -> Iterator[dict]:
        repo, tag = split_tag(image)
        response = self.transport.send("POST", f"/images/{repo}/push", query={"tag": tag or "latest"},
                                       headers=headers or {"X-Registry-Auth": "e30="})
        try:
            yield from response.json_lines()
        finally:
            response.close()

    def build(self, query: dict, body) -> Iterator[dict]:
        response = self.transport.send("POST", "/build", query=query, body=body,
                                       headers={"Content-Type": "application/x-tar"})
        try:
            yield from response.json_lines()
        finally:
            response.close()


def split_tag(image: str) -> tuple[str, str]:
    """("repo", "tag") of a reference; a digest stays on the repository side."""
    if "@" in image:
        return image, ""
    repo, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, ""
    return repo, tag
