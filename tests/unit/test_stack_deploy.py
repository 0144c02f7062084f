"""`stack deploy` and `stack rm` against a recording fake of the Engine API: what is created,
updated, pruned and removed, in docker/cli's order and words."""

from __future__ import annotations

import json

import pytest

from dockyard.cli.client import APIError
from dockyard.cli.stack_convert import convert
from dockyard.cli.stack_deploy import DeployError, deploy, remove_stack

NS = "com.docker.stack.namespace"


class FakeEngine:
    """Answers the calls stack deploy makes from a few lists; records every write."""

    def __init__(self, manager: bool = True) -> None:
        self.manager = manager
        self.services: list[dict] = []
        self.networks: list[dict] = []
        self.secrets: list[dict] = []
        self.configs: list[dict] = []
        self.writes: list[tuple] = []

    def _labelled(self, objects: list[dict], query: dict | None) -> list[dict]:
        wanted = json.loads((query or {}).get("filters") or "{}").get("label", [])
        out = []
        for obj in objects:
            labels = (obj.get("Spec") or obj).get("Labels") or {}
            if all(labels.get(w.split("=", 1)[0]) == w.split("=", 1)[1] if "=" in w else w in labels for w in wanted):
                out.append(obj)
        return out

    def call(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        if method == "GET":
            if path == "/info":
                return {"Swarm": {"ControlAvailable": self.manager}}
            if path == "/distribution/busybox/json":
                raise APIError(404, "no registry here")
            kind = path.strip("/").split("/")[0]
            objects = getattr(self, kind)
            if path.count("/") == 1:
                if kind in ("secrets", "configs") and "name" in json.loads((query or {}).get("filters") or "{}"):
                    names = json.loads(query["filters"])["name"]  # type: ignore[index]
                    return [o for o in objects if o["Spec"]["Name"] in names]
                return self._labelled(objects, query)
            ref = path.split("/", 2)[2]
            for obj in objects:
                if ref in (obj.get("ID"), obj.get("Id"), obj.get("Name"), (obj.get("Spec") or {}).get("Name")):
                    return obj
            raise APIError(404, f"{kind[:-1]} {ref} not found")
        self.writes.append((method, path, (query or {}).get("version"), body))
        if path.endswith("/create"):
            kind = path.strip("/").split("/")[0]
            new_id = f"{kind[:3]}{len(getattr(self, kind))}"
            getattr(self, kind).append({"ID": new_id, "Spec": body, "Version": {"Index": 1}})
            return {"ID": new_id}
        return None


BOOK = {"services": {"web": {"image": "busybox", "secrets": ["token"]}, "db": {"image": "busybox"}},
        "secrets": {"token": {"file": "/dev/null"}}}


def _service(name: str, image: str, pinned: str, force: int = 0) -> dict:
    return {"ID": f"id-{name}", "Version": {"Index": 7},
            "Spec": {"Name": name, "Labels": {NS: "s", "com.docker.stack.image": image},
                     "TaskTemplate": {"ContainerSpec": {"Image": pinned}, "ForceUpdate": force}}}


def test_a_first_deploy_creates_networks_secrets_and_services_in_order(capsys) -> None:
    engine = FakeEngine()
    deploy(engine, convert(BOOK, "s"), prune=False, resolve_image="never", registry_auth=False)
    assert [(m, p) for m, p, _, _ in engine.writes] == [
        ("POST", "/networks/create"), ("POST", "/secrets/create"), ("POST", "/services/create"),
        ("POST", "/services/create")]
    assert capsys.readouterr().out.splitlines() == ["Creating network s_default", "Creating secret s_token",
                                                    "Creating service s_web", "Creating service s_db"]
    web = engine.services[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert web["Secrets"] == [{"File": {"Name": "token", "UID": "0", "GID": "0", "Mode": 0o444},
                               "SecretName": "s_token", "SecretID": "sec0"}]
    assert web["Image"] == "busybox"  # --resolve-image never: as the file says


def test_a_redeploy_updates_with_the_version_keeps_a_pinned_image_and_force_update_and_prunes(capsys) -> None:
    engine = FakeEngine()
    engine.networks = [{"Id": "n1", "Name": "s_default", "Labels": {NS: "s"}}]
    engine.secrets = [{"ID": "sec0", "Version": {"Index": 3}, "Spec": {"Name": "s_token", "Labels": {NS: "s"}}}]
    engine.services = [_service("s_web", "busybox", "busybox:latest@sha256:abc", force=2),
                       _service("s_old", "busybox", "busybox")]
    deploy(engine, convert(BOOK, "s"), prune=True, resolve_image="changed", registry_auth=False)
    out = capsys.readouterr().out.splitlines()
    assert out == ["Removing service s_old", "Updating service s_web (id: id-s_web)", "Creating service s_db"]
    writes = [(m, p, v) for m, p, v, _ in engine.writes]
    assert writes == [("DELETE", "/services/id-s_old", None), ("POST", "/secrets/sec0/update", 3),
                      ("POST", "/services/id-s_web/update", 7), ("POST", "/services/create", None)]
    sent = engine.writes[2][3]
    assert sent["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:latest@sha256:abc"
    assert sent["TaskTemplate"]["ForceUpdate"] == 2


def test_a_changed_image_is_resolved_again(capsys) -> None:
    engine = FakeEngine()
    engine.services = [_service("s_web", "busybox:old", "busybox:old@sha256:abc")]
    document = {"services": {"web": {"image": "busybox"}}}
    deploy(engine, convert(document, "s"), prune=False, resolve_image="changed", registry_auth=False)
    sent = engine.writes[-1][3]
    assert sent["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:latest"  # no registry: its familiar name
    assert "image busybox:latest could not be accessed on a registry" in capsys.readouterr().err


def test_refusals_in_docker_clis_words() -> None:
    document = {"services": {"web": {"image": "busybox", "networks": ["pub"]}}, "networks": {"pub": {"external": True}}}
    with pytest.raises(DeployError, match='this node is not a swarm manager. Use "docker swarm init"'):
        deploy(FakeEngine(manager=False), convert(document, "s"), prune=False, resolve_image="never",
               registry_auth=False)
    with pytest.raises(DeployError, match='network "pub" is declared as external, but could not be found'):
        deploy(FakeEngine(), convert(document, "s"), prune=False, resolve_image="never", registry_auth=False)
    engine = FakeEngine()
    engine.networks = [{"Id": "n1", "Name": "pub", "Scope": "local"}]
    with pytest.raises(DeployError, match='network "pub" is declared as external, but it is not in the right scope: '
                                          '"local" instead of "swarm"'):
        deploy(engine, convert(document, "s"), prune=False, resolve_image="never", registry_auth=False)


def test_rm_removes_services_secrets_configs_then_networks(capsys) -> None:
    engine = FakeEngine()
    assert remove_stack(engine, "s") is None
    engine.services = [_service("s_web", "busybox", "busybox"), _service("s_db", "busybox", "busybox")]
    engine.networks = [{"Id": "n1", "Name": "s_default", "Labels": {NS: "s"}}]
    engine.configs = [{"ID": "c1", "Spec": {"Name": "s_conf", "Labels": {NS: "s"}}}]
    engine.secrets = [{"ID": "x1", "Spec": {"Name": "other", "Labels": {NS: "t"}}}]
    assert remove_stack(engine, "s") is False
    assert capsys.readouterr().out.splitlines() == ["Removing service s_db", "Removing service s_web",
                                                    "Removing config s_conf", "Removing network s_default"]
    assert [p for _, p, _, _ in engine.writes] == ["/services/id-s_db", "/services/id-s_web", "/configs/c1",
                                                   "/networks/n1"]
