"""swarmkit's defaults as the up-to-date check sees them: specs that differ only in Go's zero
values run the same tasks (a redeploy of an unchanged stack restarts nothing)."""

from __future__ import annotations

from dockyard.cluster.services.defaults import task_with_defaults
from dockyard.cluster.services.spec import ContainerSpec, Privileges, TaskSpec


def _task(privileges: Privileges | None) -> TaskSpec:
    return TaskSpec(container_spec=ContainerSpec(image="busybox", privileges=privileges))


def test_empty_privileges_equal_none_as_go_zero_values_do() -> None:
    bare = task_with_defaults(_task(None))
    assert task_with_defaults(_task(Privileges())) == bare
    assert task_with_defaults(_task(Privileges(no_new_privileges=False))) == bare


def test_privileges_that_ask_for_something_still_differ() -> None:
    assert task_with_defaults(_task(Privileges(no_new_privileges=True))) != task_with_defaults(_task(None))
