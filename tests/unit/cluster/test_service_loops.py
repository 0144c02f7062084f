"""Services on the in-memory store: the control API's rules and the manager's loops, pass by pass,
with the agent's reports played by the test (no containers: tests/integration/test_services.py
runs real ones)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from dockyard.api.services import service_json, spec_from_json
from dockyard.api.tasks import task_json
from dockyard.cluster import codec
from dockyard.cluster.manager.runner import run_pass
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import Availability, Node, NodeRole
from dockyard.cluster.rpc import AlreadyExists, InvalidArgument
from dockyard.cluster.services.control import control_for
from dockyard.cluster.services.records import Records
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.swarm import EngineDescription, InitRequest, SwarmService
from dockyard.errors import DockyardError, InvalidParameter, NotFound

ENGINE = EngineDescription("host1", "0.1.0", "x86_64", "linux", 2_000_000_000, 1 << 30)
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class Member:
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Cluster:
    """A one-node swarm on a memory store, a clock the test moves, and the agent's part played by hand."""

    def __init__(self, root: Path) -> None:
        self.store = MemoryStore()
        self.swarm = SwarmService(root, ENGINE, open_store=lambda url: self.store, make_member=lambda s, r: Member())
        self.node_id = self.swarm.init(InitRequest(listen_addr="127.0.0.1:2377", advertise_addr="127.0.0.1"))
        self.control = control_for(self.swarm)
        self.records = Records(self.store)
        self.now = T0

    def create(self, **spec) -> str:
        body = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Args": ["top"]}}, **spec}
        return self.control.create(spec_from_json(body)).id

    def settle(self, passes: int = 5) -> None:
        for _ in range(passes):
            snap = run_pass(self.store, self.now)
            if not (snap.written or snap.deleted or snap.services_written):
                return

    def tasks(self, **where) -> list[Task]:
        return [t for t in self.records.tasks() if all(getattr(t, k) == v for k, v in where.items())]

    def report(self, task: Task, state: TaskState, err: str = "") -> None:
        """What the agent would write."""
        current = self.records.task(task.id)
        assert current is not None
        current.status = TaskStatus(self.now, state, state.docker, err)
        if state == TaskState.RUNNING and current.running_at is None:
            current.running_at = self.now
        assert self.records.write_tasks([current])

    def run_all(self) -> None:
        for task in self.tasks():
            if task.status.state == TaskState.ASSIGNED and task.desired_state in (TaskState.RUNNING,
                                                                                  TaskState.COMPLETE):
                self.report(task, TaskState.RUNNING)
            elif task.desired_state >= TaskState.SHUTDOWN and not task.status.state.terminal():
                self.report(task, TaskState.SHUTDOWN)

    def add_node(self, node_id: str, **labels: str) -> None:
        node = self.swarm.node(self.node_id)
        node.id, node.manager_status = node_id, None
        node.description.hostname = node_id
        node.spec.labels, node.spec.role = dict(labels), NodeRole.WORKER
        self.store.put(NODES_PREFIX + node_id, codec.encode(node))

    def set_node(self, node_id: str, **changes) -> None:
        kv = self.store.get(NODES_PREFIX + node_id)
        node = codec.decode(Node, kv.value, kv.mod_revision)
        for key, value in changes.items():
            setattr(node.spec, key, value)
        self.store.put(NODES_PREFIX + node_id, codec.encode(node))


@pytest.fixture
def c(tmp_path) -> Cluster:
    return Cluster(tmp_path)


def test_create_validates_and_refuses_a_second_service_of_a_name(c) -> None:
    service_id = c.create()
    with pytest.raises(AlreadyExists, match="code = AlreadyExists desc = name conflicts with an existing object"):
        c.create()
    with pytest.raises(InvalidArgument, match="ContainerSpec: image reference must be provided"):
        c.control.create(spec_from_json({"Name": "x", "TaskTemplate": {"ContainerSpec": {}}}))
    with pytest.raises(InvalidArgument, match="name must be valid as a DNS name component"):
        c.control.create(spec_from_json({"Name": "a b", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}}))
    with pytest.raises(InvalidParameter, match="json: cannot unmarshal string into Go struct field"):
        spec_from_json({"Name": "x", "Mode": {"Replicated": {"Replicas": "3"}}})
    assert [s.id for s in c.control.services({})] == [service_id]
    assert c.control.service("web").id == service_id == c.control.service(service_id[:5]).id
    with pytest.raises(NotFound, match="service nope not found"):
        c.control.service("nope")
    body = service_json(c.control.service("web"), insert_defaults=True)
    assert body["Spec"]["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 5_000_000_000,
                                                             "MaxAttempts": 0}
    assert body["Spec"]["Mode"] == {"Replicated": {"Replicas": 1}}
    assert body["Spec"]["UpdateConfig"]["Order"] == "stop-first"


