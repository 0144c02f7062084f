"""A start under way (a user's, or the restart policy's) holds the container in a state that
counts as running while it has no PID yet. Stop, kill, rm -f, pause, exec and a second start
wait for it, as Docker's container lock makes them, and never signal PID 0. The fake launcher
holds the start half-way until the test releases it: no timing decides the order."""

import asyncio

import pytest
from enginefakes import container_record, load_records, make_engine, until

from dockyard.engine.containers import StartFailed
from dockyard.engine.execs import ExecService
from dockyard.engine.specs.containers import ContainerUpdate
from dockyard.engine.specs.execs import ExecCreate
from dockyard.errors import Conflict

RESTARTING = "is restarting, wait until the container is running"


async def _held_policy_restart(engine, c) -> None:
    """Run ``c`` (restart policy always), end its process, and hold the policy's start at the
    launch: the container is `restarting`, its PID 0, no restart pending any more."""
    assert await engine.service.start(c)
    engine.launcher.hold, engine.launcher.arrived = True, asyncio.Event()
    engine.launcher.exit(c.id, 1)
    await engine.launcher.arrived.wait()
    assert c.state.status == "restarting" and c.state.pid == 0
    assert engine.service.runtime(c).pending_restart is None


async def _held_user_start(engine, c) -> asyncio.Task:
    """`docker start` of ``c``, held at the launch: the container is still `created`."""
    engine.launcher.hold, engine.launcher.arrived = True, asyncio.Event()
    start = asyncio.ensure_future(engine.service.start(c))
    await engine.launcher.arrived.wait()
    assert c.state.status == "created"
    return start


