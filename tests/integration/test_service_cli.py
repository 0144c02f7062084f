"""`dockyard service ...` against a private dockyardd: it makes what the docker CLI makes, and its
ls, ps, inspect --pretty and logs print what the docker CLI prints for the same services."""

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


def _running(d, service: str) -> int:
    tasks = d.client.call("GET", "/tasks", query={"filters": json.dumps({"service": [service]})})
    return sum(1 for t in tasks if t["Status"]["State"] == "running" and t["DesiredState"] == "running")


def _same(d, *args: str) -> str:
    """The two CLIs print the same, but for relative times (a second may pass between the calls)."""
    import re

    def plain(text: str) -> str:
        text = re.sub(r"(\d+|About a|About an|Less than a|less than a) (second|minute|hour)s? ago", "… ago", text)
        return "\n".join(" ".join(line.split()) for line in text.splitlines())

    ours, theirs = _ok(d.cli(*args)), _ok(d.docker(*args))
    assert plain(ours) == plain(theirs), f"dockyard {' '.join(args)}:\n{ours}\ndocker:\n{theirs}"
    return ours


def test_service_commands_print_as_the_docker_cli(swarm) -> None:
    d = swarm
    _ok(d.cli("secret", "create", "tok", "-", input=b"t0k"))
    created = d.cli("service", "create", "--secret", "tok", "--name", "web", "--replicas", "2", "--env", "A=1",
                    "--label", "tier=front",
                    "--constraint", "node.role==manager", "--reserve-memory", "20m", "--limit-cpu", "0.5",
                    "--update-delay", "1s", "--update-monitor", "1s", "--stop-grace-period", "1s",
                    "--mount", "type=tmpfs,target=/scratch",
                    "--health-cmd", "true", "--health-interval", "500ms", "busybox", "sh", "-c",
                    "echo ready; exec sleep 100000")
    out = _ok(created)
    assert "overall progress: 2 out of 2 tasks" in out and "verify: Service " in out and out.endswith("converged\n")
    assert b"could not be accessed on a registry" in created.stderr
    spec = json.loads(_ok(d.docker("service", "inspect", "web")))[0]["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:latest"
    assert spec["TaskTemplate"]["Resources"] == {"Limits": {"NanoCPUs": 500_000_000},
                                                 "Reservations": {"MemoryBytes": 20 * 1024 * 1024}}
    assert spec["UpdateConfig"]["Delay"] == 1_000_000_000 and spec["Labels"] == {"tier": "front"}
    (secret,) = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert secret["SecretName"] == "tok" and secret["File"]["Name"] == "tok" and secret["SecretID"]
    _same(d, "service", "ls")
    _same(d, "service", "ps", "web")
    _same(d, "service", "inspect", "--pretty", "web")
    _same(d, "service", "ls", "--format", "{{.Name}} {{.Mode}} {{.Replicas}}")
    assert until(lambda: _ok(d.cli("service", "logs", "web")).count("| ready") == 2, 30)
    assert _same(d, "service", "logs", "--raw", "web").split() == ["ready", "ready"]
    pretty = _ok(d.cli("service", "logs", "web")).splitlines()
    assert all(line.startswith("web.") and "@" in line and "    | ready" in line for line in pretty)

    assert _ok(d.cli("service", "scale", "--detach", "web=3")) == "web scaled to 3\n"
    assert until(lambda: _running(d, "web") == 3, 60)
    out = _ok(d.cli("service", "update", "--env-add", "B=2", "--label-add", "color=blue", "--secret-rm", "tok",
                    "web"))
    assert out.startswith("web\n") and out.endswith("converged\n")
    spec = json.loads(_ok(d.docker("service", "inspect", "web")))[0]["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1", "B=2"]
    assert spec["Labels"] == {"tier": "front", "color": "blue"}
    assert "Secrets" not in spec["TaskTemplate"]["ContainerSpec"]
    _same(d, "service", "ps", "web")
    assert _ok(d.cli("service", "rollback", "--detach", "web")) == "web\n"
    spec = json.loads(_ok(d.docker("service", "inspect", "web")))[0]
    assert spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
    assert spec["UpdateStatus"]["State"] in ("rollback_started", "rollback_completed")
    # The two listings below are taken one after the other: the rollback replaces tasks until it completes.
    assert until(lambda: json.loads(_ok(d.docker("service", "inspect", "web")))[0]["UpdateStatus"]["State"]
                 == "rollback_completed" and _running(d, "web") == 3, 60)

    job = _ok(d.cli("service", "create", "--name", "batch", "--mode", "replicated-job", "--replicas", "3",
                    "--max-concurrent", "2", "busybox", "true"))
    assert job.endswith("job complete\n")
    _same(d, "service", "ls")

    missing = d.cli("service", "inspect", "nosuch")
    theirs = d.docker("service", "inspect", "nosuch").stderr.decode()
    assert missing.returncode == 1 and missing.stderr.decode() == theirs
    assert _ok(d.cli("service", "rm", "web", "batch")) == "web\nbatch\n"
    assert _ok(d.cli("service", "ls", "-q")) == ""
