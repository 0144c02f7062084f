"""docker exec: processes inside a running container's namespaces and cgroup."""

import time

import pytest

from dockyard.cli.client import APIError


@pytest.fixture
def target(daemon):
    daemon.cli("run", "-d", "--name", "exec-target", "-e", "FROM_RUN=yes", "busybox", "sleep", "300")
    yield "exec-target"
    daemon.cli("rm", "-f", "exec-target")


def test_exec_runs_inside_the_container(daemon, target):
    r = daemon.cli("exec", target, "sh", "-c", "echo $$ $FROM_RUN; hostname; cat /proc/1/cmdline; exit 5")
    cid = daemon.client.call("GET", f"/containers/{target}/json")["Id"]
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 5
    assert lines[0].split()[1] == "yes" and int(lines[0].split()[0]) > 1  # same PID namespace, not PID 1
    assert lines[1] == cid[:12] and lines[2].startswith("sleep")
    pids = open(f"/sys/fs/cgroup/pids/dockyard/{cid}/cgroup.procs").read().split()
    assert len(pids) == 1  # the exec has gone, only the container's own process is left


def test_exec_user_workdir_env_and_stdin(daemon, target):
    r = daemon.cli("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", target, "sh", "-c", "id -u; pwd; echo $X")
    assert r.stdout == b"65534\n/tmp\n1\n"
    r = daemon.cli("exec", "-i", target, "tr", "a-z", "A-Z", input=b"shout\n")
    assert r.stdout == b"SHOUT\n"


def test_exec_detached_and_inspect(daemon, target):
    e = daemon.client.call("POST", f"/containers/{target}/exec", body={"Cmd": ["sh", "-c", "sleep 0.2; exit 3"]})
    daemon.client.call("POST", f"/exec/{e['Id']}/start", body={"Detach": True})
    info = daemon.client.call("GET", f"/exec/{e['Id']}/json")
    assert info["Running"] and info["Pid"] > 0 and info["ProcessConfig"]["entrypoint"] == "sh"
    deadline = time.time() + 5
    while daemon.client.call("GET", f"/exec/{e['Id']}/json")["Running"] and time.time() < deadline:
        time.sleep(0.05)
    assert daemon.client.call("GET", f"/exec/{e['Id']}/json")["ExitCode"] == 3


def test_exec_refusals(daemon, target):
    r = daemon.cli("exec", target, "nosuch")
    assert r.returncode == 127 and b'exec: "nosuch": executable file not found in $PATH' in r.stdout + r.stderr
    daemon.cli("pause", target)
    r = daemon.cli("exec", target, "true")
    assert r.returncode != 0 and b"is paused, unpause the container before exec" in r.stderr
    daemon.cli("unpause", target)
    daemon.cli("stop", "-t", "0", target)
    with pytest.raises(APIError) as info:
        daemon.client.call("POST", f"/containers/{target}/exec", body={"Cmd": ["true"]})
    assert info.value.status == 409 and "is not running" in info.value.message
    with pytest.raises(APIError) as info:
        daemon.client.call("GET", "/exec/nosuchexec/json")
    assert info.value.status == 404 and info.value.message == "No such exec instance: nosuchexec"


def test_privileged_exec_gets_every_capability(daemon, target):
    plain = daemon.cli("exec", target, "grep", "CapEff", "/proc/self/status").stdout.decode().split()[1]
    full = daemon.cli("exec", "--privileged", target, "grep", "CapEff", "/proc/self/status").stdout.decode().split()[1]
    assert plain == "00000000a80425fb"
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    with open("/proc/self/status") as f:
        bounding = int(next(line for line in f if line.startswith("CapBnd")).split()[1], 16)
    assert int(full, 16) == ((1 << (last + 1)) - 1) & bounding  # everything this host allows
