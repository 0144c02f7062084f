"""The engine's rules about a container's life, on in-memory fakes (no root, no runtime)."""

import asyncio

import pytest
from enginefakes import container_record, load_records, make_engine

from dockyard.engine import restart
from dockyard.engine.configmerge import merge_config, normalize_host_config
from dockyard.engine.containers import StartFailed
from dockyard.engine.execrecords import Exec
from dockyard.engine.specs.containers import (
    ContainerConfig,
    HealthConfig,
    HostConfig,
    RestartPolicy,
    config_json,
    host_config_json,
)
from dockyard.errors import Conflict, DockyardError, InvalidParameter


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


# -- restart policy decisions (moby's restartmanager) -------------------------------------------
def test_restart_policy_decisions():
    on_failure = restart.validate(RestartPolicy("on-failure", 2), False)
    assert not restart.should_restart(on_failure, 0, 0, False)  # a clean exit stays down
    assert restart.should_restart(on_failure, 1, 1, False)
    assert not restart.should_restart(on_failure, 1, 2, False)  # retries spent
    assert not restart.should_restart(restart.validate(RestartPolicy("always"), False), 0, 0, True)  # user stopped
    assert restart.should_restart(RestartPolicy("unless-stopped"), 0, 99, False)
    assert not restart.should_restart(None, 1, 0, False)
    assert restart.restart_on_daemon_start(RestartPolicy("always"), True)
    assert not restart.restart_on_daemon_start(RestartPolicy("unless-stopped"), True)
    assert restart.validate(None, True) == RestartPolicy("no", 0)


def test_restart_policy_errors_read_like_dockers():
    for policy, auto_remove, message in (
            (RestartPolicy("sometimes"), False, "unknown policy 'sometimes'"),
            (RestartPolicy("always", 3), False, "can only be used with 'on-failure'"),
            (RestartPolicy("on-failure", -1), False, "cannot be negative"),
            (RestartPolicy("always"), True, "can't create 'AutoRemove' container with restart policy")):
        with pytest.raises(InvalidParameter, match=message):
            restart.validate(policy, auto_remove)


def test_restart_backoff_doubles_and_resets_after_a_long_run():
    assert restart.next_delay(0, 0) == restart.INITIAL_DELAY
    assert restart.next_delay(0.4, 1) == 0.8
    assert restart.next_delay(50, 1) == restart.MAX_DELAY
    assert restart.next_delay(50, restart.RESET_AFTER) == restart.INITIAL_DELAY


# -- the create request merged with the image's config (daemon/commit.go merge) -------------------
IMAGE = ContainerConfig(user="app", env=["PATH=/bin", "A=image"], cmd=["serve"], entrypoint=["/init"],
                        working_dir="/srv", labels={"from": "image", "both": "image"},
                        exposed_ports={"80/tcp": {}}, volumes={"/data": {}}, stop_signal="SIGQUIT",
                        healthcheck=HealthConfig(test=["CMD", "true"]), on_build=["RUN x"])


def test_an_empty_request_takes_everything_from_the_image():
    config = merge_config(ContainerConfig(image="app"), IMAGE)
    assert (config.user, config.cmd, config.entrypoint, config.working_dir) == ("app", ["serve"], ["/init"], "/srv")
    assert config.env == ["PATH=/bin", "A=image"] and config.labels == {"from": "image", "both": "image"}
    assert config.exposed_ports == {"80/tcp": {}} and config.volumes == {"/data": {}}
    assert config.stop_signal == "SIGQUIT" and config.healthcheck.test == ["CMD", "true"]
    assert (config.hostname, config.tty, config.attach_stdin) == ("", False, False)


def test_the_request_wins_and_adds():
    request = ContainerConfig(user="root", env=["A=mine", "B=2"], cmd=["sh"], labels={"both": "mine"},
                              exposed_ports={"443/tcp": {}}, healthcheck=HealthConfig())
    config = merge_config(request, IMAGE)
    assert config.user == "root" and config.cmd == ["sh"] and config.entrypoint == ["/init"]
    assert config.env == ["PATH=/bin", "A=mine", "B=2"]
    assert config.labels == {"from": "image", "both": "mine"}
    assert config.exposed_ports == {"80/tcp": {}, "443/tcp": {}}
    assert config.healthcheck.test == ["CMD", "true"]  # an empty Healthcheck object is "not given"
    assert request.env == ["A=mine", "B=2"]  # the request itself is left as it came


def test_an_entrypoint_drops_the_images_cmd_and_an_empty_one_resets_it():
    config = merge_config(ContainerConfig(entrypoint=["/other"]), IMAGE)
    assert config.entrypoint == ["/other"] and config.cmd is None
    assert "Cmd" not in config_json(config) and config_json(config)["Entrypoint"] == ["/other"]
    config = merge_config(ContainerConfig(entrypoint=[""], cmd=["echo", "x"]), IMAGE)
    assert config.entrypoint is None and config.cmd == ["echo", "x"]


def test_host_config_defaults_are_dockers():
    host_config = normalize_host_config(HostConfig(memory=1 << 30))
    view = host_config_json(host_config)
    assert view["NetworkMode"] == "default" and view["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert view["LogConfig"] == {"Type": "json-file", "Config": {}} and view["IpcMode"] == "private"
    assert view["Binds"] is None and view["Links"] is None and view["PidMode"] == "" and view["Memory"] == 1 << 30


def test_docker_cp_into_a_read_only_mount_or_rootfs_is_refused(tmp_path):
    engine = make_engine(str(tmp_path))
    [c] = load_records(engine, container_record(ReadonlyRootfs=True))
    c.mount_points = [{"Type": "volume", "Destination": "/data", "RW": True},
                      {"Type": "bind", "Destination": "/data/ro", "RW": False}]
    engine.service.check_writable(c, "/data/x")  # the innermost mount holding the path decides
    engine.service.check_writable(c, "/etc/x")  # a stopped container's rootfs takes the copy
    with pytest.raises(DockyardError, match="mounted volume is marked read-only"):
        engine.service.check_writable(c, "data/ro/../ro/file")
    c.state.status = "running"
    with pytest.raises(Conflict, match="container rootfs is marked read-only"):
        engine.service.check_writable(c, "/etc/x")
