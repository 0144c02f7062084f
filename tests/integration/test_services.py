"""Swarm services on one node, through the real docker CLI and docker-py: create, ls, ps, inspect,
scale, update, rm; tasks run as real containers named and labelled as Docker's, and survive a
daemon restart. etcd runs on loopback ports of the test's own."""

from __future__ import annotations

import json

import pytest
from swarming import ok, one_node_swarm
from waiting import until

_ok = ok


@pytest.fixture
def swarm(fresh_daemon):
    with one_node_swarm(fresh_daemon):
        yield fresh_daemon


def _tasks(d, service: str) -> list[dict]:
    """The service's tasks in one answer (a list then an inspect of each races the task reaper)."""
    return d.client.call("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})


def _until(what: str, check, timeout: float = 60.0) -> None:
    """The managers and agent converge by design: wait for the state, however long the machine takes."""
    assert until(check, timeout), f"timed out waiting for {what}"


def _running(d, service: str) -> list[dict]:
    return [t for t in _tasks(d, service) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]


def _containers(d, service: str) -> list[dict]:
    ids = _ok(d.docker("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={service}")).split()
    return json.loads(_ok(d.docker("inspect", *ids))) if ids else []


def test_replicated_service_lifecycle_with_the_docker_cli(swarm) -> None:
    d = swarm
    service_id = _ok(d.docker("service", "create", "--detach", "--name", "web", "--replicas", "3",
                              "--env", "GREETING=hi", "--label", "tier=front", "busybox", "top")).strip()
    _until("3 running tasks", lambda: len(_running(d, "web")) == 3)
    containers = _containers(d, "web")
    assert len(containers) == 3
    node_id = _ok(d.docker("info", "--format", "{{.Swarm.NodeID}}")).strip()
    for c in containers:
        labels = c["Config"]["Labels"]
        task_id = labels["com.docker.swarm.task.id"]
        assert labels["com.docker.swarm.service.id"] == service_id
        assert labels["com.docker.swarm.node.id"] == node_id
        assert labels["com.docker.swarm.task"] == ""
        slot = labels["com.docker.swarm.task.name"].split(".")[1]
        assert c["Name"] == f"/web.{slot}.{task_id}" == "/" + labels["com.docker.swarm.task.name"]
        assert "GREETING=hi" in c["Config"]["Env"] and c["Config"]["Cmd"] == ["top"]
        assert c["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")

    rows = _ok(d.docker("service", "ls")).splitlines()
    assert rows[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
    assert rows[1].split()[:4] == [service_id[:12], "web", "replicated", "3/3"]
    inspected = json.loads(_ok(d.docker("service", "inspect", "web")))[0]
    assert inspected["ID"] == service_id and inspected["Spec"]["Labels"] == {"tier": "front"}
    assert inspected["Spec"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"
    pretty = _ok(d.docker("service", "inspect", "--pretty", "web"))
    assert "Service Mode:\tReplicated" in pretty and " Replicas:\t3" in pretty

    again = d.docker("service", "create", "--detach", "--name", "web", "busybox", "top")
    assert again.returncode != 0
    assert b"name conflicts with an existing object" in again.stderr

    # Scale up and down: slots 1..N, the removed ones go with their containers.
    _ok(d.docker("service", "scale", "--detach", "web=5"))
    _until("5 running tasks", lambda: len(_running(d, "web")) == 5)
    _ok(d.docker("service", "scale", "--detach", "web=2"))
    _until("2 containers", lambda: len(_containers(d, "web")) == 2 and len(_running(d, "web")) == 2)
    assert sorted(t["Slot"] for t in _running(d, "web")) == [1, 2]

    # An update replaces every task (one at a time, stop-first) with the new spec.
    _ok(d.docker("service", "update", "--detach", "--env-add", "COLOR=blue", "web"))
    _until("the update", lambda: len([c for c in _containers(d, "web") if "COLOR=blue" in c["Config"]["Env"]]) == 2
           and len(_running(d, "web")) == 2)
    history = [t for t in _tasks(d, "web") if t["DesiredState"] == "shutdown"]
    assert len(history) == 2 and all(t["Status"]["State"] == "shutdown" for t in history)
    ps = _ok(d.docker("service", "ps", "web")).splitlines()
    assert ps[0].split()[:4] == ["ID", "NAME", "IMAGE", "NODE"]
    assert any(r.split()[1] == "\\_" for r in ps[1:])

    _ok(d.docker("service", "rm", "web"))
    _until("the containers to go", lambda: not _containers(d, "web") and not _ok(
        d.docker("ps", "-aq", "--filter", "label=com.docker.swarm.service.name=web")).split())
    missing = d.docker("service", "inspect", "web")
    assert missing.returncode != 0 and b"no such service: web" in missing.stderr.lower() + missing.stdout.lower()


def test_a_failing_task_is_replaced_and_tasks_outlive_a_daemon_restart(swarm) -> None:
    d = swarm
    _ok(d.docker("service", "create", "--detach", "--name", "flaky", "--restart-delay", "0s",
                 "--restart-max-attempts", "2", "busybox", "sh", "-c", "exit 3"))
    # Two restarts, then the slot keeps its last failed task.
    # The supervisor's last decision shuts the third failed task down without a replacement.
    _until("three failed tasks, all shut down", lambda: [(t["Status"]["State"], t["DesiredState"])
                                                       for t in _tasks(d, "flaky")] == [("failed", "shutdown")] * 3)
    failed = _tasks(d, "flaky")
    assert len(failed) == 3 and {t["Slot"] for t in failed} == {1}
    assert all(t["Status"]["Err"] == "task: non-zero exit (3)" for t in failed)

    _ok(d.docker("service", "create", "--detach", "--name", "steady", "--replicas", "2", "busybox", "top"))
    _until("2 running tasks", lambda: len(_running(d, "steady")) == 2)
    before = sorted(c["Id"] for c in _containers(d, "steady"))
    d.stop()
    d.start()
    _until("the store back", lambda: d.docker("service", "ls").returncode == 0)
    # Once a new service runs, the agent has been through its assignments since the restart.
    _ok(d.docker("service", "create", "--detach", "--name", "probe", "busybox", "top"))
    _until("the probe to run", lambda: len(_running(d, "probe")) == 1)
    assert len(_running(d, "steady")) == 2
    assert sorted(c["Id"] for c in _containers(d, "steady")) == before  # adopted, not replaced

    # A container killed behind the agent's back is a failed task, replaced in its slot.
    victim = before[0]
    _ok(d.docker("kill", victim))
    _until("a replacement", lambda: len(_running(d, "steady")) == 2 and victim not in
           [c["Id"] for c in _containers(d, "steady")], timeout=30)

    # Leaving the swarm removes the tasks' containers.
    _ok(d.docker("swarm", "leave", "--force"))
    assert not _ok(d.docker("ps", "-aq", "--filter", "label=com.docker.swarm.task")).split()


def test_services_with_docker_py(swarm) -> None:
    import docker

    client = docker.DockerClient(base_url=swarm.host)
    service = client.services.create("busybox", ["top"], name="py", mode=docker.types.ServiceMode("replicated", 2),
                                     labels={"a": "b"})
    _until("2 running tasks", lambda: len([t for t in service.tasks() if t["Status"]["State"] == "running"]) == 2)
    assert client.services.get(service.id).name == "py"
    assert [s.id for s in client.services.list(filters={"label": "a=b"})] == [service.id]
    service.reload()
    service.scale(1)
    _until("1 running task", lambda: len([t for t in service.tasks(filters={"desired-state": "running"})
                                          if t["Status"]["State"] == "running"]) == 1)
    with pytest.raises(docker.errors.NotFound):
        client.services.get("nosuch")
    service.remove()
    assert client.services.list() == []


def test_logs_and_secrets_of_a_service(swarm) -> None:
    d = swarm
    _ok(d.docker("secret", "create", "token", "-", input=b"s3cret"))
    _ok(d.docker("service", "create", "--detach", "--name", "talk", "--replicas", "2", "--secret", "token",
                 "busybox", "sh", "-c", "echo hello from $HOSTNAME; echo $(cat /run/secrets/token); exec sleep 100000"))
    _until("2 running tasks", lambda: len(_running(d, "talk")) == 2)
    names = {f"talk.{t['Slot']}.{t['ID'][:12]}" for t in _running(d, "talk")}

    def lines() -> list[str]:
        return _ok(d.docker("service", "logs", "talk")).splitlines()

    _until("both tasks' lines", lambda: len([x for x in lines() if "s3cret" in x]) == 2)
    for line in lines():
        prefix, _, text = line.partition("|")
        assert prefix.split("@")[0].strip() in names and text.strip().startswith(("hello from", "s3cret"))
    raw = _ok(d.docker("service", "logs", "--raw", "--tail", "1", "talk")).split()
    assert raw == ["s3cret", "s3cret"]
    refused = d.docker("secret", "rm", "token")
    assert refused.returncode != 0 and b"is in use by the following service: talk" in refused.stderr
    missing = d.docker("service", "create", "--detach", "--name", "nosecret", "--secret", "nosuch", "busybox", "top")
    assert missing.returncode != 0 and b"secret not found: nosuch" in missing.stderr


def test_a_service_on_an_overlay_network(swarm) -> None:
    d = swarm
    network_id = _ok(d.docker("network", "create", "-d", "overlay", "backend")).strip()
    _ok(d.docker("service", "create", "--detach", "--name", "api", "--network", "backend", "--replicas", "2",
                 "busybox", "top"))
    spec = json.loads(_ok(d.docker("service", "inspect", "api")))[0]["Spec"]
    assert spec["TaskTemplate"]["Networks"] == [{"Target": network_id}]
    _until("2 running tasks", lambda: len(_running(d, "api")) == 2)
    for c in _containers(d, "api"):
        assert list(c["NetworkSettings"]["Networks"]) == ["backend"]
    refused = d.docker("service", "create", "--detach", "--name", "lost", "--network", "nosuch", "busybox", "top")
    assert refused.returncode != 0 and b"network nosuch not found" in refused.stderr
    _ok(d.docker("service", "rm", "api"))
    _until("the tasks to go", lambda: not _containers(d, "api"))
    _ok(d.docker("network", "rm", "backend"))


# A task that turns healthy a moment after it starts: its health check probes every 0.5 s (failures
# in the start period do not count).
HEALTHY_SOON = ["--health-cmd", "test -e /tmp/up", "--health-interval", "500ms", "--health-start-period", "30s",
                "busybox", "sh", "-c", "sleep 1; touch /tmp/up; exec sleep 100000"]


def _samples(d, service: str, until_state: str) -> list[tuple[str, list[tuple[bool, str, str]]]]:
    """The service's UpdateStatus state and (new spec?, state, desired state) of each task, polled
    until the update reaches `until_state`."""
    seen: list[tuple[str, list[tuple[bool, str, str]]]] = []

    def sample() -> bool:
        inspected = d.client.call("GET", f"/services/{service}")
        state = (inspected.get("UpdateStatus") or {}).get("State", "")
        version = inspected["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
        seen.append((state, [(t["Spec"].get("ForceUpdate", 0) == version, t["Status"]["State"], t["DesiredState"])
                             for t in _tasks(d, service)]))
        return state == until_state

    _until(f"update status {until_state}", sample, 180)
    return seen


def test_an_update_goes_in_steps_each_new_task_counting_once_healthy(swarm) -> None:
    d = swarm
    _ok(d.docker("service", "create", "--detach", "--name", "steps", "--replicas", "4", "--stop-grace-period", "1s",
                 "--update-parallelism", "2", "--update-delay", "2s", "--update-monitor", "1s", *HEALTHY_SOON))
    _until("4 running tasks", lambda: len(_running(d, "steps")) == 4)
    _ok(d.docker("service", "update", "--detach", "--force", "steps"))
    samples = _samples(d, "steps", "completed")

    def new(tasks, *states):
        return sum(1 for is_new, state, desired in tasks if is_new and desired == "running" and state in states)

    # Never more than a batch of new tasks on their way, and each one is "starting" until healthy.
    assert max(new(tasks, "new", "pending", "assigned", "accepted", "preparing", "ready", "starting")
               for _, tasks in samples) <= 2
    assert any(new(tasks, "starting") for _, tasks in samples)
    # The delay after the first batch runs: two new tasks running beside two old ones.
    assert any(new(tasks, "running") == 2 and sum(1 for is_new, state, _ in tasks if not is_new and state == "running")
               == 2 for _, tasks in samples), samples
    assert "updating" in [state for state, _ in samples]
    status = d.client.call("GET", "/services/steps")["UpdateStatus"]
    assert (status["State"], status["Message"]) == ("completed", "update completed")
    assert len(_running(d, "steps")) == 4

    # start-first: the old task runs until the new one is healthy, then goes.
    _ok(d.docker("service", "scale", "--detach", "steps=1"))
    _until("1 task", lambda: len([t for t in _tasks(d, "steps") if t["DesiredState"] == "running"]) == 1
           and len(_running(d, "steps")) == 1)
    _ok(d.docker("service", "update", "--detach", "--force", "--update-order", "start-first", "steps"))
    samples = _samples(d, "steps", "completed")
    assert any(new(tasks, "starting") == 1 and ((False, "running", "running") in tasks) for _, tasks in samples)
    assert all(any(state == "running" for _, state, desired in tasks if desired == "running")
               for _, tasks in samples)  # never without a running task
    _until("the old task to go", lambda: len([t for t in _tasks(d, "steps") if t["Status"]["State"] == "running"]) == 1)
    _ok(d.docker("service", "rm", "steps"))


def test_a_failing_update_is_rolled_back_or_paused(swarm) -> None:
    """Slow (~40 s): the real docker CLI follows four updates and rollbacks to their end, and waits
    5 s after each to verify that the tasks are stable."""
    d = swarm
    _ok(d.docker("service", "create", "--detach", "--name", "roll", "--replicas", "2", "--stop-grace-period", "1s",
                 "--update-failure-action", "rollback", "--update-monitor", "10s", "--rollback-monitor", "1s",
                 "busybox", "sleep", "100000"))
    _until("2 running tasks", lambda: len(_running(d, "roll")) == 2)
    out = _ok(d.docker("service", "update", "--args", "false", "roll"))
    assert "rollback: update rolled back due to failure or early termination of task" in out
    assert "overall progress: rolling back update: 2 out of 2 tasks" in out
    service = json.loads(_ok(d.docker("service", "inspect", "roll")))[0]
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["sleep", "100000"]
    assert (service["UpdateStatus"]["State"], service["UpdateStatus"]["Message"]) == ("rollback_completed",
                                                                                      "rollback completed")
    assert len(_running(d, "roll")) == 2

    # A new task that turns unhealthy is stopped, fails in moby's words, and the update rolls back.
    out = _ok(d.docker("service", "update", "--health-cmd", "false", "--health-interval", "500ms",
                       "--health-retries", "1", "roll"))
    assert "rollback: update rolled back due to failure or early termination of task" in out
    service = json.loads(_ok(d.docker("service", "inspect", "roll")))[0]
    assert service["UpdateStatus"]["State"] == "rollback_completed"
    assert "Healthcheck" not in service["Spec"]["TaskTemplate"]["ContainerSpec"]
    culprit = next(t for t in _tasks(d, "roll") if t["ID"] in out)
    assert culprit["Status"]["State"] == "failed"
    assert culprit["Status"]["Err"] == "task: non-zero exit (137): dockerexec: unhealthy container"
    assert len(_running(d, "roll")) == 2

    # The default failure action pauses the update; the CLI says so and fails.
    _ok(d.docker("service", "update", "--detach", "--update-failure-action", "pause", "roll"))
    paused = d.docker("service", "update", "--args", "false", "roll")
    assert paused.returncode == 1 and b"service update paused: update paused due to failure or early termination" \
        in paused.stderr
    status = json.loads(_ok(d.docker("service", "inspect", "roll")))[0]["UpdateStatus"]
    culprit_id = status["Message"].rsplit(" ", 1)[1]
    assert status["State"] == "paused" and status["Message"] == \
        f"update paused due to failure or early termination of task {culprit_id}"
    assert next(t for t in _tasks(d, "roll") if t["ID"] == culprit_id)["Status"]["State"] in ("failed", "complete")

    # A manual rollback takes the paused update back.
    out = _ok(d.docker("service", "rollback", "roll"))
    assert "rollback: manually requested rollback" in out and "verify: Service roll converged" in out
    service = json.loads(_ok(d.docker("service", "inspect", "roll")))[0]
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["sleep", "100000"]
    assert (service["UpdateStatus"]["State"], service["UpdateStatus"]["Message"]) == ("rollback_completed",
                                                                                      "rollback completed")
    _until("2 running tasks", lambda: len(_running(d, "roll")) == 2)
