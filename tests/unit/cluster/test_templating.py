"""Templated secrets and configs: swarmkit's context and functions, expanded per task."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

from dockyard.cluster.secrets import Driver
from dockyard.cluster.services.spec import ConfigReference, ContainerSpec, FileTarget, SecretReference, TaskSpec
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.templating import expand
from dockyard.errors import InvalidParameter

NOW = datetime.datetime.now(datetime.UTC)
TASK = Task("t1", NOW, NOW, "svc1", "web", TaskSpec(container_spec=ContainerSpec(
    image="busybox", env=["GREETING=hi", "EMPTY="],
    secrets=[SecretReference(FileTarget("db_pw"), "s1", "pw")],
    configs=[ConfigReference(FileTarget("/etc/base.conf"), None, "c1", "base")])),
    1, 3, TaskStatus(NOW, TaskState.ASSIGNED), TaskState.RUNNING, "node1", service_labels={"tier": "front"})
NODE = SimpleNamespace(description=SimpleNamespace(hostname="host-a", platform=SimpleNamespace(
    architecture="x86_64", os="linux")))


def _expand(text: str, driver: Driver | None = Driver("golang"), node=NODE) -> str:
    payloads = {"s1": b"hunter2", "c1": b"base settings"}
    return expand("config", "app", text.encode(), driver, TASK, node, payloads.__getitem__,
                  payloads.__getitem__).decode()


def test_the_task_context_and_swarmkits_functions() -> None:
    template = ("{{.Service.Name}}/{{.Service.ID}}/{{index .Service.Labels \"tier\"}} {{.Task.Name}} {{.Task.Slot}} "
                "{{.Task.ID}} {{.Node.ID}} {{.Node.Hostname}} {{.Node.Platform.OS}}/{{.Node.Platform.Architecture}} "
                "{{env \"GREETING\"}}[{{env \"NOPE\"}}] {{secret \"db_pw\"}} {{config \"/etc/base.conf\"}} "
                "{{join \",\" \"a\" \"b\"}}{{if eq .Task.Slot \"3\"}} third{{end}}")
    assert _expand(template) == ("web/svc1/front web.3 3 t1 node1 host-a linux/x86_64 hi[] hunter2 base settings "
                                 "a,b third")


def test_no_templating_leaves_the_payload_alone_and_other_drivers_are_refused() -> None:
    assert _expand("{{.Service.Name}}", None) == "{{.Service.Name}}"
    with pytest.raises(InvalidParameter, match="config app: unrecognized template type 'jinja'"):
        _expand("x", Driver("jinja"))


@pytest.mark.parametrize("template", ["{{.Service.Nope}}", "{{secret \"other\"}}", "{{if}}", "{{nofunc}}"])
def test_a_broken_template_names_the_object(template) -> None:
    with pytest.raises(InvalidParameter, match="^config app: expanding its template failed: "):
        _expand(template)


def test_without_a_node_record_the_node_fields_are_empty() -> None:
    assert _expand("[{{.Node.Hostname}}] {{.Node.ID}}", node=None) == "[] node1"