def test_update_needs_the_version_read_and_rollback_swaps_the_specs(c) -> None:
    service_id = c.create()
    service = c.control.service(service_id)
    spec = spec_from_json({"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox:1"}}})
    with pytest.raises(DockyardError, match="update out of sequence"):
        c.control.update(service_id, service.version.index + 1, spec, rollback=False)
    updated = c.control.update(service_id, service.version.index, spec, rollback=False)
    assert updated.previous_spec is not None and updated.previous_spec.container().image == "busybox"
    with pytest.raises(DockyardError, match="renaming services is not supported"):
        c.control.update(service_id, c.control.service(service_id).version.index,
                         spec_from_json({"Name": "web2", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}}),
                         rollback=False)
    back = c.control.update(service_id, c.control.service(service_id).version.index, None, rollback=True)
    assert back.spec.container().image == "busybox" and back.update_status.state == "rollback_started"


def test_replicas_are_scheduled_scaled_and_updated(c) -> None:
    service_id = c.create(Mode={"Replicated": {"Replicas": 3}})
    c.settle()
    tasks = c.tasks()
    assert sorted(t.slot for t in tasks) == [1, 2, 3]
    assert all(t.status.state == TaskState.ASSIGNED and t.node_id == c.node_id for t in tasks)
    assert task_json(tasks[0])["Status"]["Message"] == "scheduler assigned task to node"
    c.run_all()
    c.settle()

    service = c.control.service(service_id)
    spec = service.spec
    spec.mode.replicated.replicas = 1
    c.control.update(service_id, service.version.index, spec, rollback=False)
    c.settle()
    removed = c.tasks(desired_state=TaskState.REMOVE)
    assert sorted(t.slot for t in removed) == [2, 3]
    c.run_all()  # the agent stops them; the reaper deletes them
    c.settle()
    assert [t.slot for t in c.tasks()] == [1]

    # A new image: stop-first, the new task waits in `ready` until the old one stopped.
    service = c.control.service(service_id)
    spec = service.spec
    spec.task_template.container_spec.image = "busybox:2"
    c.control.update(service_id, service.version.index, spec, rollback=False)
    c.settle()
    old = c.tasks(desired_state=TaskState.SHUTDOWN)
    new = c.tasks(desired_state=TaskState.READY)
    assert len(old) == len(new) == 1 and new[0].spec.container_spec.image == "busybox:2"
    assert c.control.service(service_id).update_status.state == "updating"
    c.run_all()
    c.settle()
    new = c.records.task(new[0].id)
    assert new.desired_state == TaskState.RUNNING
    c.run_all()
    c.settle()
    assert c.control.service(service_id).update_status.state == "updating"  # watched for Monitor (5 s)
    c.now += datetime.timedelta(seconds=5)
    c.settle()
    assert c.control.service(service_id).update_status.state == "completed"
    assert len(c.control.tasks({"_up-to-date": ["true"]})) == 1


def test_restart_policy_delay_and_max_attempts(c) -> None:
    c.create(TaskTemplate={"ContainerSpec": {"Image": "busybox"},
                           "RestartPolicy": {"Condition": "on-failure", "Delay": 10_000_000_000, "MaxAttempts": 1}})
    c.settle()
    c.run_all()
    (first,) = c.tasks()
    c.report(first, TaskState.FAILED, "task: non-zero exit (1)")
    c.settle()
    replacement = c.tasks(desired_state=TaskState.READY)
    assert len(replacement) == 1 and replacement[0].slot == 1
    c.settle()
    assert c.records.task(replacement[0].id).desired_state == TaskState.READY  # the delay holds it
    c.now += datetime.timedelta(seconds=11)
    c.settle()
    assert c.records.task(replacement[0].id).desired_state == TaskState.RUNNING
    c.run_all()
    c.report(c.records.task(replacement[0].id), TaskState.FAILED, "task: non-zero exit (1)")
    c.now += datetime.timedelta(seconds=11)
    c.settle()
    tasks = c.tasks()
    assert len(tasks) == 2 and all(t.desired_state == TaskState.SHUTDOWN for t in tasks)  # attempts used up