async def _blocked(coro) -> asyncio.Task:
    """Start ``coro`` and let it run to its first wait; it must be waiting, not finished."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0)  # one step of the task: up to where it waits
    assert not task.done(), task.exception() if not task.cancelled() else "cancelled"
    return task


async def _exit_once_signalled(engine, c, code: int) -> None:
    """The process ends when the engine has signalled it (it then waits for the exit)."""
    await until(lambda: engine.service.runtime(c).exit_waiters)
    engine.launcher.exit(c.id, code)


def always(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record(RestartPolicy={"Name": "always", "MaximumRetryCount": 0}))
    return engine, c


def test_stop_during_the_policys_start_waits_for_it_then_stops_for_good(tmp_path):
    engine, c = always(tmp_path)

    async def scenario():
        await _held_policy_restart(engine, c)
        stop = await _blocked(engine.service.stop(c, 5))
        engine.launcher.hold = False
        engine.launcher.release(c.id)
        await _exit_once_signalled(engine, c, 143)
        assert await stop
        assert c.state.status == "exited" and c.manually_stopped
        assert engine.service.runtime(c).pending_restart is None  # the policy stands down

    asyncio.run(scenario())
    assert len(engine.launcher.requests) == 2 and c.restart_count == 1


def test_kill_during_the_policys_start_kills_the_new_process_and_the_policy_stands_down(tmp_path):
    engine, c = always(tmp_path)

    async def scenario():
        await _held_policy_restart(engine, c)
        kill = await _blocked(engine.service.kill_and_wait(c, 9))
        engine.launcher.hold = False
        engine.launcher.release(c.id)
        await _exit_once_signalled(engine, c, 137)
        await kill
        assert c.state.status == "exited" and c.state.exit_code == 137 and c.manually_stopped
        assert engine.service.runtime(c).pending_restart is None

    asyncio.run(scenario())
    assert len(engine.launcher.requests) == 2


@pytest.mark.parametrize("whose", ["the policy's", "a user's"])
def test_force_remove_during_a_start_removes_what_the_start_made(tmp_path, whose):
    engine, c = always(tmp_path)

    async def scenario():
        if whose == "a user's":
            start = await _held_user_start(engine, c)
        else:
            await _held_policy_restart(engine, c)
        rm = await _blocked(engine.service.remove(c, force=True))
        engine.launcher.hold = False
        engine.launcher.release(c.id)
        if whose == "a user's":
            assert await start
        await _exit_once_signalled(engine, c, 137)
        await rm

    asyncio.run(scenario())
    assert engine.service.find(c.id) is None
    assert len(engine.launcher.requests) == (1 if whose == "a user's" else 2)


def test_a_second_start_during_a_start_launches_nothing(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record())

    async def scenario():
        first = await _held_user_start(engine, c)
        second = await _blocked(engine.service.start(c))
        engine.launcher.release(c.id)
        assert await first
        assert not await second  # Docker's 304: it runs already
        engine.launcher.exit(c.id, 0)
        await until(lambda: c.state.status == "exited")

    asyncio.run(scenario())
    assert len(engine.launcher.requests) == 1


def test_exec_during_the_policys_start_joins_the_new_process(tmp_path):
    engine, c = always(tmp_path)
    execs = ExecService(engine.service, engine.execs)

    async def scenario():
        await _held_policy_restart(engine, c)
        with pytest.raises(Conflict, match=RESTARTING):  # Docker's exec create between runs
            execs.create(c, ExecCreate(cmd=["true"]))
        engine.launcher.hold = False
        engine.launcher.release(c.id)
        await until(lambda: c.state.status == "running")
        e = execs.create(c, ExecCreate(cmd=["true"]))
        engine.launcher.hold, engine.launcher.arrived = True, asyncio.Event()
        engine.launcher.exit(c.id, 1)
        await engine.launcher.arrived.wait()  # the next policy start, held
        start = await _blocked(execs.start(e))
        engine.launcher.hold = False
        engine.launcher.release(c.id)
        engine.launcher.error = "no exec here"  # the fake runs no exec: its launch fails, after the request
        with pytest.raises(StartFailed, match="no exec here"):
            await start
        assert engine.launcher.requests[-1]["exec_in"] == c.state.pid != 0
        engine.launcher.error = None
        stop = asyncio.ensure_future(engine.service.stop(c, 5))
        await _exit_once_signalled(engine, c, 143)
        assert await stop

    asyncio.run(scenario())


def test_pause_exec_start_top_and_update_of_a_restarting_container_answer_as_docker(tmp_path):
    engine, c = always(tmp_path)
    execs = ExecService(engine.service, engine.execs)

    async def scenario():
        assert await engine.service.start(c)
        e = execs.create(c, ExecCreate(cmd=["true"]))
        engine.launcher.exit(c.id, 1)
        await until(lambda: c.state.status == "restarting")
        # Waiting out the backoff (no start under way): no await before these answers.
        assert engine.service.runtime(c).pending_restart is not None
        with pytest.raises(Conflict, match=RESTARTING):
            await engine.service.pause(c)
        with pytest.raises(Conflict, match=RESTARTING):
            await execs.start(e)
        with pytest.raises(Conflict, match=RESTARTING):
            engine.service.top(c, "")
        # update touches no cgroup between runs (there is none); the next start applies the limit
        assert await engine.service.update(c, ContainerUpdate(cpu_shares=512)) == []
        assert c.host_config.cpu_shares == 512
        assert await engine.service.stop(c)  # cancels the pending restart
        assert c.state.status == "exited"

    asyncio.run(scenario())


def test_joining_the_namespaces_of_a_restarting_container_answers_as_docker(tmp_path):
    engine = make_engine(str(tmp_path))
    donor, joiner = load_records(engine, container_record(RestartPolicy={"Name": "always", "MaximumRetryCount": 0}),
                                 container_record())

    async def scenario():
        assert await engine.service.start(donor)
        joiner.host_config.pid_mode = f"container:{donor.id}"
        engine.launcher.hold, engine.launcher.arrived = True, asyncio.Event()
        engine.launcher.exit(donor.id, 1)
        await engine.launcher.arrived.wait()  # the policy's start, held: PID 0
        with pytest.raises(Conflict, match=RESTARTING):
            await engine.service.start(joiner)
        engine.launcher.hold = False
        engine.launcher.release(donor.id)
        await until(lambda: donor.state.status == "running")
        assert await engine.service.start(joiner)  # joins the new process's namespace
        pid_ns = [n for n in engine.launcher.requests[-1]["spec"]["linux"]["namespaces"] if n["type"] == "pid"]
        assert pid_ns == [{"type": "pid", "path": f"/proc/{donor.state.pid}/ns/pid"}]
        for c in (joiner, donor):
            stop = asyncio.ensure_future(engine.service.stop(c, 5))
            await _exit_once_signalled(engine, c, 143)
            assert await stop

    asyncio.run(scenario())
