"""The cluster agent's backend (engine/backend.py) on in-memory fakes: a task's container goes
through create, secret files, start, network attach, wait and remove with the engine's rules."""

import asyncio
import os
import stat

import pytest
from enginefakes import FakeImage, make_engine

from dockyard.engine.backend import EngineBackend, TaskFile
from dockyard.engine.specs.containers import ContainerCreate, HostConfig, RestartPolicy
from dockyard.engine.specs.networks import EndpointSettings
from dockyard.errors import Conflict, InvalidParameter, NotFound

IMAGE = FakeImage("sha256:" + "1" * 64, {"config": {"Cmd": ["serve"], "Env": ["PATH=/bin"]}})


class FakeNetworks:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def connect(self, ref, c, endpoint_config, *, task=False):
        assert task, "the cluster backend connects task containers"
        self.calls.append(("connect", ref, c.id, endpoint_config))

    async def disconnect(self, ref, c, force=False):
        self.calls.append(("disconnect", ref, c.id, force))


def backend(tmp_path):
    engine = make_engine(str(tmp_path), IMAGE)
    networks = FakeNetworks()
    return engine, networks, EngineBackend(engine.service, networks)


def task(name="web.1", **labels) -> ContainerCreate:
    return ContainerCreate(image=IMAGE.id, labels={"com.docker.swarm.task.name": name, **labels},
                           host_config=HostConfig(network_mode="none"))


def test_a_task_container_runs_with_its_secrets_and_is_removed(tmp_path):
    engine, networks, agent = backend(tmp_path)
    c = agent.create_managed_container(task(), "web.1.abc")
    assert c.name == "/web.1.abc" and c.config.cmd == ["serve"] and c.state.status == "created"
    agent.set_task_files(c.id, [TaskFile("db-password", b"s3cret", mode=0o400),
                                TaskFile("app.conf", b"port=80", target="/etc/app.conf", kind="config")])
    sources = {f["Target"]: f["Source"] for f in c.task_files}
    assert set(sources) == {"/run/secrets/db-password", "/etc/app.conf"}
    with open(sources["/run/secrets/db-password"], "rb") as f:
        assert f.read() == b"s3cret"
    assert stat.S_IMODE(os.stat(sources["/run/secrets/db-password"]).st_mode) == 0o400
    assert sources["/etc/app.conf"].startswith(engine.service.state_dir(c.id))  # under the exec root, not the disk

    async def scenario():
        await agent.start_container(c.id)
        mounts = {m["destination"]: m for m in engine.launcher.requests[-1]["spec"]["mounts"]}
        assert mounts["/run/secrets/db-password"]["source"] == sources["/run/secrets/db-password"]
        assert "ro" in mounts["/etc/app.conf"]["options"]
        with pytest.raises(Conflict, match="given before the first start"):
            agent.set_task_files(c.id, [])
        await agent.connect_to_network(c.id, "overlay1", EndpointSettings(aliases=["web"]))
        await agent.disconnect_from_network(c.id, "overlay1", force=True)
        waiting = asyncio.ensure_future(agent.wait_container(c.id))
        engine.launcher.exit(c.id, 3)
        assert await waiting == 3
        await agent.remove_container(c.id)

    asyncio.run(scenario())
    assert networks.calls == [("connect", "overlay1", c.id, {"Aliases": ["web"]}),
                              ("disconnect", "overlay1", c.id, True)]
    assert not os.path.exists(sources["/etc/app.conf"])  # gone with the container
    with pytest.raises(NotFound):
        agent.inspect_container(c.id)


def test_task_containers_are_found_by_their_labels(tmp_path):
    _engine, _networks, agent = backend(tmp_path)
    one = agent.create_managed_container(task("web.1", service="web"))
    agent.create_managed_container(task("db.1", service="db"))
    assert agent.managed_containers({"service": "web"}) == [one]
    assert len(agent.managed_containers({})) == 2


def test_the_create_rules_apply_to_a_task(tmp_path):
    _engine, _networks, agent = backend(tmp_path)
    with pytest.raises(InvalidParameter, match="can't create 'AutoRemove' container with restart policy"):
        agent.create_managed_container(ContainerCreate(image=IMAGE.id, host_config=HostConfig(
            auto_remove=True, restart_policy=RestartPolicy("always"))))
    c = agent.create_managed_container(task())
    with pytest.raises(InvalidParameter, match="same target"):
        agent.set_task_files(c.id, [TaskFile("a", b"", target="/x"), TaskFile("b", b"", target="/x")])