def test_completed_task_with_on_failure_is_not_restarted(c) -> None:
    c.create(TaskTemplate={"ContainerSpec": {"Image": "busybox"}, "RestartPolicy": {"Condition": "on-failure"}})
    c.settle()
    c.run_all()
    (task,) = c.tasks()
    c.report(task, TaskState.COMPLETE)
    c.settle()
    assert len(c.tasks()) == 1


def test_scheduler_constraints_spread_and_max_replicas(c) -> None:
    c.add_node("worker1", zone="a")
    c.add_node("worker2", zone="b")
    c.create(Mode={"Replicated": {"Replicas": 4}},
             TaskTemplate={"ContainerSpec": {"Image": "busybox"},
                           "Placement": {"Constraints": ["node.labels.zone==a"]}})
    c.settle()
    assert {t.node_id for t in c.tasks()} == {"worker1"}
    c.control.create(spec_from_json({
        "Name": "spread", "Mode": {"Replicated": {"Replicas": 3}},
        "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                         "Placement": {"MaxReplicas": 1, "Constraints": ["node.role!=manager"]}}}))
    c.settle()
    spread = [t for t in c.tasks() if t.service_name == "spread"]
    assigned = sorted(t.node_id for t in spread if t.status.state == TaskState.ASSIGNED)
    assert assigned == ["worker1", "worker2"]
    (pending,) = [t for t in spread if t.status.state == TaskState.PENDING]
    assert pending.status.err.startswith("no suitable node (")
    assert "max replicas per node limit exceed on 2 nodes" in pending.status.err
    assert "scheduling constraints not satisfied on 1 node" in pending.status.err


def test_global_service_follows_nodes(c) -> None:
    c.add_node("worker1")
    c.create(Mode={"Global": {}})
    c.settle()
    assert sorted(t.node_id for t in c.tasks()) == sorted([c.node_id, "worker1"])
    assert all(t.slot == 0 and t.name() == f"web.{t.node_id}" for t in c.tasks())
    c.set_node("worker1", availability=Availability.DRAIN)
    c.settle()
    (drained,) = c.tasks(node_id="worker1")
    assert drained.desired_state == TaskState.SHUTDOWN


def test_replicated_job_runs_to_its_completions(c) -> None:
    service_id = c.create(Mode={"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 3}})
    c.settle()
    assert len(c.tasks()) == 2 and all(t.desired_state == TaskState.COMPLETE for t in c.tasks())
    for task in c.tasks():
        c.report(task, TaskState.COMPLETE)
    c.settle()
    assert len(c.tasks()) == 3
    (last,) = [t for t in c.tasks() if t.status.state != TaskState.COMPLETE]
    c.report(last, TaskState.COMPLETE)
    c.settle()
    assert len(c.tasks()) == 3
    counts = c.control.counts([c.control.service(service_id)], 1)[service_id]
    assert (counts.completed, counts.desired) == (3, 0)


def test_task_history_is_kept_to_the_clusters_limit(c) -> None:
    c.create(TaskTemplate={"ContainerSpec": {"Image": "busybox"}, "RestartPolicy": {"Delay": 0}})
    for _ in range(8):
        c.settle()
        c.run_all()
        (running,) = [t for t in c.tasks() if t.status.state == TaskState.RUNNING]
        c.report(running, TaskState.FAILED, "task: non-zero exit (1)")
    c.settle()
    assert len(c.tasks()) == 5  # TaskHistoryRetentionLimit


def test_removing_a_service_removes_its_tasks_once_stopped(c) -> None:
    c.create(Mode={"Replicated": {"Replicas": 2}})
    c.settle()
    c.run_all()
    c.control.remove("web")
    c.settle()
    assert all(t.desired_state == TaskState.REMOVE for t in c.tasks()) and len(c.tasks()) == 2
    c.run_all()
    c.settle()
    assert c.tasks() == []


def _update_image(c: Cluster, service_id: str, image: str) -> None:
    service = c.control.service(service_id)
    spec = service.spec
    spec.task_template.container_spec.image = image
    c.control.update(service_id, service.version.index, spec, rollback=False)


def _converge(c: Cluster, rounds: int = 4) -> None:
    for _ in range(rounds):
        c.settle()
        c.run_all()
    c.settle()


def test_rolling_update_goes_by_parallelism_and_delay(c) -> None:
    service_id = c.create(Mode={"Replicated": {"Replicas": 4}},
                          UpdateConfig={"Parallelism": 2, "Delay": 10_000_000_000, "Order": "start-first"})
    _converge(c)
    _update_image(c, service_id, "busybox:2")
    _converge(c)
    new = [t for t in c.tasks() if t.spec.container_spec.image == "busybox:2"]
    assert len(new) == 2 and all(t.status.state == TaskState.RUNNING for t in new)
    _converge(c)  # no time has passed: the delay holds the next batch back
    assert len([t for t in c.tasks() if t.spec.container_spec.image == "busybox:2"]) == 2
    c.now += datetime.timedelta(seconds=11)
    _converge(c)
    running = [t for t in c.tasks() if t.status.state == TaskState.RUNNING]
    assert len(running) == 4 and all(t.spec.container_spec.image == "busybox:2" for t in running)
    c.now += datetime.timedelta(seconds=5)
    c.settle()
    assert c.control.service(service_id).update_status.state == "completed"


def test_a_failing_update_pauses_by_default(c) -> None:
    service_id = c.create(Mode={"Replicated": {"Replicas": 2}})
    _converge(c)
    _update_image(c, service_id, "busybox:bad")
    c.settle()
    c.run_all()
    c.settle()
    c.run_all()  # the first new task is assigned and told to run
    (new,) = [t for t in c.tasks() if t.spec.container_spec.image == "busybox:bad"]
    c.report(new, TaskState.REJECTED, "No such image: busybox:bad")
    c.settle()
    status = c.control.service(service_id).update_status
    assert status.state == "paused"
    assert status.message == f"update paused due to failure or early termination of task {new.id}"
    _converge(c)  # paused: no other slot is touched
    assert len([t for t in c.tasks() if t.spec.container_spec.image == "busybox"
                and t.status.state == TaskState.RUNNING]) == 1


def test_failure_action_rollback_restores_the_previous_spec(c) -> None:
    service_id = c.create(Mode={"Replicated": {"Replicas": 2}},
                          UpdateConfig={"Parallelism": 1, "FailureAction": "rollback"})
    _converge(c)
    _update_image(c, service_id, "busybox:bad")
    c.settle()
    c.run_all()
    c.settle()
    c.run_all()
    (new,) = [t for t in c.tasks() if t.spec.container_spec.image == "busybox:bad"]
    c.report(new, TaskState.FAILED, "task: non-zero exit (1)")
    c.settle()
    service = c.control.service(service_id)
    assert service.spec.container().image == "busybox" and service.previous_spec.container().image == "busybox:bad"
    assert service.update_status.state == "rollback_started"
    assert service.update_status.message == f"update rolled back due to failure or early termination of task {new.id}"
    _converge(c, 6)
    c.now += datetime.timedelta(seconds=5)
    c.settle()
    service = c.control.service(service_id)
    assert service.update_status.state == "rollback_completed"
    running = [t for t in c.tasks() if t.status.state == TaskState.RUNNING and t.desired_state == TaskState.RUNNING]
    assert len(running) == 2 and all(t.spec.container_spec.image == "busybox" for t in running)


def test_a_starting_task_holds_its_batch_and_a_failure_within_the_monitor_rolls_back(c) -> None:
    """A new task is running for the updater only once its agent says so (with a health check:
    once healthy, the agent holding it in starting until then); after the last batch the update
    watches the new tasks for Monitor, and one failing then (turned unhealthy) still rolls back."""
    service_id = c.create(Mode={"Replicated": {"Replicas": 2}},
                          UpdateConfig={"Parallelism": 1, "FailureAction": "rollback", "Monitor": 10_000_000_000})
    _converge(c)
    _update_image(c, service_id, "busybox:2")
    c.settle()
    c.run_all()
    c.settle()
    (first,) = [t for t in c.tasks() if t.spec.container_spec.image == "busybox:2"]
    c.report(first, TaskState.STARTING)  # waiting for its health check
    _converge(c, 2)
    assert [t.id for t in c.tasks() if t.spec.container_spec.image == "busybox:2"] == [first.id]
    c.report(first, TaskState.RUNNING)  # healthy
    _converge(c)
    new = [t for t in c.tasks() if t.spec.container_spec.image == "busybox:2"]
    assert len(new) == 2 and all(t.status.state == TaskState.RUNNING for t in new)
    assert c.control.service(service_id).update_status.state == "updating"  # the last batch is watched
    c.now += datetime.timedelta(seconds=3)
    c.report(new[1], TaskState.FAILED, "task: non-zero exit (137): dockerexec: unhealthy container")
    c.settle()
    service = c.control.service(service_id)
    assert service.update_status.state == "rollback_started" and service.spec.container().image == "busybox"
    assert service.update_status.message == f"update rolled back due to failure or early termination of task " \
                                            f"{new[1].id}"


def test_a_host_mode_port_is_taken_once_per_node(c) -> None:
    c.create(Mode={"Replicated": {"Replicas": 2}},
             EndpointSpec={"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]})
    c.settle()
    assigned = [t for t in c.tasks() if t.status.state == TaskState.ASSIGNED]
    (pending,) = [t for t in c.tasks() if t.status.state == TaskState.PENDING]
    assert len(assigned) == 1
    assert pending.status.err == "no suitable node (host-mode port already in use on 1 node)"


def test_replicas_leave_a_drained_or_down_node(c) -> None:
    from dockyard.cluster.objects import NodeState

    c.set_node(c.node_id, availability=Availability.DRAIN)  # the manager runs no task (and add_node copies it)
    for worker in ("worker1", "worker2", "worker3"):
        c.add_node(worker)
    c.set_node("worker1", availability=Availability.ACTIVE)
    c.create(Mode={"Replicated": {"Replicas": 2}}, TaskTemplate={"ContainerSpec": {"Image": "busybox"},
                                                                 "RestartPolicy": {"Delay": 0}})
    c.settle()
    c.run_all()
    assert [t.node_id for t in c.tasks(desired_state=TaskState.RUNNING)] == ["worker1", "worker1"]
    c.set_node("worker2", availability=Availability.ACTIVE)
    c.set_node("worker1", availability=Availability.DRAIN)
    c.settle()
    c.run_all()  # the drained node's agent stops its tasks, then their replacements start
    c.settle()
    moved = c.tasks(desired_state=TaskState.RUNNING)
    assert [t.node_id for t in moved] == ["worker2", "worker2"] and sorted(t.slot for t in moved) == [1, 2]
    c.set_node("worker3", availability=Availability.ACTIVE)
    kv = c.store.get(NODES_PREFIX + "worker2")
    node = codec.decode(Node, kv.value, kv.mod_revision)
    node.status.state = NodeState.DOWN  # its daemon is gone: no agent reports the tasks' end
    c.store.put(kv.key, codec.encode(node))
    c.settle()
    assert [t.node_id for t in c.tasks(desired_state=TaskState.RUNNING)] == ["worker3", "worker3"]


def test_passes_decode_only_the_tasks_that_changed(c, monkeypatch) -> None:
    from dockyard.cluster.manager import runner

    cache = runner.TaskCache()
    decoded: list[str] = []
    real = codec.decode

    def counting(cls, value, revision=0):
        obj = real(cls, value, revision)
        if cls is Task:
            decoded.append(obj.id)
        return obj

    monkeypatch.setattr(runner.codec, "decode", counting)
    c.create(Mode={"Replicated": {"Replicas": 3}})
    for _ in range(4):
        run_pass(c.store, c.now, cache=cache)
    c.run_all()
    decoded.clear()
    snap = run_pass(c.store, c.now, cache=cache)
    assert len(decoded) == 3 and not snap.written  # the agent's reports changed all three
    decoded.clear()
    run_pass(c.store, c.now, cache=cache)
    assert decoded == []  # nothing changed: nothing decoded

    # A task the loops changed is decoded afresh next time, whether its write was taken or not.
    (task,) = [t for t in c.tasks() if t.slot == 1]
    c.report(task, TaskState.FAILED, "task: non-zero exit (1)")
    decoded.clear()
    snap = run_pass(c.store, c.now, cache=cache)
    assert task.id in snap.written and decoded == [task.id]
    decoded.clear()
    run_pass(c.store, c.now, cache=cache)
    assert task.id in decoded and len(c.tasks(slot=1)) == 2


def test_only_the_stores_leader_runs_the_loops(c) -> None:
    from waiting import until

    from dockyard.cluster.manager.runner import Manager

    leading = [False]
    follower = Manager(c.store, lambda: leading[0])
    follower.start()
    try:
        c.create(Mode={"Replicated": {"Replicas": 2}})
        assert not until(lambda: c.tasks(), 1.5)  # a manager that does not lead decides nothing
        leading[0] = True
        assert until(lambda: len(c.tasks()) == 2, 10)
    finally:
        follower.stop()
