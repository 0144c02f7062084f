"""stop, kill, restart, rename, wait: real containers through the CLI and the API."""

import os
import time

import pytest

from dockyard.cli.client import APIError

TRAP_TERM = "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"


def state(daemon, ref):
    return daemon.client.call("GET", f"/containers/{ref}/json")["State"]


def wait_for_log(daemon, ref, text, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in daemon.cli("logs", ref).stdout.decode():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the logs of {ref}")


@pytest.fixture
def names(daemon):
    created = []
    yield created
    for name in created:
        daemon.cli("rm", "-f", name)


def test_stop_sends_sigterm_and_a_handler_exits_cleanly(daemon, names):
    names.append("stopper")
    daemon.cli("run", "-d", "--name", "stopper", "busybox", "sh", "-c", TRAP_TERM)
    wait_for_log(daemon, "stopper", "ready")
    r = daemon.cli("stop", "stopper")
    assert r.returncode == 0 and r.stdout == b"stopper\n"
    s = state(daemon, "stopper")  # exit code 0, not 137: the handler ended it before any SIGKILL
    assert (s["Status"], s["ExitCode"], s["Running"]) == ("exited", 0, False)
    assert "got-term" in daemon.cli("logs", "stopper").stdout.decode()
    assert "Exited (0)" in daemon.cli("ps", "-a", "--filter", "name=stopper").stdout.decode()
    # stopping a stopped container is not an error (the API says 304 Not Modified)
    assert daemon.cli("stop", "stopper").returncode == 0


def test_stop_kills_after_the_timeout(daemon, names):
    names.append("stubborn")
    daemon.cli("run", "-d", "--name", "stubborn", "busybox", "sleep", "60")  # PID 1 ignores SIGTERM
    started = time.time()
    assert daemon.cli("stop", "-t", "1", "stubborn").returncode == 0
    assert time.time() - started > 0.9  # it waited the timeout (no upper bound: a loaded host is slow)
    assert state(daemon, "stubborn")["ExitCode"] == 137


def test_stop_signal_from_the_config(daemon, names):
    names.append("usr1")
    daemon.client.call("POST", "/containers/create", query={"name": "usr1"},
                       body={"Image": "busybox", "StopSignal": "SIGUSR1",
                             "Cmd": ["sh", "-c", "trap 'exit 3' USR1; echo ready; while true; do sleep 0.1; done"]})
    daemon.cli("start", "usr1")
    wait_for_log(daemon, "usr1", "ready")
    assert daemon.cli("stop", "-t", "5", "usr1").returncode == 0
    assert state(daemon, "usr1")["ExitCode"] == 3


def test_kill_with_signals_by_name_and_number(daemon, names):
    names.append("killme")
    daemon.cli("run", "-d", "--name", "killme", "busybox", "sh", "-c",
               "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done")
    wait_for_log(daemon, "killme", "ready")
    assert daemon.cli("kill", "-s", "USR1", "killme").returncode == 0
    wait_for_log(daemon, "killme", "got-usr1")
    assert state(daemon, "killme")["Running"]
    r = daemon.cli("kill", "-s", "NOPE", "killme")
    assert r.returncode == 1 and b"Invalid signal: NOPE" in r.stderr
    assert daemon.cli("kill", "-s", "9", "killme").returncode == 0
    deadline = time.time() + 5
    while state(daemon, "killme")["Running"] and time.time() < deadline:
        time.sleep(0.05)
    assert state(daemon, "killme")["ExitCode"] == 137
    r = daemon.cli("kill", "killme")
    assert r.returncode == 1 and b"Cannot kill container: killme: Container" in r.stderr
    assert b"is not running" in r.stderr


def test_restart_keeps_the_container_and_runs_it_again(daemon, names):
    names.append("again")
    cid = daemon.cli("run", "-d", "--name", "again", "busybox", "sh", "-c", TRAP_TERM).stdout.decode().strip()
    wait_for_log(daemon, "again", "ready")
    first = state(daemon, "again")
    assert daemon.cli("restart", "-t", "5", "again").returncode == 0
    second = state(daemon, "again")
    assert second["Running"] and second["Pid"] != first["Pid"] and second["StartedAt"] != first["StartedAt"]
    assert daemon.client.call("GET", "/containers/again/json")["Id"] == cid
    deadline = time.time() + 5
    while daemon.cli("logs", "again").stdout.decode().count("ready") < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert daemon.cli("logs", "again").stdout.decode().count("ready") == 2


def test_rename_and_its_refusals(daemon, names):
    names += ["old-name", "new-name", "taken"]
    daemon.cli("create", "--name", "old-name", "busybox", "true")
    daemon.cli("create", "--name", "taken", "busybox", "true")
    assert daemon.cli("rename", "old-name", "new-name").returncode == 0
    assert daemon.client.call("GET", "/containers/new-name/json")["Name"] == "/new-name"
    with pytest.raises(APIError) as info:
        daemon.client.call("GET", "/containers/old-name/json")
    assert info.value.status == 404
    r = daemon.cli("rename", "new-name", "taken")
    assert r.returncode == 1 and b'The container name "/taken" is already in use' in r.stderr
    r = daemon.cli("rename", "new-name", "bad name")
    assert r.returncode == 1 and b"Invalid container name (bad name)" in r.stderr
    assert daemon.client.call("GET", "/containers/new-name/json")["Name"] == "/new-name"


def test_wait_prints_the_exit_code(daemon, names):
    names.append("waited")
    daemon.cli("run", "-d", "--name", "waited", "busybox", "sh", "-c", "sleep 0.3; exit 42")
    r = daemon.cli("wait", "waited")
    assert r.returncode == 0 and r.stdout == b"42\n"


def test_pause_freezes_every_process_and_unpause_resumes(daemon, names):
    names.append("frozen")
    daemon.cli("run", "-d", "--name", "frozen", "busybox", "sh", "-c",
               "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done")
    cid = daemon.client.call("GET", "/containers/frozen/json")["Id"]
    cgroup = f"/sys/fs/cgroup/freezer/dockyard/{cid}"
    assert os.path.isdir(cgroup), "each container has its own cgroup"
    assert daemon.cli("pause", "frozen").returncode == 0
    s = state(daemon, "frozen")
    assert (s["Status"], s["Paused"], s["Running"]) == ("paused", True, True)
    assert open(f"{cgroup}/freezer.state").read().strip() == "FROZEN"
    assert "(Paused)" in daemon.cli("ps", "--filter", "name=frozen").stdout.decode()
    r = daemon.cli("pause", "frozen")
    assert r.returncode == 1 and b"is already paused" in r.stderr
    assert daemon.cli("unpause", "frozen").returncode == 0
    assert state(daemon, "frozen")["Status"] == "running"
    r = daemon.cli("unpause", "frozen")
    assert r.returncode == 1 and b"is not paused" in r.stderr
    daemon.cli("pause", "frozen")
    assert daemon.cli("rm", "-f", "frozen").returncode == 0  # a paused container can be force-removed
    deadline = time.time() + 5
    while os.path.isdir(cgroup) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.isdir(cgroup), "the cgroup goes with the container"


def test_init_is_pid_1_reaps_zombies_and_forwards_signals(daemon, names):
    names.append("with-init")
    # The shell exits 0 on TERM only if the init forwards it; a zombie is left for init to reap.
    daemon.cli("run", "-d", "--init", "--name", "with-init", "busybox", "sh", "-c",
               "trap 'exit 0' TERM; (sleep 0.1 &) ; echo ready; while true; do sleep 0.1; done")
    wait_for_log(daemon, "with-init", "ready")
    # Zombies whose parent is PID 1: the orphaned sleep once it exits, until init reaps it (the
    # shell's own children and the exec's are reaped by their shells, and may be seen mid-way).
    r = daemon.cli("exec", "with-init", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                   "for i in $(seq 200); do z=$(ps -o stat,ppid | grep -c '^Z *1$'); [ $z = 0 ] && break; "
                   "sleep 0.1; done; echo $z")
    first, zombies = r.stdout.decode().splitlines()
    assert first.startswith("/sbin/docker-init -- sh -c")
    assert zombies == "0"
    assert daemon.cli("stop", "-t", "30", "with-init").returncode == 0
    # Exit code 0, not 137: SIGTERM reached the shell's trap through init before any SIGKILL.
    assert state(daemon, "with-init")["ExitCode"] == 0
