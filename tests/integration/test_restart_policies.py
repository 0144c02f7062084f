"""Restart policies with Docker's backoff, manual stops, and the daemon's own restart."""

import signal
import time

import pytest
from waiting import until

from dockyard.cli.client import APIError


def create(daemon, name, cmd, policy, retries=0):
    return daemon.client.call("POST", "/containers/create", query={"name": name}, body={
        "Image": "busybox", "Cmd": ["sh", "-c", cmd],
        "HostConfig": {"RestartPolicy": {"Name": policy, "MaximumRetryCount": retries}}})["Id"]


def inspect(daemon, name):
    return daemon.client.call("GET", f"/containers/{name}/json")


@pytest.mark.parametrize("policy,retries,message", [
    ("sometimes", 0, "invalid restart policy: unknown policy 'sometimes'"),
    ("always", 3, "maximum retry count can only be used with 'on-failure'"),
    ("on-failure", -1, "maximum retry count cannot be negative"),
])
def test_invalid_policies_are_refused(daemon, policy, retries, message):
    with pytest.raises(APIError) as info:
        create(daemon, "bad-policy", "true", policy, retries)
    assert info.value.status == 400 and message in info.value.message
    with pytest.raises(APIError):
        daemon.client.call("GET", "/containers/bad-policy/json")


def test_on_failure_restarts_up_to_the_limit_with_backoff(daemon):
    create(daemon, "flaky", "echo run; exit 2", "on-failure", 3)
    try:
        started = time.time()
        daemon.client.call("POST", "/containers/flaky/start")
        assert until(lambda: inspect(daemon, "flaky")["RestartCount"] == 3
                     and inspect(daemon, "flaky")["State"]["Status"] == "exited")
        elapsed = time.time() - started
        assert elapsed >= 0.1 + 0.2 + 0.4 - 0.05  # 100 ms, doubling
        assert inspect(daemon, "flaky")["State"]["ExitCode"] == 2
        assert daemon.cli("logs", "flaky").stdout.decode().count("run") == 4
        time.sleep(1)
        assert inspect(daemon, "flaky")["RestartCount"] == 3  # no more than MaximumRetryCount
    finally:
        daemon.cli("rm", "-f", "flaky")


def test_on_failure_does_not_restart_a_clean_exit(daemon):
    create(daemon, "clean", "exit 0", "on-failure")
    try:
        daemon.client.call("POST", "/containers/clean/start")
        daemon.client.call("POST", "/containers/clean/wait")
        time.sleep(0.4)
        assert inspect(daemon, "clean")["RestartCount"] == 0
    finally:
        daemon.cli("rm", "-f", "clean")


def test_always_restarts_until_stopped_and_shows_restarting(daemon):
    create(daemon, "forever", "sleep 0.3; exit 1", "always")
    try:
        daemon.client.call("POST", "/containers/forever/start")
        assert until(lambda: inspect(daemon, "forever")["RestartCount"] >= 2)
        seen_restarting = until(lambda: inspect(daemon, "forever")["State"]["Restarting"], timeout=5)
        assert seen_restarting
        assert "Restarting (1)" in daemon.cli("ps", "--filter", "name=forever").stdout.decode() or \
            "Up " in daemon.cli("ps", "--filter", "name=forever").stdout.decode()
        assert daemon.cli("stop", "-t", "1", "forever").returncode == 0
        count = inspect(daemon, "forever")["RestartCount"]
        time.sleep(1.5)
        state = inspect(daemon, "forever")
        assert state["State"]["Status"] == "exited" and state["RestartCount"] == count  # a manual stop sticks
    finally:
        daemon.cli("rm", "-f", "forever")


def test_policies_at_daemon_start(fresh_daemon):
    d = fresh_daemon
    create(d, "always-on", "sleep 300", "always")
    create(d, "unless", "sleep 300", "unless-stopped")
    create(d, "unless-stopped-by-user", "sleep 300", "unless-stopped")
    create(d, "never", "sleep 300", "no")
    for name in ("always-on", "unless", "unless-stopped-by-user", "never"):
        d.client.call("POST", f"/containers/{name}/start")
    d.client.call("POST", "/containers/unless-stopped-by-user/stop", query={"t": 0})
    pids = {name: inspect(d, name)["State"]["Pid"] for name in ("always-on", "unless", "never")}
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    for pid in pids.values():  # a host reboot would end them; here we end them by hand
        import os

        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    d.start()
    assert until(lambda: inspect(d, "always-on")["State"]["Running"] and inspect(d, "unless")["State"]["Running"])
    assert not inspect(d, "unless-stopped-by-user")["State"]["Running"]
    assert not inspect(d, "never")["State"]["Running"]
