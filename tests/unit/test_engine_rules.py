"""The engine's rules about a container's life, on in-memory fakes (no root, no runtime)."""

import asyncio

import pytest
from enginefakes import container_record, load_records, make_engine

from dockyard.engine.containers import StartFailed
from dockyard.engine.execrecords import Exec


def run(coro):
    return asyncio.run(coro)


async def _until(predicate) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def test_auto_remove_forgets_the_containers_execs(tmp_path):
    engine = make_engine(str(tmp_path))
    c, other = load_records(engine, container_record(AutoRemove=True), container_record())

    async def scenario():
        assert await engine.service.start(c)
        engine.execs.add(Exec("e1", c.id, {"Cmd": ["true"]}))
        engine.execs.add(Exec("e2", other.id, {"Cmd": ["true"]}))
        engine.launcher.exit(c.id, 0)
        await _until(lambda: engine.service.find(c.id) is None)

    run(scenario())
    assert engine.execs.of_container(c.id) == []
    assert [e.id for e in engine.execs.of_container(other.id)] == ["e2"]


def test_remove_forgets_the_containers_execs(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record())
    engine.execs.add(Exec("e1", c.id, {"Cmd": ["true"]}))
    run(engine.service.remove(c))
    assert engine.execs.of_container(c.id) == []


def test_a_failed_start_removes_an_auto_remove_container(tmp_path):
    engine = make_engine(str(tmp_path))
    keep, gone = load_records(engine, container_record(), container_record(AutoRemove=True))
    engine.launcher.error = "exec: \"nope\": executable file not found in $PATH"
    for c in (keep, gone):
        with pytest.raises(StartFailed, match="executable file not found"):
            run(engine.service.start(c))
    assert engine.service.find(gone.id) is None
    assert engine.service.find(keep.id) is keep
    assert keep.state.status == "created" and keep.state.exit_code == 127


def test_start_of_a_running_container_is_not_modified(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record())

    async def scenario():
        assert await engine.service.start(c)
        assert not await engine.service.start(c)
        assert len(engine.launcher.requests) == 1
        engine.launcher.exit(c.id, 0)
        await _until(lambda: c.state.status == "exited")

    run(scenario())


def test_on_failure_restarts_until_a_user_stops_it(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record(RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 0}))

    async def scenario():
        await engine.service.start(c)
        engine.launcher.exit(c.id, 3)
        await _until(lambda: c.state.status == "restarting")
        await _until(lambda: c.state.status == "running")  # the policy's start
        assert c.restart_count == 1 and len(engine.launcher.requests) == 2
        engine.launcher.exit(c.id, 3)
        await _until(lambda: c.state.status == "restarting")
        assert await engine.service.stop(c)  # cancels the pending restart
        assert c.manually_stopped and c.state.status == "exited"
        # an explicit start re-arms the policy
        assert await engine.service.start(c)
        assert not c.manually_stopped
        engine.launcher.exit(c.id, 0)
        await _until(lambda: c.state.status == "exited")

    run(scenario())
    assert c.state.exit_code == 0 and len(engine.launcher.requests) == 3
