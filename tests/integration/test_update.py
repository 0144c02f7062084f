"""Resource limits at create and with `update` on a live container, written to its cgroup."""

import pytest

from dockyard.cli.client import APIError


def cgroup_file(daemon, name, controller, filename):
    cid = daemon.client.call("GET", f"/containers/{name}/json")["Id"]
    with open(f"/sys/fs/cgroup/{controller}/dockyard/{cid}/{filename}") as f:
        return f.read().strip()


def test_limits_at_run_are_enforced_by_the_cgroup(daemon):
    daemon.cli("run", "-d", "--name", "limited", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox",
               "sleep", "300")
    try:
        assert cgroup_file(daemon, "limited", "memory", "memory.limit_in_bytes") == str(64 * 1024 * 1024)
        assert cgroup_file(daemon, "limited", "cpu", "cpu.cfs_quota_us") == "50000"
        assert cgroup_file(daemon, "limited", "pids", "pids.max") == "20"
        host = daemon.client.call("GET", "/containers/limited/json")["HostConfig"]
        assert host["Memory"] == 64 * 1024 * 1024 and host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 20
        # the pids limit is real: a fork bomb stops at 20
        r = daemon.cli("exec", "limited", "sh", "-c",
                       "i=0; while [ $i -lt 40 ]; do sleep 5 >/dev/null 2>&1 & i=$((i+1)); done")
        assert b"can't fork" in r.stderr or b"Resource temporarily unavailable" in r.stderr
        assert int(cgroup_file(daemon, "limited", "pids", "pids.current")) <= 20
    finally:
        daemon.cli("rm", "-f", "limited")


def test_update_changes_a_live_container(daemon):
    daemon.cli("run", "-d", "--name", "updated", "busybox", "sleep", "300")
    try:
        r = daemon.cli("update", "-m", "128m", "--memory-swap", "256m", "--cpu-shares", "512", "--restart",
                       "on-failure:3", "updated")
        assert r.returncode == 0, r.stderr
        assert cgroup_file(daemon, "updated", "memory", "memory.limit_in_bytes") == str(128 * 1024 * 1024)
        assert cgroup_file(daemon, "updated", "cpu", "cpu.shares") == "512"
        host = daemon.client.call("GET", "/containers/updated/json")["HostConfig"]
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert host["Memory"] == 128 * 1024 * 1024 and host["MemorySwap"] == 256 * 1024 * 1024
        with pytest.raises(APIError, match="Minimum memory limit allowed is 6MB"):
            daemon.client.call("POST", "/containers/updated/update", body={"Memory": 1024})
        assert cgroup_file(daemon, "updated", "memory", "memory.limit_in_bytes") == str(128 * 1024 * 1024)
        r = daemon.cli("update", "updated")
        assert r.returncode == 125 and b"you must provide one or more flags" in r.stderr
    finally:
        daemon.cli("rm", "-f", "updated")


def test_port_lists_nothing_without_published_ports(daemon):
    daemon.cli("run", "-d", "--name", "portless", "busybox", "sleep", "300")
    try:
        assert daemon.cli("port", "portless").stdout == b""
        r = daemon.cli("port", "portless", "80")
        assert r.returncode == 1 and b"No public port '80/tcp' published for portless" in r.stderr
    finally:
        daemon.cli("rm", "-f", "portless")
