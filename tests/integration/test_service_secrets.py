"""Secrets and configs given to a service's tasks, through the real docker CLI on a one-node swarm:
the task reads them at their targets with their owner and mode, they are on no disk of the node
(its etcd data included), a secret in use cannot be removed, `service update --secret-rm` and
`--secret-add` roll the task, and the in-memory files go with the tasks' containers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_secrets import files_holding
from test_services import _ok, swarm  # noqa: F401 - swarm: a fixture
from waiting import until

SECRET = b"open sesame 7f3a9c"
ROTATED = b"open barley 1b2d4e"
CONFIG = b"listen 8080; # app.conf\n"
# The task prints digests, not the payloads: its log is on the node's disk.
SCRIPT = ("for f in /run/secrets/* /etc/pw /etc/app.conf; do [ -e $f ] && echo \"== $f $(stat -c '%u %g %a' $f)\" "
          "&& sha256sum < $f | cut -d' ' -f1; done; sleep 600")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def node(request):
    """test_services.py's one-node swarm on a fresh daemon (its fixture, imported above)."""
    return request.getfixturevalue("swarm")


def _task_container(d, service: str) -> dict | None:
    ids = _ok(d.docker("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={service}")).split()
    if len(ids) != 1:
        return None
    [c] = json.loads(_ok(d.docker("inspect", ids[0])))
    return c


def _files_seen(d, container_id: str) -> dict[str, str]:
    """What the task's script printed: {"<path> <uid> <gid> <mode>": contents}."""
    logs = _ok(d.docker("logs", container_id))
    return {block.split("\n", 1)[0]: block.split("\n", 1)[1].rstrip("\n") for block in logs.split("== ")[1:]}


def _wait_for_output(d, service: str, count: int, other_than: str = "") -> dict:
    found: dict = {}

    def ready() -> bool:
        c = _task_container(d, service)
        if c is None or c["Id"] == other_than or not c["State"]["Running"]:
            return False
        found.update(c)
        return len(_files_seen(d, c["Id"])) == count

    assert until(ready, 90), f"no task of {service} printed its {count} files"
    return found


def _task_mounts(d) -> list[str]:
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(d.dir) and line.split()[1].endswith("/task-files")]


def test_a_service_reads_its_secrets_and_configs_from_memory(node) -> None:
    d = node
    _ok(d.docker("secret", "create", "pw", "-", input=SECRET))
    _ok(d.docker("secret", "create", "pw2", "-", input=ROTATED))
    _ok(d.docker("config", "create", "app.conf", "-", input=CONFIG))
    _ok(d.docker("service", "create", "--detach", "--name", "reader", "--secret", "pw",
                 "--secret", "source=pw,target=/etc/pw,uid=1000,gid=1001,mode=0400",
                 "--config", "source=app.conf,target=/etc/app.conf,mode=0440", "busybox", "sh", "-c", SCRIPT))
    first = _wait_for_output(d, "reader", 3)
    assert _files_seen(d, first["Id"]) == {
        "/run/secrets/pw 0 0 444": _digest(SECRET),
        "/etc/pw 1000 1001 400": _digest(SECRET),
        "/etc/app.conf 0 0 440": _digest(CONFIG),
    }
    written = d.docker("exec", first["Id"], "sh", "-c", "echo x > /run/secrets/pw")
    assert written.returncode != 0 and b"Read-only file system" in written.stderr
    [inspected] = json.loads(_ok(d.docker("service", "inspect", "reader")))
    refs = inspected["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert {r["File"]["Name"] for r in refs} == {"pw", "/etc/pw"}

    # On no disk of the node while the task runs: the daemon's data (etcd's files included) and exec roots.
    assert _task_mounts(d)
    for needle in (SECRET, CONFIG):
        assert files_holding(d.dir, needle) == []

    # A daemon restart: the task's container is adopted, its files still there (the tmpfs outlives the daemon).
    d.stop()
    d.start()
    assert until(lambda: (_task_container(d, "reader") or {}).get("Id") == first["Id"], 60)
    seen = _ok(d.docker("exec", first["Id"], "sha256sum", "/run/secrets/pw")).split()[0]
    assert seen == _digest(SECRET) and len(_task_mounts(d)) == 1

    refused = d.docker("secret", "rm", "pw")
    assert refused.returncode != 0
    assert (b"rpc error: code = InvalidArgument desc = secret 'pw' is in use by the following service: reader"
            in refused.stderr)
    refused = d.docker("config", "rm", "app.conf")
    assert b"config 'app.conf' is in use by the following service: reader" in refused.stderr
    unknown = d.docker("service", "create", "--detach", "--name", "other", "--secret", "nosuch", "busybox", "true")
    assert unknown.returncode != 0 and b"secret not found: nosuch" in unknown.stderr

    # --secret-rm and --secret-add roll the task; the old one's in-memory files go with its container.
    _ok(d.docker("service", "update", "--detach", "--secret-rm", "pw", "--secret-add", "source=pw2,target=pw2",
                 "reader"))
    second = _wait_for_output(d, "reader", 2, other_than=first["Id"])
    assert _files_seen(d, second["Id"]) == {
        "/run/secrets/pw2 0 0 444": _digest(ROTATED),
        "/etc/app.conf 0 0 440": _digest(CONFIG),
    }
    old = json.loads(_ok(d.docker("inspect", first["Id"])))[0]
    assert not old["State"]["Running"]  # kept as the task's history, with its files until it is removed
    _ok(d.docker("secret", "rm", "pw"))  # no longer used

    _ok(d.docker("service", "rm", "reader"))
    assert until(lambda: _task_container(d, "reader") is None and not _task_mounts(d), 60)
    _ok(d.docker("secret", "rm", "pw2"))
    _ok(d.docker("config", "rm", "app.conf"))


def test_a_templated_config_is_expanded_for_each_task(node) -> None:
    d = node
    _ok(d.docker("secret", "create", "pw", "-", input=SECRET))
    _ok(d.docker("config", "create", "--template-driver", "golang", "greeting", "-",
                 input=b'{{ .Service.Name }} {{ .Task.Slot }} {{ env "GREETING" }} {{ secret "pw" }}'))
    _ok(d.docker("service", "create", "--detach", "--name", "greeter", "--replicas", "2", "--env", "GREETING=hi",
                 "--secret", "pw", "--config", "source=greeting,target=/etc/greeting", "busybox", "sh", "-c",
                 "sha256sum < /etc/greeting | cut -d' ' -f1; sleep 600"))

    def digests() -> set[str]:
        ids = _ok(d.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=greeter")).split()
        return {_ok(d.docker("logs", i)).strip() for i in ids} - {""}

    expected = {_digest(f"greeter {slot} hi ".encode() + SECRET) for slot in (1, 2)}
    assert until(lambda: digests() == expected, 90), digests()
    for needle in (SECRET, b"greeter 1 hi "):
        assert files_holding(d.dir, needle) == []
    _ok(d.docker("service", "rm", "greeter"))
    assert until(lambda: not _task_mounts(d), 60)
